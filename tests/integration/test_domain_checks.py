"""Sending domains' DNS checks against a real local DNS server, on SQLite and PostgreSQL:
correct, missing and wrong records each reported with what to fix; a record that breaks
after passing raises a DomainCheckFailed event whose webhook reaches a real receiver; the
scheduler's task re-checks on its interval."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from builders import T0, Tenant
from misiva.accounts.domains import domain_keys
from misiva.domain.dkim_keys import RotationPolicy
from misiva.domain.dns_checks import RecordKind, RecordStatus
from misiva.domain.enums import EventType
from misiva.mail.dkim import generate_key
from misiva.mail.published import PublishedRecord, SendingSetup, records_to_publish
from misiva.runtime.wiring import Platform
from misiva.scheduler.domain_checks import DomainChecker, DomainCheckTask
from misiva.storage import domains as domain_store
from misiva.storage import events as event_store
from misiva.testing.dns_server import DnsServer
from misiva.testing.webhook_receiver import WebhookReceiver
from misiva.webhooks.admin import create_webhook
from misiva.webhooks.dispatcher import DispatchConfig, WebhookDispatcher
from misiva.webhooks.targets import WebhookTargets

SENDER_IP = "192.0.2.25"
SETUP = SendingSetup("mx.misiva.test", "bounces.misiva.test", (SENDER_IP,))


@pytest.fixture
def dns() -> Iterator[DnsServer]:
    with DnsServer() as server:
        # The installation: its host's address, its bounce domain's MX and SPF.
        server.add("mx.misiva.test", "A", SENDER_IP)
        server.add("bounces.misiva.test", "MX", "10 mx.misiva.test.")
        yield server


def checker(dns: DnsServer, setup: SendingSetup = SETUP) -> DomainChecker:
    return DomainChecker(dns.address, setup, timeout=2.0, policy=RotationPolicy())


def quoted(value: str) -> str:
    """A long TXT value as DNS providers split it: 255-octet strings (RFC 1035 §3.3.14)."""
    return " ".join(f'"{value[i : i + 255]}"' for i in range(0, len(value), 255))


def publish(dns: DnsServer, records: list[PublishedRecord], *skip: RecordKind) -> None:
    for record in records:
        if record.kind not in skip:
            value = record.value + "." if record.type == "CNAME" else quoted(record.value)
            dns.add(record.name, record.type, value)


async def published(platform: Platform, tenant: Tenant) -> list[PublishedRecord]:
    return records_to_publish("shop.test", await domain_keys(platform.db, tenant.domain), SETUP)


async def test_correct_records_all_pass_and_spf_aligns_through_the_return_path(
    platform: Platform, tenant: Tenant, dns: DnsServer
) -> None:
    records = await published(platform, tenant)
    assert [r.kind for r in records] == list(RecordKind)
    assert records[1].value == f"v=spf1 ip4:{SENDER_IP} ~all"
    assert (records[3].name, records[3].value) == (
        "misiva-bounces.shop.test",
        "bounces.misiva.test",
    )
    publish(dns, records)
    check = await checker(dns).check(platform.db, tenant.server.id, "shop.test", clock=lambda: T0)
    assert check.ok and {r.status for r in check.records} == {RecordStatus.PASS}
    dmarc = check.by_kind()["dmarc"]
    assert "SPF aligns (Return-Path misiva-bounces.shop.test, aspf=r)." in dmarc.notes
    assert "0 of 10 DNS lookups." in check.by_kind()["spf"].notes


async def test_missing_records_fail_each_with_what_to_publish(
    platform: Platform, tenant: Tenant, dns: DnsServer
) -> None:
    check = await checker(dns).check(platform.db, tenant.server.id, "shop.test")
    found = check.by_kind()
    assert not check.ok and all(r.status is RecordStatus.FAIL for r in check.records)
    assert found["dkim"].problem == "The DKIM key is not published."
    assert found["dkim"].fix.startswith(f"Publish a TXT record at {found['dkim'].name}")
    assert found["spf"].problem == "No SPF record is published."
    assert found["dmarc"].problem == "No DMARC record is published."
    assert found["return-path"].problem == "The Return-Path record is not published."
    assert found["return-path"].fix == (
        "Publish a CNAME record at misiva-bounces.shop.test pointing at bounces.misiva.test."
    )


async def test_wrong_records_fail_with_the_reason(
    platform: Platform, tenant: Tenant, dns: DnsServer
) -> None:
    records = await published(platform, tenant)
    dkim, spf, dmarc, return_path = records
    dns.add(dkim.name, "TXT", quoted(generate_key("other").public_txt))
    dns.add(spf.name, "TXT", "v=spf1 ip4:198.51.100.1 -all")
    dns.add(dmarc.name, "TXT", "v=DMARC1; p=block")
    dns.add(return_path.name, "CNAME", "bounces.elsewhere.test.")
    found = (await checker(dns).check(platform.db, tenant.server.id, "shop.test")).by_kind()
    assert "holds another key" in found["dkim"].problem
    assert found["spf"].problem.startswith(f"The SPF record does not authorise {SENDER_IP}")
    assert "(the result is fail)" in found["spf"].problem
    assert (
        found["spf"].fix
        == f"Add ip4:{SENDER_IP} to the SPF record at {spf.name}, before its all term."
    )
    assert found["dmarc"].problem == "The record needs p=none, p=quarantine or p=reject."
    assert found["return-path"].problem == (
        "misiva-bounces.shop.test points at bounces.elsewhere.test, not at bounces.misiva.test."
    )
    assert all(r.status is RecordStatus.FAIL for r in found.values())


async def test_an_spf_record_over_ten_lookups_is_a_permerror(
    platform: Platform, tenant: Tenant, dns: DnsServer
) -> None:
    records = await published(platform, tenant)
    publish(dns, records, RecordKind.SPF)
    includes = " ".join(f"include:i{n}.esp.test" for n in range(11))
    dns.add("bounces.misiva.test", "TXT", f"v=spf1 {includes} ip4:{SENDER_IP} -all")
    for n in range(11):
        dns.add(f"i{n}.esp.test", "TXT", f"v=spf1 ip4:203.0.113.{n} -all")
    spf = (await checker(dns).check(platform.db, tenant.server.id, "shop.test")).by_kind()["spf"]
    assert spf.status is RecordStatus.FAIL
    assert "more than 10 DNS lookups" in spf.problem and "ip4:" in spf.fix


async def test_unknown_sending_addresses_make_spf_a_warning(
    platform: Platform, tenant: Tenant, dns: DnsServer
) -> None:
    setup = SendingSetup("unknown-host.misiva.test", "bounces.misiva.test")
    records = records_to_publish("shop.test", await domain_keys(platform.db, tenant.domain), setup)
    assert records[1].value == "v=spf1 a:unknown-host.misiva.test ~all"
    publish(dns, records)
    check = await checker(dns, setup).check(platform.db, tenant.server.id, "shop.test")
    spf = check.by_kind()["spf"]
    assert spf.status is RecordStatus.WARN and check.ok
    assert spf.fix == "Set MISIVA_OUTBOUND_IPS to the public addresses delivery connects from."


async def test_a_record_that_breaks_raises_an_event_and_a_webhook(
    platform: Platform, tenant: Tenant, dns: DnsServer
) -> None:
    records = await published(platform, tenant)
    publish(dns, records)
    domains_checker = checker(dns)
    with WebhookReceiver() as receiver:
        await create_webhook(
            platform.db,
            tenant.server.id,
            {"Url": receiver.url, "Triggers": {"DomainCheckFailed": {"Enabled": True}}},
            targets=WebhookTargets(allow_private=True),
        )
        # The first check passes: no event (nothing broke; nothing was known before).
        await domains_checker.check(platform.db, tenant.server.id, "shop.test", clock=lambda: T0)
        # The DNS times out: nothing is known, so nothing is reported as broken.
        dns.fail(records[0].name, "SERVFAIL")
        later = T0 + timedelta(hours=6)
        check = await domains_checker.check(
            platform.db, tenant.server.id, "shop.test", clock=lambda: later
        )
        assert check.by_kind()["dkim"].status is RecordStatus.ERROR
        dns.heal(records[0].name)
        await domains_checker.check(
            platform.db, tenant.server.id, "shop.test", clock=lambda: later + timedelta(hours=1)
        )
        # Someone deletes the DKIM record: it broke.
        dns.remove(records[0].name)
        broke_at = T0 + timedelta(hours=12)
        await domains_checker.check(
            platform.db, tenant.server.id, "shop.test", clock=lambda: broke_at
        )
        async with platform.db.reading() as tx:
            _, events = await event_store.list_server_events(
                tx, tenant.server.id, EventType.DOMAIN_CHECK_FAILED
            )
            history = await domain_store.status_history(tx, tenant.domain.id)
        [event] = events
        assert (event.message_id, event.recipient, event.created_at) == (
            None,
            "shop.test",
            broke_at,
        )
        assert event.details["previous_status"] == "pass" and event.details["record"] == "dkim"
        assert [(h.kind, h.old, h.new) for h in history[:3]] == [
            (RecordKind.DKIM, RecordStatus.PASS, RecordStatus.FAIL),
            (RecordKind.DKIM, RecordStatus.ERROR, RecordStatus.PASS),
            (RecordKind.DKIM, RecordStatus.PASS, RecordStatus.ERROR),
        ]
        dispatcher = WebhookDispatcher(platform.db, DispatchConfig(allow_private_targets=True))
        try:
            assert await dispatcher.run_once() == 1
        finally:
            await dispatcher.close()
    [post] = receiver.accepted
    assert post.json == {
        "RecordType": "DomainCheckFailed",
        "ServerID": tenant.server.id,
        "Domain": "shop.test",
        "Record": "dkim",
        "Host": records[0].name,
        "Type": "TXT",
        "Status": "fail",
        "PreviousStatus": "pass",
        "Problem": "The DKIM key is not published.",
        "Fix": f"Publish a TXT record at {records[0].name} with the value shown.",
        "Expected": records[0].value,
        "Found": [],
        "CheckedAt": broke_at.isoformat(timespec="microseconds"),
    }


async def test_the_scheduler_rechecks_each_domain_on_its_interval(
    platform: Platform, tenant: Tenant, dns: DnsServer
) -> None:
    now = [T0]
    task = DomainCheckTask(platform.db, checker(dns), interval_seconds=3600, clock=lambda: now[0])
    assert await task.run_once() == 1
    now[0] = T0 + timedelta(minutes=59)
    assert await task.run_once() == 0
    now[0] = T0 + timedelta(minutes=61)
    assert await task.run_once() == 1
    async with platform.db.reading() as tx:
        [last] = (await domain_store.last_checks(tx, tenant.server.id)).values()
    assert last.checked_at == now[0]
