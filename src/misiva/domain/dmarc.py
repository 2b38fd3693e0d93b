"""DMARC aggregate reports (RFC 7489 §7.2 and appendix C): what a receiver tells a domain's
owner about the mail it saw sent as that domain, and how Misiva sums it up."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final

from misiva.domain.enums import ErrorCode
from misiva.domain.errors import InvalidRequest, TooLarge

# A big receiver's daily report for a busy domain is a few megabytes of XML; 25 MB leaves
# room and bounds what one upload or one message can make the parser hold.
MAX_XML_BYTES: Final = 25 * 1024 * 1024
# A compressed report is ten to twenty times smaller than its XML.
MAX_FILE_BYTES: Final = 10 * 1024 * 1024
# A report has one record per source IP and result; no real one has this many.
MAX_RECORDS: Final = 100_000


class Disposition(StrEnum):
    """What the receiver did with the mail (RFC 7489 appendix C, DispositionType)."""

    NONE = "none"
    QUARANTINE = "quarantine"
    REJECT = "reject"


class ReportSource(StrEnum):
    """How the report reached Misiva."""

    MAIL = "mail"  # to the bounce receiver
    UPLOAD = "upload"  # the API or the UI


class BadReport(InvalidRequest):
    """A file that is not a DMARC aggregate report Misiva can read."""

    error_code = ErrorCode.INVALID_REQUEST


class ReportTooLarge(TooLarge):
    """A report file, or what it decompresses to, over the limits above."""

    error_code = ErrorCode.INVALID_REQUEST


@dataclass(frozen=True, slots=True)
class PolicyPublished:
    """The domain's DMARC record as the receiver found it."""

    domain: str
    p: str
    sp: str = ""
    pct: int = 100
    adkim: str = "r"
    aspf: str = "r"

    def to_json(self) -> dict[str, object]:
        return {
            "domain": self.domain,
            "p": self.p,
            "sp": self.sp,
            "pct": self.pct,
            "adkim": self.adkim,
            "aspf": self.aspf,
        }


@dataclass(frozen=True, slots=True)
class AuthResult:
    """One raw DKIM signature or SPF check (auth_results): its domain and result, aligned or not."""

    method: str  # "dkim" | "spf"
    domain: str
    result: str
    selector: str = ""


@dataclass(frozen=True, slots=True)
class DmarcRow:
    """One record: `count` messages from one source IP with the same results.

    `dkim` and `spf` are the policy_evaluated results, which RFC 7489 §7.2 defines as the
    *DMARC-aligned* outcomes: "pass" only when a signature or the SPF domain passed and
    aligned with header_from. DMARC passes when either does.
    """

    source_ip: str
    count: int
    disposition: Disposition
    dkim: str
    spf: str
    header_from: str
    envelope_from: str = ""
    auth: tuple[AuthResult, ...] = ()

    @property
    def passed(self) -> bool:
        return self.dkim == "pass" or self.spf == "pass"


@dataclass(frozen=True, slots=True)
class DmarcReport:
    org_name: str
    org_email: str
    report_id: str
    begin: datetime
    end: datetime
    policy: PolicyPublished
    rows: tuple[DmarcRow, ...]

    @property
    def messages(self) -> int:
        return sum(r.count for r in self.rows)

    @property
    def passed(self) -> int:
        return sum(r.count for r in self.rows if r.passed)


@dataclass(frozen=True, slots=True)
class StoredReport:
    """A report as kept: its metadata and counts (its rows are read apart)."""

    id: int
    server_id: int
    org_name: str
    org_email: str
    report_id: str
    begin: datetime
    end: datetime
    domain: str
    policy: dict[str, object]
    messages: int
    passed: int
    source: ReportSource
    received_at: datetime

    @property
    def failed(self) -> int:
        return self.messages - self.passed


@dataclass(frozen=True, slots=True)
class SourceLine:
    """One sending IP over the reports summed: how many messages passed and failed DMARC.

    `flagged`: it sent as the domain and some of that mail passed neither aligned DKIM nor
    aligned SPF; a forwarder, a service not yet set up (a CRM, a help desk), or a spoofer.
    """

    source_ip: str
    messages: int
    passed: int
    header_from: tuple[str, ...]
    dispositions: dict[str, int] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return self.messages - self.passed

    @property
    def flagged(self) -> bool:
        return self.failed > 0


@dataclass(frozen=True, slots=True)
class DomainClaim:
    """A server that has the report's domain (or a subdomain of it) among its sending
    domains: when it added it, and whether its last DNS check found its DKIM key published."""

    server_id: int
    added_at: datetime
    dkim_verified: bool


def report_owners(claims: Iterable[DomainClaim]) -> tuple[int, ...]:
    """The servers a mailed report about a domain is kept for.

    Any server may add any domain name, so a name alone proves nothing: another tenant could
    add `victim.example` and read its DMARC reports. A server's DKIM selector and key are its
    own, so only the domain's owner can publish them: every server whose DKIM record passed
    gets the report. Until one has, it goes to the server that added the domain first.
    """
    claims = list(claims)
    verified = sorted({c.server_id for c in claims if c.dkim_verified})
    if verified:
        return tuple(verified)
    if not claims:
        return ()
    first = min(claims, key=lambda c: (c.added_at, c.server_id))
    return (first.server_id,)


@dataclass(frozen=True, slots=True)
class DmarcSummary:
    reports: int
    messages: int
    passed: int
    sources: tuple[SourceLine, ...]
    dispositions: dict[str, int]

    @property
    def failed(self) -> int:
        return self.messages - self.passed

    @property
    def flagged(self) -> tuple[SourceLine, ...]:
        return tuple(s for s in self.sources if s.flagged)


def summarise(reports: int, lines: Iterable[SourceLine]) -> DmarcSummary:
    """Sources with the most failing mail first (what to look at), then by volume."""
    ordered = sorted(lines, key=lambda s: (-s.failed, -s.messages, s.source_ip))
    dispositions: dict[str, int] = {}
    for line in ordered:
        for disposition, n in line.dispositions.items():
            dispositions[disposition] = dispositions.get(disposition, 0) + n
    return DmarcSummary(
        reports=reports,
        messages=sum(s.messages for s in ordered),
        passed=sum(s.passed for s in ordered),
        sources=tuple(ordered),
        dispositions=dispositions,
    )
