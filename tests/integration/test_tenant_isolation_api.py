"""Tenant isolation of the HTTP API, generated from its route table on SQLite and PostgreSQL.

Two servers, alpha and bravo, each own one of every kind of resource. Every route the app
answers is called with alpha's token and bravo's ids in its path (and, for routes that take a
body, bravo's resources referenced in it): alpha must be refused or get only its own data, and
every row bravo owns must be exactly as it was. A route with a path parameter, method or body
this file has no case for fails the test, so a new route cannot slip by uncovered."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from isolation_makers import (
    KNOWN_METHODS,
    Estate,
    Route,
    all_rows,
    api_client,
    build_estate,
    changed_tables,
    cross_references,
    dmarc_report,
    filters,
    leaks,
    owned,
    ownership_gaps,
    route_table,
    strings_in,
)
from misiva.api.app import create_app
from misiva.runtime.wiring import Platform

pytestmark = pytest.mark.slow

# Routes anyone may call, with the reason. Everything else must refuse a missing token.
PUBLIC = {
    "GET /openapi.json": "the API's own description, no data",
    "GET /docs": "Swagger UI page, no data",
    "GET /docs/oauth2-redirect": "Swagger UI helper page, no data",
    "GET /redoc": "ReDoc page, no data",
    # The signed token in these URLs is the authorisation: HMAC with the server's secret,
    # scoped to one message and one recipient (tests/unit and the tracking tests check it).
    "GET /t/o/{token}": "open pixel: signed URL token",
    "GET /t/c/{token}": "click redirect: signed URL token",
    "GET /unsubscribe/{token}": "unsubscribe page (RFC 8058): signed URL token",
    "POST /unsubscribe/{token}": "one-click unsubscribe (RFC 8058): signed URL token",
    "GET /preferences/{token}": "preference centre: signed URL token",
    "POST /preferences/{token}": "preference centre: signed URL token",
    "GET /subscriptions/confirm/{token}": "double opt-in confirmation: signed URL token",
}

Maker = Callable[[Estate, Route], list[Any]]


def _key(estate: Estate, route: Route) -> list[Any]:
    """`{key}` names a promo pool or a trigger: which one is the route's first word."""
    kinds = {"/promo-pools/": "pool", "/triggers/": "trigger"}
    kind = next((k for prefix, k in kinds.items() if route.path.startswith(prefix)), None)
    assert kind is not None, f"{route.key}: no maker knows what {{key}} names here"
    return [estate.ids[kind]]


def _message(estate: Estate, route: Route) -> list[Any]:
    if route.path.startswith("/scheduled-messages/"):
        return [estate.ids["scheduled_message_id"]]
    return [estate.ids["message_id"], estate.ids["scheduled_message_id"]]


# Path parameter → bravo's values for it. Words that are not ids (a report's name, a metric)
# take a valid word: alpha then reads or changes only its own settings.
PATH_MAKERS: dict[str, Maker] = {
    "message_id": _message,
    "email": lambda e, _: [e.ids["email"]],
    "id_or_alias": lambda e, _: [e.ids["template_id"], e.ids["template_alias"], e.ids["layout"]],
    "bounce_id": lambda e, _: [e.ids["bounce_id"]],
    "stream": lambda e, _: [e.ids["stream"]],
    "stream_id": lambda e, _: [e.ids["stream"]],
    "webhook_id": lambda e, _: [e.ids["webhook_id"]],
    "delivery_id": lambda e, _: [e.ids["delivery_id"]],
    "report_id": lambda e, _: [e.ids["report_id"]],
    "block_id": lambda e, _: [e.ids["block_id"]],
    "key": _key,
    "code": lambda e, _: e.ids["codes"],
    "event_id": lambda e, _: [e.ids["event_id"]],
    "report": lambda _e, _r: ["sends"],
    "breakdown": lambda _e, _r: ["platforms"],
    "metric": lambda _e, _r: ["bounce_rate"],
}

Body = Callable[[Estate, Estate], dict[str, Any]]


def _send(a: Estate, b: Estate) -> dict[str, Any]:
    """A send from alpha's domain into bravo's stream."""
    to = "alpha.someone@example.com"
    return {"From": f"hola@{a.name}.test", "To": to, "Subject": "s", "TextBody": "t"} | {
        "MessageStream": b.ids["stream"]
    }


def _templated(a: Estate, b: Estate) -> dict[str, Any]:
    """A send from alpha with bravo's template."""
    to = "alpha.someone@example.com"
    return {"From": f"hola@{a.name}.test", "To": to, "TemplateId": b.ids["template_id"]} | {
        "TemplateModel": {"n": 1}
    }


def _rule(a: Estate, b: Estate) -> dict[str, Any]:
    """A trigger of alpha's sending bravo's template."""
    return {"Key": "alpha-rule-2", "EventName": "order.placed", "From": f"hola@{a.name}.test"} | {
        "Template": b.ids["template_alias"]
    }


# Every route that writes needs a body case: what alpha sends, referencing bravo's resources
# where the route takes references. `{}` = no body; json= or content= for httpx; echo= what
# an answer may repeat of a body that is not JSON.
BODIES: dict[str, Body] = {
    "POST /email": lambda a, b: {"json": _send(a, b)},
    "POST /email/batch": lambda a, b: {"json": [_send(a, b)]},
    "POST /email/withTemplate": lambda a, b: {"json": _templated(a, b)},
    "POST /email/batchWithTemplates": lambda a, b: {"json": {"Messages": [_templated(a, b)]}},
    "POST /contacts": lambda a, b: {"json": {"Email": "alpha.new@example.com", "FirstName": "N"}},
    "DELETE /contacts/{email}": lambda a, b: {},
    "POST /subscriptions": lambda a, b: {
        "json": {"Email": "alpha.sub@example.com", "MessageStream": b.ids["stream"]}
    },
    "POST /subscriptions/resend": lambda a, b: {
        "json": {"Email": b.ids["email"], "MessageStream": b.ids["stream"]}
    },
    "POST /templates": lambda a, b: {
        "json": {"Name": "n", "Alias": "alpha-new", "Subject": "s", "HtmlBody": "<p>x</p>"}
        | {"LayoutTemplate": f"{b.name}-layout"}
    },
    "POST /templates/validate": lambda a, b: {
        "json": {"Subject": "s", "HtmlBody": "<p>x</p>", "LayoutTemplate": f"{b.name}-layout"}
    },
    "PUT /templates/{id_or_alias}": lambda a, b: {
        "json": {"Subject": "taken over", "LayoutTemplate": f"{b.name}-layout"}
    },
    "DELETE /templates/{id_or_alias}": lambda a, b: {},
    "POST /templates/{id_or_alias}/versions": lambda a, b: {
        "json": {"Subject": "taken over", "HtmlBody": "<p>x</p>"}
    },
    "POST /templates/{id_or_alias}/publish": lambda a, b: {"json": {"Version": 1}},
    "POST /templates/{id_or_alias}/spamcheck": lambda a, b: {"json": {}},
    "PUT /bounces/{bounce_id}/activate": lambda a, b: {},
    "POST /message-streams/{stream}/suppressions": lambda a, b: {
        "json": {"Suppressions": [{"EmailAddress": "alpha.x@example.com"}]}
    },
    "POST /message-streams/{stream}/suppressions/delete": lambda a, b: {
        "json": {"Suppressions": [{"EmailAddress": f"{b.name}.gone@example.com"}]}
    },
    "POST /message-streams": lambda a, b: {
        "json": {"ID": "alpha-extra", "Name": "x", "MessageStreamType": "Broadcasts"}
    },
    "PATCH /message-streams/{stream_id}": lambda a, b: {"json": {"Name": "taken over"}},
    "POST /message-streams/{stream_id}/archive": lambda a, b: {},
    "POST /message-streams/{stream_id}/unarchive": lambda a, b: {},
    "POST /webhooks": lambda a, b: {
        "json": {"Url": "http://127.0.0.1:9/alpha-2", "MessageStream": b.ids["stream"]}
    },
    "PUT /webhooks/{webhook_id}": lambda a, b: {"json": {"Url": "http://127.0.0.1:9/taken"}},
    "DELETE /webhooks/{webhook_id}": lambda a, b: {},
    "POST /webhooks/deliveries/{delivery_id}/replay": lambda a, b: {},
    "PUT /alerts/thresholds/{metric}": lambda a, b: {"json": {"Warning": 0.1, "Danger": 0.2}},
    # A report about bravo's domain, uploaded by alpha: kept under alpha by design (who holds
    # a server's token vouches for the file), and it names the domain it is about.
    "POST /dmarc/reports": lambda a, b: {
        "content": dmarc_report(b.ids["domain"]),
        "echo": [b.ids["domain"]],
    },
    "POST /content-blocks": lambda a, b: {
        "json": {"Key": "alpha-block-2", "Slot": "s", "Priority": 1}
        | {"Contents": {"default": {"HtmlBody": "<p>x</p>"}}}
    },
    "PATCH /content-blocks/{block_id}": lambda a, b: {"json": {"Priority": 9}},
    "DELETE /content-blocks/{block_id}": lambda a, b: {},
    "POST /content-blocks/{block_id}/test": lambda a, b: {
        "json": {"Email": "alpha.someone@example.com"}
    },
    "POST /promo-pools": lambda a, b: {"json": {"Key": "alpha-pool-2"}},
    "POST /promo-pools/{key}/codes": lambda a, b: {"json": ["alpha-taken-1"]},
    "POST /promo-pools/{key}/generate": lambda a, b: {"json": {"Pattern": "T-####", "Count": 1}},
    "POST /promo-codes/{code}/redeem": lambda a, b: {"json": {}},
    "POST /conversions": lambda a, b: {
        "json": {"MessageID": b.ids["message_id"], "Value": "5", "Currency": "EUR"}
        | {"OrderID": "alpha-o-9"}
    },
    "POST /events": lambda a, b: {
        "json": {"Name": "order.placed", "Email": "alpha.x@example.com", "EventID": "alpha-e9"}
    },
    "POST /events/batch": lambda a, b: {
        "json": [{"Name": "order.placed", "Email": "alpha.x@example.com", "EventID": "alpha-e8"}]
    },
    "POST /triggers": lambda a, b: {"json": _rule(a, b)},
    "PATCH /triggers/{key}": lambda a, b: {"json": {"DelayMinutes": 5}},
    "POST /triggers/{key}/pause": lambda a, b: {"json": {"Scheduled": "cancel"}},
    "POST /triggers/{key}/resume": lambda a, b: {},
    "DELETE /triggers/{key}": lambda a, b: {},
    "POST /triggers/{key}/dry-run": lambda a, b: {"json": {}},
    "POST /triggers/dry-run": lambda a, b: {"json": {"Definition": _rule(a, b)}},
    "DELETE /scheduled-messages/{message_id}": lambda a, b: {},
}

# Query parameters: lists want a page, a diff wants two versions. Extra ones are ignored.
QUERY = {"count": 50, "offset": 0, "from": 1, "to": 1}

# Statuses that refuse: 4xx of any kind (Postmark answers a missing id with 422).
REFUSED = range(400, 500)


def _url(route: Route, values: dict[str, Any]) -> str:
    path = route.path
    for name, value in values.items():
        path = path.replace(f"{{{name}}}", str(value)).replace(f"{{{name}:path}}", str(value))
    return path


def _cases(route: Route, owner: Estate) -> list[dict[str, Any]]:
    """Every combination of the makers' values for the route's parameters (each maker gives
    one to three values; no route has two parameters, so this stays small)."""
    combos: list[dict[str, Any]] = [{}]
    for name in route.params:
        maker = PATH_MAKERS.get(name)
        assert maker is not None, (
            f"{route.key} ({route.module}): no maker for path parameter {{{name}}}; add one to "
            "PATH_MAKERS in tests/integration/test_tenant_isolation_api.py"
        )
        combos = [{**c, name: v} for c in combos for v in maker(owner, route)]
    return combos


def check_coverage(routes: list[Route]) -> list[Route]:
    """The routes to walk; fails on what the walk would not know how to call."""
    keys = {r.key for r in routes}
    assert not set(PUBLIC) - keys, f"stale PUBLIC entries: {sorted(set(PUBLIC) - keys)}"
    assert not set(BODIES) - keys, f"stale BODIES entries: {sorted(set(BODIES) - keys)}"
    walked = [r for r in routes if r.key not in PUBLIC]
    for route in walked:
        assert route.method in KNOWN_METHODS, f"{route.key}: no case for method {route.method}"
        if route.method != "GET":
            assert route.key in BODIES, (
                f"{route.key} ({route.module}) writes but has no body case in BODIES: add "
                "one that references server bravo's resources where the route takes any"
            )
    return walked


def _calls(route: Route, bravo: Estate) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(path values, extra query) of each call: a list is also asked once per filter naming
    one of bravo's resources."""
    plain = [(values, {}) for values in _cases(route, bravo)]
    if route.method != "GET" or route.params:
        return plain
    return plain + [({}, {name: value}) for name, value in filters(bravo).items()]


async def _call(
    client: httpx.AsyncClient,
    route: Route,
    url: str,
    body: dict[str, Any],
    query: dict[str, Any] | None = None,
) -> httpx.Response:
    params = QUERY | (query or {}) if route.method == "GET" else None
    sent = {k: v for k, v in body.items() if k != "echo"}
    return await client.request(route.method, url, params=params, **sent)


# Routes alpha's own call may refuse too, with the reason: for the others, alpha's call with
# its own ids succeeds, which shows that the refusal bravo's ids got is about ownership and
# not about a malformed case.
CONTROL_REFUSALS = {
    "POST /templates/{id_or_alias}/spamcheck": "needs MISIVA_SPAMD_ADDR (tests/integration/"
    "test_spam_scoring.py covers it with a real spamd)",
    "POST /triggers": "the case names bravo's template in its body, refused for alpha as well",
    "POST /email": "the case sends into bravo's stream, refused for alpha as well",
    "POST /email/withTemplate": "the case names bravo's template, refused for alpha as well",
    "POST /templates": "the case names bravo's layout, refused for alpha as well",
    "PUT /templates/{id_or_alias}": "the case names bravo's layout, refused for alpha as well",
    "POST /conversions": "the case names bravo's message, refused for alpha as well",
    "POST /subscriptions": "the case names bravo's stream, refused for alpha as well",
    "POST /subscriptions/resend": "the case names bravo's stream, refused for alpha as well",
    "POST /webhooks": "the case names bravo's stream, refused for alpha as well (1235)",
}


async def _controls(
    api: httpx.AsyncClient,
    walked: list[Route],
    alpha: Estate,
    bravo: Estate,
    refused_for_bravo: set[str],
) -> tuple[list[str], list[str]]:
    """Each route's case with alpha's own ids: the routes whose every call alpha was refused,
    and any answer that shows bravo's data (the bodies still name bravo's resources: alpha's
    own template with bravo's layout, and so on)."""
    refused, leaked = [], []
    for route in walked:
        if not route.params and route.key not in refused_for_bravo:
            continue  # alpha's call above succeeded: it is its own control
        body = BODIES[route.key](alpha, bravo) if route.key in BODIES else {}
        statuses = []
        for values in _cases(route, alpha):
            answer = await _call(api, route, _url(route, values), body)
            statuses.append(answer.status_code)
            echoed = strings_in(body.get("json")) + body.get("echo", [])
            if answer.status_code < 400 and leaks(answer.text, bravo.markers, echoed):
                leaked.append(f"{route.key} {values}: {answer.text[:300]}")
        if all(code >= 300 for code in statuses):
            refused.append(f"{route.key}: {statuses}")
    return refused, leaked


@pytest.fixture
async def estates(platform: Platform) -> tuple[Estate, Estate]:
    return await build_estate(platform, "alpha"), await build_estate(platform, "bravo")


# Postmark's test token validates a send and delivers nothing: the only routes it may call.
TEST_TOKEN_SENDS = {"POST /email", "POST /email/batch", "POST /email/withTemplate"}
TEST_TOKEN_SENDS |= {"POST /email/batchWithTemplates"}


async def test_alpha_cannot_read_or_change_anything_of_bravo_through_any_api_route(
    platform: Platform, estates: tuple[Estate, Estate]
) -> None:
    alpha, bravo = estates
    assert not ownership_gaps(), f"tables no server owns: {ownership_gaps()}"
    app = create_app(platform.api_deps())
    walked = check_coverage(route_table(app))
    # Reads first, then writes; destructive ones last so each write still finds its target.
    order = {"GET": 0, "POST": 1, "PUT": 1, "PATCH": 1, "DELETE": 2}
    walked.sort(key=lambda r: (order[r.method], r.path.endswith("archive"), r.path))
    await _no_server_no_data(app, platform, walked, alpha, bravo)
    started = time.monotonic()
    walk = Walk(bravo.server_id, owned(await all_rows(platform.db), bravo.server_id))
    async with api_client(app, alpha.token) as api:
        for route in walked:
            await walk.route(api, route, alpha, bravo)
            if route.method != "GET":
                # Once per route (a snapshot reads every table): the message names the route.
                await walk.compare(platform, route.key)
    rows = await all_rows(platform.db)
    await walk.compare(platform, "the reads")
    walk.problems += cross_references(rows, alpha.server_id, bravo.server_id)
    assert cross_references(rows, alpha.server_id, alpha.server_id), "the link check sees nothing"
    took = time.monotonic() - started
    print(f"{len(walked)} API routes, {walk.calls} calls as alpha, {took:.1f}s")
    assert not walk.problems, "\n".join(walk.problems)
    async with api_client(app, alpha.token) as api:
        refused, leaked = await _controls(api, walked, alpha, bravo, walk.refused)
    assert not leaked, "\n".join(leaked)
    rows = await all_rows(platform.db)
    assert owned(rows, bravo.server_id) == walk.before, "alpha's own calls changed bravo"
    assert not cross_references(rows, alpha.server_id, bravo.server_id)
    unexpected = [r for r in refused if r.partition(":")[0] not in CONTROL_REFUSALS]
    assert not unexpected, f"alpha's own call refused too, the case proves nothing: {unexpected}"
    stale = set(CONTROL_REFUSALS) - {r.partition(":")[0] for r in refused}
    assert not stale, f"stale CONTROL_REFUSALS (these succeed now): {sorted(stale)}"
    async with api_client(app, bravo.token) as own:
        # The leak check can see: bravo's own list shows bravo's markers.
        listed = await own.get("/messages/outbound", params=QUERY)
        assert leaks(listed.text, bravo.markers, []), "bravo's markers are invisible"


class Walk:
    """Alpha's calls with bravo's ids: what went wrong, and which routes refused them."""

    def __init__(self, bravo_id: int, before: dict[str, list[str]]) -> None:
        self.bravo_id = bravo_id
        self.before = before
        self.problems: list[str] = []
        self.refused: set[str] = set()
        self.calls = 0

    async def route(
        self, api: httpx.AsyncClient, route: Route, alpha: Estate, bravo: Estate
    ) -> None:
        body = BODIES[route.key](alpha, bravo) if route.key in BODIES else {}
        for values, query in _calls(route, bravo):
            url = _url(route, values)
            answer = await _call(api, route, url, body, query)
            self.calls += 1
            if answer.status_code in REFUSED:
                self.refused.add(route.key)
            echoed = strings_in(values) + strings_in(body.get("json")) + body.get("echo", [])
            found = leaks(answer.text, bravo.markers, echoed + strings_in(query))
            if answer.status_code >= 500 or (answer.status_code not in REFUSED and found):
                self.problems.append(f"{route.key} {url}: {answer.status_code} {found}")

    async def compare(self, platform: Platform, what: str) -> None:
        after = owned(await all_rows(platform.db), self.bravo_id)
        if after != self.before:
            self.problems.append(f"{what} changed bravo: {changed_tables(self.before, after)}")
            self.before = after


async def _no_server_no_data(
    app: Any, platform: Platform, walked: list[Route], alpha: Estate, bravo: Estate
) -> None:
    """Without a token every route but the public ones answers 401; with Postmark's test
    token (POSTMARK_API_TEST, no server behind it) so does every route but the sends, and
    its sends store nothing."""
    before = await all_rows(platform.db)
    wrong = []
    for token in (None, "POSTMARK_API_TEST"):
        async with api_client(app, token) as client:
            for route in walked:
                body = BODIES[route.key](alpha, bravo) if route.key in BODIES else {}
                for values in _cases(route, bravo):
                    answer = await _call(client, route, _url(route, values), body)
                    sends = token is not None and route.key in TEST_TOKEN_SENDS
                    if (answer.status_code == 401) == sends or answer.status_code >= 500:
                        wrong.append(f"{token} {route.key}: {answer.status_code}")
    assert not wrong, wrong
    after = await all_rows(platform.db)
    assert before == after, "calls without a server changed the database"


def test_a_route_without_a_case_fails_the_walk_by_name() -> None:
    """What a new route meets: the walk names it and says which table wants an entry."""
    thing = Route("GET", "/things/{thing_id}", "routes_things")
    with pytest.raises(AssertionError, match=r"no maker for path parameter \{thing_id\}"):
        _cases(thing, Estate("bravo", 2, "t"))
    listed = [Route(*key.split(" ", 1), "listed") for key in sorted({*PUBLIC, *BODIES})]
    with pytest.raises(AssertionError, match="writes but has no body case in BODIES"):
        check_coverage([*listed, Route("POST", "/things", "routes_things")])
    with pytest.raises(AssertionError, match="no case for method OPTIONS"):
        check_coverage([*listed, Route("OPTIONS", "/things", "routes_things")])
    with pytest.raises(AssertionError, match="stale PUBLIC entries"):
        check_coverage([r for r in listed if r.key != "GET /redoc"])
