"""The submission server in-process: a message the database cannot take gets 451 and is not
half-stored; once the database takes writes again, the client's retry gets 250."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from email.message import EmailMessage

import aiosmtplib
import pytest
import sqlalchemy as sa

from builders import Tenant
from misiva.accounts.domains import add_domain
from misiva.accounts.servers import create_server
from misiva.config import Settings
from misiva.runtime.wiring import Platform, build_platform
from misiva.storage import messages as message_store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
async def submission(database_url: str) -> AsyncIterator[tuple[Platform, Tenant, int]]:
    port = _free_port()
    built = build_platform(
        Settings(database_url=database_url, routes="*=capture", smtp_addr=f"127.0.0.1:{port}")
    )
    created = await create_server(built.db, "shop")
    added = await add_domain(built.db, "shop.test", "shop")
    tenant = Tenant(server=created.server, domain=added.domain, token=created.api_token)
    stop = asyncio.Event()
    running = asyncio.create_task(built.new_submission_server().run(stop))
    await asyncio.sleep(0.1)
    yield built, tenant, port
    stop.set()
    await running
    await built.close()


def _message() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "hola@shop.test"
    message["To"] = "ana@example.com"
    message["Subject"] = "Pedido"
    message.set_content("Pedido confirmado")
    return message


async def _refuse_writes(platform: Platform, refuse: bool) -> None:
    """A real failure at commit time: the database itself refuses new messages."""
    async with platform.db.transaction() as tx:
        if platform.db.is_postgres:
            statement = (
                "ALTER TABLE messages ADD CONSTRAINT refuse_all CHECK (false) NOT VALID"
                if refuse
                else "ALTER TABLE messages DROP CONSTRAINT refuse_all"
            )
        else:
            statement = (
                "CREATE TRIGGER refuse_all BEFORE INSERT ON messages "
                "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
                if refuse
                else "DROP TRIGGER refuse_all"
            )
        await tx.execute(sa.text(statement))


async def test_a_message_the_database_cannot_take_gets_451_and_its_retry_250(
    submission: tuple[Platform, Tenant, int],
) -> None:
    platform, tenant, port = submission
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=20)
    await client.connect()
    await client.login(tenant.token, tenant.token)
    await _refuse_writes(platform, True)
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await client.send_message(_message())
    assert refused.value.code == 451
    async with platform.db.reading() as tx:
        assert await message_store.count_by_status(tx) == {}
    await _refuse_writes(platform, False)
    errors, reply = await client.send_message(_message())
    assert not errors and reply.startswith("2.0.0 OK queued as ")
    await client.quit()
