"""Tenant isolation of the web UI, generated from its route table on SQLite and PostgreSQL.

Servers alpha and bravo each own one of every kind of resource; alpha's developer and alpha's
marketer (users who may act on alpha only; between them they hold every capability but the
owner's) call every page and form of the UI twice: on bravo's server with bravo's ids, which
must answer 404 (or 403), and on alpha's server with bravo's ids, which must refuse or show
alpha's own data only. Every row bravo owns must stay as it was. Owner-only pages must refuse
them. A route with a path parameter, method or form this file has no case for fails the test.
The pages are called in-process (httpx over ASGI), as tests/integration/test_studio_pages.py
does: the browser adds nothing to who may see what."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from isolation_makers import (
    KNOWN_METHODS,
    Estate,
    Route,
    all_rows,
    build_estate,
    changed_tables,
    cross_references,
    dmarc_report,
    filters,
    leaks,
    owned,
    route_table,
    strings_in,
)
from misiva.accounts.users import create_user, sign_in
from misiva.api.app import create_app
from misiva.config import Settings
from misiva.domain.users import Role
from misiva.runtime.wiring import Platform, build_platform
from misiva.web.deps import SESSION_COOKIE
from misiva.web.mount import mount_ui

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery staple"

# Routes no server's data stands behind, with the reason.
PUBLIC = {
    "GET /": "redirects to /ui",
    "GET /ui/login": "the sign-in page",
    "POST /ui/login": "signing in (rate limited; tests/web/test_ui.py)",
    "POST /ui/logout": "ends the caller's own session; takes no id",
    "MOUNT /ui/static": "CSS, JavaScript and images of the UI, no data",
}
# Pages of the whole installation: owners only. Alpha's users must be refused.
OWNER_ONLY = {
    "GET /ui/audit": "the audit log of every server",
    "GET /ui/servers/new": "creating a server",
    "POST /ui/servers/new": "creating a server",
}

Maker = Callable[[Estate, Route], list[Any]]
# Query parameters of pages: the studio's diff wants two versions. Other pages ignore them.
QUERY = {"from": "1", "to": "1"}


def _key(estate: Estate, route: Route) -> list[Any]:
    """`{key}` names a promo pool or an automation rule (a trigger), by the route's section."""
    if "/offers/pools/" in route.path:
        return [estate.ids["pool"]]
    assert "/automation/rules/" in route.path, f"{route.key}: no maker knows what {{key}} is"
    return [estate.ids["trigger"]]


def _message(estate: Estate, route: Route) -> list[Any]:
    if "/scheduled/" in route.path:
        return [estate.ids["scheduled_message_id"]]
    return [estate.ids["message_id"], estate.ids["scheduled_message_id"]]


# Path parameter → the owner's values (server_id is set by the walk itself).
PATH_MAKERS: dict[str, Maker] = {
    "message_id": _message,
    "captured_id": lambda e, _: [e.ids["captured_id"]],
    "template_id": lambda e, _: [e.ids["template_id"], e.ids["layout"]],
    "name": lambda e, _: [e.ids["domain"]],
    "delivery_id": lambda e, _: [e.ids["delivery_id"]],
    "email": lambda e, _: [e.ids["email"]],
    "token_id": lambda e, _: [e.ids["token_id"]],
    "stream_id": lambda e, _: [e.ids["stream"]],
    "key": _key,
    "block_id": lambda e, _: [e.ids["block_id"]],
    "event_id": lambda e, _: [e.ids["event_id"]],
}

Fields = Callable[[Estate, Estate], dict[str, Any]]

_RULE = {"description": "d", "event_name": "order.placed", "condition": "", "delay": "0"}
_RULE |= {"unit": "minutes", "not_before": "", "not_after": "", "cap_count": "", "tag": ""}
_RULE |= {"cap_hours": "", "dedupe_hours": "", "stream": "", "scheduled": "keep"}
_BLOCK = {"slot": "s", "rule": "", "priority": "1", "starts": "", "ends": "", "email": ""}
_BLOCK |= {"model": "{}", "variant": "", "locale": "", "html": "<p>taken over</p>"}


def _rule(a: Estate, b: Estate) -> dict[str, Any]:
    """A rule of alpha's sending bravo's template."""
    sender = f"hola@{a.name}.test"
    return _RULE | {"key": "alpha-rule-9", "template": b.ids["template_alias"], "sender": sender}


# Every form (POST) needs a case: its fields besides the CSRF token, naming bravo's resources
# where a form takes references; "files" for a multipart upload.
FORMS: dict[str, Fields] = {
    "POST /ui/me/language": lambda a, b: {"locale": "es"},
    "POST /ui/servers/{server_id}/templates/{template_id}": lambda a, b: {
        "action": "save",
        "note": "taken over",
        "subject": "taken over",
        "body": "<p>x</p>",
        "format": "html",
        "variant": "default",
        "layout": f"{b.name}-layout",
    },
    "POST /ui/servers/{server_id}/templates/{template_id}/preview": lambda a, b: {
        "variant": "default",
        "subject": "s",
        "body": "<p>x</p>",
        "layout": f"{b.name}-layout",
    },
    "POST /ui/servers/{server_id}/templates/{template_id}/publish": lambda a, b: {
        "version": "1",
        "locale": "",
    },
    "POST /ui/servers/{server_id}/domains": lambda a, b: {"domain": "alpha-two.test"},
    "POST /ui/servers/{server_id}/domains/{name}/rotate": lambda a, b: {"algorithm": "rsa"},
    "POST /ui/servers/{server_id}/domains/{name}/check": lambda a, b: {},
    "POST /ui/servers/{server_id}/webhooks/deliveries/{delivery_id}/replay": lambda a, b: {
        "webhook": str(b.ids["webhook_id"])
    },
    "POST /ui/servers/{server_id}/suppressions": lambda a, b: {
        "stream": "outbound",
        "email": f"{b.name}.gone@example.com",
        "reason": "r",
        "action": "remove",
    },
    "POST /ui/servers/{server_id}/contacts/{email}/erase": lambda a, b: {"confirm": "yes"},
    "POST /ui/servers/{server_id}/tokens": lambda a, b: {},
    "POST /ui/servers/{server_id}/tokens/{token_id}/revoke": lambda a, b: {},
    "POST /ui/servers/{server_id}/streams": lambda a, b: {
        "stream_id": "alpha-ui",
        "name": "x",
        "type": "Broadcasts",
        "description": "",
    },
    "POST /ui/servers/{server_id}/streams/{stream_id}": lambda a, b: {
        "name": "taken over",
        "description": "",
        "max_block_share": "",
        "track_links": "None",
    },
    "POST /ui/servers/{server_id}/streams/{stream_id}/archive": lambda a, b: {},
    "POST /ui/servers/{server_id}/streams/{stream_id}/unarchive": lambda a, b: {},
    "POST /ui/servers/{server_id}/alerts/thresholds": lambda a, b: {},
    "POST /ui/servers/{server_id}/alerts/check": lambda a, b: {},
    # A report about bravo's domain: kept under alpha by design, as through the API.
    "POST /ui/servers/{server_id}/dmarc": lambda a, b: {
        "files": {"report": ("r.xml", dmarc_report(b.ids["domain"]), "text/xml")},
        "echo": [b.ids["domain"]],
    },
    "POST /ui/servers/{server_id}/offers/pools": lambda a, b: {"key": "alpha-ui-pool"},
    "POST /ui/servers/{server_id}/offers/pools/{key}/import": lambda a, b: {
        "files": {"codes": (None, "alpha-taken-1")}
    },
    "POST /ui/servers/{server_id}/offers/pools/{key}/generate": lambda a, b: {
        "pattern": "T-####",
        "count": "1",
    },
    "POST /ui/servers/{server_id}/offers/blocks/new": lambda a, b: (
        _BLOCK | {"action": "save", "key": "alpha-ui-block"}
    ),
    "POST /ui/servers/{server_id}/offers/blocks/{block_id}": lambda a, b: (
        _BLOCK | {"action": "save", "key": "taken-over"}
    ),
    "POST /ui/servers/{server_id}/offers/blocks/{block_id}/delete": lambda a, b: {"confirm": "yes"},
    "POST /ui/servers/{server_id}/automation/rules/new": lambda a, b: _rule(a, b),
    "POST /ui/servers/{server_id}/automation/rules/{key}": lambda a, b: (
        _rule(a, b) | {"template": f"{a.name}-order"}
    ),
    "POST /ui/servers/{server_id}/automation/rules/{key}/pause": lambda a, b: {
        "scheduled": "cancel"
    },
    "POST /ui/servers/{server_id}/automation/rules/{key}/resume": lambda a, b: {},
    "POST /ui/servers/{server_id}/automation/rules/{key}/delete": lambda a, b: {
        "confirm": "yes",
        "scheduled": "cancel",
    },
    "POST /ui/servers/{server_id}/automation/scheduled/{message_id}/cancel": lambda a, b: {},
    "POST /ui/servers/new": lambda a, b: {"name": "delta"},
}


@dataclass
class Visitor:
    """A signed-in user of alpha's: the client with their cookie, and their CSRF token."""

    role: Role
    client: httpx.AsyncClient
    csrf: str

    async def call(
        self, route: Route, url: str, fields: dict[str, Any], query: dict[str, Any] | None = None
    ) -> httpx.Response:
        if route.method == "GET":
            return await self.client.get(url, params=QUERY | (query or {}))
        form = {k: v for k, v in fields.items() if k not in ("files", "echo")}
        if "files" in fields:
            files = {"csrf": (None, self.csrf), **fields["files"]}
            return await self.client.post(
                url, files=files | {k: (None, v) for k, v in form.items()}
            )
        return await self.client.post(url, data={"csrf": self.csrf, **form})


@dataclass
class Installation:
    platform: Platform
    app: Any
    alpha: Estate
    bravo: Estate
    visitors: list[Visitor]


@pytest.fixture
async def installation(database_url: str) -> AsyncIterator[Installation]:
    platform = build_platform(Settings(database_url=database_url, routes="*=capture"))
    alpha = await build_estate(platform, "alpha")
    bravo = await build_estate(platform, "bravo")
    app = mount_ui(create_app(platform.api_deps()), platform.web_deps())
    visitors = []
    for role in (Role.DEVELOPER, Role.MARKETER):
        email = f"{role.value}@alpha.test"
        await create_user(platform.db, email, PASSWORD, role, server_names=("alpha",))
        signed = await sign_in(platform.db, email, PASSWORD)
        assert signed is not None
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://misiva.test",
            cookies={SESSION_COOKIE: signed[0]},
        )
        visitors.append(Visitor(role, client, signed[1].csrf_token))
    yield Installation(platform, app, alpha, bravo, visitors)
    for visitor in visitors:
        await visitor.client.aclose()
    await platform.close()


def _url(route: Route, values: dict[str, Any]) -> str:
    path = route.path
    for name, value in values.items():
        path = path.replace(f"{{{name}}}", str(value)).replace(f"{{{name}:path}}", str(value))
    return path


def _cases(route: Route, server_id: int, owner: Estate) -> list[dict[str, Any]]:
    """The route's path filled with `owner`'s ids (server_id as given)."""
    combos: list[dict[str, Any]] = [{}]
    for name in route.params:
        if name == "server_id":
            combos = [{**c, name: server_id} for c in combos]
            continue
        maker = PATH_MAKERS.get(name)
        assert maker is not None, (
            f"{route.key} ({route.module}): no maker for path parameter {{{name}}}; add one to "
            "PATH_MAKERS in tests/web/test_tenant_isolation_ui.py"
        )
        combos = [{**c, name: v} for c in combos for v in maker(owner, route)]
    return combos


def check_coverage(routes: list[Route]) -> list[Route]:
    """The UI's own routes (the API's are walked by the API test), checked for cases."""
    keys = {r.key for r in routes}
    for table, name in ((PUBLIC, "PUBLIC"), (OWNER_ONLY, "OWNER_ONLY"), (FORMS, "FORMS")):
        assert not set(table) - keys, f"stale {name} entries: {sorted(set(table) - keys)}"
    walked = [r for r in routes if r.key not in PUBLIC]
    for route in walked:
        assert route.method in KNOWN_METHODS, f"{route.key}: no case for method {route.method}"
        if route.method != "GET":
            assert route.key in FORMS, (
                f"{route.key} ({route.module}) takes a form but has no case in FORMS: add one "
                "that names server bravo's resources where the form takes any"
            )
    return walked


def ui_routes(app: Any, platform: Platform) -> list[Route]:
    api = {r.key for r in route_table(create_app(platform.api_deps()))}
    return [r for r in route_table(app) if r.key not in api]


async def test_alpha_users_cannot_see_or_change_anything_of_bravo_on_any_ui_page(
    installation: Installation,
) -> None:
    platform, alpha, bravo = installation.platform, installation.alpha, installation.bravo
    walked = check_coverage(ui_routes(installation.app, platform))
    # Pages first, then forms; deleting ones last so each form still finds its target.
    walked.sort(key=lambda r: (r.method != "GET", "delete" in r.path or "erase" in r.path, r.path))
    # First (the forms below delete some of alpha's things too): each page opens for alpha.
    closed = await _controls(installation, walked)
    assert not closed, f"pages that do not open with alpha's own ids either: {closed}"
    before = owned(await all_rows(platform.db), bravo.server_id)
    problems: list[str] = []
    calls = 0
    started = time.monotonic()
    for route in walked:
        fields = FORMS[route.key](alpha, bravo) if route.key in FORMS else {}
        for n, visitor in enumerate(installation.visitors):
            for values, query in _variants(route, alpha, bravo):
                if n and values.get("server_id") == bravo.server_id:
                    continue  # refused before any role is looked at: once is enough
                url = _url(route, values)
                answer = await visitor.call(route, url, fields, query)
                calls += 1
                where = f"{visitor.role.value} {route.method} {url} {query or ''}"
                echoed = strings_in(values) + strings_in(fields) + fields.get("echo", [])
                echoed += strings_in(query)
                found = leaks(answer.text, bravo.markers, echoed)
                if answer.status_code >= 500 or (answer.status_code < 400 and found):
                    problems.append(f"{where}: {answer.status_code} {found}")
                if values.get("server_id") == bravo.server_id and answer.status_code not in (
                    403,
                    404,
                ):
                    problems.append(f"{where}: {answer.status_code} on bravo's server")
                if route.key in OWNER_ONLY and answer.status_code not in (403, 404):
                    problems.append(f"{where}: {answer.status_code}, owners only")
        if route.method != "GET":
            # Once per route (each snapshot reads every table): the message names the route.
            after = owned(await all_rows(platform.db), bravo.server_id)
            if after != before:
                problems.append(f"{route.key} changed bravo: {changed_tables(before, after)}")
                before = after
    rows = await all_rows(platform.db)
    if owned(rows, bravo.server_id) != before:
        problems.append(
            f"pages changed bravo: {changed_tables(before, owned(rows, bravo.server_id))}"
        )
    problems += cross_references(rows, alpha.server_id, bravo.server_id)
    assert cross_references(rows, alpha.server_id, alpha.server_id), "the link check sees nothing"
    took = time.monotonic() - started
    print(f"{len(walked)} UI routes, {calls} calls by alpha's users, {took:.1f}s")
    assert not problems, "\n".join(problems)


def _variants(
    route: Route, alpha: Estate, bravo: Estate
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(path values, query) of each call: bravo's server with bravo's ids; alpha's server with
    bravo's ids (alpha's own pages are read too: no bravo in them; its forms name bravo's
    things where they take any); alpha's forms on alpha's own ids; and alpha's list pages
    filtered by bravo's ids."""
    if "server_id" not in route.params:
        return [(v, {}) for v in _cases(route, alpha.server_id, bravo)]
    found = _cases(route, bravo.server_id, bravo) + _cases(route, alpha.server_id, bravo)
    if route.method == "POST" and route.params != ["server_id"]:
        # Alpha's own things with a form that names bravo's (its template, bravo's layout).
        found += _cases(route, alpha.server_id, alpha)
    calls: list[tuple[dict[str, Any], dict[str, Any]]] = [(v, {}) for v in found]
    if route.method == "GET" and route.params == ["server_id"]:
        # All filters at once: pages ignore the ones they do not take.
        calls.append(({"server_id": alpha.server_id}, filters(bravo)))
    return calls


async def _controls(installation: Installation, walked: list[Route]) -> list[str]:
    """With alpha's own ids, each page with an id opens (200) for one of alpha's users at
    least: the refusals bravo's ids got are about ownership, not a malformed case."""
    alpha = installation.alpha
    closed = []
    # The leak check can see: alpha's own page names alpha as bravo's would name bravo.
    home = await installation.visitors[0].call(Route("GET", "/ui", "routes"), "/ui", {})
    assert leaks(home.text, alpha.markers, []), "the page shows none of alpha's markers"
    for route in walked:
        if route.method != "GET" or not route.params or route.key in OWNER_ONLY:
            continue
        statuses = [
            (await visitor.call(route, _url(route, values), {})).status_code
            for visitor in installation.visitors
            for values in _cases(route, alpha.server_id, alpha)
        ]
        if 200 not in statuses:
            closed.append(f"{route.key}: {statuses}")
    return closed


def test_a_route_without_a_case_fails_the_walk_by_name() -> None:
    """What a new route meets: the walk names it and says which table wants an entry."""
    thing = Route("GET", "/ui/servers/{server_id}/things/{thing_id}", "routes_things")
    with pytest.raises(AssertionError, match=r"no maker for path parameter \{thing_id\}"):
        _cases(thing, 1, Estate("bravo", 2, "t"))
    form = Route("POST", "/ui/servers/{server_id}/things", "routes_things")
    with pytest.raises(AssertionError, match="takes a form but has no case in FORMS"):
        check_coverage([*_listed_routes(), form])
    with pytest.raises(AssertionError, match="no case for method OPTIONS"):
        check_coverage([*_listed_routes(), Route("OPTIONS", "/ui/things", "routes_things")])
    with pytest.raises(AssertionError, match="stale PUBLIC entries"):
        check_coverage([r for r in _listed_routes() if r.key != "GET /ui/login"])


def _listed_routes() -> list[Route]:
    """Routes for every entry of the tables above, so that none is stale."""
    keys = {*PUBLIC, *OWNER_ONLY, *FORMS}
    return [Route(*key.split(" ", 1), "listed") for key in sorted(keys)]
