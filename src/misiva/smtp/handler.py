"""The submission session: AUTH with a server token, recipients checked at RCPT, and DATA
accepted through the ingest path, answering 250 only once the message is committed."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
from typing import Any

from aiosmtpd.smtp import MISSING

from misiva.accounts.throttle import AuthGuard
from misiva.domain.errors import DatabaseUnavailable, MisivaError
from misiva.domain.message import DEFAULT_STREAM, MAX_RECIPIENTS
from misiva.domain.smtp import SMTPReply
from misiva.ingest.accept import Ingestor
from misiva.ingest.tenants import ServerContext, ServerDirectory
from misiva.mail.addresses import parse_single_address
from misiva.mail.submission import fields_from_message
from misiva.smtp import replies

log = logging.getLogger(__name__)
# RFC 4954 §4: LOGIN's challenges, base64 of "Username:" and "Password:".
_USERNAME = "Username:"
_PASSWORD = "Password:"


class SubmissionHandler:
    """aiosmtpd handler hooks; one instance serves every connection."""

    def __init__(self, directory: ServerDirectory, ingestor: Ingestor, guard: AuthGuard) -> None:
        self._directory = directory
        self._ingestor = ingestor
        self._guard = guard

    async def handle_AUTH(
        self, server: Any, session: Any, envelope: Any, args: list[str]
    ) -> str | None:
        """PLAIN and LOGIN (RFC 4616, RFC 4954): the server's API token as both user name
        and password, as Postmark's SMTP takes it. The token is looked up asynchronously,
        which aiosmtpd's own authenticator hook (a plain function) cannot do."""
        peer = _peer(session)
        if self._guard.locked(peer):
            log.warning("SMTP AUTH refused: %s is locked out after failed attempts", peer)
            return str(replies.AUTH_LOCKED)
        credentials = await _credentials(server, args)
        if credentials is None:
            return None  # aiosmtpd has answered already; None tells it to add nothing
        if isinstance(credentials, SMTPReply):
            return str(credentials)
        login, password = credentials
        try:
            context = await self._server_for(login, password)
        except DatabaseUnavailable as error:
            log.error("SMTP AUTH from %s not checked: %s", peer, error.message)
            return str(replies.AUTH_UNAVAILABLE)
        if context is None:
            self._guard.failed(peer)
            log.warning("SMTP AUTH failed from %s", peer)
            return str(replies.AUTH_INVALID)
        # A success does not clear the peer's failures: a client holding one valid token
        # could otherwise AUTH with it between guesses at other servers' tokens, unlimited.
        session.authenticated = True
        session.auth_data = context
        return str(replies.AUTH_OK)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        context = _context(session)
        try:
            email = parse_single_address("To", address).email
        except MisivaError:
            return str(replies.BAD_RECIPIENT)
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return str(replies.TOO_MANY_RECIPIENTS)
        # The message's own stream is known only after DATA; at RCPT the default
        # (transactional) stream decides, and DATA checks the message's stream again.
        try:
            suppressed = await self._ingestor.suppressed(context.server.id, DEFAULT_STREAM, email)
        except MisivaError as error:
            # The database is away: a 451 the client retries, not aiosmtpd's 500 for an
            # exception, which would make it bounce the message.
            log.error("SMTP RCPT from %s not checked: %s", _peer(session), error.message)
            return str(replies.NOT_STORED)
        if suppressed:
            return str(replies.suppressed(email))
        envelope.rcpt_tos.append(email)
        envelope.rcpt_options.append(options)
        return str(replies.RCPT_OK)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        context = _context(session)
        try:
            fields = fields_from_message(envelope.original_content, envelope.rcpt_tos)
        except MisivaError as error:
            return str(replies.refused(error))
        try:
            [result] = await self._ingestor.accept(context, [fields])
        except MisivaError as error:
            log.error("SMTP submission from %s not stored: %s", _peer(session), error.message)
            return str(replies.NOT_STORED)
        except Exception:
            # Whatever failed, nothing was committed: the client must keep the message.
            log.exception("SMTP submission from %s not stored", _peer(session))
            return str(replies.NOT_STORED)
        if result.error_code:
            return str(replies.refused(MisivaError(result.message, result.error_code)))
        note = result.message if result.message != "OK" else ""
        return str(replies.queued(result.message_id, note))

    async def _server_for(self, login: str, password: str) -> ServerContext | None:
        if not password or login != password:
            return None
        try:
            return await self._directory.authenticate(password)
        except DatabaseUnavailable:
            raise  # not a wrong token: handle_AUTH answers a temporary failure
        except MisivaError:
            return None


async def _credentials(server: Any, args: list[str]) -> tuple[str, str] | SMTPReply | None:
    """(user name, password) from an AUTH exchange, the reply that ends it, or None when a
    challenge's answer was "*" or not base64: aiosmtpd's challenge_auth has replied 501 to
    it then, and a second 501 from us answered one line twice, so the client read every
    later reply one command late (found by tests/fuzz/test_fuzz_smtp.py)."""
    mechanism = args[0].upper()
    given = args[1] if len(args) > 1 else None
    if mechanism == "PLAIN":
        raw = _b64(given) if given is not None else await _challenge(server, "")
        if raw is None:
            return replies.AUTH_SYNTAX if given is not None else None
        parts = raw.split(b"\x00")
        if len(parts) != 3:
            return replies.AUTH_SYNTAX
        return _text(parts[1]), _text(parts[2])
    login = _b64(given) if given is not None else await _challenge(server, _USERNAME)
    if login is None:
        return replies.AUTH_SYNTAX if given is not None else None
    password = await _challenge(server, _PASSWORD)
    if password is None:
        return None
    return _text(login), _text(password)


async def _challenge(server: Any, prompt: str) -> bytes | None:
    answer = await server.challenge_auth(prompt)
    return None if answer is MISSING else bytes(answer)


def _b64(value: str) -> bytes | None:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace").strip()


def _context(session: Any) -> ServerContext:
    context = session.auth_data
    assert isinstance(context, ServerContext), "aiosmtpd lets only authenticated sessions on"
    return context


def _peer(session: Any) -> str:
    peer = session.peer
    return str(peer[0]) if isinstance(peer, tuple) and peer else str(peer)


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False
