"""What the tenant-isolation tests share: two servers (alpha and bravo) that each own one of
every kind of resource, the route table walked from the FastAPI apps, and a snapshot of every
row one server owns, found through the schema itself so that new tables are covered too.

Every text bravo owns carries the word "bravo" (or one of its message ids), so an answer given
to alpha that contains one of bravo's markers is a leak."""

from __future__ import annotations

import contextlib
import gzip
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from misiva.accounts.domains import add_domain
from misiva.accounts.servers import create_server, list_tokens
from misiva.api.app import create_app
from misiva.runtime.wiring import Platform
from misiva.scheduler.rollups import RollupFolder
from misiva.storage import Database
from misiva.storage import bounces as bounce_store
from misiva.storage import capture as capture_store
from misiva.storage import webhooks as webhook_store
from misiva.storage.tables import metadata

DMARC = Path(__file__).parent / "data" / "dmarc"
TOKEN_HEADER = "X-Postmark-Server-Token"
PARAM = re.compile(r"{([^}:]+)(?::[^}]+)?}")
# Methods a route of ours may take; the walk refuses to guess what another one means.
KNOWN_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    module: str

    @property
    def params(self) -> list[str]:
        return PARAM.findall(self.path)

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def route_table(app: FastAPI) -> list[Route]:
    """Every (method, path) the app answers, as FastAPI itself resolves its included routers;
    HEAD is answered by Starlette for every GET and adds nothing of its own."""
    found = []
    for context in iter_route_contexts(app.routes):
        path = context.path
        if path is None:
            continue
        endpoint = context.endpoint
        module = (
            endpoint.__module__ if endpoint is not None else type(context.original_route).__name__
        )
        methods = sorted(context.methods or {"MOUNT"})
        found += [Route(m, path, module) for m in methods if m != "HEAD"]
    return found


@dataclass
class Estate:
    """One server and one of everything it owns: ids by kind, and the texts that give it away."""

    name: str
    server_id: int
    token: str
    ids: dict[str, Any] = field(default_factory=dict)

    @property
    def markers(self) -> set[str]:
        """Strings only this server's data contains: its name and its message ids."""
        return {self.name, *(str(v) for k, v in self.ids.items() if k.endswith("message_id"))}


@contextlib.asynccontextmanager
async def api_client(app: FastAPI, token: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Accept": "application/json"}
    if token is not None:
        headers[TOKEN_HEADER] = token
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://misiva.test", headers=headers
    ) as client:
        yield client


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), (response.request.url, response.text)
    body: dict[str, Any] = response.json()
    return body


async def build_estate(platform: Platform, name: str) -> Estate:
    """A server named `name` with a template, a layout, a stream, a webhook, a contact, a
    suppression, a content block, a promo pool with codes, a trigger, an event, a scheduled
    message, a sent (captured) message with a webhook delivery and a bounce, a conversion and
    a DMARC report; made through the API with the server's own token, as a user would."""
    created = await create_server(platform.db, name)
    await add_domain(platform.db, f"{name}.test", name)
    estate = Estate(name, created.server.id, created.api_token)
    ids = estate.ids
    sender = f"hola@{name}.test"
    reader = f"{name}.reader@example.com"
    async with api_client(create_app(platform.api_deps()), estate.token) as api:
        layout = {"Name": f"{name} layout", "Alias": f"{name}-layout", "TemplateType": "Layout"}
        layout["HtmlBody"] = f"<div>{name} brand {{{{{{ @content }}}}}}</div>"
        ids["layout"] = _ok(await api.post("/templates", json=layout))["TemplateId"]
        # The order template gives each reader a code of the pool: one code is then handed
        # out (the one a thief would want to redeem), the other still in stock.
        ids["pool"] = f"{name}-pool"
        _ok(await api.post("/promo-pools", json={"Key": ids["pool"], "Description": name}))
        ids["codes"] = [f"{name}-code-1", f"{name}-code-2"]
        _ok(await api.post(f"/promo-pools/{ids['pool']}/codes", json=ids["codes"]))
        template = {"Name": f"{name} order", "Alias": f"{name}-order"}
        body = f"<p>{name} {{{{ n }}}} {{{{ promo_code('{ids['pool']}') }}}}</p>"
        template |= {"Subject": f"{name} order {{{{ n }}}}", "HtmlBody": body}
        ids["template_id"] = _ok(await api.post("/templates", json=template))["TemplateId"]
        ids["template_alias"] = f"{name}-order"
        stream = {"ID": f"{name}-news", "Name": f"{name} news", "MessageStreamType": "Broadcasts"}
        ids["stream"] = _ok(await api.post("/message-streams", json=stream))["ID"]
        hook = {
            "Url": f"http://127.0.0.1:9/{name}-hook",
            "Triggers": {"Delivery": {"Enabled": True}},
        }
        ids["webhook_id"] = _ok(await api.post("/webhooks", json=hook))["ID"]
        _ok(await api.post("/contacts", json={"Email": reader, "FirstName": name.title()}))
        ids["email"] = reader
        gone = {"Suppressions": [{"EmailAddress": f"{name}.gone@example.com"}]}
        _ok(await api.post("/message-streams/outbound/suppressions", json=gone))
        block = {"Key": f"{name}-block", "Slot": "cross_sell", "Priority": 1}
        block["Contents"] = {"default": {"HtmlBody": f"<p>{name} offer</p>"}}
        ids["block_id"] = _ok(await api.post("/content-blocks", json=block))["ID"]
        ids["trigger"] = f"{name}-rule"
        rule = {"Key": ids["trigger"], "EventName": "order.placed", "Template": f"{name}-order"}
        rule |= {"From": sender, "DelayMinutes": 600}
        _ok(await api.post("/triggers", json=rule))
        event = {"Name": "order.placed", "Email": reader, "EventID": f"{name}-evt-1"}
        _ok(await api.post("/events", json=event | {"Data": {"n": 1}}))
        ids["event_id"] = event["EventID"]
        later = (datetime.now(UTC) + timedelta(days=3)).isoformat()
        send = {"From": sender, "To": reader, "Subject": f"{name} later", "TextBody": name}
        ids["scheduled_message_id"] = _ok(await api.post("/email", json=send | {"SendAt": later}))[
            "MessageID"
        ]
        sent = {"From": sender, "To": reader, "TemplateAlias": f"{name}-order"}
        ids["message_id"] = _ok(
            await api.post("/email/withTemplate", json=sent | {"TemplateModel": {"n": 2}})
        )["MessageID"]
        report = {"MessageID": ids["message_id"], "Value": "10", "Currency": "EUR"}
        _ok(await api.post("/conversions", json=report | {"OrderID": f"{name}-order-1"}))
        _ok(await api.post("/dmarc/reports", content=dmarc_report(f"{name}.test")))
        ids["report_id"] = _ok(await api.get("/dmarc/reports"))["Reports"][0]["ID"]
    # Delivery (to the capture inbox) records `delivered`, which queues the webhook delivery.
    await platform.new_worker().run_once()
    await _stored_ids(platform.db, estate)
    return estate


def dmarc_report(domain: str) -> bytes:
    """The sample aggregate report (tests/data/dmarc), about `domain`."""
    xml = gzip.decompress(next(DMARC.glob("*.xml.gz")).read_bytes())
    return xml.replace(b"example.com", domain.encode())


async def _stored_ids(db: Database, estate: Estate) -> None:
    """The ids only storage knows: the captured copy, the webhook delivery, a bounce, the token."""
    ids = estate.ids
    async with db.transaction() as tx:
        captured = await capture_store.get_captured_for_message(
            tx, ids["message_id"], estate.server_id
        )
        ids["captured_id"] = captured[0].id
        deliveries = await webhook_store.list_deliveries(tx, estate.server_id)
        ids["delivery_id"] = deliveries[0]["id"]
        bounce = bounce_store.NewBounce(
            server_id=estate.server_id,
            message_id=ids["message_id"],
            stream="outbound",
            type="HardBounce",
            email=ids["email"],
            sender=f"hola@{estate.name}.test",
            subject=f"{estate.name} order 2",
            tag=None,
            details=f"550 {estate.name} mailbox unknown",
            inactive=True,
            can_activate=True,
            dump=f"{estate.name} dump".encode(),
            bounced_at=datetime.now(UTC),
        )
        ids["bounce_id"] = await bounce_store.insert_bounce(tx, bounce)
    ids["token_id"] = (await list_tokens(db, estate.server_id))[0].id
    ids["domain"] = f"{estate.name}.test"


def filters(estate: Estate) -> dict[str, Any]:
    """Query parameters of list pages and endpoints that name one resource, with `estate`'s
    values: a list filtered by another server's id must still show only the caller's rows."""
    ids = estate.ids
    return {
        "messageid": ids["message_id"],
        "trigger": ids["trigger"],
        "stream": ids["stream"],
        "messagestream": ids["stream"],
        "recipient": ids["email"],
        "email": ids["email"],
        "emailaddress": ids["email"],
        "emailfilter": ids["email"],
        "domain": ids["domain"],
        "webhook": ids["webhook_id"],
        "slot": "cross_sell",
        "q": estate.name,
    }


# --- Rows a server owns --------------------------------------------------------------------

# Tables that hold no tenant's data, with the reason; any other table must be reachable from
# a server (a server_id column, or a foreign key to a table that has one).
NOT_TENANT_DATA = {
    "servers": "the tenants themselves: the snapshot takes the server's own row by id",
    "users": "UI accounts; which servers a user may act on is user_servers (has server_id)",
    "ui_sessions": "sign-in sessions of users, not of servers",
    "stats_watermark": "the roll-up's global progress mark",
}


# Child tables whose link to their parent the schema does not declare as a foreign key.
UNDECLARED_PARENTS = {"webhook_attempts": [("delivery_id", "webhook_deliveries")]}


def _parents(table: sa.Table) -> list[tuple[str, str]]:
    """(column, parent table) of the foreign keys of a table that has no server_id."""
    declared = [(fk.parent.name, fk.column.table.name) for fk in table.foreign_keys]
    return declared + UNDECLARED_PARENTS.get(table.name, [])


def ownership_gaps() -> list[str]:
    """Tables the snapshot could not attribute to a server: each one a test failure."""
    gaps = []
    for table in metadata.sorted_tables:
        if "server_id" in table.c or table.name in NOT_TENANT_DATA:
            continue
        if not any("server_id" in metadata.tables[p].c for _, p in _parents(table)):
            gaps.append(table.name)
    return gaps


Snapshot = dict[str, list[tuple[Any, ...]]]


async def all_rows(db: Database) -> Snapshot:
    """Every row of every table, once the dashboard's roll-ups have caught up: readers fold
    all servers' new events into them (a shared cache), so the fold happens here first and a
    change seen afterwards is a change of the data itself."""
    await RollupFolder(db).run_once()
    rows: Snapshot = {}
    async with db.reading() as tx:
        for table in metadata.sorted_tables:
            result = await tx.execute(sa.select(table))
            rows[table.name] = [tuple(r) for r in result]
    return rows


def _owned_rows(rows: Snapshot, server_id: int) -> dict[str, list[tuple[Any, ...]]]:
    mine: dict[str, list[tuple[Any, ...]]] = {}
    for table in metadata.sorted_tables:
        names = list(table.c.keys())
        if table.name == "servers":
            mine[table.name] = [r for r in rows[table.name] if r[names.index("id")] == server_id]
        elif "server_id" in table.c:
            at = names.index("server_id")
            mine[table.name] = [r for r in rows[table.name] if r[at] == server_id]
    for table in metadata.sorted_tables:
        if table.name in mine or table.name in NOT_TENANT_DATA:
            continue
        names = list(table.c.keys())
        kept = []
        for column, parent in _parents(table):
            parent_ids = set(_ids(parent, mine))
            kept += [r for r in rows[table.name] if r[names.index(column)] in parent_ids]
        mine[table.name] = kept
    return mine


def _ids(table: str, rows: dict[str, list[tuple[Any, ...]]]) -> list[Any]:
    names = list(metadata.tables[table].c.keys())
    return [r[names.index("id")] for r in rows.get(table, [])] if "id" in names else []


def owned(rows: Snapshot, server_id: int) -> dict[str, list[str]]:
    """Every row `server_id` owns, table by table, as comparable text (sorted)."""
    found = _owned_rows(rows, server_id)
    return {name: sorted(repr(r) for r in kept) for name, kept in found.items()}


# Columns that name another table's row without a declared foreign key (ids are unique per
# table across servers, so a value among the other server's ids is a reference to it).
REFERENCES = {
    "message_id": "messages",
    "template_id": "templates",
    "pool_id": "promo_pools",
    "domain_id": "domains",
    "trigger_id": "triggers",
    "block_id": "content_blocks",
    "webhook_id": "webhooks",
    "app_event_id": "app_events",
    "delivery_id": "webhook_deliveries",
    "dmarc_report_id": "dmarc_reports",
}


def cross_references(rows: Snapshot, server_id: int, other_id: int) -> list[str]:
    """Rows of `server_id` that point at a row of `other_id`: a link across tenants."""
    mine, theirs = _owned_rows(rows, server_id), _owned_rows(rows, other_id)
    found = []
    for table in metadata.sorted_tables:
        names = list(table.c.keys())
        links = {c: p for c, p in REFERENCES.items() if c in names}
        links |= {fk.parent.name: fk.column.table.name for fk in table.foreign_keys}
        links.pop("server_id", None)
        for column, parent in links.items():
            foreign = set(_ids(parent, theirs))
            found += [
                f"{table.name}.{column}={r[names.index(column)]} ({parent} of the other server)"
                for r in mine.get(table.name, [])
                if r[names.index(column)] in foreign
            ]
    return found


def changed_tables(before: dict[str, list[str]], after: dict[str, list[str]]) -> dict[str, Any]:
    return {
        name: {
            "gone": sorted(set(before[name]) - set(after[name])),
            "new": sorted(set(after[name]) - set(before[name])),
        }
        for name in before
        if before[name] != after[name]
    }


def leaks(text: str, markers: set[str], echoed: list[str]) -> list[str]:
    """The markers of the other server in an answer, once the values the request itself
    carried are taken out (an answer may name what it was asked for: "no template
    'bravo-order'")."""
    for value in sorted(echoed, key=len, reverse=True):
        text = re.sub(re.escape(value), "", text, flags=re.IGNORECASE)
    lowered = text.lower()
    return [m for m in sorted(markers) if m.lower() in lowered]


def strings_in(value: Any) -> list[str]:
    """The text leaves of a request body (what an answer may echo back)."""
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings_in(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    if isinstance(value, bytes):
        return [value.decode()]
    return [str(value)] if isinstance(value, str | int) else []
