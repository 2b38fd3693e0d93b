"""Sends one message to one SMTP server with a reply per recipient, reusing connections; the only
module that imports aiosmtplib."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import aiosmtplib

from misiva.domain.delivery import Destination, RecipientOutcome
from misiva.domain.enums import TlsMode
from misiva.domain.smtp import ReplyClass, SMTPReply, connection_failed, timed_out

__all__ = ["SmtpClientPool"]

# RFC 5321 §3.8: 421 is how a server says it is closing the connection.
SERVICE_CLOSING = 421
# QUIT is a courtesy (RFC 5321 §4.1.1.10); an unresponsive server must not hold up shutdown.
QUIT_TIMEOUT = 2.0
# What the SMTP client raises when the connection itself fails: aiosmtplib's timeouts and
# disconnects are OSErrors, as are TLS failures; SMTPException covers missing extensions.
_CONNECTION_ERRORS = (OSError, aiosmtplib.SMTPException)


class _StaleConnection(Exception):
    """A reused connection failed at MAIL FROM: the server had closed it while it sat idle."""


class _ConnectFailed(Exception):
    """No usable session: the reply every recipient gets, and the peer IP if one answered."""

    def __init__(self, reply: SMTPReply, ip: str = "") -> None:
        super().__init__(str(reply))
        self.reply = reply
        self.ip = ip


@dataclass(eq=False)
class _Connection:
    """One open SMTP session, ready for the next transaction."""

    smtp: aiosmtplib.SMTP
    ip: str
    label: str
    idle_since: float
    transactions: int = 0


@dataclass(eq=False)
class _Slot:
    """Connections to one destination: a limit on how many are open, and the idle ones."""

    limit: asyncio.Semaphore
    idle: list[_Connection] = field(default_factory=list)
    busy: int = 0  # senders using or waiting for this destination


class SmtpClientPool:
    """Delivers messages over pooled SMTP connections, at most `max_per_destination` at once."""

    def __init__(
        self,
        helo_name: str,
        max_per_destination: int = 10,
        connect_timeout: float = 30.0,
        command_timeout: float = 60.0,
        idle_seconds: float = 30.0,
        *,
        verify_certificates: bool = True,
        ca_file: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # RFC 5321 §4.5.3.2 asks for minutes per command; both timeouts are the caller's choice.
        self._helo_name = helo_name
        self._max = max_per_destination
        self._connect_timeout = connect_timeout
        self._command_timeout = command_timeout
        self._idle_seconds = idle_seconds
        self._verify = verify_certificates
        # CAs that MX certificates checked for MTA-STS must chain to (None: the system's).
        self._ca_file = ca_file
        self._clock = clock
        self._slots: dict[Destination, _Slot] = {}
        self._next_reap = clock() + idle_seconds
        self._closed = False
        self._tls_contexts: dict[tuple[bool, bool], ssl.SSLContext] = {}

    async def send(
        self,
        destination: Destination,
        envelope_from: str,
        recipients: Sequence[str],
        data: bytes | Callable[[], bytes],
    ) -> list[RecipientOutcome]:
        """Deliver `data` to `recipients` at `destination`: one outcome per recipient, in order.

        `data` may be a function that makes the message (signs it): it is called once a
        connection slot is ours, so a worker that claimed a hundred messages signs each as
        a connection frees up, between the network round trips, instead of all at once in
        one long pass of the event loop that leaves every connection waiting.
        """
        if self._closed:
            raise RuntimeError("the SMTP client pool is closed")
        if not recipients:
            return []
        if self._clock() >= self._next_reap:
            await self.reap_idle()
        slot = self._slots.get(destination)
        if slot is None:
            slot = self._slots[destination] = _Slot(asyncio.Semaphore(self._max))
        # `busy` counts senders waiting for the slot too, so reap_idle() never drops a slot
        # that someone is about to use.
        slot.busy += 1
        try:
            async with slot.limit:
                payload = data() if callable(data) else data
                replies, ip = await self._deliver(
                    slot, destination, envelope_from, recipients, payload
                )
        finally:
            slot.busy -= 1
        return [
            RecipientOutcome(recipient, reply, host=destination.host, ip=ip)
            for recipient, reply in zip(recipients, replies, strict=True)
        ]

    async def reap_idle(self) -> int:
        """Politely close idle connections older than `idle_seconds`; return how many."""
        now = self._clock()
        self._next_reap = now + self._idle_seconds
        expired: list[_Connection] = []
        for destination, slot in list(self._slots.items()):
            keep = [conn for conn in slot.idle if self._usable(conn, now)]
            expired += [conn for conn in slot.idle if conn not in keep]
            slot.idle[:] = keep
            if not keep and slot.busy == 0:
                del self._slots[destination]
        await asyncio.gather(*(_quit(conn) for conn in expired))
        return len(expired)

    async def close(self) -> None:
        """QUIT every idle connection; connections still in use close when their send ends."""
        self._closed = True
        idle = [conn for slot in self._slots.values() for conn in slot.idle]
        self._slots.clear()
        await asyncio.gather(*(_quit(conn) for conn in idle))

    async def _deliver(
        self,
        slot: _Slot,
        destination: Destination,
        envelope_from: str,
        recipients: Sequence[str],
        data: bytes,
    ) -> tuple[list[SMTPReply], str]:
        # A reused connection the server has dropped is replaced once, by a fresh one;
        # a fresh connection never raises _StaleConnection, so this loop runs at most twice.
        fresh = False
        while True:
            try:
                conn = await self._checkout(slot, destination, fresh=fresh)
            except _ConnectFailed as failure:
                return [failure.reply] * len(recipients), failure.ip
            try:
                replies = await _transaction(conn, envelope_from, recipients, data)
            except _StaleConnection:
                conn.smtp.close()
                fresh = True
                continue
            except BaseException:
                conn.smtp.close()  # cancelled mid-transaction: the session state is unknown
                raise
            delivered = any(reply.reply_class is ReplyClass.SUCCESS for reply in replies)
            await self._checkin(slot, conn, reset=not delivered)
            return replies, conn.ip

    def _usable(self, conn: _Connection, now: float) -> bool:
        return conn.smtp.is_connected and now - conn.idle_since < self._idle_seconds

    async def _checkout(self, slot: _Slot, destination: Destination, *, fresh: bool) -> _Connection:
        now = self._clock()
        expired = [conn for conn in slot.idle if not self._usable(conn, now)]
        if expired:
            slot.idle[:] = [conn for conn in slot.idle if conn not in expired]
            await asyncio.gather(*(_quit(conn) for conn in expired))
        if slot.idle and not fresh:
            # The most recently used connection is the least likely to have been dropped.
            return slot.idle.pop()
        return await self._connect(destination)

    async def _checkin(self, slot: _Slot, conn: _Connection, *, reset: bool) -> None:
        try:
            if reset and conn.smtp.is_connected:
                # RFC 5321 §4.1.1.5: RSET clears a transaction that did not complete.
                await conn.smtp.rset()
        except _CONNECTION_ERRORS:
            conn.smtp.close()
        except BaseException:
            conn.smtp.close()
            raise
        conn.transactions += 1
        conn.idle_since = self._clock()
        if self._closed or not conn.smtp.is_connected or len(slot.idle) >= self._max:
            await _quit(conn)
        else:
            slot.idle.append(conn)

    async def _connect(self, destination: Destination) -> _Connection:
        """Open a session: connect, EHLO, TLS as the destination asks, AUTH if it has a login."""
        implicit = destination.tls is TlsMode.IMPLICIT
        smtp = aiosmtplib.SMTP(
            hostname=destination.host,
            port=destination.port,
            local_hostname=self._helo_name,
            timeout=self._command_timeout,
            use_tls=implicit,
            start_tls=False,
            tls_context=self._tls_context(destination),
        )
        label = f"{destination.host}:{destination.port}"
        ip = destination.host if _is_ip(destination.host) else ""
        try:
            await smtp.connect(timeout=self._connect_timeout)
            ip = _peer_ip(smtp) or ip
            await _greet(smtp)
            await _secure(smtp, destination, label)
            if destination.username is not None:
                await _login(smtp, destination.username, destination.password or "")
        except BaseException as exc:
            smtp.close()
            if isinstance(exc, _ConnectFailed):
                raise _ConnectFailed(exc.reply, ip) from None
            if isinstance(exc, aiosmtplib.SMTPResponseException):
                raise _ConnectFailed(SMTPReply(exc.code, exc.message), ip) from None
            if isinstance(exc, _CONNECTION_ERRORS):
                raise _ConnectFailed(_failure_reply(exc, label), ip) from None
            raise
        return _Connection(smtp, ip, label, self._clock())

    def _tls_context(self, destination: Destination) -> ssl.SSLContext:
        # MX delivery encrypts without checking certificates, as MTAs do (RFC 7435
        # opportunistic security), unless MTA-STS names the host the certificate must match;
        # a relay's certificate is checked unless told otherwise.
        sts = destination.tls_name is not None
        verify = sts or (self._verify and destination.tls is not TlsMode.OPPORTUNISTIC)
        key = (verify, sts)
        context = self._tls_contexts.get(key)
        if context is None:
            context = ssl.create_default_context(cafile=self._ca_file if sts else None)
            if not verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._tls_contexts[key] = context
        return context


async def _greet(smtp: aiosmtplib.SMTP) -> None:
    """EHLO, falling back to HELO for servers that know no ESMTP (RFC 5321 §4.1.1.1)."""
    try:
        await smtp.ehlo()
    except aiosmtplib.SMTPHeloError:
        if not smtp.is_connected:
            raise
        await smtp.helo()


async def _secure(smtp: aiosmtplib.SMTP, destination: Destination, label: str) -> None:
    """STARTTLS when the mode asks for it (RFC 3207), then EHLO again as §4.2 requires."""
    mode = destination.tls
    if mode not in (TlsMode.STARTTLS, TlsMode.OPPORTUNISTIC):
        return
    if not smtp.supports_extension("starttls"):
        if mode is TlsMode.OPPORTUNISTIC:
            return
        raise _ConnectFailed(connection_failed(f"{label} does not offer the STARTTLS required"))
    # Connected by address, the certificate is checked against the MX host's name.
    await smtp.starttls(server_hostname=destination.tls_name)
    await _greet(smtp)


async def _login(smtp: aiosmtplib.SMTP, username: str, password: str) -> None:
    try:
        await smtp.login(username, password)
    except aiosmtplib.SMTPAuthenticationError as exc:
        # A rejected login is a configuration problem, not the recipient's: defer the mail
        # (454 is RFC 4954's temporary authentication failure) rather than bounce it.
        raise _ConnectFailed(
            SMTPReply(454, f"4.7.0 login refused: {exc.code} {exc.message}")
        ) from None
    except aiosmtplib.SMTPException as exc:
        raise _ConnectFailed(SMTPReply(454, f"4.7.0 cannot log in: {exc}")) from None


async def _transaction(
    conn: _Connection, envelope_from: str, recipients: Sequence[str], data: bytes
) -> list[SMTPReply]:
    """MAIL FROM, one RCPT TO per recipient, DATA if any was accepted: a reply per recipient."""
    smtp = conn.smtp
    parameters = _mail_parameters(smtp, envelope_from, recipients, data)
    if isinstance(parameters, SMTPReply):
        return [parameters] * len(recipients)
    options, encoding = parameters
    mail: SMTPReply | None = None
    replies: list[SMTPReply] = []
    try:
        mail = await _reply_of(smtp, smtp.mail(envelope_from, options=options, encoding=encoding))
        if mail.reply_class is not ReplyClass.SUCCESS:
            if mail.code == SERVICE_CLOSING and conn.transactions:
                raise _StaleConnection(str(mail))
            return [mail] * len(recipients)
        for recipient in recipients:
            replies.append(await _reply_of(smtp, smtp.rcpt(recipient, encoding=encoding)))
            if replies[-1].code == SERVICE_CLOSING:
                return _settle(replies, len(recipients), replies[-1])
        if not any(reply.reply_class is ReplyClass.SUCCESS for reply in replies):
            return replies
        final = await _reply_of(smtp, smtp.data(data))
    except _CONNECTION_ERRORS as exc:
        # A server that dropped an idle connection shows it at the next command; a slow one
        # (a timeout) would only be slow again, so only a disconnect earns a fresh attempt.
        if mail is None and conn.transactions and not isinstance(exc, TimeoutError):
            raise _StaleConnection(str(exc)) from exc
        return _settle(replies, len(recipients), _failure_reply(exc, conn.label))
    # RFC 5321 §4.1.1.4: the reply to the end of DATA is the answer for every accepted recipient.
    return [final if reply.reply_class is ReplyClass.SUCCESS else reply for reply in replies]


def _settle(replies: list[SMTPReply], count: int, failure: SMTPReply) -> list[SMTPReply]:
    """Refusals already given stand; accepted or unasked recipients get `failure`."""
    settled = [failure if reply.reply_class is ReplyClass.SUCCESS else reply for reply in replies]
    return settled + [failure] * (count - len(replies))


def _mail_parameters(
    smtp: aiosmtplib.SMTP, envelope_from: str, recipients: Sequence[str], data: bytes
) -> tuple[list[str], str] | SMTPReply:
    """The MAIL FROM parameters this message needs and the server offers, and the encoding."""
    options: list[str] = []
    ascii_addresses = envelope_from.isascii() and all(r.isascii() for r in recipients)
    if not ascii_addresses or not _headers_are_ascii(data):
        if smtp.supports_extension("smtputf8"):
            options.append("SMTPUTF8")  # RFC 6531 §3.4: UTF-8 addresses or header fields
        elif not ascii_addresses:
            # RFC 6531 §3.2: without SMTPUTF8 a non-ASCII address cannot be sent at all.
            return SMTPReply(550, "5.6.7 non-ASCII address, and the server lacks SMTPUTF8")
    if not data.isascii() and smtp.supports_extension("8bitmime"):
        options.append("BODY=8BITMIME")  # RFC 6152 §3
    if smtp.supports_extension("size"):
        options.append(f"SIZE={len(data)}")  # RFC 1870 §3: lets the server refuse early
    return options, "utf-8" if "SMTPUTF8" in options else "ascii"


def _headers_are_ascii(data: bytes) -> bool:
    if data.isascii():
        return True
    end = data.find(b"\r\n\r\n")
    if end < 0:
        end = data.find(b"\n\n")
    return data[: end if end >= 0 else len(data)].isascii()


async def _reply_of(
    smtp: aiosmtplib.SMTP, command: Awaitable[aiosmtplib.SMTPResponse]
) -> SMTPReply:
    """A command's reply as a value, whether aiosmtplib returned or raised it."""
    try:
        response = await command
    except aiosmtplib.SMTPResponseException as exc:
        if not 200 <= exc.code <= 599:
            # A malformed reply leaves the session out of step: close it rather than guess.
            smtp.close()
            return connection_failed(f"malformed reply: {exc.message}")
        return SMTPReply(exc.code, exc.message)
    except ValueError as exc:
        # aiosmtplib refuses line breaks and other controls in an address before sending it.
        return SMTPReply(501, f"5.1.3 bad address: {exc}")
    return SMTPReply(response.code, response.message)


def _failure_reply(exc: BaseException, label: str) -> SMTPReply:
    if isinstance(exc, TimeoutError):
        return timed_out(f"{label}: {exc}")
    return connection_failed(f"{label}: {exc}")


async def _quit(conn: _Connection) -> None:
    if conn.smtp.is_connected:
        with contextlib.suppress(*_CONNECTION_ERRORS):
            await conn.smtp.quit(timeout=QUIT_TIMEOUT)
    conn.smtp.close()


def _peer_ip(smtp: aiosmtplib.SMTP) -> str:
    peer = smtp.get_transport_info("peername")
    return str(peer[0]) if isinstance(peer, tuple) and peer else ""


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
