"""Gmail's and Yahoo's 2024 bulk sender requirements, checked per sending domain and stream:
SPF and DKIM, a DMARC record, the From domain aligned with one of them, one-click
unsubscribe (RFC 8058) on commercial mail, and a spam complaint rate under 0.3%.

Sources: Google's email sender guidelines (support.google.com/mail/answer/81126) and Yahoo's
sender best practices (senders.yahooinc.com/best-practices), both in force since February 2024.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from misiva.domain.dns_checks import DomainCheck
from misiva.domain.enums import StreamType
from misiva.domain.stats import COMPLAINT_RATE


class Requirement(StrEnum):
    SPF = "spf"
    DKIM = "dkim"
    DMARC = "dmarc"
    ALIGNMENT = "alignment"
    ONE_CLICK_UNSUBSCRIBE = "one-click-unsubscribe"
    COMPLAINT_RATE = "complaint-rate"


class Verdict(StrEnum):
    MET = "met"
    NOT_MET = "not-met"
    # Not known yet (the domain was never checked, nothing was delivered) or not asked of
    # this stream (one-click unsubscribe on transactional mail).
    UNKNOWN = "unknown"
    NOT_APPLICABLE = "not-applicable"


# Gmail's hard line; the guidelines ask to stay under 0.1% (the warning level).
COMPLAINT_LIMIT: Final = COMPLAINT_RATE.danger


@dataclass(frozen=True, slots=True)
class RequirementCheck:
    requirement: Requirement
    verdict: Verdict
    detail: str


@dataclass(frozen=True, slots=True)
class StreamRequirements:
    domain: str
    stream: str
    stream_type: StreamType
    checks: tuple[RequirementCheck, ...]

    @property
    def met(self) -> bool:
        return all(c.verdict in (Verdict.MET, Verdict.NOT_APPLICABLE) for c in self.checks)

    @property
    def not_met(self) -> tuple[Requirement, ...]:
        return tuple(c.requirement for c in self.checks if c.verdict is Verdict.NOT_MET)


def check_requirements(
    domain: str,
    stream: str,
    stream_type: StreamType,
    handles_unsubscribe: bool,
    dns: DomainCheck | None,
    return_path_domain: str,
    return_path_aligned: bool,
    complaints: tuple[int, int],
) -> StreamRequirements:
    """Each requirement for mail from `domain` on `stream`. `complaints` is (complained,
    delivered) of the stream over the window the caller chose."""
    records = dns.by_kind() if dns else {}

    def record(requirement: Requirement, kind: str, what: str) -> RequirementCheck:
        found = records.get(kind)
        if found is None:
            return RequirementCheck(requirement, Verdict.UNKNOWN, f"{what}: not checked yet.")
        if found.ok:
            return RequirementCheck(requirement, Verdict.MET, f"{what} is published.")
        return RequirementCheck(requirement, Verdict.NOT_MET, found.problem or f"{what} fails.")

    spf = record(Requirement.SPF, "spf", "SPF")
    dkim = record(Requirement.DKIM, "dkim", "The DKIM key")
    dmarc = record(Requirement.DMARC, "dmarc", "A DMARC record")
    checks = (
        spf,
        dkim,
        dmarc,
        _alignment(domain, dkim, spf, return_path_domain, return_path_aligned),
        _unsubscribe(stream_type, handles_unsubscribe),
        _complaints(*complaints),
    )
    return StreamRequirements(domain, stream, stream_type, checks)


def _alignment(
    domain: str,
    dkim: RequirementCheck,
    spf: RequirementCheck,
    return_path: str,
    return_path_aligned: bool,
) -> RequirementCheck:
    # Misiva signs with d= the From domain, so a published key is an aligned DKIM pass.
    if dkim.verdict is Verdict.MET:
        return RequirementCheck(
            Requirement.ALIGNMENT, Verdict.MET, f"DKIM signs as {domain}, the From domain."
        )
    # Whether the Return-Path aligns (same organizational domain, by the Public Suffix List)
    # is the caller's to say: the list is read by the mail layer, below which this sits.
    if return_path_aligned and spf.verdict is Verdict.MET:
        return RequirementCheck(
            Requirement.ALIGNMENT,
            Verdict.MET,
            f"The Return-Path {return_path} aligns with {domain} and SPF passes.",
        )
    if dkim.verdict is Verdict.UNKNOWN:
        return RequirementCheck(Requirement.ALIGNMENT, Verdict.UNKNOWN, "Check the domain first.")
    return RequirementCheck(
        Requirement.ALIGNMENT,
        Verdict.NOT_MET,
        f"Neither DKIM nor SPF passes aligned with {domain}: publish the DKIM key.",
    )


def _unsubscribe(stream_type: StreamType, handles: bool) -> RequirementCheck:
    if stream_type is not StreamType.BROADCASTS:
        return RequirementCheck(
            Requirement.ONE_CLICK_UNSUBSCRIBE,
            Verdict.NOT_APPLICABLE,
            "Transactional mail needs no unsubscribe link.",
        )
    if handles:
        return RequirementCheck(
            Requirement.ONE_CLICK_UNSUBSCRIBE,
            Verdict.MET,
            "Misiva adds RFC 8058 List-Unsubscribe-Post headers to every message.",
        )
    return RequirementCheck(
        Requirement.ONE_CLICK_UNSUBSCRIBE,
        Verdict.NOT_MET,
        "Set the stream's unsubscribe handling to Misiva (Postmark), or add your own "
        "List-Unsubscribe and List-Unsubscribe-Post headers.",
    )


def _complaints(complained: int, delivered: int) -> RequirementCheck:
    if not delivered:
        return RequirementCheck(
            Requirement.COMPLAINT_RATE, Verdict.UNKNOWN, "Nothing delivered in the last 7 days."
        )
    rate = complained / delivered
    verdict = Verdict.MET if rate < COMPLAINT_LIMIT else Verdict.NOT_MET
    return RequirementCheck(
        Requirement.COMPLAINT_RATE,
        verdict,
        f"{rate * 100:.2f}% of {delivered} delivered in the last 7 days (limit 0.30%).",
    )
