"""SMTP submission ingest beside the HTTP API: messages accepted per second over 4 connections.

    .venv/bin/python bench/smtp_ingest.py [--messages 4000] [--repeats 3]
        [--backends sqlite,postgresql]

Each repeat, for each database, starts `misiva serve` as production runs it and sends the
same message (text and HTML, about 1.5 KB, one recipient) two ways, each over 4 concurrent
connections: SMTP submission (AUTH, then MAIL, RCPT and DATA per message, one connection
each, aiosmtplib) and POST /email (keep-alive, httpx). Accepted/s is messages over the wall
time until the last 250 (SMTP) or 200 (HTTP): each answer comes only after the commit.
Delivery runs meanwhile into Postfix's smtp-sink, as in production. Medians over repeats.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path

import aiosmtplib
import httpx

from reference import SmtpSink
from send_pipeline import drop_database, free_port, fresh_database, start

CONNECTIONS = 4
TEXT = "Gracias por tu pedido. Lo preparamos hoy y te avisamos cuando salga.\n" * 8
HTML = "<p>" + TEXT.replace("\n", "<br>") + '<a href="https://shop.test/pedidos">Ver</a></p>'


def _message(n: int) -> bytes:
    message = EmailMessage()
    message["From"] = "Tienda <hola@shop.test>"
    message["To"] = f"cliente{n}@example.com"
    message["Subject"] = f"Tu pedido {n}"
    message["X-PM-Tag"] = "bench"
    message.set_content(TEXT)
    message.add_alternative(HTML, subtype="html")
    return message.as_bytes(policy=SMTP_POLICY)


async def smtp_rate(port: int, token: str, total: int) -> float:
    numbers = iter(range(total))

    async def connection() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=60)
        await client.connect()
        await client.login(token, token)
        for n in numbers:
            rcpt = f"cliente{n}@example.com"
            errors, reply = await client.sendmail("hola@shop.test", [rcpt], _message(n))
            if errors or not reply.startswith("2.0.0"):
                raise SystemExit(f"refused: {errors or reply}")
        await client.quit()

    began = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))
    return total / (time.perf_counter() - began)


async def http_rate(url: str, token: str, total: int) -> float:
    numbers = iter(range(total))
    headers = {"X-Postmark-Server-Token": token}

    async def connection(client: httpx.AsyncClient) -> None:
        for n in numbers:
            body = {
                "From": "Tienda <hola@shop.test>",
                "To": f"cliente{n}@example.com",
                "Subject": f"Tu pedido {n}",
                "Tag": "bench",
                "TextBody": TEXT,
                "HtmlBody": HTML,
            }
            response = await client.post("/email", json=body, headers=headers)
            response.raise_for_status()

    began = time.perf_counter()
    limits = httpx.Limits(max_connections=CONNECTIONS)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        await asyncio.gather(*(connection(client) for _ in range(CONNECTIONS)))
    return total / (time.perf_counter() - began)


def measure(backend: str, workdir: Path, messages: int) -> tuple[float, float]:
    url = fresh_database(backend, workdir)
    port = free_port()
    try:
        with SmtpSink() as sink:
            misiva = start(url, workdir, sink.port, smtp_addr=f"127.0.0.1:{port}")
            try:
                # Interleaved within the run too: HTTP, then SMTP, on the same database.
                http = asyncio.run(http_rate(misiva.url, misiva.token, messages))
                smtp = asyncio.run(smtp_rate(port, misiva.token, messages))
            finally:
                misiva.stop()
    finally:
        drop_database(url)
    return smtp, http


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=4_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for backend in [b for b in args.backends.split(",") if b]:
                smtp, http = measure(backend, Path(tmp), args.messages)
                results.setdefault(backend, []).append((smtp, http))
                print(f"run {repeat + 1} {backend}: smtp {smtp:.0f}/s, http {http:.0f}/s")
    print(f"\n{args.messages} messages a run, {CONNECTIONS} connections, medians of {args.repeats}")
    print(f"{'database':<12}{'SMTP accepted/s':>17}{'HTTP /email/s':>15}{'SMTP ÷ HTTP':>13}")
    for backend, runs in results.items():
        smtp = statistics.median(r[0] for r in runs)
        http = statistics.median(r[1] for r in runs)
        print(f"{backend:<12}{smtp:>17.0f}{http:>15.0f}{smtp / http:>13.2f}")


if __name__ == "__main__":
    main()
