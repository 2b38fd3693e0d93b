"""Delivery workers in separate processes sharing one PostgreSQL queue: do two use both cores?

    .venv/bin/python bench/workers.py [--messages 6000] [--workers 1,2]

For each worker count: a fresh PostgreSQL database, `misiva serve --only api` to accept,
`--messages` order confirmations queued while no worker runs, then that many
`misiva serve --only worker` processes started at once. Reported: delivered/s from the
workers' start to the sink counting the last message, each worker's CPU time as a share
of that wall time, and whether the sink received each message exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from reference import SmtpSink
from send_pipeline import BIN, drop_database, fresh_database, send_templated_batches, start

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, from /proc (children not included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def run(workers: int, messages: int, workdir: Path) -> tuple[float, list[float], bool]:
    url = fresh_database("postgresql", workdir)
    try:
        with SmtpSink() as sink:
            api = start(url, workdir, sink.port, only="api")
            procs: list[subprocess.Popen[bytes]] = []
            try:
                asyncio.run(send_templated_batches(api, 0, messages))
                began = time.monotonic()
                procs = [
                    subprocess.Popen(
                        [str(BIN / "misiva"), "serve", "--only", "worker"], env=api.env
                    )
                    for _ in range(workers)
                ]
                finished = sink.wait_for(messages, timeout=600)
                if finished is None:
                    raise SystemExit(f"only {sink.count()} of {messages} delivered")
                elapsed = finished - began
                shares = [cpu_seconds(p.pid) / elapsed for p in procs]
                time.sleep(1.0)  # anything delivered twice would arrive now
                exactly_once = sink.count() == messages
            finally:
                for process in procs:
                    process.send_signal(signal.SIGTERM)
                for process in procs:
                    process.wait(timeout=60)
                api.stop()
    finally:
        drop_database(url)
    return messages / elapsed, shares, exactly_once


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=6000)
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for count in (int(n) for n in args.workers.split(",")):
            rows.append((count, *run(count, args.messages, Path(tmp))))
    print(f"\n{args.messages} queued messages, PostgreSQL, workers started together")
    print(
        f"{'workers':>7} {'delivered/s':>12} {'CPU of each worker (share of wall time)':>40} once"
    )
    for count, rate, shares, once in rows:
        cpu = ", ".join(f"{share:.0%}" for share in shares)
        print(f"{count:>7} {rate:>12.0f} {cpu:>40} {'yes' if once else 'NO'}")


if __name__ == "__main__":
    main()
