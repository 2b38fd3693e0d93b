"""User agents of real mail clients, proxies and scanners are described as Postmark reports them."""

from __future__ import annotations

import pytest

from misiva.tracking.agents import (
    APPLE_MPP,
    GMAIL_PROXY,
    YAHOO_PROXY,
    Platform,
    describe_agent,
    is_machine_open,
)

GMAIL_PROXY_UA = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
YAHOO_PROXY_UA = "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"
IPHONE_MAIL_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
MAC_MAIL_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
)
OUTLOOK_2016_UA = "Microsoft Outlook 16.0.4266; Microsoft Outlook 16.0.4266"
OUTLOOK_MS_OFFICE_UA = (
    "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 10.0; WOW64; Trident/7.0; .NET4.0C; "
    ".NET4.0E; Microsoft Outlook 16.0.5134; ms-office; MSOffice 16)"
)
THUNDERBIRD_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.5.0"
)
CHROME_DESKTOP_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
ANDROID_CHROME_UA = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.144 Mobile Safari/537.36"
)
IPHONE_SAFARI_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
HEADLESS_CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/119.0.0.0 Safari/537.36"
)
BING_PREVIEW_UA = (
    "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/534+ (KHTML, like Gecko) BingPreview/1.0b"
)
GOOGLEBOT_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
CUBOT_PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 9; CUBOT X19) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.144 Mobile Safari/537.36"
)

# user agent, client family, client company, OS family, platform, proxy, bot
SAMPLES = [
    (GMAIL_PROXY_UA, "Gmail", "Google", "Unknown", "WebMail", GMAIL_PROXY, False),
    (YAHOO_PROXY_UA, "Yahoo Mail", "Yahoo", "Unknown", "WebMail", YAHOO_PROXY, False),
    ("Mozilla/5.0", "Apple Mail", "Apple", "Unknown", "Unknown", APPLE_MPP, False),
    (IPHONE_MAIL_UA, "Apple Mail", "Apple", "iOS", "Mobile", None, False),
    (MAC_MAIL_UA, "Apple Mail", "Apple", "Mac OS X", "Desktop", None, False),
    (OUTLOOK_2016_UA, "Outlook", "Microsoft", "Unknown", "Desktop", None, False),
    (OUTLOOK_MS_OFFICE_UA, "Outlook", "Microsoft", "Windows", "Desktop", None, False),
    (THUNDERBIRD_UA, "Thunderbird", "Mozilla", "Windows", "Desktop", None, False),
    (CHROME_DESKTOP_UA, "Chrome", "Google", "Windows", "WebMail", None, False),
    (ANDROID_CHROME_UA, "Chrome Mobile", "Google", "Android", "Mobile", None, False),
    (IPHONE_SAFARI_UA, "Mobile Safari", "Apple", "iOS", "Mobile", None, False),
    (CUBOT_PHONE_UA, "Chrome Mobile", "Google", "Android", "Mobile", None, False),
    ("curl/8.4.0", "curl", "Unknown", "Unknown", "Unknown", None, True),
    ("python-requests/2.31.0", "Python Requests", "Unknown", "Unknown", "Unknown", None, True),
    ("Go-http-client/1.1", "Go-http-client", "Unknown", "Unknown", "Unknown", None, True),
    (HEADLESS_CHROME_UA, "HeadlessChrome", "Google", "Windows", "Unknown", None, True),
    (
        BING_PREVIEW_UA,
        "Microsoft Defender SafeLinks",
        "Microsoft",
        "Windows",
        "Unknown",
        None,
        True,
    ),
    (GOOGLEBOT_UA, "Googlebot", "Google", "Unknown", "Unknown", None, True),
]


@pytest.mark.parametrize(
    ("user_agent", "family", "company", "os_family", "platform", "proxy", "bot"), SAMPLES
)
def test_real_user_agents_are_described(
    user_agent: str,
    family: str,
    company: str,
    os_family: str,
    platform: str,
    proxy: str | None,
    bot: bool,
) -> None:
    info = describe_agent(user_agent)

    assert (info.client_family, info.client_company) == (family, company)
    assert (info.os_family, info.platform) == (os_family, platform)
    assert (info.proxy, info.is_proxy, info.is_bot) == (proxy, proxy is not None, bot)


def test_names_carry_the_version_as_postmark_shows_them() -> None:
    chrome = describe_agent(ANDROID_CHROME_UA)
    thunderbird = describe_agent(THUNDERBIRD_UA)
    outlook = describe_agent(OUTLOOK_2016_UA)

    assert (chrome.client_name, chrome.os_name) == ("Chrome Mobile 120.0.6099.144", "Android 10")
    assert (chrome.os_company, thunderbird.client_name) == ("Google", "Thunderbird 115.5.0")
    assert thunderbird.os_name == "Windows 10"
    assert outlook.client_name == "Outlook 2016"


def test_a_version_that_is_not_the_clients_own_is_left_out() -> None:
    # Apple Mail's user agent carries WebKit's build (605.1.15), not Mail's version.
    assert describe_agent(MAC_MAIL_UA).client_name == "Apple Mail"
    assert describe_agent(MAC_MAIL_UA).os_name == "Mac OS X 10.15.7"
    # The Gmail proxy claims Firefox 11 on Windows XP: neither is the reader's.
    assert (describe_agent(GMAIL_PROXY_UA).client_name, describe_agent(GMAIL_PROXY_UA).os_name) == (
        "Gmail",
        "Unknown",
    )


@pytest.mark.parametrize(
    "user_agent",
    [
        "Barracuda Sentinel (EE)",
        "Mozilla/5.0 (compatible; Mimecast URL Protect)",
        "Mozilla/5.0 Proofpoint URL Defense",
        "Mozilla/5.0 (compatible; ExampleCrawler/1.0)",
        "Mozilla/5.0 (compatible; link-spider)",
        "Wget/1.21.4",
    ],
)
def test_the_table_names_scanners_and_link_checkers_as_bots(user_agent: str) -> None:
    info = describe_agent(user_agent)

    assert info.is_bot
    assert info.platform == Platform.UNKNOWN


@pytest.mark.parametrize("user_agent", [None, "", "   ", "\x00\xff", "x" * 100_000, "Other/1.0"])
def test_nothing_or_nonsense_is_unknown_and_not_an_error(user_agent: str | None) -> None:
    info = describe_agent(user_agent)

    assert (info.client_company, info.os_family, info.platform) == ("Unknown",) * 3
    assert not info.is_proxy


def test_only_a_bare_mozilla_is_taken_for_apple_privacy_protection() -> None:
    assert describe_agent(" Mozilla/5.0 ").proxy == APPLE_MPP
    assert describe_agent("Mozilla/5.0 (X11)").proxy is None


@pytest.mark.parametrize(
    ("user_agent", "seconds", "machine"),
    [
        (CHROME_DESKTOP_UA, 3600.0, False),
        (CHROME_DESKTOP_UA, None, False),
        (CHROME_DESKTOP_UA, 1.5, True),  # a gateway scanning mail as it arrives
        (CHROME_DESKTOP_UA, -0.5, True),  # fetched before the server even answered 250
        (IPHONE_MAIL_UA, 2.0, False),
        ("Mozilla/5.0", 3600.0, True),  # Apple's proxy prefetches whether or not mail is read
        ("curl/8.4.0", 3600.0, True),
        (BING_PREVIEW_UA, 3600.0, True),
        # Gmail's and Yahoo's proxies fetch when the reader opens the message: real opens.
        (GMAIL_PROXY_UA, 3600.0, False),
        (YAHOO_PROXY_UA, 3600.0, False),
        (GMAIL_PROXY_UA, 0.2, True),
    ],
)
def test_machine_opens(user_agent: str, seconds: float | None, machine: bool) -> None:
    assert is_machine_open(describe_agent(user_agent), seconds) is machine
