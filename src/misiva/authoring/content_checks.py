"""Content checks of a template: lint each locale variant as rendered with its test data, and
score it with SpamAssassin; what a publish shows, and what blocks a marketer's."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from misiva.authoring import templates as authoring
from misiva.authoring.block_share import placed_slots, widest_filler
from misiva.authoring.lines import missing_problems
from misiva.authoring.preview import Draft, Preview, PreviewData, preview_draft
from misiva.domain.clock import utcnow
from misiva.domain.content import LintFinding, Severity, SpamScore, StreamUse
from misiva.domain.enums import ErrorCode
from misiva.domain.errors import InvalidRequest
from misiva.domain.ids import new_message_id
from misiva.domain.message import DEFAULT_STREAM, Address, SendRequest
from misiva.domain.records import Server
from misiva.domain.templates import RenderedContent, TemplateContent
from misiva.lint.blocks import share, stream_share
from misiva.lint.rules import LintInput, lint
from misiva.mail.mime import build_mime
from misiva.render.blocks import BLOCK_FUNCTION
from misiva.render.model import dotted
from misiva.render.variables import Path
from misiva.spam.spamd import SpamdClient, SpamdUnavailable
from misiva.storage import Database

DEFAULT_THRESHOLD = 5.0
NOT_CONFIGURED = (
    "Spam scoring is not configured on this installation: set MISIVA_SPAMD_ADDR to the "
    "host:port of a SpamAssassin spamd."
)
# Stands in for the sender and recipient when a server has no sending domain yet.
_SAMPLE_DOMAIN = "example.com"


@dataclass(frozen=True, slots=True)
class VariantCheck:
    """One locale variant: its lint findings and spam score, or why it could not be rendered."""

    variant: str
    findings: tuple[LintFinding, ...] = ()
    spam: SpamScore | None = None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class ContentReport:
    variants: tuple[VariantCheck, ...]
    threshold: float
    # Why there is no score: spam scoring not configured, or spamd did not answer.
    spam_note: str | None = None
    spam_configured: bool = True

    @property
    def worst(self) -> VariantCheck | None:
        """The variant with the highest spam score."""
        scored = [v for v in self.variants if v.spam is not None]
        return max(scored, key=lambda v: v.spam.score if v.spam else 0.0, default=None)

    @property
    def score(self) -> float | None:
        worst = self.worst
        return worst.spam.score if worst and worst.spam else None

    @property
    def over_threshold(self) -> bool:
        return self.score is not None and self.score >= self.threshold

    def findings(self, severity: Severity) -> list[tuple[str, LintFinding]]:
        return [(v.variant, f) for v in self.variants for f in v.findings if f.severity is severity]

    def blockers(self) -> list[str]:
        """Why a marketer may not publish: lint errors, a score at or over the threshold,
        content that could not be checked. Developers and owners see these as warnings."""
        reasons = [f"{variant}: {f.message}" for variant, f in self.findings(Severity.ERROR)]
        reasons += [f"{v.variant}: {v.problem}" for v in self.variants if v.problem]
        if self.over_threshold:
            reasons.append(
                f"The spam score is {self.score:.1f}, at or over the threshold of "
                f"{self.threshold:.1f}."
            )
        if self.spam_configured and self.spam_note:
            reasons.append(self.spam_note)
        return reasons


@dataclass(frozen=True, slots=True)
class ContentChecker:
    """Lints always; scores when spamd is configured (MISIVA_SPAMD_ADDR)."""

    spamd: SpamdClient | None = None
    threshold: float = DEFAULT_THRESHOLD

    def require_spamd(self) -> SpamdClient:
        if self.spamd is None:
            raise InvalidRequest(NOT_CONFIGURED, ErrorCode.SPAM_CHECK_NOT_CONFIGURED)
        return self.spamd

    async def check_version(
        self,
        db: Database,
        server: Server,
        id_or_alias: str | int,
        number: int | None = None,
        *,
        sender_domain: str | None = None,
        use: StreamUse = StreamUse.UNKNOWN,
        strict: bool = True,
        max_block_share: int | None = None,
    ) -> tuple[authoring.TemplateDetails, ContentReport]:
        """Check every variant of a version (the latest by default) with the template's
        test data, the server's brand and its published layout, as a send would render it.
        `strict`: spamd failing raises SpamdUnavailable; otherwise the report notes it (a
        publish decides what a missing score means). `use` and `max_block_share` (percent;
        None: the default) are the stream's kind and share of content blocks."""
        details = await authoring.get_template(db, server.id, id_or_alias, number)
        if number is None and details.version.number != details.template.latest_version:
            latest = details.template.latest_version
            details = await authoring.get_template(db, server.id, id_or_alias, latest)
        test_model = await authoring.get_test_model(db, server.id, id_or_alias) or {}
        template = details.template
        checks = []
        note = None if self.spamd is not None else NOT_CONFIGURED
        for variant, content in sorted(details.version.variants.items()):
            draft = Draft(template.template_type, content, template.layout_alias, variant)
            preview = await _render(db, server, draft, test_model)
            try:
                check = await self.check_preview(
                    preview, draft, sender_domain, use, not note, max_block_share
                )
            except SpamdUnavailable as error:
                if strict:
                    raise
                note = error.message
                check = await self.check_preview(
                    preview, draft, sender_domain, use, False, max_block_share
                )
            worst = await _worst_share(db, server, draft, test_model, preview, use, max_block_share)
            if worst:
                found = (*check.findings, *worst)
                errors_first = sorted(found, key=lambda f: f.severity is not Severity.ERROR)
                check = replace(check, findings=tuple(errors_first))
            checks.append(check)
        report = ContentReport(tuple(checks), self.threshold, note, self.spamd is not None)
        return details, report

    async def check_preview(
        self,
        preview: Preview,
        draft: Draft,
        sender_domain: str | None,
        use: StreamUse = StreamUse.UNKNOWN,
        score: bool = True,
        max_block_share: int | None = None,
    ) -> VariantCheck:
        """Lint (and score, when spamd is configured) one rendered variant, such as the
        studio's preview."""
        rendered = preview.rendered
        if rendered is None:
            problems = "; ".join(p.message for p in preview.problems) or "it does not render"
            return VariantCheck(draft.variant, problem=f"Cannot be checked: {problems}")
        findings = lint_rendered(rendered, draft.content, preview.paths, use, max_block_share)
        spam = None
        if score and self.spamd is not None:
            spam = await self.spamd.score(sample_message(rendered, sender_domain))
        return VariantCheck(draft.variant, findings, spam)


async def _worst_share(
    db: Database,
    server: Server,
    draft: Draft,
    model: dict[str, Any],
    preview: Preview,
    use: StreamUse,
    max_block_share: int | None,
) -> tuple[LintFinding, ...]:
    """The share rule with each slot holding the longest block it can get (a check renders
    without a recipient, so its slots are otherwise empty and the rule never sees a block)."""
    if use is StreamUse.COMMERCIAL or preview.rendered is None:
        return ()
    slots = placed_slots(draft.content)
    widest = await widest_filler(db, server.id, slots, preview.locale, utcnow())
    if widest is None:
        return ()
    filler, keys = widest
    filled = await _render(db, server, draft, {**model, BLOCK_FUNCTION: filler})
    if filled.rendered is None:
        return ()
    named = ", ".join(f"'{key}' in slot '{slot}'" for slot, key in sorted(keys.items()))
    return tuple(
        replace(f, message=f"With the longest block each slot can get ({named}): {f.message}")
        for f in share(filled.rendered.html_body, use, stream_share(max_block_share))
    )


async def _render(db: Database, server: Server, draft: Draft, model: dict[str, Any]) -> Preview:
    """Render with the test data; where it lacks variables, with Postmark's suggested model
    under it (placeholders like "total_Value"), so that a template saved without test data
    can still be checked."""
    preview = await preview_draft(db, server, draft, PreviewData(model))
    if preview.rendered is None and preview.variables and preview.variables.missing:
        filled = _merge(preview.variables.suggested, model)
        preview = await preview_draft(db, server, draft, PreviewData(filled))
    return preview


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        below = merged.get(key)
        if isinstance(below, Mapping) and isinstance(value, Mapping):
            merged[key] = _merge(below, value)
        else:
            merged[key] = value
    return merged


def lint_rendered(
    rendered: RenderedContent,
    content: TemplateContent,
    paths: Iterable[Path],
    use: StreamUse = StreamUse.UNKNOWN,
    max_block_share: int | None = None,
) -> tuple[LintFinding, ...]:
    """Lint content rendered from a compiled template (POST /templates/validate), for a
    stream of this kind and share of content blocks (percent; None: the default)."""
    return lint(
        LintInput(
            rendered=rendered,
            source=content,
            variables=frozenset(dotted(p) for p in paths),
            use=use,
            locate_variable=lambda path: _locate(path, content),
            max_block_share=stream_share(max_block_share),
        )
    )


def _locate(path: str, content: TemplateContent) -> tuple[str | None, int | None]:
    [problem] = missing_problems([path.replace("[]", "")], content)
    return problem.part, problem.line


def sample_message(rendered: RenderedContent, sender_domain: str | None) -> bytes:
    """The message a send of this content would build (headers, MIME parts), unsigned, for
    spamd: a message without Date or Message-ID scores worse than a real one would."""
    domain = sender_domain or _SAMPLE_DOMAIN
    recipient = Address(f"recipient@{_SAMPLE_DOMAIN}")
    request = SendRequest(
        sender=Address(f"hello@{domain}"),
        to=(recipient,),
        cc=(),
        bcc=(),
        subject=rendered.subject,
        html_body=rendered.html_body,
        text_body=rendered.text_body,
        reply_to=(),
        headers=(),
        tag=None,
        metadata={},
        attachments=(),
        stream=DEFAULT_STREAM,
        track_opens=None,
        track_links=None,
        to_given=recipient.email,
    )
    return build_mime(request, message_id=new_message_id(), domain=domain, date=utcnow())
