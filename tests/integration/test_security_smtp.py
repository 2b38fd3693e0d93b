"""SMTP submission's defences, through the real handler over a real database (SQLite and
PostgreSQL): the AUTH lockout cannot be reset with a valid token of one's own, and a
submitted message cannot smuggle a header in through an encoded word that decodes to CR/LF."""

from __future__ import annotations

import base64
import email
import email.policy
from types import SimpleNamespace

import httpx

from builders import Tenant
from misiva.accounts.throttle import AuthGuard
from misiva.runtime.wiring import Platform
from misiva.smtp import replies
from misiva.smtp.handler import SubmissionHandler

INJECTED = "X-Injected"


def _plain(token: str) -> list[str]:
    return ["PLAIN", base64.b64encode(f"\0{token}\0{token}".encode()).decode()]


async def test_smtp_auth_lockout_is_not_reset_by_the_attackers_own_token(
    platform: Platform, tenant: Tenant
) -> None:
    """Regression: a success used to clear the peer's failures, so a client holding one
    valid token could AUTH with it between guesses at other servers' tokens, unlimited."""
    handler = SubmissionHandler(platform.directory, platform.ingestor, AuthGuard(3, 300))
    replies_seen = []
    for _ in range(2):
        for token in ("guess-1", tenant.token):
            session = SimpleNamespace(peer=("203.0.113.7", 5000), authenticated=False)
            replies_seen.append(await handler.handle_AUTH(None, session, None, _plain(token)))
    session = SimpleNamespace(peer=("203.0.113.7", 5000), authenticated=False)
    replies_seen.append(await handler.handle_AUTH(None, session, None, _plain("guess-3")))
    replies_seen.append(await handler.handle_AUTH(None, session, None, _plain(tenant.token)))
    ok, bad, locked = str(replies.AUTH_OK), str(replies.AUTH_INVALID), str(replies.AUTH_LOCKED)
    assert replies_seen == [bad, ok, bad, ok, bad, locked]
    other = SimpleNamespace(peer=("198.51.100.9", 5000), authenticated=False)
    assert await handler.handle_AUTH(None, other, None, _plain(tenant.token)) == ok


async def test_encoded_words_that_decode_to_cr_lf_inject_no_header(
    platform: Platform, tenant: Tenant, api: httpx.AsyncClient
) -> None:
    handler = SubmissionHandler(platform.directory, platform.ingestor, AuthGuard(3, 300))
    session = SimpleNamespace(peer=("127.0.0.1", 5000), authenticated=False)
    assert await handler.handle_AUTH(None, session, None, _plain(tenant.token)) == str(
        replies.AUTH_OK
    )
    sneaky = "=?utf-8?q?Hola=0D=0AX-Injected:_yes=0D=0ABcc:_evil@attacker.test?="
    for field in ("Subject", "X-Note", "Reply-To"):
        raw = (
            "From: hola@shop.test\r\nTo: ana@example.com\r\nSubject: plain\r\n"
            f"{field}: {sneaky}\r\n\r\nHello\r\n"
        ).encode()
        if field == "Subject":
            raw = raw.replace(b"Subject: plain\r\n", b"", 1)
        envelope = SimpleNamespace(
            original_content=raw, rcpt_tos=["ana@example.com"], rcpt_options=[[]]
        )
        reply = await handler.handle_DATA(None, session, envelope)
        if not reply.startswith("250"):
            assert reply.startswith("5"), reply  # refused with a reason: also safe
            continue
        message_id = reply.split()[-1]
        dump = await api.get(f"/messages/outbound/{message_id}/dump")
        assert dump.status_code == 200, (reply, dump.text)
        mime = dump.json()["Body"].encode()
        parsed = email.message_from_bytes(mime, policy=email.policy.default)
        assert INJECTED not in parsed and "Bcc" not in parsed, (field, mime[:600])
