"""What the UI needs from the rest of Misiva, and who is signed in on a request."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from misiva.accounts.throttle import AuthGuard
from misiva.accounts.users import Session, session_for
from misiva.authoring.content_checks import ContentChecker
from misiva.domain.clock import Clock
from misiva.ingest.accept import Ingestor
from misiva.ingest.tenants import ServerDirectory
from misiva.scheduler.domain_checks import DomainChecker
from misiva.storage import Database

SESSION_COOKIE = "misiva_session"
LOGIN_CSRF_COOKIE = "misiva_login_csrf"


@dataclass(frozen=True, slots=True)
class WebDeps:
    db: Database
    clock: Clock
    # Failed sign-ins per client address (in this process; each API process keeps its own).
    logins: AuthGuard
    # The API's own: a test sent from the studio is accepted like any other message, and a
    # change to a server's streams refreshes the same cached context the API reads.
    ingestor: Ingestor
    directory: ServerDirectory
    # Checks a sending domain's DNS records with the configured resolver.
    domain_checker: DomainChecker
    # Content lint and spam scores of templates (spamd when MISIVA_SPAMD_ADDR is set).
    content_checks: ContentChecker = field(default_factory=ContentChecker)


def web_deps(request: Request) -> WebDeps:
    deps = request.app.state.web
    assert isinstance(deps, WebDeps)
    return deps


async def current_session(request: Request) -> Session | None:
    deps = web_deps(request)
    return await session_for(deps.db, request.cookies.get(SESSION_COOKIE), clock=deps.clock)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def secure_cookies(request: Request) -> bool:
    """Secure cookies on HTTPS, as a proxy in front of Misiva reports it too."""
    forwarded = request.headers.get("x-forwarded-proto", "")
    return request.url.scheme == "https" or forwarded.lower() == "https"
