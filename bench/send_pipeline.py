"""Send 10,000 messages through the API to a local SMTP sink; print rates and latencies.

Runs `misiva serve` as it runs in production (its own process), an SMTP sink in another,
and this script as the client, on SQLite and on PostgreSQL, one after the other:

    .venv/bin/python bench/send_pipeline.py [--messages 10000] [--backends sqlite,postgresql]

Reported: accepted messages/s for single sends (concurrent clients) and for batches of 500,
delivered messages/s (first accept to last delivery), and accept-to-delivered latency
p50/p99 from Misiva's own event log. Numbers, not pass/fail: compare runs side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from misiva.domain.enums import MessageStatus
from misiva.storage import Database, stats
from misiva.storage import messages as message_store

BIN = Path(sys.executable).parent
PG_ADMIN = os.environ.get("MISIVA_TEST_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/test")
BODY = "Gracias por tu pedido. " * 40  # about 1 KB of text


@dataclass
class Result:
    backend: str
    single_rate: float
    batch_rate: float
    delivered_rate: float
    p50_ms: float
    p99_ms: float


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def message(n: int) -> dict[str, str]:
    return {
        "From": "Tienda <hola@shop.test>",
        "To": f"cliente{n}@example.com",
        "Subject": f"Pedido {n} confirmado",
        "TextBody": BODY,
        "HtmlBody": f"<p>{BODY}</p>",
    }


async def send_singles(url: str, token: str, start: int, count: int, clients: int) -> float:
    headers = {"X-Postmark-Server-Token": token}
    numbers = iter(range(start, start + count))

    async def client_loop(client: httpx.AsyncClient) -> None:
        for n in numbers:
            (await client.post("/email", json=message(n), headers=headers)).raise_for_status()

    began = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        await asyncio.gather(*(client_loop(client) for _ in range(clients)))
    return count / (time.perf_counter() - began)


async def send_batches(url: str, token: str, start: int, count: int) -> float:
    headers = {"X-Postmark-Server-Token": token}
    began = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        for first in range(start, start + count, 500):
            batch = [message(n) for n in range(first, min(first + 500, start + count))]
            (await client.post("/email/batch", json=batch, headers=headers)).raise_for_status()
    return count / (time.perf_counter() - began)


async def wait_delivered(db: Database, total: int, limit: float) -> None:
    deadline = time.monotonic() + limit
    counts: dict[MessageStatus, int] = {}
    while time.monotonic() < deadline:
        async with db.transaction() as tx:
            counts = await message_store.count_by_status(tx)
        if counts.get(MessageStatus.DELIVERED, 0) >= total:
            return
        await asyncio.sleep(0.25)
    raise SystemExit(f"not all delivered in {limit}s: {counts}")


def cli(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [str(BIN / "misiva"), *args], env=env, check=True, capture_output=True, text=True
    ).stdout


@dataclass
class Installation:
    sink: subprocess.Popen[bytes]
    serve: subprocess.Popen[bytes]
    url: str
    token: str

    def stop(self) -> None:
        self.serve.send_signal(signal.SIGTERM)
        self.serve.wait(timeout=60)
        self.sink.terminate()
        self.sink.wait(timeout=10)


def start(database_url: str, workdir: Path) -> Installation:
    """An SMTP sink and `misiva serve` in their own processes, a server and a domain."""
    sink_port, http_port = free_port(), free_port()
    sink = subprocess.Popen(
        [
            str(BIN / "python"),
            "-m",
            "misiva.testing.smtp_sink",
            "--port",
            str(sink_port),
            "--count-only",
            "--max-seconds",
            "900",
        ],
        stdout=subprocess.DEVNULL,
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MISIVA_")},
        "MISIVA_DATABASE_URL": database_url,
        "MISIVA_HTTP_ADDR": f"127.0.0.1:{http_port}",
        "MISIVA_ROUTES": f"*=smtp://127.0.0.1:{sink_port}?tls=none",
        "MISIVA_LOG_LEVEL": "WARNING",
    }
    cli(env, "db", "upgrade")
    token = json.loads(cli(env, "servers", "create", "bench", "--json"))["ApiToken"]
    cli(env, "domains", "add", "shop.test", "--server", "bench")
    serve = subprocess.Popen([str(BIN / "misiva"), "serve"], env=env, cwd=workdir)
    url = f"http://127.0.0.1:{http_port}"
    for _ in range(400):
        try:
            httpx.get(f"{url}/openapi.json", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.05)
    return Installation(sink=sink, serve=serve, url=url, token=token)


async def measure(backend: str, database_url: str, total: int, misiva: Installation) -> Result:
    db = Database(database_url)
    try:
        began = time.perf_counter()
        half = total // 2
        single_rate = await send_singles(misiva.url, misiva.token, 0, half, clients=16)
        batch_rate = await send_batches(misiva.url, misiva.token, half, total - half)
        await wait_delivered(db, total, limit=900)
        elapsed = time.perf_counter() - began
        async with db.transaction() as tx:
            latencies = await stats.accept_to_delivered_seconds(tx)
    finally:
        await db.close()
    return Result(
        backend=backend,
        single_rate=single_rate,
        batch_rate=batch_rate,
        delivered_rate=total / elapsed,
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=latencies[int(len(latencies) * 0.99) - 1] * 1000,
    )


def run_backend(backend: str, database_url: str, total: int, workdir: Path) -> Result:
    misiva = start(database_url, workdir)
    try:
        return asyncio.run(measure(backend, database_url, total, misiva))
    finally:
        misiva.stop()


async def postgres_database() -> str:
    name = f"misiva_bench_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(PG_ADMIN)
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


async def drop_postgres(url: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN)
    await connection.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            if backend == "sqlite":
                url = f"sqlite:///{tmp}/bench.db"
                results.append(run_backend(backend, url, args.messages, Path(tmp)))
                continue
            url = asyncio.run(postgres_database())
            try:
                results.append(run_backend(backend, url, args.messages, Path(tmp)))
            finally:
                asyncio.run(drop_postgres(url))
    print(f"\n{args.messages} messages, half single sends (16 clients), half batches of 500")
    print(
        f"{'backend':<11} {'single acc/s':>12} {'batch acc/s':>12} {'delivered/s':>12}"
        f" {'p50 ms':>9} {'p99 ms':>9}"
    )
    for r in results:
        print(
            f"{r.backend:<11} {r.single_rate:>12.0f} {r.batch_rate:>12.0f} "
            f"{r.delivered_rate:>12.0f} {r.p50_ms:>9.0f} {r.p99_ms:>9.0f}"
        )


if __name__ == "__main__":
    main()
