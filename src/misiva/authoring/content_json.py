"""Content checks as the API writes them: Postmark-style field names, Misiva's own fields."""

from __future__ import annotations

from typing import Any

from misiva.authoring.content_checks import ContentReport, VariantCheck
from misiva.domain.content import LintFinding, Severity, SpamRule, SpamScore


def lint_json(finding: LintFinding) -> dict[str, Any]:
    return {
        "Code": finding.code.value,
        "Severity": finding.severity.value,
        "Message": finding.message,
        "Part": finding.part,
        "Line": finding.line,
    }


def rule_json(rule: SpamRule) -> dict[str, Any]:
    return {"Name": rule.name, "Score": rule.score, "Description": rule.description}


def variant_json(check: VariantCheck) -> dict[str, Any]:
    spam: SpamScore | None = check.spam
    return {
        "Locale": check.variant,
        "Score": spam.score if spam else None,
        "Rules": [rule_json(r) for r in spam.rules] if spam else [],
        "Lint": [lint_json(f) for f in check.findings],
        "Problem": check.problem,
    }


def report_json(report: ContentReport) -> dict[str, Any]:
    """The whole report: the worst variant's score and rules at the top (what a client
    shows first), every variant below, and what would block a marketer's publish."""
    worst = report.worst
    return {
        "Score": report.score,
        "Threshold": report.threshold,
        "IsSpam": report.over_threshold,
        "Locale": worst.variant if worst else None,
        "Rules": [rule_json(r) for r in worst.spam.rules] if worst and worst.spam else [],
        "SpamCheck": _spam_status(report),
        "SpamCheckNote": report.spam_note,
        "LintErrors": len(report.findings(Severity.ERROR)),
        "LintWarnings": len(report.findings(Severity.WARNING)),
        "Blockers": report.blockers(),
        "Variants": [variant_json(v) for v in report.variants],
    }


def _spam_status(report: ContentReport) -> str:
    if not report.spam_configured:
        return "NotConfigured"
    return "Unavailable" if report.spam_note else "Done"
