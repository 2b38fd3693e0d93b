"""The API's defences, in process over a real database (SQLite and PostgreSQL): secrets
hashed at rest (read back from the rows themselves), the limit on wrong tokens, webhook
URLs that may not reach private networks (SSRF), CR/LF in every header-bearing field, and
tracking links that cannot be bent into an open redirect."""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import replace
from typing import Any

import httpx
import sqlalchemy as sa

from builders import Tenant
from misiva.accounts.throttle import AuthGuard
from misiva.accounts.users import create_user
from misiva.api.app import create_app
from misiva.domain.users import Role
from misiva.runtime.wiring import Platform
from misiva.testing.webhook_receiver import WebhookReceiver
from misiva.webhooks.dispatcher import DispatchConfig, WebhookDispatcher
from misiva.webhooks.targets import WebhookTargets

TOKEN = "X-Postmark-Server-Token"
INJECTED = "X-Injected"


def _client(app: Any, token: str | None, address: str = "203.0.113.7") -> httpx.AsyncClient:
    headers = {"Accept": "application/json"} | ({TOKEN: token} if token is not None else {})
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://misiva.test", headers=headers)


async def test_server_tokens_and_passwords_are_stored_only_as_hashes(
    platform: Platform, tenant: Tenant
) -> None:
    password = "a long enough password"
    await create_user(platform.db, "owner@shop.test", password, Role.OWNER)
    async with platform.db.reading() as tx:
        tokens = (await tx.execute(sa.text("SELECT token_hash FROM server_tokens"))).all()
        users = (await tx.execute(sa.text("SELECT password_hash FROM users"))).all()
        values = []
        for table in ("servers", "server_tokens", "users"):
            for row in (await tx.execute(sa.text(f"SELECT * FROM {table}"))).all():
                values += [str(value) for value in row]
    dump = " ".join(values)
    assert tokens and all(re.fullmatch(r"[0-9a-f]{64}", row[0]) for row in tokens)
    assert [row[0].split("$")[1] for row in users] == ["argon2id"]
    # Neither secret appears anywhere in the rows, in any case.
    assert tenant.token.lower() not in dump.lower() and password not in dump


async def test_wrong_tokens_from_one_address_get_429_and_good_clients_are_unaffected(
    platform: Platform, tenant: Tenant
) -> None:
    app = create_app(replace(platform.api_deps(), auth_failures=AuthGuard(3, 60)))
    async with _client(app, tenant.token) as good:
        # Valid tokens never count, however many.
        for _ in range(10):
            assert (await good.get("/message-streams")).status_code == 200
    async with _client(app, None) as unconfigured:
        # No token is no guess: not counted either.
        for _ in range(5):
            assert (await unconfigured.get("/message-streams")).status_code == 401
    async with _client(app, "not-a-token") as guesser:
        codes = [(await guesser.get("/message-streams")).status_code for _ in range(4)]
        limited = await guesser.get("/message-streams")
    assert codes == [401, 401, 401, 429]
    assert limited.status_code == 429
    assert limited.json()["ErrorCode"] == 429 and "Too many" in limited.json()["Message"]
    # While locked, the address gets 429 for a right token too: a 200 among 429s would tell
    # a guesser it had found one.
    async with _client(app, tenant.token) as same_address:
        assert (await same_address.get("/message-streams")).status_code == 429
    async with _client(app, tenant.token, address="198.51.100.9") as other_address:
        assert (await other_address.get("/message-streams")).status_code == 200


PRIVATE_URLS = (
    "http://127.0.0.1/hook",
    "http://127.1.2.3:8080/hook",
    "http://localhost/hook",
    "http://10.0.0.5/hook",
    "http://172.16.0.1/hook",
    "http://192.168.1.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/hook",
    "http://0.0.0.0/hook",
    "http://[::1]/hook",
    "http://[fd00::1]/hook",
    "http://[fe80::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "https://user:pass@127.0.0.1/hook",
    # Other spellings of 127.0.0.1 that the system resolver takes (inet_aton forms).
    "http://2130706433/hook",
    "http://0x7f.1/hook",
)


async def test_webhooks_to_private_addresses_are_refused_at_creation(
    platform: Platform, tenant: Tenant
) -> None:
    app = create_app(replace(platform.api_deps(), webhook_targets=WebhookTargets()))
    async with _client(app, tenant.token) as api:
        public = await api.post("/webhooks", json={"Url": "http://93.184.216.34/hook"})
        assert public.status_code == 200, public.text
        # A name that does not resolve now is accepted (each post checks it again).
        later = await api.post("/webhooks", json={"Url": "http://hooks.invalid/x"})
        assert later.status_code == 200, later.text
        for url in PRIVATE_URLS:
            created = await api.post("/webhooks", json={"Url": url})
            assert created.status_code == 422, f"{url}: {created.text}"
            assert created.json()["ErrorCode"] == 606 and "not a public address" in created.text
            # Nor can an existing webhook be pointed there.
            moved = await api.put(f"/webhooks/{public.json()['ID']}", json={"Url": url})
            assert moved.status_code == 422 and moved.json()["ErrorCode"] == 606, url


async def test_a_private_webhook_saved_before_is_never_posted_to(
    platform: Platform, tenant: Tenant, api: httpx.AsyncClient
) -> None:
    """Allowed when saved (the tests' setting), refused at dispatch by a dispatcher that
    does not allow private targets: the check at each post is what counts."""
    with WebhookReceiver() as receiver:
        hook = await api.post(
            "/webhooks", json={"Url": receiver.url, "Triggers": {"Delivery": {"Enabled": True}}}
        )
        assert hook.status_code == 200, hook.text
        sent = await api.post(
            "/email", json={"From": "hola@shop.test", "To": "ana@example.com", "TextBody": "x"}
        )
        assert sent.status_code == 200
        await platform.new_worker().run_once()
        dispatcher = WebhookDispatcher(platform.db, DispatchConfig(first_retry_seconds=0))
        try:
            assert await dispatcher.run_once() == 1
        finally:
            await dispatcher.close()
        assert receiver.accepted == [] and receiver.refused == 0
    deliveries = (await api.get("/webhooks/deliveries/log")).json()
    [delivery] = deliveries["Deliveries"]
    assert delivery["Status"] != "delivered"
    assert "not a public address" in delivery["Attempts"][0]["Error"]


_ADDRESS_FIELDS = ("From", "To", "Cc", "Bcc", "ReplyTo")


def _injections() -> list[tuple[str, dict[str, Any]]]:
    cases: list[tuple[str, dict[str, Any]]] = []
    for breaker in ("\r\n", "\n", "\r"):
        evil = f"x{breaker}{INJECTED}: yes{breaker}Bcc: evil@attacker.test"
        shown = repr(breaker)
        for field in _ADDRESS_FIELDS:
            value = f"hola@shop.test{breaker}Bcc: evil@attacker.test"
            cases.append((f"{field} {shown}", {field: value}))
        cases += [
            (f"Subject {shown}", {"Subject": evil}),
            (f"Tag {shown}", {"Tag": evil}),
            (f"Metadata {shown}", {"Metadata": {"k": evil}}),
            (f"header value {shown}", {"Headers": [{"Name": "X-Note", "Value": evil}]}),
            (
                f"header name {shown}",
                {"Headers": [{"Name": f"X-A{breaker}{INJECTED}", "Value": "1"}]},
            ),
        ]
    return cases


async def _no_injected_header(api: httpx.AsyncClient, answer: httpx.Response) -> None:
    """A refused send is fine; an accepted one must carry no header the value smuggled in."""
    if answer.status_code == 422:
        assert answer.json()["ErrorCode"] in (300, 400), answer.text
        return
    assert answer.status_code == 200, answer.text
    dump = await api.get(f"/messages/outbound/{answer.json()['MessageID']}/dump")
    raw = dump.json()["Body"].encode()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert INJECTED not in parsed and "Bcc" not in parsed, raw[:600]
    assert "evil@attacker.test" not in str(parsed.get("To", "")) + str(parsed.get("Cc", ""))


async def test_cr_lf_in_any_header_bearing_field_injects_no_header(
    api: httpx.AsyncClient,
) -> None:
    body = {"From": "hola@shop.test", "To": "ana@example.com", "Subject": "Hi", "TextBody": "x"}
    outcomes = {}
    for case, fields in _injections():
        answer = await api.post("/email", json=body | fields)
        await _no_injected_header(api, answer)
        outcomes[case] = answer.status_code
        if case.startswith(_ADDRESS_FIELDS):
            # Addresses with a line break are never taken apart into two.
            assert answer.status_code == 422, case
    print("header injection outcomes:", outcomes)


async def test_cr_lf_from_template_model_into_the_subject_injects_no_header(
    api: httpx.AsyncClient,
) -> None:
    template = await api.post(
        "/templates",
        json={
            "Name": "Welcome",
            "Alias": "welcome",
            "Subject": "Hola {{ name }}",
            "TextBody": "Hi {{ name }}",
        },
    )
    assert template.status_code == 200, template.text
    for breaker in ("\r\n", "\n"):
        answer = await api.post(
            "/email/withTemplate",
            json={
                "From": "hola@shop.test",
                "To": "ana@example.com",
                "TemplateAlias": "welcome",
                "TemplateModel": {"name": f"Ana{breaker}{INJECTED}: yes"},
            },
        )
        await _no_injected_header(api, answer)
