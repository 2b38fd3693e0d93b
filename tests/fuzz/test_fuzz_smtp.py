"""Fuzzing the SMTP submission server over a real socket: Misiva's server runs in-process (its
own event loop, in a thread) on a migrated SQLite database, and Hypothesis drives it with
smtplib and raw lines: malformed commands, AUTH garbage, huge lines, and DATA that is no
email, deeply nested or wrongly encoded. Every reply must be an SMTP reply Misiva meant
(never aiosmtpd's "500 Error: (SomeException)" for a crashed handler), the session must
still answer afterwards, and each example must finish within its time bound."""

from __future__ import annotations

import asyncio
import shutil
import smtplib
import socket
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from fuzzing import bounded, budget
from hypothesis import event, given
from hypothesis import strategies as st
from test_fuzz_bounces import RETURNED
from test_fuzz_mail import LEAF, RAW, nested

from misiva.accounts.domains import add_domain
from misiva.accounts.servers import create_server
from misiva.config import Settings
from misiva.runtime.wiring import build_platform

pytestmark = pytest.mark.slow
TIMEOUT = 20.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Submission:
    """The submission server on its own event loop thread, stopped at teardown."""

    def __init__(self, database_url: str) -> None:
        self.port = _free_port()
        self.token = ""
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._main, args=(database_url,), daemon=True)

    def __enter__(self) -> Submission:
        self._thread.start()
        assert self._ready.wait(60), "the submission server did not start"
        if self._failure:
            raise self._failure
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)

    def _main(self, database_url: str) -> None:
        try:
            asyncio.run(self._serve(database_url))
        except BaseException as exc:  # reported to the test thread
            self._failure = exc
            self._ready.set()

    async def _serve(self, database_url: str) -> None:
        platform = build_platform(
            Settings(
                database_url=database_url,
                routes="*=capture",
                smtp_addr=f"127.0.0.1:{self.port}",
                # Fuzzed AUTH garbage must not lock the fuzzer itself out.
                smtp_auth_failures=1_000_000,
            )
        )
        try:
            self.token = (await create_server(platform.db, "shop")).api_token
            await add_domain(platform.db, "shop.test", "shop")
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            running = asyncio.create_task(platform.new_submission_server().run(self._stop))
            await asyncio.sleep(0.2)
            self._ready.set()
            await running
        finally:
            await platform.close()


@pytest.fixture(scope="module")
def submission(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Submission]:
    path = tmp_path_factory.mktemp("fuzz-smtp") / "misiva.db"
    shutil.copy(sqlite_template, path)
    with Submission(f"sqlite:///{path}") as running:
        yield running


def _crashed(reply: bytes | str) -> bool:
    # aiosmtpd answers a handler's unhandled exception with "500 Error: (Name) text".
    text = reply.decode("latin-1") if isinstance(reply, bytes) else reply
    return "Error: (" in text


def _client(submission: Submission, *, login: bool = True) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", submission.port, timeout=TIMEOUT)
    client.ehlo("fuzz.example")
    if login:
        client.login(submission.token, submission.token)
    return client


COMMAND = st.one_of(
    st.binary(max_size=60).map(lambda b: b.replace(b"\n", b"")),
    st.builds(
        lambda verb, arg: verb + b" " + arg,
        st.sampled_from(
            [
                b"EHLO",
                b"HELO",
                b"MAIL FROM:",
                b"RCPT TO:",
                b"AUTH",
                b"AUTH PLAIN",
                b"AUTH LOGIN",
                b"VRFY",
                b"NOOP",
                b"RSET",
                b"HELP",
                b"XCLIENT",
                b"BDAT",
                b"STARTTLS",
            ]
        ),
        st.one_of(
            st.binary(max_size=80).map(lambda b: b.replace(b"\n", b"")),
            st.sampled_from(
                [
                    b"<>",
                    b"<a@b.example> SIZE=99999999999",
                    b"<a@b.example> BODY=8BITMIME SMTPUTF8",
                    b"<\xff@\xfe.example>",
                    b"<" + b"a" * 5000 + b"@b.example>",
                    b"=",
                    b"AAAA",
                    b'<"x y"@b.example>',
                    b"<@relay.example:a@b.example>",
                    b"<a@[127.0.0.1]>",
                ]
            ),
        ),
    ),
)


@budget(40)
@given(commands=st.lists(COMMAND, min_size=1, max_size=8), login=st.booleans())
def test_malformed_commands_get_replies_and_the_session_survives(
    submission: Submission, commands: list[bytes], login: bool
) -> None:
    def session() -> None:
        client = _client(submission, login=login)
        try:
            for command in commands:
                client.send(command + b"\r\n")
                try:
                    code, text = client.getreply()
                except smtplib.SMTPServerDisconnected:
                    raise AssertionError(f"the server hung up after {command!r}") from None
                assert 200 <= code < 600 and not _crashed(text), (command, code, text)
                if code == 334:  # an AUTH challenge: the next line would be its answer
                    client.send(b"*\r\n")  # RFC 4954 §4: cancel the exchange
                    client.getreply()
                if code == 421:
                    return  # the server closed the session, as RFC 5321 allows
            code, _text = client.noop()
            assert code == 250, "the session stopped answering"
        finally:
            client.close()

    bounded(session, TIMEOUT)


def _envelope_data(raw: bytes) -> bytes:
    # smtplib dot-stuffs and ends DATA; bare LF and CR become CRLF the way a client would.
    return raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")


SHOP = b"From: Hola <hola@shop.test>\r\nTo: ana@example.com\r\nSubject: pedido\r\n"
# Mostly messages from the tenant's own domain, so the odd MIME reaches the ingest path.
SHOP_NESTED = st.builds(lambda d, leaf: SHOP + nested(d, leaf), st.integers(0, 40), LEAF)
SHOP_EXTRA = st.builds(lambda extra, leaf: SHOP + extra + leaf, st.binary(max_size=80), LEAF)
# Two in three from the tenant's own domain, so the odd MIME reaches the ingest path; the
# rest anything at all. (one_of's own choice, derandomized, favoured the raw bytes.)
SUBMITTED = st.integers(0, 5).flatmap(
    lambda i: [SHOP_NESTED, SHOP_EXTRA, SHOP_NESTED, SHOP_EXTRA, RAW, RETURNED][i]
)


@budget(60)
@given(raw=SUBMITTED)
def test_any_data_is_queued_or_refused_never_crashes(submission: Submission, raw: bytes) -> None:
    def session() -> None:
        client = _client(submission)
        try:
            client.mail("hola@shop.test")
            client.rcpt("ana@example.com")
            code, text = client.data(_envelope_data(raw))
        except smtplib.SMTPDataError as refused:
            code, text = refused.smtp_code, refused.smtp_error
        finally:
            client.close()
        assert not _crashed(text), (code, text)
        assert code == 250 or 400 <= code < 600, (code, text)
        event("queued" if code == 250 else f"refused {code} {text[:40]!r}")

    bounded(session, TIMEOUT)


def test_a_huge_line_and_a_huge_message_get_replies(submission: Submission) -> None:
    client = _client(submission)
    try:
        client.send(b"NOOP " + b"x" * 100_000 + b"\r\n")
        code, text = client.getreply()
        assert 500 <= code < 600 and not _crashed(text)
        assert client.noop()[0] == 250
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = (
            "hola@shop.test",
            "ana@example.com",
            "x",
        )
        message.set_content("y" * (11 * 1024 * 1024))  # past the 10 MB SIZE limit
        with pytest.raises(smtplib.SMTPException) as refused:
            bounded(lambda: client.send_message(message), 60)
        assert not _crashed(str(refused.value))
    finally:
        client.close()


def test_an_rfc2231_filename_that_is_not_utf8_is_queued(submission: Submission) -> None:
    # Regression (tests/fuzz): `filename*=%DD` decoded to U+FFFD, and reading it back into
    # fields raised UnicodeEncodeError, which aiosmtpd turned into a permanent
    # "500 Error: (UnicodeEncodeError)": the client would have bounced the message.
    raw = (
        b"From: hola@shop.test\r\nTo: ana@example.com\r\nSubject: factura\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="M"\r\n\r\n'
        b"--M\r\nContent-Type: text/plain\r\n\r\nadjunta\r\n"
        b"--M\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
        b"filename*=utf-8''factura%DD.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"JVBERi0xLjcK\r\n--M--\r\n"
    )
    client = _client(submission)
    try:
        client.mail("hola@shop.test")
        client.rcpt("ana@example.com")
        code, text = client.data(raw)
    finally:
        client.close()
    assert code == 250, text


@pytest.mark.parametrize("mechanism", [b"AUTH PLAIN", b"AUTH LOGIN", b"AUTH PLAIN "])
@pytest.mark.parametrize("answer", [b"*", b"not base64!"])
def test_a_cancelled_or_undecodable_auth_challenge_gets_exactly_one_reply(
    submission: Submission, mechanism: bytes, answer: bytes
) -> None:
    # Regression (tests/fuzz): aiosmtpd answered "*" with 501 and the handler added a second
    # 501, so each later command read the reply meant for the one before (NOOP got 501).
    client = _client(submission, login=False)
    try:
        client.send(mechanism + b"\r\n")
        assert client.getreply()[0] == 334
        client.send(answer + b"\r\n")
        assert client.getreply()[0] == 501
        assert client.noop()[0] == 250
        assert client.noop()[0] == 250
    finally:
        client.close()
