"""The pooled SMTP client against a real SMTP sink: replies per recipient, reuse, TLS, failures."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from builders import FakeClock
from misiva.delivery.smtp_client import SmtpClientPool
from misiva.domain.delivery import Destination, RecipientOutcome
from misiva.domain.enums import TlsMode
from misiva.domain.smtp import ReplyClass
from misiva.testing.smtp_sink import SmtpSink, self_signed_context

MESSAGE = b"From: a@example.org\r\nTo: x@example.com\r\nSubject: hi\r\n\r\nHello.\r\n"
SENDER = "bounces@example.org"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as running:
        yield running


@pytest.fixture
async def pool() -> AsyncIterator[SmtpClientPool]:
    client = SmtpClientPool("misiva.test", connect_timeout=5, command_timeout=5)
    yield client
    await client.close()


def _to(sink: SmtpSink, tls: TlsMode = TlsMode.NONE, **login: str) -> Destination:
    return Destination(sink.host, sink.port, tls, **login)


def _classes(outcomes: list[RecipientOutcome]) -> list[ReplyClass]:
    return [outcome.reply_class for outcome in outcomes]


async def test_delivers_one_message_to_every_recipient(
    sink: SmtpSink, pool: SmtpClientPool
) -> None:
    recipients = ["x@example.com", "y@example.com"]
    outcomes = await pool.send(_to(sink), SENDER, recipients, MESSAGE)
    assert [o.recipient for o in outcomes] == recipients
    assert _classes(outcomes) == [ReplyClass.SUCCESS, ReplyClass.SUCCESS]
    assert all(o.host == "127.0.0.1" and o.ip == "127.0.0.1" for o in outcomes)
    assert sink.wait_for(1)
    [message] = sink.messages
    assert (message.mail_from, message.rcpt_tos, message.data) == (
        SENDER,
        tuple(recipients),
        MESSAGE,
    )


async def test_550_at_rcpt_bounces_only_that_recipient(
    sink: SmtpSink, pool: SmtpClientPool
) -> None:
    sink.script_rcpt("gone@example.com", "550 5.1.1 no such user")
    recipients = ["x@example.com", "gone@example.com", "y@example.com"]
    outcomes = await pool.send(_to(sink), SENDER, recipients, MESSAGE)
    assert _classes(outcomes) == [ReplyClass.SUCCESS, ReplyClass.PERMANENT, ReplyClass.SUCCESS]
    assert str(outcomes[1].reply) == "550 5.1.1 no such user"
    assert sink.wait_for(1)
    assert sink.messages[0].rcpt_tos == ("x@example.com", "y@example.com")


async def test_451_at_rcpt_defers_that_recipient(sink: SmtpSink, pool: SmtpClientPool) -> None:
    sink.script_rcpt("x@example.com", "451 4.7.1 greylisted", "250 OK")
    [first] = await pool.send(_to(sink), SENDER, ["x@example.com"], MESSAGE)
    assert first.reply_class is ReplyClass.TRANSIENT
    assert first.reply.code == 451
    [second] = await pool.send(_to(sink), SENDER, ["x@example.com"], MESSAGE)
    assert second.reply_class is ReplyClass.SUCCESS
    assert sink.count == 1
    assert sink.sessions == 1  # RSET made the refused transaction's connection reusable


async def test_554_at_data_bounces_every_accepted_recipient(
    sink: SmtpSink, pool: SmtpClientPool
) -> None:
    sink.script_rcpt("later@example.com", 451)
    sink.script_data("554 5.7.1 message refused")
    recipients = ["x@example.com", "y@example.com", "later@example.com"]
    outcomes = await pool.send(_to(sink), SENDER, recipients, MESSAGE)
    assert [str(o.reply) for o in outcomes[:2]] == ["554 5.7.1 message refused"] * 2
    assert outcomes[2].reply.code == 451
    assert sink.count == 0


async def test_refused_sender_gives_every_recipient_that_reply(
    sink: SmtpSink, pool: SmtpClientPool
) -> None:
    sink.script_mail("553 5.7.1 sender not allowed")
    outcomes = await pool.send(_to(sink), SENDER, ["x@example.com", "y@example.com"], MESSAGE)
    assert [o.reply.code for o in outcomes] == [553, 553]


async def test_messages_reuse_one_connection(sink: SmtpSink, pool: SmtpClientPool) -> None:
    for _ in range(5):
        outcomes = await pool.send(_to(sink), SENDER, ["x@example.com"], MESSAGE)
        assert _classes(outcomes) == [ReplyClass.SUCCESS]
    assert sink.count == 5
    assert sink.sessions == 1


async def test_concurrent_sends_open_at_most_the_limit(sink: SmtpSink) -> None:
    sink.delay(0.02)
    pool = SmtpClientPool("misiva.test", max_per_destination=2)
    try:
        sends = [pool.send(_to(sink), SENDER, ["x@example.com"], MESSAGE) for _ in range(6)]
        results = await asyncio.gather(*sends)
    finally:
        await pool.close()
    assert all(_classes(outcomes) == [ReplyClass.SUCCESS] for outcomes in results)
    assert sink.sessions == 2


async def test_reconnects_once_when_the_server_dropped_an_idle_connection(
    sink: SmtpSink, pool: SmtpClientPool
) -> None:
    await pool.send(_to(sink), SENDER, ["x@example.com"], MESSAGE)
    sink.drop_connections()
    outcomes = await pool.send(_to(sink), SENDER, ["x@example.com"], MESSAGE)
    assert _classes(outcomes) == [ReplyClass.SUCCESS]
    assert sink.count == 2
    assert sink.sessions == 2


async def test_421_at_mail_on_a_reused_connection_retries_on_a_fresh_one(
    sink: SmtpSink, pool: SmtpClientPool
) -> None:
    sink.script_mail(250, "421 4.4.2 idle too long", 250)
    for _ in range(2):
        outcomes = await pool.send(_to(sink), SENDER, ["x@example.com"], MESSAGE)
        assert _classes(outcomes) == [ReplyClass.SUCCESS]
    assert sink.sessions == 2


async def test_421_at_rcpt_defers_all_and_discards_the_connection(
    sink: SmtpSink, pool: SmtpClientPool
) -> None:
    sink.script_rcpt("y@example.com", "421 4.3.2 shutting down", 250)
    recipients = ["x@example.com", "y@example.com", "z@example.com"]
    outcomes = await pool.send(_to(sink), SENDER, recipients, MESSAGE)
    assert [o.reply.code for o in outcomes] == [421, 421, 421]
    assert _classes(outcomes) == [ReplyClass.TRANSIENT] * 3
    outcomes = await pool.send(_to(sink), SENDER, recipients, MESSAGE)
    assert _classes(outcomes) == [ReplyClass.SUCCESS] * 3
    assert sink.sessions == 2


async def test_connection_refused_defers_every_recipient(pool: SmtpClientPool) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    destination = Destination("127.0.0.1", port, TlsMode.NONE)
    outcomes = await pool.send(destination, SENDER, ["x@example.com", "y@example.com"], MESSAGE)
    assert _classes(outcomes) == [ReplyClass.TRANSIENT] * 2
    assert outcomes[0].reply.text.startswith("4.4.1 connection failed")
    assert outcomes[0].host == "127.0.0.1"


async def test_slow_server_times_out_and_the_connection_is_dropped(sink: SmtpSink) -> None:
    pool = SmtpClientPool("misiva.test", command_timeout=0.2)
    try:
        await pool.send(_to(sink), SENDER, ["x@example.com"], MESSAGE)
        sink.delay(0.5)
        [outcome] = await pool.send(_to(sink), SENDER, ["x@example.com"], MESSAGE)
        assert outcome.reply_class is ReplyClass.TRANSIENT
        assert outcome.reply.text.startswith("4.4.2 timed out")
        sink.delay(0)
        [outcome] = await pool.send(_to(sink), SENDER, ["x@example.com"], MESSAGE)
        assert outcome.reply_class is ReplyClass.SUCCESS
    finally:
        await pool.close()
    assert sink.sessions == 2


async def test_cancelled_send_discards_its_connection(sink: SmtpSink, pool: SmtpClientPool) -> None:
    await pool.send(_to(sink), SENDER, ["x@example.com"], MESSAGE)
    sink.delay(1.0)
    sending = asyncio.create_task(pool.send(_to(sink), SENDER, ["x@example.com"], MESSAGE))
    await asyncio.sleep(0.1)
    sending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sending
    sink.delay(0)
    [outcome] = await pool.send(_to(sink), SENDER, ["x@example.com"], MESSAGE)
    assert outcome.reply_class is ReplyClass.SUCCESS
    assert sink.sessions == 2


async def test_idle_connections_expire(sink: SmtpSink) -> None:
    clock = FakeClock()
    pool = SmtpClientPool("misiva.test", idle_seconds=30, clock=clock)
    try:
        await pool.send(_to(sink), SENDER, ["x@example.com"], MESSAGE)
        clock.now += 10
        await pool.send(_to(sink), SENDER, ["x@example.com"], MESSAGE)
        assert sink.sessions == 1
        clock.now += 31
        await pool.send(_to(sink), SENDER, ["x@example.com"], MESSAGE)
        assert sink.sessions == 2
        clock.now += 31
        assert await pool.reap_idle() == 1
    finally:
        await pool.close()


async def test_opportunistic_tls_upgrades_when_offered(tmp_path: Path) -> None:
    pool = SmtpClientPool("misiva.test")  # verifying relays must not matter for MX delivery
    try:
        with SmtpSink(tls_context=self_signed_context(tmp_path)) as sink:
            outcomes = await pool.send(
                _to(sink, TlsMode.OPPORTUNISTIC), SENDER, ["x@example.com"], MESSAGE
            )
            await pool.close()
            assert _classes(outcomes) == [ReplyClass.SUCCESS]
            assert sink.wait_for(1)
            assert sink.messages[0].tls is True
    finally:
        await pool.close()


async def test_opportunistic_tls_sends_plain_when_not_offered(
    sink: SmtpSink, pool: SmtpClientPool
) -> None:
    outcomes = await pool.send(_to(sink, TlsMode.OPPORTUNISTIC), SENDER, ["x@example.com"], MESSAGE)
    assert _classes(outcomes) == [ReplyClass.SUCCESS]
    assert sink.messages[0].tls is False


async def test_required_starttls_not_offered_defers(sink: SmtpSink, pool: SmtpClientPool) -> None:
    [outcome] = await pool.send(_to(sink, TlsMode.STARTTLS), SENDER, ["x@example.com"], MESSAGE)
    assert outcome.reply_class is ReplyClass.TRANSIENT
    assert "STARTTLS" in outcome.reply.text
    assert sink.count == 0


async def test_required_starttls_verifies_certificates_unless_told_not_to(tmp_path: Path) -> None:
    verifying = SmtpClientPool("misiva.test")
    trusting = SmtpClientPool("misiva.test", verify_certificates=False)
    try:
        with SmtpSink(tls_context=self_signed_context(tmp_path)) as sink:
            destination = _to(sink, TlsMode.STARTTLS)
            [refused] = await verifying.send(destination, SENDER, ["x@example.com"], MESSAGE)
            [accepted] = await trusting.send(destination, SENDER, ["x@example.com"], MESSAGE)
            await trusting.close()
            assert refused.reply_class is ReplyClass.TRANSIENT
            assert accepted.reply_class is ReplyClass.SUCCESS
            assert [m.tls for m in sink.messages] == [True]
    finally:
        await verifying.close()
        await trusting.close()


async def test_implicit_tls_talks_tls_from_the_first_byte(tmp_path: Path) -> None:
    pool = SmtpClientPool("misiva.test", verify_certificates=False)
    try:
        with SmtpSink(tls_context=self_signed_context(tmp_path), implicit_tls=True) as sink:
            destination = _to(sink, TlsMode.IMPLICIT)
            outcomes = await pool.send(destination, SENDER, ["x@example.com"], MESSAGE)
            outcomes += await pool.send(destination, SENDER, ["y@example.com"], MESSAGE)
            await pool.close()
            assert _classes(outcomes) == [ReplyClass.SUCCESS] * 2
            assert [m.tls for m in sink.messages] == [True, True]
            assert sink.sessions == 1
    finally:
        await pool.close()


async def test_implicit_tls_to_a_plain_server_defers(sink: SmtpSink, pool: SmtpClientPool) -> None:
    [outcome] = await pool.send(_to(sink, TlsMode.IMPLICIT), SENDER, ["x@example.com"], MESSAGE)
    assert outcome.reply_class is ReplyClass.TRANSIENT
    assert sink.count == 0


async def test_logs_in_when_the_destination_has_credentials() -> None:
    pool = SmtpClientPool("misiva.test")
    try:
        with SmtpSink(credentials=("relay", "s3cret")) as sink:
            good = _to(sink, username="relay", password="s3cret")
            bad = _to(sink, username="relay", password="wrong")
            [accepted] = await pool.send(good, SENDER, ["x@example.com"], MESSAGE)
            [deferred] = await pool.send(bad, SENDER, ["x@example.com"], MESSAGE)
            await pool.close()
            assert accepted.reply_class is ReplyClass.SUCCESS
            assert sink.messages[0].auth_user == "relay"
            assert deferred.reply_class is ReplyClass.TRANSIENT
            assert deferred.reply.code == 454
    finally:
        await pool.close()


async def test_non_ascii_uses_smtputf8_and_8bitmime(sink: SmtpSink, pool: SmtpClientPool) -> None:
    data = "From: a@example.org\r\nSubject: ñandú\r\n\r\nCañón\r\n".encode()
    [outcome] = await pool.send(_to(sink), SENDER, ["josé@example.com"], data)
    assert outcome.reply_class is ReplyClass.SUCCESS
    [message] = sink.messages
    assert message.rcpt_tos == ("josé@example.com",)
    assert {"SMTPUTF8", "BODY=8BITMIME", f"SIZE={len(data)}"} <= set(message.mail_options)
    assert message.data == data


async def test_ascii_mail_asks_for_no_extensions_it_does_not_need(
    sink: SmtpSink, pool: SmtpClientPool
) -> None:
    await pool.send(_to(sink), SENDER, ["x@example.com"], MESSAGE)
    assert sink.messages[0].mail_options == (f"SIZE={len(MESSAGE)}",)


async def test_null_sender_is_sent_as_empty_reverse_path(
    sink: SmtpSink, pool: SmtpClientPool
) -> None:
    [outcome] = await pool.send(_to(sink), "", ["x@example.com"], MESSAGE)
    assert outcome.reply_class is ReplyClass.SUCCESS
    assert sink.messages[0].mail_from == ""


async def test_no_recipients_sends_nothing(sink: SmtpSink, pool: SmtpClientPool) -> None:
    assert await pool.send(_to(sink), SENDER, [], MESSAGE) == []
    assert sink.sessions == 0


async def test_closed_pool_refuses_to_send(sink: SmtpSink) -> None:
    pool = SmtpClientPool("misiva.test")
    await pool.send(_to(sink), SENDER, ["x@example.com"], MESSAGE)
    await pool.close()
    with pytest.raises(RuntimeError):
        await pool.send(_to(sink), SENDER, ["x@example.com"], MESSAGE)
