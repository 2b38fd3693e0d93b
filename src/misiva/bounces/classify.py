"""Bounce classes as data: ordered (pattern, BounceType) rows that turn an SMTP status and a
server's words into one of Postmark's bounce types."""

from __future__ import annotations

import re
from typing import Final, Literal

from misiva.domain.bounces import BounceType, FeedbackKind, FeedbackReport

Rule = tuple[re.Pattern[str], BounceType]
FeedbackClass = Literal["hard", "soft", "complaint", "autoreply", "not-bounce"]


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


# An RFC 3463 enhanced status code, e.g. 5.1.1 or 4.7.650. The look-arounds keep it from
# matching inside an IP address or a version number ("192.0.2.25", "4.16.55.1").
STATUS = re.compile(r"(?<![\w.])([245])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)")
# An RFC 5321 §4.2 reply code as it starts a reply line: "550 ..." or "550-...".
REPLY_CODE = re.compile(r"(?<![\w.:/#-])([45][0-5]\d)(?=[ -])")

# Shared rows. "Mailbox full" is a permanent code (RFC 3463 §3.3 X.2.2; RFC 5321 §4.2.2's 552
# "exceeded storage allocation"), but Postmark records it, with quotas and disabled accounts,
# as a SoftBounce: the address will work again.
_MAILBOX_FULL: Final = _rx(
    r"\b[45]\.2\.[12]\b|quota|mailbox (?:is )?full|mailbox.{0,40}\bfull\b|out of storage"
    r"|storage space|storage allocation|insufficient (?:disk|storage|system storage)"
    r"|disk space|over ?quota"
    r"|(?:account|mailbox) (?:is )?(?:disabled|inactive)"
)
# RFC 3463 §3.5 X.4.3 is "directory server failure", in practice almost always DNS.
_DNS: Final = _rx(
    r"\b4\.4\.3\b|\bdns\b|name service|name resolution|nxdomain|servfail|lookup fail"
    r"|host (?:or domain name )?not found|domain not found|no mx\b|mail exchanger"
)
# The sender's own address refused (X.1.7, X.1.8): our fault, not a reason to drop the recipient.
_SENDER_REFUSED: Final = _rx(r"\b5\.1\.[78]\b|sender address rejected|sender (?:domain )?rejected")
# Gave up after retrying temporary failures (X.4.7 "delivery time expired", RFC 3463 §3.5).
_EXPIRED: Final = _rx(
    r"\b[45]\.4\.7\b|retry timeout exceeded|(?:in|on) the queue too long|queue lifetime"
    r"|delivered for too long|too many retries|retry time (?:not reached|exceeded)"
    r"|message expired|delivery (?:time )?expired"
)

# First match wins; a failure that RFC 3463 (X in 5) or RFC 5321 (5yz) calls permanent.
PERMANENT_RULES: Final[tuple[Rule, ...]] = (
    (_rx(r"\bdmarc\b"), BounceType.DMARC_POLICY),
    (_rx(r"\bvirus\b|malware|infected"), BounceType.VIRUS_NOTIFICATION),
    (_MAILBOX_FULL, BounceType.SOFT_BOUNCE),
    (_EXPIRED, BounceType.TRANSIENT),
    (_SENDER_REFUSED, BounceType.BLOCKED),
    # RFC 3463 §3.2 X.1.x: the recipient address is bad (X.1.6: the mailbox has moved).
    (
        _rx(
            r"\b5\.1\.(?:[0-69]|10)\b|user unknown|unknown (?:user|recipient|or illegal)"
            r"|recipient (?:not found|unknown)|no such (?:user|mailbox|recipient|address|person)"
            r"|(?:does|do|may|might) not exist|doesn't exist|no longer exists?|not listed in"
            r"|recip(?:ient)?notfound"
            r"|name is not recognized|no longer on server|invalid (?:recipient|mailbox|address)"
            r"|mailbox (?:unavailable|not found|does not exist)|address (?:not found|unknown)"
            r"|user not found|unknown address|account (?:not found|has been closed)"
        ),
        BounceType.HARD_BOUNCE,
    ),
    # The domain has no mail server at all; Postmark records that as a HardBounce too.
    (
        _rx(
            r"\b5\.4\.4\b|host (?:or domain name )?not found|host unknown|unknown host"
            r"|couldn't find any host|mail exchanger|no mx\b|unroutable|unrouteable"
            r"|domain (?:not found|does not exist|doesn't exist)|nxdomain|no data known"
        ),
        BounceType.HARD_BOUNCE,
    ),
    # RFC 3463 §3.8 X.7.x: security or policy status, and the words blocklists use.
    (
        _rx(
            r"\b5\.7\.\d{1,3}\b|spam|block(?:ed|list)|blacklist|denylist|reputation|policy"
            r"|banned|not authori[sz]ed|access denied|relay(?:ing)? (?:denied|not permitted)"
            r"|content rejected|\brbl\b|spamhaus|\bspf\b|\bdkim\b"
        ),
        BounceType.BLOCKED,
    ),
)
# RFC 5321 §4.2.5: any other 5yz still means "do not repeat in this form".
PERMANENT_DEFAULT: Final = BounceType.HARD_BOUNCE

# First match wins; a failure that may go away (X in 4, 4yz): never suppresses the address.
TRANSIENT_RULES: Final[tuple[Rule, ...]] = (
    (_MAILBOX_FULL, BounceType.SOFT_BOUNCE),
    (_DNS, BounceType.DNS_ERROR),
)
TRANSIENT_DEFAULT: Final = BounceType.TRANSIENT

# How each BounceType of a failed delivery reads in the coarse classes of the sample index.
_SOFT_TYPES: Final = frozenset({BounceType.SOFT_BOUNCE, BounceType.TRANSIENT, BounceType.DNS_ERROR})
_KIND_CLASSES: Final[dict[FeedbackKind, FeedbackClass]] = {
    FeedbackKind.DELAY: "soft",
    FeedbackKind.COMPLAINT: "complaint",
    FeedbackKind.AUTO_REPLY: "autoreply",
    FeedbackKind.NOT_BOUNCE: "not-bounce",
}


def classify_failure(text: str, *, permanent: bool) -> BounceType:
    """The bounce type of one failure, from its status, reply code and diagnostic text."""
    rules, default = (
        (PERMANENT_RULES, PERMANENT_DEFAULT) if permanent else (TRANSIENT_RULES, TRANSIENT_DEFAULT)
    )
    for pattern, bounce_type in rules:
        if pattern.search(text):
            return bounce_type
    return default


def classify_smtp_reply(code: int, text: str) -> BounceType:
    """The bounce type of a reply to RCPT or DATA during delivery (RFC 5321 §4.2).

    Only 5yz is permanent; anything else passed here is treated as transient, like
    `SMTPReply.reply_class` does.
    """
    return classify_failure(f"{code} {text}", permanent=500 <= code < 600)


def find_status(text: str) -> str:
    """The first RFC 3463 failure status (4.x.x or 5.x.x) in free text, or ""."""
    for match in STATUS.finditer(text):
        if match.group(1) in "45":
            return ".".join(match.groups())
    return ""


def is_permanent(status: str, text: str, *, otherwise: bool) -> bool:
    """Whether a failure is permanent: by its RFC 3463 class, else its RFC 5321 reply code."""
    if status[:1] in ("4", "5"):
        return status[0] == "5"
    code = REPLY_CODE.search(text)
    if code:
        return code.group(1)[0] == "5"
    return otherwise


def feedback_class(report: FeedbackReport) -> FeedbackClass:
    """The report's coarse class: "hard", "soft", "complaint", "autoreply" or "not-bounce".

    A failed delivery is "soft" when Postmark would retry-or-forgive it (SoftBounce,
    Transient, DnsError) and "hard" for every other failure type (HardBounce, Blocked,
    DMARCPolicy, ...), whether or not that type suppresses the address.
    """
    if report.kind is FeedbackKind.BOUNCE:
        return "soft" if report.bounce_type in _SOFT_TYPES else "hard"
    return _KIND_CLASSES[report.kind]
