"""The soak test's receiving MX in its own process (Misiva's test sink, noting each arrival).

    .venv/bin/python bench/soak_sink.py --port PORT --log FILE [--max-seconds 7200]

misiva.testing.smtp_sink's SmtpSink answers 250 to everything; here it keeps no bodies
(memory stays flat over a long run) and appends one line per accepted message to FILE:
the monotonic time it arrived and the MessageID from its Message-ID header. CLOCK_MONOTONIC
is one clock for every process on the machine, so the soak compares these times with its
own send times directly. Runs until SIGTERM or `--max-seconds`.
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import IO, Any

from misiva.bounces.verp import message_id_from_header
from misiva.testing.smtp_sink import SmtpSink
from send_pipeline import BIN, free_port

# The header block only: a body line that happens to read "Message-ID:" is not the header.
_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(\S+)", re.I | re.M)


class LoggingSink(SmtpSink):
    """SmtpSink in count-only mode that writes "<monotonic> <MessageID>" per message."""

    def __init__(self, port: int, log: IO[str]) -> None:
        super().__init__(port=port, count_only=True)
        self._log = log
        self._log_lock = threading.Lock()

    def _record(self, server: Any, session: Any, envelope: Any) -> None:
        # The moment the DATA terminator was accepted, before the sink's own bookkeeping.
        now = time.monotonic()
        head = envelope.original_content.partition(b"\r\n\r\n")[0]
        found = _MESSAGE_ID.search(head)
        ident = message_id_from_header(found.group(1).decode(errors="replace")) if found else None
        with self._log_lock:
            self._log.write(f"{now:.6f} {ident or '-'}\n")
        super()._record(server, session, envelope)


class Sink:
    """bench/soak_sink.py in its own process, and the arrivals it has logged so far."""

    def __init__(self, log: Path) -> None:
        self.log, self.port, self._offset, self.count = log, free_port(), 0, 0
        self.arrivals: dict[str, list[float]] = {}
        self.process = subprocess.Popen(
            [str(BIN / "python"), __file__, "--port", str(self.port), "--log", str(log)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        if not self.process.stdout.readline().startswith("listening"):
            raise SystemExit(f"the sink did not start (exit {self.process.poll()})")

    def read(self) -> int:
        """Take in the lines logged since the last call; how many arrivals there are now."""
        with self.log.open("rb") as f:
            f.seek(self._offset)
            chunk = f.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written waits
        self._offset += len(complete)
        for line in complete.decode().splitlines():
            at, _, ident = line.partition(" ")
            self.arrivals.setdefault(ident, []).append(float(at))
            self.count += 1
        return self.count

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--max-seconds", type=float, default=7200.0)
    args = parser.parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # Line-buffered: the soak reads the file while the sink writes it.
    with args.log.open("a", buffering=1) as log, LoggingSink(args.port, log) as sink:
        print(f"listening {sink.address}", flush=True)
        stop.wait(args.max_seconds)
        print(f"received {sink.count} sessions {sink.sessions}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
