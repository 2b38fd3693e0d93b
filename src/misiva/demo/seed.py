"""`misiva demo seed`: a shop called "tienda" with its people, users and days of traffic.

A table of contents in `seed_demo`: refuse a database in use, create the server and its
sending domain, install the starter templates, add contacts and users, then plan and write the
traffic. It only ever adds: nothing that exists is changed or deleted.
"""

from __future__ import annotations

import json
import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from misiva.accounts.domains import add_domain
from misiva.accounts.servers import configure_server, create_server
from misiva.accounts.users import create_user
from misiva.authoring.sync import push
from misiva.demo.people import CLICK_AGENTS, OPEN_AGENTS, make_contacts
from misiva.demo.plan import plan_traffic
from misiva.demo.traffic import Shop, write_traffic
from misiva.domain.clock import Clock, utcnow
from misiva.domain.errors import Conflict
from misiva.domain.records import Server
from misiva.domain.users import Role
from misiva.ingest.templated import TemplateRenderer
from misiva.ingest.tenants import ServerDirectory
from misiva.starter import starter_dir
from misiva.storage import Database
from misiva.storage import contacts as contact_store
from misiva.storage import servers as server_store
from misiva.tracking.consent_tokens import ConsentLinks

SERVER = "tienda"
DOMAIN = "tienda.example"
SENDER = "Tienda del Olivar <pedidos@tienda.example>"
BRAND = {
    "company_name": "Tienda del Olivar",
    "primary_color": "#4d7c0f",
    "support_email": "ayuda@tienda.example",
    "website_url": "https://tienda.example",
    "legal_address": "Calle del Olivo 12, 23001 Jaén, España",
}
# (email, role, name, locale): the owner sees everything; the others only the shop.
USERS = (
    ("demo@misiva.test", Role.OWNER, "Demo", "en"),
    ("marketing@misiva.test", Role.MARKETER, "Marta Ruiz", "es"),
    ("dev@misiva.test", Role.DEVELOPER, "Diego Serrano", "es"),
)
# A shop of this size writes to a few hundred people a week: repeat customers, as in life.
MESSAGES_PER_CONTACT = 8


@dataclass(frozen=True, slots=True)
class SeedOptions:
    days: int = 7
    messages: int = 2000
    seed: int | None = None
    password: str | None = None
    # Add the demo beside servers that exist already (still never touching them).
    force: bool = False


@dataclass(frozen=True, slots=True)
class Seeded:
    server: Server
    api_token: str
    password: str
    users: tuple[str, ...]
    contacts: int
    messages: int
    events: int


class DatabaseInUse(Conflict):
    def __init__(self, count: int) -> None:
        super().__init__(
            f"this database already has {count} server(s); the demo seeds an empty one "
            "(use --force to add the demo server beside them)"
        )


async def seed_demo(
    db: Database, options: SeedOptions, *, link_base: str, clock: Clock = utcnow
) -> Seeded:
    """Fill the database with the demo shop; see the module's docstring."""
    await _refuse_if_in_use(db, options.force)
    now = clock()
    rng = random.Random(options.seed)
    password = options.password or secrets.token_urlsafe(12)
    # The shop was set up the day before its first mail.
    opened = now - timedelta(days=options.days + 1)
    server, token = await _server(db, opened)
    domain = (await add_domain(db, DOMAIN, SERVER, clock=lambda: opened)).domain
    await push(db, server.id, starter_dir() / "templates", clock=lambda: opened)
    contacts = make_contacts(rng, server.id, max(options.messages // MESSAGES_PER_CONTACT, 10))
    async with db.transaction() as tx:
        await contact_store.upsert_contacts(tx, contacts, opened)
    for email, role, name, locale in USERS:
        servers = () if role is Role.OWNER else (SERVER,)
        await create_user(
            db, email, password, role, name=name, server_names=servers, locale=locale, clock=clock
        )
    planned = plan_traffic(
        rng,
        contacts,
        now=now,
        days=options.days,
        count=options.messages,
        open_agents=list(OPEN_AGENTS),
        click_agents=list(CLICK_AGENTS),
    )
    links = ConsentLinks(link_base)
    context = await ServerDirectory(db).by_name(SERVER)
    shop = Shop(context, domain, SENDER, link_base, _test_models())
    written = await write_traffic(db, shop, planned, TemplateRenderer(db, links=links))
    return Seeded(
        server=server,
        api_token=token,
        password=password,
        users=tuple(u[0] for u in USERS),
        contacts=len(contacts),
        messages=written.messages,
        events=written.events,
    )


async def _refuse_if_in_use(db: Database, force: bool) -> None:
    async with db.reading() as tx:
        servers = await server_store.list_servers(tx)
    if servers and not force:
        raise DatabaseInUse(len(servers))


async def _server(db: Database, opened: datetime) -> tuple[Server, str]:
    created = await create_server(db, SERVER, clock=lambda: opened)
    server = await configure_server(db, SERVER, default_locale="es", brand=BRAND)
    return server, created.api_token


def _test_models() -> dict[str, dict[str, Any]]:
    """Each starter template's test data, by alias: what the demo's sends start from."""
    models = {}
    for path in sorted((starter_dir() / "templates").glob("*/test-model.json")):
        models[path.parent.name] = json.loads(path.read_text(encoding="utf-8"))
    return models
