"""Per-provider shaping: classification by MX, throttling replies, AIMD limits, held permits."""

from __future__ import annotations

import asyncio

import pytest

from misiva.delivery.shaping import (
    DEFAULT_LIMITS,
    ProviderLimits,
    Shaper,
    ShapingConfig,
    is_throttling,
    limits_with,
    provider_of,
)
from misiva.domain.smtp import SMTPReply, connection_failed, timed_out


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("hosts", "provider"),
    [
        (["gmail-smtp-in.l.google.com", "alt1.gmail-smtp-in.l.google.com"], "google"),
        (["aspmx.l.google.com."], "google"),
        (["aspmx2.googlemail.com"], "google"),
        (["shop-com.mail.protection.outlook.com"], "microsoft"),
        (["hotmail-com.olc.protection.outlook.com"], "microsoft"),
        (["mta5.am0.yahoodns.net"], "yahoo"),
        (["mx-aol.mail.gm0.yahoodns.net"], "yahoo"),
        (["mx01.mail.icloud.com", "mx02.mail.icloud.com"], "apple"),
        (["mx1.mail.example.net", "mx2.example.net"], "other:example.net"),
        (["mx.example.co.uk"], "other:example.co.uk"),
        (["example.org"], "other:example.org"),
        # Not fooled by a look-alike: the suffix must be a whole label boundary.
        (["mx.notgoogle.com"], "other:notgoogle.com"),
    ],
)
def test_a_destination_is_classed_by_its_mx_hosts(hosts: list[str], provider: str) -> None:
    assert provider_of(hosts) == provider


@pytest.mark.parametrize(
    ("reply", "throttling"),
    [
        (SMTPReply(421, "4.7.28 Gmail has detected an unusual rate of unsolicited mail"), True),
        (SMTPReply(421, "Too many concurrent SMTP connections"), True),
        (SMTPReply(451, "4.7.500 Server busy. Please try again later"), True),
        (
            SMTPReply(421, "4.7.0 [TSS04] Messages temporarily deferred due to user complaints"),
            True,
        ),
        (SMTPReply(450, "4.2.1 The user is receiving mail at a rate that prevents more"), True),
        (SMTPReply(451, "4.3.0 Mail server temporarily rejected message"), False),
        (SMTPReply(450, "4.2.0 Mailbox unavailable"), False),
        (SMTPReply(550, "5.7.1 Our system has detected spam"), False),
        (SMTPReply(250, "2.0.0 OK"), False),
        (connection_failed("127.0.0.1:25: connection refused"), False),
        (timed_out("127.0.0.1:25"), False),
    ],
)
def test_throttling_replies_are_told_from_other_failures(
    reply: SMTPReply, throttling: bool
) -> None:
    assert is_throttling(reply) is throttling


def test_settings_override_only_the_fields_they_name() -> None:
    limits = limits_with({"yahoo": {"rate": 5}, "other:example.net": {"concurrency": 2}})
    assert limits["yahoo"] == ProviderLimits(rate=5.0, concurrency=10)
    assert limits["other:example.net"].concurrency == 2
    assert limits["google"] == DEFAULT_LIMITS["google"]


async def test_throttling_halves_the_limit_once_per_burst_down_to_the_floor() -> None:
    clock = Clock()
    ceiling = ProviderLimits(rate=40, concurrency=8, min_rate=4, min_concurrency=1)
    shaper = Shaper(ShapingConfig(limits={"google": ceiling}), clock=clock)
    throttle = [SMTPReply(421, "4.7.0 Try again later")]
    # The replies of transactions that were in flight together count once.
    for _ in range(5):
        assert shaper.observe("google", throttle)
    assert shaper.limits("google") == (20, 4)
    for _ in range(5):
        clock.now += 1.0
        shaper.observe("google", throttle)
    assert shaper.limits("google") == (4, 1)
    # Another provider is untouched.
    assert shaper.limits("yahoo") == (DEFAULT_LIMITS["yahoo"].rate, 10)
    assert not shaper.observe("google", [SMTPReply(250, "2.0.0 OK")])


async def test_the_limit_climbs_back_after_quiet_periods_up_to_the_ceiling() -> None:
    clock = Clock()
    ceiling = ProviderLimits(rate=40, concurrency=10, min_rate=1, min_concurrency=1)
    shaper = Shaper(ShapingConfig(limits={"google": ceiling}, quiet_seconds=60), clock=clock)
    for _ in range(6):
        clock.now += 1.0
        shaper.observe("google", [SMTPReply(421, "4.7.0 Try again later")])
    assert shaper.limits("google") == (1, 1)
    clock.now += 59
    assert shaper.limits("google") == (1, 1)
    clock.now += 1
    assert shaper.limits("google") == (5, 2)
    clock.now += 120
    assert shaper.limits("google") == (13, 4)
    clock.now += 3600
    assert shaper.limits("google") == (40, 10)


async def test_a_provider_at_its_rate_holds_deliveries_back_spread_over_time() -> None:
    clock = Clock()
    ceiling = ProviderLimits(rate=2, concurrency=10)
    config = ShapingConfig(limits={"yahoo": ceiling}, max_wait_seconds=0.0)
    shaper = Shaper(config, clock=clock)
    # One second's worth of burst goes at once; the rest is held back, a slot apart (and
    # never less than a second).
    permits = [await shaper.acquire("yahoo") for _ in range(5)]
    assert [p.held_seconds for p in permits] == [None, None, 1.0, 1.0, 1.5]
    for permit in permits:
        permit.release()
    # Held permits reserved nothing: the provider's next slot is still half a second away.
    clock.now += 0.5
    assert (await shaper.acquire("yahoo")).held_seconds is None


async def test_a_full_provider_holds_back_instead_of_filling_the_worker() -> None:
    ceiling = ProviderLimits(rate=1000, concurrency=2)
    shaper = Shaper(ShapingConfig(limits={"apple": ceiling}, max_wait_seconds=0.05))
    first, second = await shaper.acquire("apple"), await shaper.acquire("apple")
    # Two in flight: the next ones wait in line, at most max_wait, and no more than the
    # provider's concurrency may wait at all.
    waiting = [asyncio.create_task(shaper.acquire("apple")) for _ in range(4)]
    await asyncio.sleep(0)
    first.release()
    permits = await asyncio.gather(*waiting)
    assert [p.held_seconds is None for p in permits] == [True, False, False, False]
    permits[0].release()
    second.release()
    # Everything released: the provider takes two at once again.
    again = [await shaper.acquire("apple") for _ in range(2)]
    assert all(p.held_seconds is None for p in again)
