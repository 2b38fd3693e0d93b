"""Soak: 70% of capacity for 30 minutes on PostgreSQL, two workers: flat, steady, nothing lost.

    .venv/bin/python bench/soak.py [--minutes 30] [--load 0.7] [--batch 10]
        [--out var/soak/report] [--rate R]   (or: make soak SOAK_ARGS="--minutes 30")

A fresh PostgreSQL database; `misiva serve --only api,scheduler,webhooks`, two
`misiva serve --only worker` processes and a real SMTP sink in its own process
(bench/soak_sink.py, which notes each message's arrival by its Message-ID). Then:

1. capacity: a closed-loop burst of `--burst-seconds` from `--burst-clients` clients; messages
   accepted ÷ the time from the first request to the last arrival at the sink (end to end);
2. soak: open-loop sends at `--load` x capacity for `--minutes`, each request on a fixed
   schedule, so a stall delays the measured latency instead of the next send (no coordinated
   omission); latency counts from when a message was due to when the sink had it;
3. every `--sample-seconds`, the resident memory of every Misiva process (and the sink's);
4. at the end, once the queue drained: each minute's p99 within the bound set by the first
   stable minutes, each process's memory flat, every accepted message delivered exactly once.

Prints the report, writes it as JSON and Markdown (`--out`), and exits 1 if anything failed.
Not part of `make test`: it takes half an hour and the whole machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from misiva.storage import Database
from misiva.storage import messages as message_store
from send_pipeline import (
    BIN,
    Installation,
    drop_database,
    fresh_database,
    start,
    templated,
)
from soak_report import (
    Report,
    Sent,
    Thresholds,
    add_usage,
    explain,
    judge_delivery,
    judge_latency,
    judge_memory,
    markdown,
    minute_rows,
    write,
)
from soak_sink import Sink
from soak_usage import Memory
from soak_vacuum import Vacuumer, autovacuum_is_on

# Requests sent, and delivered, before the capacity burst: first-use costs stay out of it.
WARMUP_REQUESTS = 3
# The longest the sender waits, after its last request, for the API's answers.
ANSWER_SECONDS = 300.0
KEEPALIVE_SECONDS = 2.0  # well under the server's keep-alive: see soak()


# --- The installation ----------------------------------------------------------------------


def start_workers(api: Installation, count: int) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen([str(BIN / "misiva"), "serve", "--only", "worker"], env=api.env)
        for _ in range(count)
    ]


def stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def status_counts(database_url: str) -> dict[str, int]:
    db = Database(database_url)
    try:
        async with db.reading() as tx:
            counts = await message_store.count_by_status(tx)
    finally:
        await db.close()
    return {str(getattr(k, "value", k)): v for k, v in counts.items()}


# --- Sending -------------------------------------------------------------------------------


class Sender:
    """Posts templated messages (one per request, or `batch` through batchWithTemplates) and
    notes each accepted one; refusals and failed requests are counted, never retried."""

    def __init__(self, api: Installation, batch: int, connections: int) -> None:
        self.api, self.batch = api, batch
        # Requests past the connection limit wait here, FIFO and O(1), not in httpx's pool:
        # httpcore scans every waiting request at each release, so a backlog of a few
        # hundred made the sender itself the busiest process (60% of a core) and took the
        # CPU from the API it was measuring.
        self._slots = asyncio.Semaphore(connections)
        self.sent: list[Sent] = []
        self.errors: Counter[str] = Counter()
        self.next_n = 0
        self.in_flight = 0

    async def send(self, client: httpx.AsyncClient, phase: str, due: float) -> None:
        first, self.next_n = self.next_n, self.next_n + self.batch
        messages = [templated(n) for n in range(first, first + self.batch)]
        headers = {"X-Postmark-Server-Token": self.api.token}
        self.in_flight += 1
        try:
            async with self._slots:
                began = time.monotonic()
                response = await self._post(client, messages, headers)
            accepted = time.monotonic()
            response.raise_for_status()
        except httpx.HTTPError as error:
            self.errors[f"{type(error).__name__}: {str(error)[:80]}"] += self.batch
            return
        finally:
            self.in_flight -= 1
        body = response.json()
        for answer in body if isinstance(body, list) else [body]:
            if answer.get("ErrorCode") == 0 and answer.get("MessageID"):
                self.sent.append(Sent(phase, due, began, accepted, answer["MessageID"]))
            else:
                self.errors[f"{answer.get('ErrorCode')}: {answer.get('Message')}"] += 1

    async def _post(
        self, client: httpx.AsyncClient, messages: list[dict[str, Any]], headers: dict[str, str]
    ) -> httpx.Response:
        if self.batch == 1:
            return await client.post("/email/withTemplate", json=messages[0], headers=headers)
        return await client.post(
            "/email/batchWithTemplates", json={"Messages": messages}, headers=headers
        )

    async def burst(self, client: httpx.AsyncClient, seconds: float, clients: int) -> float:
        """Closed loop: `clients` senders each posting as soon as its last answer came."""
        began = time.monotonic()

        async def loop() -> None:
            while time.monotonic() - began < seconds:
                await self.send(client, "burst", time.monotonic())

        await asyncio.gather(*(loop() for _ in range(clients)))
        return began

    async def paced(self, client: httpx.AsyncClient, rate: float, seconds: float) -> float:
        """Open loop: request k is due at start + k x batch / rate, whatever came before."""
        interval = self.batch / rate
        requests = max(1, int(seconds / interval))
        start = time.monotonic()
        pending: set[asyncio.Task[None]] = set()
        for k in range(requests):
            due = start + k * interval
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            task = asyncio.create_task(self.send(client, "soak", due))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.wait(pending, timeout=ANSWER_SECONDS)
        for task in list(pending):  # unanswered: counted as failed sends, not left behind
            task.cancel()
            self.errors[f"no answer in {ANSWER_SECONDS:.0f} s"] += self.batch
        return start


# --- The run -------------------------------------------------------------------------------


async def wait_delivered(sink: Sink, sender: Sender, limit: float) -> float | None:
    """Wait until every accepted message has arrived; the last arrival's time, or None."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        sink.read()
        if all(s.message_id in sink.arrivals for s in sender.sent):
            return max((sink.arrivals[s.message_id][0] for s in sender.sent), default=None)
        await asyncio.sleep(0.5)
    return None


async def sample_loop(
    memory: Memory, sink: Sink, sender: Sender, watched: list[subprocess.Popen[bytes]],
    origin: float, every: float, stop: asyncio.Event,
) -> None:  # fmt: skip
    """Sample memory every `every` s; say how it goes each minute; stop if Misiva died."""
    said = -1
    while not stop.is_set():
        now = time.monotonic() - origin
        memory.sample(now)
        delivered = sink.read()
        if dead := [p.args for p in watched if p.poll() is not None]:
            raise SystemExit(f"a Misiva process exited during the soak: {dead}")
        if int(now // 60) != said and now >= 0:
            said = int(now // 60)
            mbs = ", ".join(
                f"{memory.names[pid][0].split(' child')[0]} {s[-1][1]:.0f}"
                for pid, s in memory.series.items()
                if memory.names[pid][1] and s[-1][0] == now
            )
            print(
                f"  {now / 60:5.1f} min: accepted {len(sender.sent)}, arrivals {delivered},"
                f" in flight {sender.in_flight}, errors {sum(sender.errors.values())};"
                f" RSS MB: {mbs}",
                flush=True,
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


async def soak(
    args: argparse.Namespace, api: Installation, workers: list[subprocess.Popen[bytes]],
    sink: Sink,
) -> Report:  # fmt: skip
    sender = Sender(api, args.batch, args.connections)
    roots = {"api": api.serve.pid, **{f"worker {i + 1}": w.pid for i, w in enumerate(workers)}}
    memory = Memory(roots | {"smtp sink": sink.process.pid}, judged=set(roots))
    # uvicorn closed a connection idle for 5 s (Misiva now keeps it 75 s), counting from when
    # it sent the last answer; httpx's pool also waits 5 s, but from when it finished
    # reading it. On a busy machine that gap reaches hundreds of ms, and a request sent on a
    # connection the server is closing fails with ReadError before Misiva sees it (one did
    # in a short run). Expiring idle connections well before the server does keeps that
    # race out of the verdict.
    limits = httpx.Limits(max_connections=args.connections, keepalive_expiry=KEEPALIVE_SECONDS)
    async with httpx.AsyncClient(base_url=api.url, timeout=60, limits=limits) as client:
        # First requests compile templates and open pools: not what capacity should measure.
        for _ in range(WARMUP_REQUESTS):
            await sender.send(client, "burst", time.monotonic())
        if await wait_delivered(sink, sender, args.drain_seconds) is None:
            raise SystemExit("the warm-up messages were not delivered")
        print(f"capacity: closed-loop burst, {args.burst_clients} clients, {args.burst_seconds} s")
        warmed = len(sender.sent)
        burst_began = await sender.burst(client, args.burst_seconds, args.burst_clients)
        burst_accepted = time.monotonic() - burst_began
        last = await wait_delivered(sink, sender, args.drain_seconds)
        if last is None:
            raise SystemExit(f"the burst did not drain in {args.drain_seconds} s")
        burst = len(sender.sent) - warmed
        capacity = {
            "seconds": round(last - burst_began, 2),
            "accepted": burst,
            "accepted_per_s": round(burst / burst_accepted, 1),
            "delivered_per_s": round(burst / (last - burst_began), 1),
        }
        rate = args.rate or args.load * capacity["delivered_per_s"]
        print(f"capacity {capacity}; soak at {rate:.1f} msg/s for {args.minutes} min", flush=True)
        await asyncio.sleep(2.0)  # the burst's last deliveries' bookkeeping
        duration = args.minutes * 60
        origin = time.monotonic()
        stop = asyncio.Event()
        watched = [api.serve, *workers]
        sampler = asyncio.create_task(
            sample_loop(memory, sink, sender, watched, origin, args.sample_seconds, stop)
        )
        vacuumer = None
        if not await autovacuum_is_on(api.database_url):
            vacuumer = Vacuumer(api.database_url)
            vacuuming = asyncio.create_task(vacuumer.run(stop))
        start = await sender.paced(client, rate, duration)
        print(f"sent; waiting up to {args.drain_seconds} s for the queue to drain", flush=True)
        drained = await wait_delivered(sink, sender, args.drain_seconds)
        await asyncio.sleep(args.grace_seconds)  # anything delivered twice arrives by now
        stop.set()
        await sampler
        if vacuumer is not None:
            await vacuuming
        sink.read()
    db = await status_counts(api.database_url)
    settings = {k: v for k, v in vars(args).items() if k != "out"} | {"rate": round(rate, 2)}
    report = Report(settings=settings, capacity=capacity)
    shift = start - origin  # memory was sampled on the origin's clock, minutes on start's
    judged = judge(report, sender, sink, memory, start, shift, drained, db, args)
    if vacuumer is not None:
        judged.warnings.append(vacuumer.summary())
    return judged


def judge(
    report: Report, sender: Sender, sink: Sink, memory: Memory, start: float, shift: float,
    drained: float | None, db: dict[str, int], args: argparse.Namespace,
) -> Report:  # fmt: skip
    t = thresholds(args)
    first = {i: min(times) for i, times in sink.arrivals.items()}
    report.minutes = minute_rows(sender.sent, first, start)
    add_usage(
        report.minutes,
        [(a - shift, c) for a, c in memory.cpu],
        [(a - shift, w) for a, w in memory.wait],
        [(a - shift, v) for a, v in memory.load],
        args.minutes * 60,
    )
    report.latency, failures = judge_latency(sender.sent, first, start, report.minutes, t)
    report.failures += failures
    report.warnings += explain(report.minutes, report.latency)
    for pid, series in memory.series.items():
        name, judged = memory.names[pid]
        shifted = [(at - shift, mb) for at, mb in series]
        entry, failures = judge_memory(name, pid, judged, shifted, args.minutes * 60, t)
        report.memory.append(entry)
        report.failures += failures
    report.delivery, failures = judge_delivery(sender.sent, sink.arrivals, sender.errors, db)
    report.failures += failures
    if drained is None:
        report.failures.append(f"delivery: the queue did not drain in {args.drain_seconds} s")
    lags = [r["sender_lag_max_ms"] or 0 for r in report.minutes]
    if lags and max(lags) > 100:
        report.warnings.append(
            f"the sender fell behind its schedule by up to {max(lags):.0f} ms (a busy machine, or"
            f" all {args.connections} connections waiting for answers); latency still counts"
            " from when each message was due"
        )
    return report


def thresholds(args: argparse.Namespace) -> Thresholds:
    minutes = int(args.minutes)
    # A short run (validating the harness) keeps one baseline minute and one minute to judge.
    baseline = min(args.baseline_minutes, max(1, (minutes - args.warmup_minutes) // 2))
    return Thresholds(
        max_slope_mb=args.max_slope_mb,
        max_growth_pct=args.max_growth_pct,
        p99_factor=args.p99_factor,
        p99_floor_ms=args.p99_floor_ms,
        warmup_minutes=args.warmup_minutes,
        baseline_minutes=baseline,
    )


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add = parser.add_argument
    add("--minutes", type=float, default=30.0, help="how long to send at the soak rate")
    add("--load", type=float, default=0.7, help="the soak rate as a share of capacity")
    add("--rate", type=float, default=0.0, help="messages/s instead of load x capacity")
    add("--batch", type=int, default=10, help="messages a request (1: /email/withTemplate)")
    add("--workers", type=int, default=2)
    add("--api-components", default="api,scheduler,webhooks")
    add("--burst-seconds", type=float, default=20.0)
    add("--burst-clients", type=int, default=8)
    add("--connections", type=int, default=64, help="the sender's HTTP connections at most")
    add("--sample-seconds", type=float, default=5.0)
    add("--drain-seconds", type=float, default=300.0)
    add("--grace-seconds", type=float, default=5.0)
    add(
        "--warmup-minutes",
        type=int,
        default=None,
        help="minutes before the latency baseline (default: a sixth of the run, at least 1)",
    )
    add("--baseline-minutes", type=int, default=2)
    add("--p99-factor", type=float, default=2.0)
    add("--p99-floor-ms", type=float, default=100.0)
    add("--max-slope-mb", type=float, default=5.0, help="MB per 10 minutes")
    add("--max-growth-pct", type=float, default=10.0)
    add("--out", type=Path, default=Path("var/soak/report"), help="writes OUT.json and OUT.md")
    args = parser.parse_args(argv)
    if args.warmup_minutes is None:
        # The baseline must see PostgreSQL in its steady state. The first checkpoint starts
        # at checkpoint_timeout (5 min by default), and after it the WAL-triggered ones run
        # back to back with full-page writes; a 30-minute run's baseline in minutes 2-3
        # came before that (p99 146 ms; 190-250 ms after, with p50 and CPU per message flat).
        args.warmup_minutes = max(1, int(args.minutes // 6))
    if args.minutes <= args.warmup_minutes:
        parser.error(f"--minutes must be more than the {args.warmup_minutes}-minute warm-up")
    if args.batch < 1 or args.batch > 500 or args.workers < 1:
        parser.error("--batch is 1 to 500 and --workers at least 1")
    if not 0 < args.load <= 1 or args.rate < 0:
        parser.error("--load is a share of capacity (0 to 1]; --rate is messages/s")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress, live
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        try:
            url = fresh_database("postgresql", workdir)
        except OSError as error:
            raise SystemExit(f"PostgreSQL is needed (127.0.0.1:5432): {error}") from None
        sink = None
        api = None
        workers: list[subprocess.Popen[bytes]] = []
        try:
            sink = Sink(workdir / "arrivals.log")
            api = start(url, workdir, sink.port, only=args.api_components)
            workers = start_workers(api, args.workers)
            time.sleep(2.0)  # the workers connect and listen before the first message
            report = asyncio.run(soak(args, api, workers, sink))
        finally:
            stop_all(workers)
            if api is not None:
                api.stop()
            if sink is not None:
                sink.stop()
            drop_database(url)
    print()
    print(markdown(report))
    as_json, as_md = write(report, args.out)
    print(f"written: {as_json}, {as_md}")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
