"""Describe who fetched a pixel or followed a link: mail client, OS, platform, proxy or machine."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import ua_parser

UNKNOWN = "Unknown"
GMAIL_PROXY = "Gmail image proxy"
YAHOO_PROXY = "Yahoo Mail proxy"
APPLE_MPP = "Apple Mail Privacy Protection"

# An open this soon after the receiving server accepted the message was fetched by a gateway
# that scans mail as it arrives, not by a person: nobody reads that fast. Negative values (a
# scanner that fetched before the server even answered 250) count as machine opens too.
MACHINE_OPEN_WINDOW_SECONDS = 2.0
# User agents longer than this are not browsers or mail clients; cutting them bounds the regex
# work an anonymous request can cause.
_MAX_AGENT_CHARS = 1024


class Platform(StrEnum):
    """Postmark's Platform values for opens and clicks."""

    WEBMAIL = "WebMail"
    DESKTOP = "Desktop"
    MOBILE = "Mobile"
    UNKNOWN = "Unknown"


@dataclass(frozen=True, slots=True)
class AgentInfo:
    """What a user agent says about its reader, in the shape of Postmark's Client, OS, Platform."""

    client_name: str
    client_company: str
    client_family: str
    os_name: str
    os_company: str
    os_family: str
    platform: str
    is_proxy: bool = False
    proxy: str | None = None
    is_bot: bool = False


@dataclass(frozen=True, slots=True)
class _Rule:
    """Email knowledge ua_parser lacks: a pattern and what an agent matching it is.

    `client` None keeps ua_parser's family; `platform` None marks a mail client, Mobile on a
    phone or tablet OS and Desktop elsewhere; `versioned` False drops a version that is not the
    client's own (Apple Mail's user agent carries WebKit's build number).
    """

    pattern: re.Pattern[str]
    client: str | None = None
    company: str | None = None
    platform: Platform | None = None
    proxy: str | None = None
    bot: bool = False
    versioned: bool = True


def _rule(
    pattern: str,
    client: str | None = None,
    company: str | None = None,
    *,
    platform: Platform | None = None,
    proxy: str | None = None,
    bot: bool = False,
    versioned: bool = True,
) -> _Rule:
    compiled = re.compile(pattern, re.IGNORECASE)
    return _Rule(compiled, client, company, platform, proxy, bot, versioned)


# First match wins, so proxies come before the browsers they imitate and scanners before the
# generic "bot" words. Image proxies name their own OS, not the reader's: it is not reported.
_RULES: tuple[_Rule, ...] = (
    _rule(
        r"GoogleImageProxy|via ggpht\.com",
        "Gmail",
        "Google",
        platform=Platform.WEBMAIL,
        proxy=GMAIL_PROXY,
    ),
    _rule(r"YahooMailProxy", "Yahoo Mail", "Yahoo", platform=Platform.WEBMAIL, proxy=YAHOO_PROXY),
    # Apple's privacy proxy fetches with this bare user agent and nothing else; without its
    # IP ranges this is the only sign, so it is a likely MPP open, not a certain one.
    _rule(r"\AMozilla/5\.0\Z", "Apple Mail", "Apple", platform=Platform.UNKNOWN, proxy=APPLE_MPP),
    _rule(r"BingPreview", "Microsoft Defender SafeLinks", "Microsoft", bot=True),
    _rule(r"Barracuda", "Barracuda", "Barracuda Networks", bot=True),
    _rule(r"Mimecast", "Mimecast", "Mimecast", bot=True),
    _rule(r"Proofpoint", "Proofpoint", "Proofpoint", bot=True),
    _rule(r"HeadlessChrome|PhantomJS", company="Google", bot=True),
    _rule(
        r"\Acurl/|\bWget/|Go-http-client|python-requests|Python-urllib|aiohttp|httpx|"
        r"libwww-perl|okhttp|\AJava/",
        bot=True,
    ),
    # "bot" ends a crawler's name (Googlebot/2.1, AhrefsBot); Cubot is a phone maker.
    _rule(r"(?<!cu)bot\b|crawler|spider|slurp", bot=True),
    _rule(r"Microsoft Outlook|ms-office|MSOffice|OneOutlook/", "Outlook", "Microsoft"),
    _rule(r"Thunderbird/", "Thunderbird", "Mozilla"),
    # Apple Mail renders with WebKit but, unlike Safari, does not say "Safari/"; other native
    # apps on Apple systems that embed WebKit are counted as Apple Mail too.
    _rule(
        r"\A(?!.*Safari/)(?=.*\((?:Macintosh|iPhone|iPad|iPod)\b).*AppleWebKit/",
        "Apple Mail",
        "Apple",
        versioned=False,
    ),
)

# Makers by the start of ua_parser's family names, first match wins.
_CLIENT_COMPANIES = (
    ("Chrome", "Google"),
    ("Gmail", "Google"),
    ("Google", "Google"),
    ("Android", "Google"),
    ("Firefox", "Mozilla"),
    ("Thunderbird", "Mozilla"),
    ("SeaMonkey", "Mozilla"),
    ("Mobile Safari", "Apple"),
    ("Safari", "Apple"),
    ("Apple Mail", "Apple"),
    ("Edge", "Microsoft"),
    ("IE", "Microsoft"),
    ("Outlook", "Microsoft"),
    ("Yahoo", "Yahoo"),
    ("Opera", "Opera"),
    ("Samsung Internet", "Samsung"),
    ("Yandex", "Yandex"),
    ("UC Browser", "UCWeb"),
    ("Brave", "Brave"),
    ("Vivaldi", "Vivaldi"),
)
_OS_COMPANIES = (
    ("Windows", "Microsoft"),
    ("Mac OS X", "Apple"),
    ("macOS", "Apple"),
    ("iOS", "Apple"),
    ("iPadOS", "Apple"),
    ("Android", "Google"),
    ("Chrome OS", "Google"),
    ("Ubuntu", "Canonical"),
    ("Fedora", "Red Hat"),
    ("BlackBerry", "BlackBerry"),
)
_MOBILE_OS = frozenset(
    {"iOS", "iPadOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS", "Firefox OS"}
)
# Proxies that fetch every image as mail arrives, read or not. Gmail's and Yahoo's fetch when
# the reader opens the message, so theirs are real (first) opens, only seen through a proxy.
_PREFETCHING_PROXIES = frozenset({APPLE_MPP})

_UNKNOWN_AGENT = AgentInfo(UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, Platform.UNKNOWN)


def describe_agent(user_agent: str | None) -> AgentInfo:
    """Client, OS and platform of a User-Agent, and whether a proxy or a machine sent it."""
    agent = (user_agent or "").strip()[:_MAX_AGENT_CHARS]
    if not agent:
        return _UNKNOWN_AGENT
    parsed = ua_parser.parse(agent)
    rule = next((rule for rule in _RULES if rule.pattern.search(agent)), None)
    client_family, client_name = _client(parsed.user_agent, rule)
    os_family, os_name = _os(parsed.os, rule)
    bot = rule.bot if rule else parsed.device is not None and parsed.device.family == "Spider"
    return AgentInfo(
        client_name=client_name,
        client_company=(rule and rule.company) or _company(client_family, _CLIENT_COMPANIES),
        client_family=client_family,
        os_name=os_name,
        os_company=_company(os_family, _OS_COMPANIES),
        os_family=os_family,
        platform=_platform(rule, bot, client_family, os_family),
        is_proxy=rule is not None and rule.proxy is not None,
        proxy=rule.proxy if rule else None,
        is_bot=bot,
    )


def is_machine_open(info: AgentInfo, seconds_after_delivery: float | None) -> bool:
    """Whether an open was a machine's: a scanner, a prefetching proxy, or too fast to be read.

    Gmail's and Yahoo's proxies are flagged by `is_proxy` but are not machine opens: they
    fetch the pixel when the reader opens the message.
    """
    if info.is_bot or info.proxy in _PREFETCHING_PROXIES:
        return True
    return seconds_after_delivery is not None and seconds_after_delivery < (
        MACHINE_OPEN_WINDOW_SECONDS
    )


def _client(parsed: ua_parser.UserAgent | None, rule: _Rule | None) -> tuple[str, str]:
    """The client's family and its name (the family and, when known, its version)."""
    found = parsed.family if parsed is not None and parsed.family != "Other" else UNKNOWN
    family = (rule.client if rule else None) or found
    if parsed is None or family != found or (rule is not None and not rule.versioned):
        return family, family  # no version, or one that belongs to another product
    return family, _named(family, (parsed.major, parsed.minor, parsed.patch, parsed.patch_minor))


def _os(parsed: ua_parser.OS | None, rule: _Rule | None) -> tuple[str, str]:
    if parsed is None or parsed.family == "Other" or (rule is not None and rule.proxy):
        return UNKNOWN, UNKNOWN
    version = (parsed.major, parsed.minor, parsed.patch, parsed.patch_minor)
    return parsed.family, _named(parsed.family, version)


def _named(family: str, version: tuple[str | None, ...]) -> str:
    """`Chrome 120.0.6099.144`, as Postmark names a client or OS; the family alone without one."""
    parts = [part for part in version if part]
    return f"{family} {'.'.join(parts)}" if parts else family


def _company(family: str, table: tuple[tuple[str, str], ...]) -> str:
    return next((company for prefix, company in table if family.startswith(prefix)), UNKNOWN)


def _platform(rule: _Rule | None, bot: bool, client: str, os_family: str) -> Platform:
    """Postmark's Platform: where the reader was, as far as the user agent tells."""
    if bot:
        return Platform.UNKNOWN
    if rule is not None and rule.platform is not None:
        return rule.platform
    if os_family in _MOBILE_OS:
        return Platform.MOBILE
    if rule is not None:
        return Platform.DESKTOP  # a mail client on a computer, or one that does not say its OS
    # A browser on a computer fetched the pixel: the reader was using webmail.
    if client != UNKNOWN and os_family != UNKNOWN:
        return Platform.WEBMAIL
    return Platform.UNKNOWN
