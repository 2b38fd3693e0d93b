"""Misiva's send pipeline, measured the way a user would compare it: one table, side by side.

    .venv/bin/python bench/send_pipeline.py [--messages 5000] [--repeats 3]
        [--backends sqlite,postgresql] [--references postfix,post-office] [--quick]

Each repeat, for each database, starts `misiva serve` as production runs it (its own
processes) and measures:

- throughput: the starter library's order confirmation (about 5 KB with its layout, open
  and click tracking, DKIM RSA-2048) sent through /email/batchWithTemplates in batches of
  500 from two clients, into Postfix's smtp-sink: accepted/s, and delivered/s from the
  first request to the sink counting the last message;
- single sends: /email from 32 concurrent connections (wrk) for 8 s: accepted/s, p50, p99;
- latency: single sends paced at half the delivered rate for 6 s: accept to the receiver's
  250, p50 and p99, from Misiva's own event log;
- slow receiver: the throughput run again into a sink that takes 100 ms per message,
  against the same sink at full speed, with the peak of connections it saw.

The references (bench/reference.py) deliver the same kind of message into the same
smtp-sink: Postfix relaying, fed by smtp-source with 20 sessions, and django-post-office.
Every figure is the median over the repeats; ratios are to Postfix's delivered/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from misiva.domain.enums import MessageStatus
from misiva.storage import Database, stats
from misiva.storage import messages as message_store
from reference import RefResult, SmtpSink, run_post_office, run_postfix

BIN = Path(sys.executable).parent
PG_ADMIN = os.environ.get("MISIVA_TEST_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/test")
STARTER = Path(__file__).parents[1] / "src/misiva/starter/templates"
BATCH = 500
WRK_SECONDS = 8
LATENCY_SECONDS = 6.0
SLOW_RECEIVER_SECONDS = 0.1
SLOW_DESTINATIONS = 4
LATENCY_TAG = "latency"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- One installation -------------------------------------------------------------------


def cli(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [str(BIN / "misiva"), *args], env=env, check=True, capture_output=True, text=True
    ).stdout


@dataclass
class Installation:
    serve: subprocess.Popen[bytes]
    url: str
    token: str
    database_url: str
    env: dict[str, str]

    def stop(self) -> None:
        self.serve.send_signal(signal.SIGTERM)
        try:
            self.serve.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.serve.kill()
            self.serve.wait()


def start(
    database_url: str, workdir: Path, sink_port: int, only: str | None = None, **settings: str
) -> Installation:
    """`misiva serve` in its own processes (or `--only` some components), with a server, a
    domain and the starter library, routing all mail to the sink at `sink_port`."""
    http_port = free_port()
    settings["routes"] = ",".join(
        part for part in (settings.get("routes"), f"*={_sink_route(sink_port)}") if part
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MISIVA_")},
        "MISIVA_DATABASE_URL": database_url,
        "MISIVA_HTTP_ADDR": f"127.0.0.1:{http_port}",
        "MISIVA_LOG_LEVEL": "WARNING",
        **{f"MISIVA_{k.upper()}": v for k, v in settings.items()},
    }
    cli(env, "db", "upgrade")
    token = json.loads(cli(env, "servers", "create", "bench", "--json"))["ApiToken"]
    cli(env, "domains", "add", "shop.test", "--server", "bench")
    cli(env, "templates", "install-starter", "--server", "bench")
    command = [str(BIN / "misiva"), "serve", *(["--only", only] if only else [])]
    serve = subprocess.Popen(command, env=env, cwd=workdir)
    url = f"http://127.0.0.1:{http_port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/openapi.json", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.05)
    time.sleep(1.0)  # the delivery process is up too
    return Installation(serve=serve, url=url, token=token, database_url=database_url, env=env)


# --- What is sent -----------------------------------------------------------------------

_MODEL = json.loads((STARTER / "order-confirmation/test-model.json").read_text())


def templated(n: int, domains: int = 0) -> dict[str, Any]:
    """Order confirmation n, to example.com or spread over d0.example ... d{domains-1}."""
    model = json.loads(json.dumps(_MODEL))
    model["order"]["number"] = f"PED-2026-{n:06d}"
    domain = f"d{n % domains}.example" if domains else "example.com"
    return {
        "From": "Tienda <hola@shop.test>",
        "To": f"cliente{n}@{domain}",
        "TemplateAlias": "order-confirmation",
        "TemplateModel": model,
        "TrackOpens": True,
        "TrackLinks": "HtmlAndText",
        "MessageStream": "outbound",
    }


# --- Scenarios --------------------------------------------------------------------------


async def send_templated_batches(
    misiva: Installation, first: int, total: int, domains: int = 0
) -> float:
    """Send `total` templated messages in batches from two clients; accepted/s."""
    headers = {"X-Postmark-Server-Token": misiva.token}
    starts = iter(range(first, first + total, BATCH))

    async def client_loop(client: httpx.AsyncClient) -> None:
        for start_at in starts:
            end = min(start_at + BATCH, first + total)
            batch = [templated(n, domains) for n in range(start_at, end)]
            response = await client.post(
                "/email/batchWithTemplates", json={"Messages": batch}, headers=headers
            )
            response.raise_for_status()
            refused = [r for r in response.json() if r["ErrorCode"] != 0]
            if refused:
                raise SystemExit(f"refused: {refused[:2]}")

    began = time.perf_counter()
    async with httpx.AsyncClient(base_url=misiva.url, timeout=300) as client:
        await asyncio.gather(client_loop(client), client_loop(client))
    return total / (time.perf_counter() - began)


def throughput(
    misiva: Installation,
    count: Callable[[], int],
    total: int,
    *,
    domains: int = 0,
    poll: float = 0.01,
) -> tuple[float, float]:
    """(accepted/s, delivered/s) for `total` templated messages; `count` says how many
    arrived, looked at every `poll` seconds."""
    before = count()
    began = time.perf_counter()
    accepted = asyncio.run(send_templated_batches(misiva, 0, total, domains))
    deadline = time.monotonic() + 60 + total / 20
    while count() < before + total:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {count() - before} of {total} delivered in time")
        time.sleep(poll)
    return accepted, total / (time.perf_counter() - began)


_WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
wrk.headers["X-Postmark-Server-Token"] = "{token}"
counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, string.format('{body}', counter, counter))
end
"""


def singles(misiva: Installation, workdir: Path) -> tuple[float, float, float]:
    """(accepted/s, p50 ms, p99 ms) of /email from 32 connections, from wrk."""
    body = json.dumps(
        {
            "From": "Tienda <hola@shop.test>",
            "To": "cliente%d@example.com",
            "Subject": "Restablece tu contraseña (%d)",
            "TextBody": "Hola: para elegir una contraseña nueva abre este enlace. " * 8,
            "HtmlBody": "<p>Hola: para elegir una contraseña nueva abre este enlace.</p>" * 8,
        },
        ensure_ascii=False,
    )
    # Inside a Lua string: backslashes and quotes escaped, and %d left for string.format.
    body = body.replace("\\", "\\\\").replace("'", "\\'")
    script = workdir / "post.lua"
    script.write_text(_WRK_SCRIPT.replace("{token}", misiva.token).replace("{body}", body))
    out = subprocess.run(
        ["wrk", "-t1", "-c32", f"-d{WRK_SECONDS}s", "--latency", "-s", str(script),
         f"{misiva.url}/email"],
        capture_output=True, text=True, check=True, timeout=WRK_SECONDS + 60,
    ).stdout  # fmt: skip
    if "Non-2xx" in out:
        raise SystemExit(f"wrk saw errors:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return rate, _wrk_ms(out, "50%"), _wrk_ms(out, "99%")


def _wrk_ms(out: str, percentile: str) -> float:
    value, unit = re.search(rf"{percentile}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


async def paced(misiva: Installation, rate: float, seconds: float) -> None:
    """Single sends at a steady `rate` for `seconds`, each on its own schedule."""
    headers = {"X-Postmark-Server-Token": misiva.token}
    total = int(rate * seconds)
    began = time.perf_counter()

    async def one(client: httpx.AsyncClient, n: int) -> None:
        await asyncio.sleep(max(0.0, began + n / rate - time.perf_counter()))
        message = {
            "From": "hola@shop.test",
            "To": f"latencia{n}@example.com",
            "Subject": f"Código {n}",
            "TextBody": f"Tu código es {n:06d}.",
            "Tag": LATENCY_TAG,
        }
        (await client.post("/email", json=message, headers=headers)).raise_for_status()

    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(base_url=misiva.url, timeout=60, limits=limits) as client:
        await asyncio.gather(*(one(client, n) for n in range(total)))


async def paced_latencies(database_url: str) -> list[float]:
    """Accept-to-delivered seconds of the paced sends, from Misiva's event log."""
    db = Database(database_url)
    try:
        async with db.reading() as tx:
            return await stats.accept_to_delivered_seconds(tx, tag=LATENCY_TAG)
    finally:
        await db.close()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


# --- One repeat on one database --------------------------------------------------------


@dataclass
class MisivaRun:
    accepted: float = 0.0
    delivered: float = 0.0
    single_rate: float = 0.0
    single_p50: float = 0.0
    single_p99: float = 0.0
    latency_p50: float = 0.0
    latency_p99: float = 0.0
    slow_delivered: float = 0.0
    fast_delivered: float = 0.0
    slow_peak: int = 0


def measure_misiva(database_url: str, workdir: Path, total: int) -> MisivaRun:
    run = MisivaRun()
    with SmtpSink() as sink:
        misiva = start(database_url, workdir, sink.port)
        try:
            run.accepted, run.delivered = throughput(misiva, sink.count, total)
            run.single_rate, run.single_p50, run.single_p99 = singles(misiva, workdir)
            settle(sink.count)
            before = sink.count()
            asyncio.run(paced(misiva, run.delivered / 2, LATENCY_SECONDS))
            target = before + int(run.delivered / 2 * LATENCY_SECONDS)
            sink.wait_for(target, timeout=60)
            found = asyncio.run(paced_latencies(database_url))
            run.latency_p50 = percentile(found, 0.5) * 1000
            run.latency_p99 = percentile(found, 0.99) * 1000
        finally:
            misiva.stop()
    run.fast_delivered, run.slow_delivered, run.slow_peak = slow_receiver(
        database_url, workdir, total
    )
    return run


def settle(count: Callable[[], int], quiet: float = 0.5, limit: float = 120.0) -> None:
    """Wait until the sink has seen nothing new for `quiet` seconds: the queue is empty."""
    deadline = time.monotonic() + limit
    last, since = count(), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < quiet:
        time.sleep(0.05)
        if count() != last:
            last, since = count(), time.monotonic()


def slow_receiver(database_url: str, workdir: Path, total: int) -> tuple[float, float, int]:
    """(delivered/s into fast aiosmtpd sinks, into ones taking 100 ms a message, the most
    connections one slow sink had in use at once).

    Mail goes to SLOW_DESTINATIONS domains, each its own sink (its own destination, as
    gmail.com and outlook.com are), so the per-destination connection limit
    (MISIVA_SMTP_MAX_CONNECTIONS, 20 like Postfix's) is what the peak is checked against.
    """
    rates = []
    peak = 0
    for delay in (0.0, SLOW_RECEIVER_SECONDS):
        ports = [free_port() for _ in range(SLOW_DESTINATIONS)]
        sinks = [
            subprocess.Popen(
                [
                    str(BIN / "python"),
                    "-m",
                    "misiva.testing.smtp_sink",
                    "--port",
                    str(port),
                    "--count-only",
                    "--message-delay",
                    str(delay),
                    "--max-seconds",
                    "900",
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            for port in ports
        ]
        routes = ",".join(f"d{i}.example={_sink_route(port)}" for i, port in enumerate(ports))
        misiva = start(fresh_database(database_url, workdir), workdir, ports[0], routes=routes)
        try:
            counter = _DeliveredCounter(misiva.database_url)
            rates.append(
                throughput(misiva, counter.count, total, domains=SLOW_DESTINATIONS, poll=0.1)[1]
            )
        finally:
            misiva.stop()
            outs = []
            for sink in sinks:
                sink.send_signal(signal.SIGTERM)
                outs.append(sink.communicate(timeout=30)[0])
            drop_database(misiva.database_url)
        peak = max(int(m.group(1)) for out in outs if (m := re.search(r"peak (\d+)", out)))
    return rates[0], rates[1], peak


def _sink_route(port: int) -> str:
    return f"smtp://127.0.0.1:{port}?tls=none"


class _DeliveredCounter:
    """Delivered messages read from Misiva's database (for sinks that do not count aloud)."""

    def __init__(self, database_url: str) -> None:
        self._url = database_url

    def count(self) -> int:
        return asyncio.run(self._count())

    async def _count(self) -> int:
        db = Database(self._url)
        try:
            async with db.reading() as tx:
                counts = await message_store.count_by_status(tx)
            return counts.get(MessageStatus.DELIVERED, 0)
        finally:
            await db.close()


# --- Databases ------------------------------------------------------------------------


def fresh_database(kind_of: str, workdir: Path) -> str:
    """A new empty database of the same kind as `kind_of`."""
    if kind_of.startswith("sqlite"):
        return f"sqlite:///{workdir}/bench-{uuid.uuid4().hex[:8]}.db"
    return asyncio.run(_create_postgres())


def drop_database(url: str) -> None:
    if url.startswith("postgresql"):
        asyncio.run(_drop_postgres(url))
    else:
        path = Path(url.removeprefix("sqlite:///"))
        for leftover in path.parent.glob(path.name + "*"):
            leftover.unlink(missing_ok=True)


async def _create_postgres() -> str:
    name = f"misiva_bench_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(PG_ADMIN)
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


async def _drop_postgres(url: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN)
    await connection.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    await connection.close()


# --- The table ------------------------------------------------------------------------


@dataclass
class Summary:
    misiva: dict[str, list[MisivaRun]] = field(default_factory=dict)
    references: dict[str, list[RefResult]] = field(default_factory=dict)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def print_table(summary: Summary, total: int, repeats: int) -> None:
    postfix = median([r.delivered_per_s for r in summary.references.get("postfix", [])])
    print(f"\n{total} messages a run, median of {repeats} runs; ratio = delivered/s ÷ Postfix's")
    print(f"{'system':<24} {'accepted/s':>11} {'delivered/s':>12} {'ratio':>7}")
    for name, runs in summary.references.items():
        delivered = median([r.delivered_per_s for r in runs])
        accepted = median([r.accepted_per_s for r in runs])
        print(f"{name:<24} {accepted:>11.0f} {delivered:>12.0f} {delivered / postfix:>7.2f}")
    for backend, mruns in summary.misiva.items():
        delivered = median([r.delivered for r in mruns])
        accepted = median([r.accepted for r in mruns])
        print(
            f"{'misiva ' + backend:<24} {accepted:>11.0f} {delivered:>12.0f}"
            f" {delivered / postfix:>7.2f}"
        )
    print(
        f"\n{'misiva':<11} {'single acc/s':>12} {'p50 ms':>7} {'p99 ms':>7}"
        f" {'lat p50 ms':>10} {'lat p99 ms':>10} {'fast sink/s':>11} {'100ms sink/s':>12}"
        f" {'slow/fast':>9} {'peak conns':>10}"
    )
    for backend, mruns in summary.misiva.items():

        def m(attribute: str, runs: list[MisivaRun] = mruns) -> float:
            return median([getattr(r, attribute) for r in runs])

        print(
            f"{backend:<11} {m('single_rate'):>12.0f} {m('single_p50'):>7.1f}"
            f" {m('single_p99'):>7.1f} {m('latency_p50'):>10.1f} {m('latency_p99'):>10.1f}"
            f" {m('fast_delivered'):>11.0f} {m('slow_delivered'):>12.0f}"
            f" {m('slow_delivered') / m('fast_delivered'):>9.2f} {m('slow_peak'):>10.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--references", default="postfix,post-office")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed for single sends: `make bench` installs it")
    summary = Summary()
    references = [r for r in args.references.split(",") if r]
    backends = [b for b in args.backends.split(",") if b]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        # Interleaved, so a slow minute of the machine touches every system alike.
        for repeat in range(args.repeats):
            for name in references:
                with SmtpSink() as sink:
                    runner = run_postfix if name == "postfix" else _post_office(workdir)
                    result = runner(sink, args.messages)
                summary.references.setdefault(name, []).append(result)
                print(f"run {repeat + 1} {name}: {result}", flush=True)
            for backend in backends:
                url = fresh_database("sqlite" if backend == "sqlite" else "postgresql", workdir)
                try:
                    run = measure_misiva(url, workdir, args.messages)
                finally:
                    drop_database(url)
                summary.misiva.setdefault(backend, []).append(run)
                print(f"run {repeat + 1} misiva {backend}: {run}", flush=True)
    print_table(summary, args.messages, args.repeats)


def _post_office(workdir: Path) -> Callable[[SmtpSink, int], RefResult]:
    return lambda sink, messages: run_post_office(sink, messages, workdir)


if __name__ == "__main__":
    main()
