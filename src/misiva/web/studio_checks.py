"""The studio's content checks: the lint of the live preview, the "Spam score" panel, and the
publish gate (a marketer may not publish what fails the checks; a developer is warned)."""

from __future__ import annotations

from dataclasses import dataclass

from misiva.authoring.content_checks import ContentChecker, ContentReport, VariantCheck
from misiva.authoring.preview import Draft, Preview
from misiva.domain.content import LintCode, LintFinding, Severity
from misiva.domain.records import Server
from misiva.spam.spamd import SpamdUnavailable
from misiva.storage import Database
from misiva.web.i18n import N_

# A title per lint rule in the reader's language; the detail stays in English (it names
# standards and limits, and comes from the lint library, which has no catalogue).
LINT_TITLES = {
    LintCode.TEXT_MISSING: N_("No plain-text part"),
    LintCode.TEXT_DERIVED: N_("Plain text derived from the HTML"),
    LintCode.ALT_MISSING: N_("Image without alt text"),
    LintCode.IMAGES_ONLY: N_("Mostly images, little text"),
    LintCode.HTML_CLIPPED: N_("HTML too large: Gmail clips it"),
    LintCode.LINK_INSECURE: N_("Link over plain HTTP"),
    LintCode.LINK_SHORTENER: N_("Link through a URL shortener"),
    LintCode.LINK_TEXT_MISMATCH: N_("Link text shows another site"),
    LintCode.UNSUBSCRIBE_MISSING: N_("No unsubscribe link"),
    LintCode.PASSWORD_VARIABLE: N_("A password in the email"),
    LintCode.PROMOTIONAL_CONTENT: N_("Mostly promotional"),
}
SEVERITIES = {Severity.ERROR: N_("Error"), Severity.WARNING: N_("Warning")}


@dataclass(frozen=True, slots=True)
class SpamPanel:
    """What the "Spam score" panel shows: a score and its rules, or why there is none."""

    configured: bool
    threshold: float
    check: VariantCheck | None = None
    error: str | None = None

    @property
    def over(self) -> bool:
        spam = self.check.spam if self.check else None
        return spam is not None and spam.score >= self.threshold


async def lint_preview(
    checker: ContentChecker, preview: Preview, draft: Draft
) -> list[LintFinding]:
    """The preview's lint findings (nothing to lint when it did not render)."""
    check = await checker.check_preview(preview, draft, None, score=False)
    return list(check.findings)


async def spam_panel(
    checker: ContentChecker, preview: Preview, draft: Draft, sender_domain: str | None
) -> SpamPanel:
    """Score what the editor holds now, saved or not, as the test send would send it."""
    if checker.spamd is None:
        return SpamPanel(False, checker.threshold)
    if preview.rendered is None:
        error = "; ".join(p.message for p in preview.problems)
        return SpamPanel(True, checker.threshold, error=error or None)
    try:
        check = await checker.check_preview(preview, draft, sender_domain)
    except SpamdUnavailable as failed:
        return SpamPanel(True, checker.threshold, error=failed.message)
    return SpamPanel(True, checker.threshold, check)


async def publish_report(
    checker: ContentChecker,
    db: Database,
    server: Server,
    template_id: int,
    number: int,
    sender_domain: str | None,
) -> ContentReport:
    """The checks of the version about to be published; spamd failing is noted in the
    report (a marketer is then refused), never raised. NotFound for an unknown version."""
    _, report = await checker.check_version(
        db, server, template_id, number, sender_domain=sender_domain, strict=False
    )
    return report
