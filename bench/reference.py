"""Reference mail systems for Misiva's send benchmark, each delivering to one Postfix smtp-sink.

Misiva's numbers mean little alone, so the same ~5 KB order confirmation goes through two
systems people run today, into the same sink on loopback:

- Postfix, tuned for throughput and fed by Postfix's own `smtp-source` (20 sessions);
- django-post-office, the queued path a Django application uses: `mail.send()` stores a
  row, then `send_queued_mail` delivers the queue over SMTP.

    .venv/bin/python bench/reference.py [--messages 2000] [--only postfix,post-office]

Accepted/s is how fast the system took the messages in; delivered/s is the number of
messages over the time from the first accept to the sink seeing the last one. Numbers, not
pass/fail: compare runs side by side on the same machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import IO, Self

from misiva.testing.postfix import PostfixRelay

SMTP_SINK = "/usr/sbin/smtp-sink"
SMTP_SOURCE = "/usr/sbin/smtp-source"
SENDER = "hola@shop.test"
FROM = f"Tienda <{SENDER}>"
POST_OFFICE_CHILD = "_post-office-child"

# A record of smtp-sink's `-c` counters, e.g. "sess=12 quit=12 mesg=40"; records end in \r.
_MESG = re.compile(rb"mesg=(\d+)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _time_limit(messages: int) -> float:
    """A bound for any one wait: generous (20 messages/s), so a slow run ends as a failure
    with a log instead of hanging the benchmark."""
    return 60.0 + messages / 20


class _CounterParser:
    """Turns smtp-sink's `-c` output stream into its latest message count."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, chunk: bytes) -> int | None:
        # A read can end inside a record; keep the unfinished tail for the next chunk.
        complete, _, self._pending = (self._pending + chunk).rpartition(b"\r")
        found = _MESG.findall(complete)
        return int(found[-1]) if found else None


class SmtpSink:
    """Postfix's smtp-sink on 127.0.0.1:port: answers 250 to everything and counts messages.

    smtp-sink is a C program that keeps up with any client here, so it never becomes the
    bottleneck being measured. Its `-c` counters are read on a thread, which notes the
    monotonic time each message count was first reached.
    """

    def __init__(self, *, backlog: int = 1024, user: str = "nobody") -> None:
        self.port = _free_port()
        # Many senders connect at once; a small listen queue would make them retry SYNs.
        self._backlog = backlog
        self._user = user
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._reader: threading.Thread | None = None
        # _times[i] is when message i + 1 was seen: 8 bytes a message, fine for millions.
        self._times = array("d")
        self._ended = False
        self._changed = threading.Condition()

    def start(self, timeout: float = 10.0) -> Self:
        command = [SMTP_SINK, "-c"]
        if os.geteuid() == 0:
            # smtp-sink refuses to run as root; it drops to this user after binding.
            command += ["-u", self._user]
        command += [f"127.0.0.1:{self.port}", str(self._backlog)]
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop)
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self._stderr)
        self._reader = threading.Thread(target=self._read, name="smtp-sink-counter", daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                # A bare connect and close counts as a session, never as a message.
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                if self._process.poll() is not None:
                    break
                time.sleep(0.05)
        said = self.errors()
        self.stop()
        raise RuntimeError(f"smtp-sink did not start: {said}")

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        fd, parser = self._process.stdout.fileno(), _CounterParser()
        while chunk := os.read(fd, 65536):
            seen = time.monotonic()
            total = parser.feed(chunk)
            if total is not None and total > len(self._times):
                with self._changed:
                    self._times.extend([seen] * (total - len(self._times)))
                    self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def count(self) -> int:
        """Messages received so far (the DATA terminator seen)."""
        with self._changed:
            return len(self._times)

    def wait_for(self, n: int, timeout: float) -> float | None:
        """The monotonic time the n-th message arrived, or None if it has not in `timeout`."""
        if n < 1:
            raise ValueError(f"messages are counted from 1, not {n}")
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._times) < n:
                if self._ended:
                    raise RuntimeError(f"smtp-sink exited early: {self.errors()}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._changed.wait(min(remaining, 0.02))
            return self._times[n - 1]

    def errors(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)
            self._reader = None
        if self._process is not None and self._process.stdout is not None:
            self._process.stdout.close()
        self._process = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- The message ------------------------------------------------------------------------

_ITEMS = [  # (name, quantity, unit price in cents)
    ("Camiseta de algodón orgánico, talla M", 2, 1990),
    ("Pantalón vaquero recto, azul índigo", 1, 4995),
    ("Zapatillas de lona blancas, número 42", 1, 3900),
    ("Sudadera con capucha, gris jaspeado", 1, 3490),
]
_SHIPPING = 495


def _euros(cents: int) -> str:
    return f"{cents // 100},{cents % 100:02d}"


@dataclass(frozen=True)
class _Content:
    subject: str
    text: str
    html: str


def _content(n: int) -> _Content:
    """The order confirmation for customer n: the same words in text and in HTML."""
    subtotal = sum(qty * price for _, qty, price in _ITEMS)
    total = _euros(subtotal + _SHIPPING)
    lines = "\n".join(
        f"  {qty} x {name} ........ {_euros(qty * price)} €" for name, qty, price in _ITEMS
    )
    text = f"""Hola, cliente {n}:

¡Gracias por tu compra! Hemos recibido tu pedido número {n} y ya lo estamos preparando en
nuestro almacén. Te enviaremos otro correo con el número de seguimiento en cuanto salga.

Resumen del pedido
{lines}

  Subtotal: {_euros(subtotal)} €
  Envío estándar (2-4 días laborables): {_euros(_SHIPPING)} €
  IVA incluido. Total: {total} €

Dirección de envío: Calle de la Princesa 25, 3.º izquierda, 28008 Madrid, España.
Forma de pago: tarjeta terminada en 4242.

Puedes cambiar la dirección o cancelar el pedido durante la próxima hora desde tu cuenta.
Si algo no te queda bien, tienes 30 días para devolverlo sin coste: guarda este correo.

¿Tienes alguna pregunta? Responde a este mensaje y te atenderemos lo antes posible.

Un saludo,
El equipo de la Tienda
"""
    cell = 'style="padding:6px 8px;border-bottom:1px solid #eee"'
    rows = "\n".join(
        f'<tr><td {cell}>{name}</td><td {cell} align="center">{qty}</td>'
        f'<td {cell} align="right">{_euros(qty * price)}&nbsp;€</td></tr>'
        for name, qty, price in _ITEMS
    )
    html = f"""<!doctype html>
<html lang="es"><head><meta charset="utf-8"><title>Pedido {n} confirmado</title></head>
<body style="margin:0;padding:0;background:#f4f4f4;font-family:Helvetica,Arial,sans-serif">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr><td align="center">
<table role="presentation" width="600" cellpadding="0" cellspacing="0"
 style="background:#ffffff;margin:24px 0;border-radius:6px">
<tr><td style="padding:24px 32px;color:#222222">
<h1 style="font-size:22px;margin:0 0 16px">¡Gracias por tu compra, cliente {n}!</h1>
<p style="font-size:15px;line-height:1.5">Hemos recibido tu pedido número <b>{n}</b> y ya lo
estamos preparando en nuestro almacén. Te enviaremos otro correo con el número de
seguimiento en cuanto salga.</p>
<h2 style="font-size:17px;margin:24px 0 8px">Resumen del pedido</h2>
<table role="presentation" width="100%" cellpadding="0" cellspacing="0">
{rows}
<tr><td {cell} colspan="2">Envío estándar (2-4 días laborables)</td>
<td {cell} align="right">{_euros(_SHIPPING)}&nbsp;€</td></tr>
<tr><td style="padding:8px;font-weight:bold" colspan="2">Total (IVA incluido)</td>
<td style="padding:8px;font-weight:bold" align="right">{total}&nbsp;€</td></tr>
</table>
<p style="font-size:14px;line-height:1.5">Dirección de envío: Calle de la Princesa 25,
3.º izquierda, 28008 Madrid, España.<br>Forma de pago: tarjeta terminada en 4242.</p>
<p style="font-size:14px;line-height:1.5">Si algo no te queda bien, tienes 30 días para
devolverlo sin coste. ¿Tienes alguna pregunta? Responde a este mensaje.</p>
<p style="font-size:14px">Un saludo,<br>El equipo de la Tienda</p>
</td></tr></table>
</td></tr></table>
</body></html>
"""
    return _Content(subject=f"Pedido {n} confirmado", text=text, html=html)


def message_bytes(n: int) -> bytes:
    """The ~5 KB multipart/alternative order confirmation to cliente{n}, CRLF line ends."""
    content = _content(n)
    message = EmailMessage()
    message["From"] = FROM
    message["To"] = f"cliente{n}@example.com"
    message["Subject"] = content.subject
    message["Date"] = formatdate()
    message["Message-ID"] = make_msgid(domain="shop.test")
    message.set_content(content.text)
    message.add_alternative(content.html, subtype="html")
    return message.as_bytes(policy=SMTP)


# --- Results ----------------------------------------------------------------------------


@dataclass
class RefResult:
    name: str
    accepted_per_s: float
    delivered_per_s: float
    messages: int


def _await_delivery(sink: SmtpSink, target: int, started: float, messages: int) -> float:
    """Messages per second from `started` until the sink holds `target` messages."""
    arrived = sink.wait_for(target, timeout=_time_limit(messages))
    if arrived is None:
        raise TimeoutError(f"the sink saw {sink.count()} of {target} messages in time")
    return messages / (arrived - started)


# --- Postfix ----------------------------------------------------------------------------

# Appended to the relay's main.cf; a later line wins over an earlier one in main.cf.
POSTFIX_TUNING = """
# By default smtpd sleeps up to 1 s before each message while the queue manager is behind:
# a brake for real floods that would measure the brake, not Postfix.
in_flow_delay = 0
# 20 sessions in, 20 deliveries out and the helper daemons all need processes.
default_process_limit = 200
# Postfix's usual cap of 20 parallel deliveries to one destination, stated outright: the
# same number of SMTP connections the other systems open to the sink.
default_destination_concurrency_limit = 20
smtp_destination_concurrency_limit = 20
# No reverse lookup of the client address: loopback only, no DNS.
smtpd_peername_lookup = no
"""


class _TunedPostfixRelay(PostfixRelay):
    """The test relay with the throughput settings a sensible administrator would set."""

    def _write_config(self) -> None:
        super()._write_config()
        with (self.config_dir / "main.cf").open("a") as main_cf:
            main_cf.write(POSTFIX_TUNING)


def run_postfix(sink: SmtpSink, messages: int, sessions: int = 20) -> RefResult:
    """Send `messages` through a tuned private Postfix with smtp-source into the sink."""
    relay = _TunedPostfixRelay({"example.com": f"127.0.0.1:{sink.port}"}).start()
    try:
        # smtp-source sends this file as header and body, adding CRLF to each line itself.
        source_file = relay.workdir / "message.eml"
        source_file.write_bytes(message_bytes(0).replace(b"\r\n", b"\n"))
        command = [
            SMTP_SOURCE,
            *("-s", str(sessions), "-m", str(messages), "-F", str(source_file)),
            *("-f", SENDER, "-t", "cliente@example.com", "-M", "app.shop.test"),
            # -N numbers each recipient (1cliente@, 2cliente@, ...) so that Postfix resolves
            # a new address each time, as with real mail; -d keeps each session open for the
            # next message, as an application's pooled SMTP connection would.
            "-N",
            "-d",
            f"127.0.0.1:{relay.port}",
        ]
        target = sink.count() + messages
        started = time.monotonic()
        source = subprocess.run(command, capture_output=True, timeout=_time_limit(messages))
        accepted = messages / (time.monotonic() - started)
        if source.returncode != 0:
            raise RuntimeError(f"smtp-source failed: {source.stderr.decode(errors='replace')}")
        delivered = _await_delivery(sink, target, started, messages)
    except Exception as error:
        log = relay.log()
        raise RuntimeError(f"postfix run failed: {error}\n--- postfix log ---\n{log}") from error
    finally:
        relay.stop()
    return RefResult("postfix", accepted, delivered, messages)


# --- django-post-office -----------------------------------------------------------------


def run_post_office(sink: SmtpSink, messages: int, workdir: Path) -> RefResult:
    """Queue `messages` with django-post-office, then deliver them with its sender.

    Django runs in a child process, so its global settings never reach this one. The child
    reports CLOCK_MONOTONIC readings, which Linux shares between processes.
    """
    command = [sys.executable, __file__, POST_OFFICE_CHILD]
    command += ["--sink-port", str(sink.port), "--messages", str(messages)]
    # A folder of its own each run: a database left by an earlier run would be counted too.
    own = Path(tempfile.mkdtemp(prefix="post-office-", dir=workdir))
    command += ["--workdir", str(own)]
    target = sink.count() + messages
    # Its own session, so that a failure also ends the sender's forked worker processes.
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        out, err = child.communicate(timeout=2 * _time_limit(messages))
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    if child.returncode != 0:
        raise RuntimeError(f"post-office run failed:\n{err.decode(errors='replace')}")
    times = json.loads(out.decode().strip().splitlines()[-1])
    accepted = messages / (times["queued"] - times["started"])
    delivered = _await_delivery(sink, target, times["started"], messages)
    return RefResult("post-office", accepted, delivered, messages)


def _configure_django(sink_port: int, workdir: Path) -> None:
    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY="misiva-bench-only",
        USE_TZ=True,
        INSTALLED_APPS=["post_office"],
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(workdir / "post_office.sqlite3"),
                # The same durability as Misiva on SQLite: WAL, a full sync at every commit,
                # and IMMEDIATE transactions that wait for the write lock instead of failing.
                "OPTIONS": {
                    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL",
                    "transaction_mode": "IMMEDIATE",
                    "timeout": 30,
                },
            }
        },
        # post_office renders subject and bodies through Django's template engine.
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates"}],
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=sink_port,
        EMAIL_TIMEOUT=30,
        DEFAULT_FROM_EMAIL=FROM,
        POST_OFFICE={
            # 2 processes x 10 threads: 20 SMTP connections, as many as Postfix opens. Its
            # README suggests THREADS_PER_PROCESS = 10 for bulk SMTP; batches of 500 rather
            # than 100 mean fewer forks and reconnects per message. LOG_LEVEL stays at its
            # default (2): a log row per sent message, as Misiva records a delivered event.
            "BATCH_SIZE": 500,
            "THREADS_PER_PROCESS": 10,
        },
    )
    django.setup()
    from django.core.mail.utils import DNS_NAME

    # Django names itself with socket.getfqdn() in EHLO and Message-ID; set the name here
    # so that no lookup ever leaves the machine.
    DNS_NAME._fqdn = "app.shop.test"


def _post_office_child(sink_port: int, messages: int, workdir: Path) -> None:
    _configure_django(sink_port, workdir)
    from django.core.management import call_command
    from post_office import mail  # type: ignore[import-untyped]
    from post_office.models import STATUS, Email  # type: ignore[import-untyped]

    call_command("migrate", verbosity=0)
    contents = [(n, _content(n)) for n in range(messages)]
    started = time.monotonic()
    # One mail.send() per message, each its own commit: what a view does for each order.
    for n, content in contents:
        mail.send(
            recipients=[f"cliente{n}@example.com"],
            sender=FROM,
            subject=content.subject,
            message=content.text,
            html_message=content.html,
            priority="medium",
        )
    queued = time.monotonic()
    # What `manage.py send_queued_mail --processes 2` runs: batch after batch until empty.
    mail.send_queued_mail_until_done(lockfile=str(workdir / "post_office"), processes=2)
    sent = Email.objects.filter(status=STATUS.sent).count()
    if sent != messages:
        raise SystemExit(f"post_office sent {sent} of {messages} messages")
    print(json.dumps({"started": started, "queued": queued}))


# --- Command line -----------------------------------------------------------------------

RUNNERS = ("postfix", "post-office")


def _run(name: str, sink: SmtpSink, messages: int, workdir: Path) -> RefResult:
    if name == "postfix":
        return run_postfix(sink, messages)
    return run_post_office(sink, messages, workdir)


def _child_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog=f"reference.py {POST_OFFICE_CHILD}")
    parser.add_argument("--sink-port", type=int, required=True)
    parser.add_argument("--messages", type=int, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    args = parser.parse_args(argv)
    _post_office_child(args.sink_port, args.messages, args.workdir)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == [POST_OFFICE_CHILD]:
        _child_main(argv[1:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--only", default=",".join(RUNNERS), help="comma-separated names")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(names) - set(RUNNERS))
    if unknown:
        parser.error(f"unknown reference {', '.join(unknown)}; choose from {', '.join(RUNNERS)}")
    results: list[RefResult] = []
    with SmtpSink() as sink:
        for name in names:
            with tempfile.TemporaryDirectory(prefix=f"misiva-ref-{name}-") as tmp:
                results.append(_run(name, sink, args.messages, Path(tmp)))
    _print_table(results)


def _print_table(results: list[RefResult]) -> None:
    print(f"\n{'reference':<14}{'accepted/s':>12}{'delivered/s':>13}{'messages':>10}")
    for r in results:
        print(f"{r.name:<14}{r.accepted_per_s:>12.1f}{r.delivered_per_s:>13.1f}{r.messages:>10}")


if __name__ == "__main__":
    main()
