"""Security headers on every UI response, pages or not (redirects, static files, errors).

`web.render.page` sets the full policy on the pages it renders; this middleware makes sure
nothing under /ui leaves without the essentials, and adds HSTS where the request came over
HTTPS: directly, or through a proxy that says so in X-Forwarded-Proto (the same trust as
`secure_cookies`; a client that fakes the header on plain HTTP gains nothing, since browsers
ignore HSTS received over HTTP, RFC 6797 §8.1).
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from misiva.web.render import PRIVATE_HEADERS

# A year, the value HSTS preload lists ask for; no includeSubDomains: the operator's other
# hosts under the same domain are not Misiva's to decide.
HSTS = "max-age=31536000"
ESSENTIALS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": PRIVATE_HEADERS["Referrer-Policy"],
    "X-Frame-Options": PRIVATE_HEADERS["X-Frame-Options"],
    "Content-Security-Policy": PRIVATE_HEADERS["Content-Security-Policy"],
}


def over_https(scope: Scope) -> bool:
    forwarded = Headers(scope=scope).get("x-forwarded-proto", "")
    return scope.get("scheme") == "https" or forwarded.strip().lower() == "https"


class SecurityHeaders:
    """ASGI middleware: the essentials on /ui (and on `/`, which leads there), HSTS on HTTPS."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        ui = path == "/" or path == "/ui" or path.startswith("/ui/")
        https = over_https(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if ui:
                    for name, value in ESSENTIALS.items():
                        if name not in headers:
                            headers[name] = value
                if https:
                    headers["Strict-Transport-Security"] = HSTS
            await send(message)

        await self.app(scope, receive, send_with_headers)
