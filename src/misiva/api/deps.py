"""What the HTTP door needs from the rest of Misiva, handed over by the runtime."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from misiva.accounts.throttle import AuthGuard
from misiva.authoring.content_checks import ContentChecker
from misiva.domain.clock import Clock
from misiva.feedback.engagement import Engagement
from misiva.ingest.accept import Ingestor
from misiva.ingest.tenants import ServerContext, ServerDirectory
from misiva.storage import Database
from misiva.subscriptions.optin import OptIn
from misiva.subscriptions.recipient import RecipientLinks
from misiva.tracking.consent_tokens import ConsentLinks
from misiva.webhooks.targets import WebhookTargets

TEST_TOKEN = "POSTMARK_API_TEST"


def _nothing() -> None:
    return None


TOKEN_HEADER = "X-Postmark-Server-Token"


@dataclass(frozen=True, slots=True)
class ApiDeps:
    db: Database
    directory: ServerDirectory
    ingestor: Ingestor
    clock: Clock
    engagement: Engagement
    links: ConsentLinks
    recipient_links: RecipientLinks
    opt_in: OptIn
    # Content lint and spam scores of templates (spamd when MISIVA_SPAMD_ADDR is set).
    content_checks: ContentChecker = field(default_factory=ContentChecker)
    # MISIVA_BOUNCE_DOMAIN: the Return-Path domain the sender requirements check aligns.
    bounce_domain: str | None = None
    # Wakes the scheduled-message releaser (ingest.scheduled) after a commit that scheduled
    # something due now (a trigger's "send at once"), so it leaves in milliseconds rather
    # than at the releaser's next pass.
    release_scheduled: Callable[[], None] = _nothing
    # Wrong server tokens per client address (api/rate_limit.py), in this process; the
    # runtime builds it from MISIVA_API_AUTH_FAILURES and MISIVA_API_AUTH_WINDOW_SECONDS.
    auth_failures: AuthGuard = field(default_factory=lambda: AuthGuard(30, 60.0))
    # Which webhook URLs may be saved: public addresses only unless
    # MISIVA_WEBHOOK_ALLOW_PRIVATE_TARGETS (webhooks/targets.py).
    webhook_targets: WebhookTargets = field(default_factory=WebhookTargets)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: a server (by its token) or Postmark's test token."""

    token: str
    context: ServerContext | None

    @property
    def is_test(self) -> bool:
        return self.context is None
