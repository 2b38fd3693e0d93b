"""Which webhook targets are public, and how a post is pinned to the address that was checked
(so a DNS answer that changes between the check and the connection cannot reach inside)."""

from __future__ import annotations

import ipaddress

import pytest

from misiva.webhooks.targets import TargetRefused, TargetUnresolved, WebhookTargets, is_public


def resolver(answers: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError("no such host")
        return answers[host]

    return resolve


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.31.255.255", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fd12:3456::1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:93.184.216.34", True),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


async def test_a_public_name_is_pinned_to_its_checked_address() -> None:
    targets = WebhookTargets(resolve=resolver({"hooks.example.com": ["93.184.216.34"]}))
    pinned = await targets.pin("https://u:p@hooks.example.com:8443/in?x=1")
    assert pinned.url == "https://u:p@93.184.216.34:8443/in?x=1"
    assert pinned.host_header == "hooks.example.com:8443"
    assert pinned.sni_hostname == "hooks.example.com"
    six = WebhookTargets(resolve=resolver({"h.example": ["2606:2800:220:1:248:1893:25c8:1946"]}))
    assert (await six.pin("http://h.example/x")).url == (
        "http://[2606:2800:220:1:248:1893:25c8:1946]/x"
    )


async def test_a_name_with_any_private_address_is_refused() -> None:
    """A name resolving to a public and a private address is refused: the client might pick
    either, and an attacker controls the order."""
    mixed = resolver({"rebind.example": ["93.184.216.34", "127.0.0.1"]})
    with pytest.raises(TargetRefused, match=r"127\.0\.0\.1"):
        await WebhookTargets(resolve=mixed).pin("http://rebind.example/x")
    with pytest.raises(TargetRefused):
        await WebhookTargets(resolve=mixed).check("http://rebind.example/x")


async def test_an_unresolvable_name_is_saved_but_not_posted_to() -> None:
    targets = WebhookTargets(resolve=resolver({}))
    await targets.check("http://later.example/x")
    with pytest.raises(TargetUnresolved):
        await targets.pin("http://later.example/x")


async def test_allowing_private_targets_skips_resolution() -> None:
    targets = WebhookTargets(allow_private=True, resolve=resolver({}))
    await targets.check("http://127.0.0.1:9/x")
    pinned = await targets.pin("http://localhost:9/x")
    assert pinned.url == "http://localhost:9/x" and pinned.host_header is None
