"""Check one published record against the DNS: DKIM, SPF, DMARC or the Return-Path name.

Each check answers with a RecordCheck whose status says how the record stands and whose
`problem` and `fix` say, in a sentence each, what is wrong and what to publish instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from misiva.dns.resolver import DnsError, Resolver
from misiva.dns.spf import SpfResult, SpfVerdict, check_host, spf_records
from misiva.domain.dkim_keys import KeyState, RotationPolicy
from misiva.domain.dns_checks import RecordCheck, RecordStatus
from misiva.mail.dmarc_policy import (
    DmarcSyntaxError,
    aligned,
    organizational_domain,
    parse_policy,
)
from misiva.mail.published import PublishedRecord, SendingSetup

_KEY = re.compile(r"(?:^|;)\s*p=([^;]*)")
_DMARC = re.compile(r"^v\s*=\s*DMARC1\s*(;|$)", re.I)


def _result(
    record: PublishedRecord,
    found: list[str],
    status: RecordStatus,
    problem: str = "",
    fix: str = "",
    notes: tuple[str, ...] = (),
) -> RecordCheck:
    return RecordCheck(
        record.kind,
        record.name,
        record.type,
        record.value,
        tuple(found),
        status,
        problem,
        fix,
        notes,
    )


def _dns_error(record: PublishedRecord, error: DnsError) -> RecordCheck:
    return _result(
        record,
        [],
        RecordStatus.ERROR,
        f"The DNS did not answer: {error.message}.",
        "Nothing to change yet: the check runs again on its schedule.",
    )


# --- DKIM -----------------------------------------------------------------------------------


async def check_dkim(
    resolver: Resolver, record: PublishedRecord, policy: RotationPolicy
) -> RecordCheck:
    """The key published at the selector must be ours (RFC 6376 §3.6.1: p= is what counts;
    the other tags may come in any order)."""
    try:
        found = await resolver.lookup(record.name, "TXT")
    except DnsError as error:
        return _dns_error(record, error)
    ours = _key(record.value)
    keys = [_key(value) for value in found]
    state = record.key_state
    if ours in keys:
        return _result(record, found, RecordStatus.PASS, notes=_dkim_notes(record, policy))
    publish = f"Publish a TXT record at {record.name} with the value shown."
    if not found:
        if state is KeyState.PENDING:
            return _result(
                record,
                found,
                RecordStatus.WARN,
                "The new DKIM key is not published yet; it is not used until it is.",
                publish,
                _dkim_notes(record, policy),
            )
        if state is KeyState.RETIRING:
            return _result(
                record,
                found,
                RecordStatus.WARN,
                "The retiring DKIM key was removed early: mail it signed no longer verifies.",
                f"Publish it again at {record.name} until it is retired.",
            )
        return _result(record, found, RecordStatus.FAIL, "The DKIM key is not published.", publish)
    if "" in keys:
        problem = f"The record at {record.name} revokes the key (an empty p=)."
    else:
        problem = f"The record at {record.name} holds another key than this domain signs with."
    return _result(
        record,
        found,
        RecordStatus.FAIL,
        problem,
        f"Replace the value of the TXT record at {record.name} with the value shown.",
    )


def _dkim_notes(record: PublishedRecord, policy: RotationPolicy) -> tuple[str, ...]:
    key = record.key
    if key is None:
        return ()
    if key.state is KeyState.PENDING:
        at = key.created_at + policy.overlap
        return (
            f"New key ({key.algorithm.value}): signs from {at:%Y-%m-%d %H:%M} UTC once published.",
        )
    if key.state is KeyState.RETIRING and key.retiring_at is not None:
        at = key.retiring_at + policy.retire_after
        return (
            f"Retiring key ({key.algorithm.value}): "
            f"remove its record after {at:%Y-%m-%d %H:%M} UTC.",
        )
    return (f"Signing key ({key.algorithm.value}).",)


def _key(value: str) -> str:
    found = _KEY.search(value)
    return re.sub(r"\s+", "", found.group(1)) if found else ""


# --- SPF ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendingAddresses:
    """The addresses delivery connects from, and where that knowledge came from."""

    ips: tuple[str, ...]
    source: str


async def sending_addresses(resolver: Resolver, setup: SendingSetup) -> SendingAddresses:
    """MISIVA_OUTBOUND_IPS when set; else the addresses MISIVA_HOSTNAME resolves to (a
    receiver checks that a sender's EHLO name resolves, so it usually names the sender)."""
    if setup.outbound_ips:
        return SendingAddresses(setup.outbound_ips, "MISIVA_OUTBOUND_IPS")
    found: list[str] = []
    for rdtype in ("A", "AAAA"):
        try:
            found += await resolver.lookup(setup.hostname, rdtype)
        except DnsError:
            continue
    return SendingAddresses(tuple(found), f"the addresses of {setup.hostname}")


async def check_spf(
    resolver: Resolver, record: PublishedRecord, sending: SendingAddresses
) -> RecordCheck:
    """check_host() (RFC 7208 §4) for each sending address, as a receiver would run it."""
    try:
        found = spf_records(await resolver.lookup(record.name, "TXT"))
    except DnsError as error:
        return _dns_error(record, error)
    walk = await check_host(resolver, None, record.name)
    notes = (f"{walk.lookups} of 10 DNS lookups.",)
    if walk.result in (SpfResult.NONE, SpfResult.PERMERROR, SpfResult.TEMPERROR):
        return _spf_broken(record, found, walk, notes)
    if not sending.ips:
        return _result(
            record,
            found,
            RecordStatus.WARN,
            f"Which addresses Misiva sends from is unknown ({sending.source} has none), so "
            "whether this record authorises them was not checked.",
            "Set MISIVA_OUTBOUND_IPS to the public addresses delivery connects from.",
            notes,
        )
    for ip in sending.ips:
        verdict = await check_host(resolver, ip, record.name)
        if verdict.result is not SpfResult.PASS:
            return _spf_refuses(record, found, ip, verdict, notes)
    return _result(record, found, RecordStatus.PASS, notes=notes)


def _spf_broken(
    record: PublishedRecord, found: list[str], walk: SpfVerdict, notes: tuple[str, ...]
) -> RecordCheck:
    if walk.result is SpfResult.NONE:
        return _result(
            record,
            found,
            RecordStatus.FAIL,
            "No SPF record is published.",
            f"Publish a TXT record at {record.name} with the value shown.",
        )
    if walk.result is SpfResult.TEMPERROR:
        return _result(record, found, RecordStatus.ERROR, walk.reason, "", notes)
    fix = (
        "Keep one SPF record: merge the others into it."
        if len(found) > 1
        else "Fix the record so that receivers can evaluate it: fewer include:, a and mx "
        "terms (each costs a lookup), or addresses (ip4:, ip6:) in their place."
    )
    return _result(record, found, RecordStatus.FAIL, walk.reason, fix, notes)


def _spf_refuses(
    record: PublishedRecord,
    found: list[str],
    ip: str,
    verdict: SpfVerdict,
    notes: tuple[str, ...],
) -> RecordCheck:
    if verdict.result in (SpfResult.PERMERROR, SpfResult.TEMPERROR):
        status = RecordStatus.FAIL if verdict.result is SpfResult.PERMERROR else RecordStatus.ERROR
        return _result(record, found, status, verdict.reason, "", notes)
    term = f"ip6:{ip}" if ":" in ip else f"ip4:{ip}"
    return _result(
        record,
        found,
        RecordStatus.FAIL,
        f"The SPF record does not authorise {ip}, an address Misiva sends from "
        f"(the result is {verdict.result.value}).",
        f"Add {term} to the SPF record at {record.name}, before its all term.",
        notes,
    )


# --- DMARC ----------------------------------------------------------------------------------


async def check_dmarc(
    resolver: Resolver, record: PublishedRecord, domain: str, envelope_domain: str
) -> RecordCheck:
    """A usable policy (RFC 7489 §6.3), found at _dmarc.<domain> or, failing that, at the
    organizational domain (§6.6.3); and whether DKIM (d= is the domain) and the Return-Path
    domain align with the From domain under the policy's adkim and aspf."""
    try:
        found, where = await _dmarc_records(resolver, record.name, domain)
    except DnsError as error:
        return _dns_error(record, error)
    publish = f"Publish a TXT record at {record.name} with the value shown."
    if not found:
        return _result(record, found, RecordStatus.FAIL, "No DMARC record is published.", publish)
    if len(found) > 1:
        return _result(
            record,
            found,
            RecordStatus.FAIL,
            "More than one DMARC record is published; receivers then apply none (RFC 7489 §6.6.3).",
            "Keep one DMARC record.",
        )
    try:
        policy = parse_policy(found[0])
    except DmarcSyntaxError as error:
        return _result(record, found, RecordStatus.FAIL, str(error), publish)
    notes = [f"Policy p={policy.policy}" + (f", from {where}." if where else ".")]
    if policy.policy == "none":
        notes.append("p=none only monitors: move to quarantine once reports show all is aligned.")
    if not aligned(domain, domain, policy.adkim):
        # Misiva signs with d= the From domain itself, so this cannot fail; kept for clarity.
        return _result(record, found, RecordStatus.FAIL, "DKIM does not align.", "", tuple(notes))
    notes.append(f"DKIM aligns (d={domain}, adkim={policy.adkim}).")
    if aligned(domain, envelope_domain, policy.aspf):
        notes.append(f"SPF aligns (Return-Path {envelope_domain}, aspf={policy.aspf}).")
        return _result(record, found, RecordStatus.PASS, notes=tuple(notes))
    return _result(
        record,
        found,
        RecordStatus.WARN,
        f"The Return-Path domain {envelope_domain} does not align with {domain} "
        f"(aspf={policy.aspf}); DMARC passes through DKIM alone.",
        "Publish the Return-Path record below, so that SPF aligns too"
        + (" (with aspf=r)." if policy.aspf == "s" else "."),
        tuple(notes),
    )


async def _dmarc_records(resolver: Resolver, name: str, domain: str) -> tuple[list[str], str]:
    """The DMARC records at `name`, else at the organizational domain's (and where)."""
    found = [v.strip() for v in await resolver.lookup(name, "TXT") if _DMARC.match(v.strip())]
    organizational = organizational_domain(domain)
    if found or organizational == domain:
        return found, ""
    parent = f"_dmarc.{organizational}"
    inherited = [v.strip() for v in await resolver.lookup(parent, "TXT") if _DMARC.match(v.strip())]
    return inherited, parent if inherited else ""


# --- Return-Path ----------------------------------------------------------------------------


async def check_return_path(
    resolver: Resolver, record: PublishedRecord, setup: SendingSetup
) -> RecordCheck:
    """The domain's Return-Path name leads to the bounce domain: a CNAME to it, or an MX to
    the host that receives its bounces."""
    bounce = record.value.rstrip(".").lower()
    try:
        target = await resolver.lookup(record.name, "CNAME")
        hosts = [] if target else await resolver.lookup(record.name, "MX")
    except DnsError as error:
        return _dns_error(record, error)
    if bounce in target or setup.hostname.lower() in hosts or bounce in hosts:
        return _result(record, target or hosts, RecordStatus.PASS)
    fix = f"Publish a CNAME record at {record.name} pointing at {bounce}."
    if target:
        problem = f"{record.name} points at {target[0]}, not at {bounce}."
    elif hosts:
        problem = f"The MX of {record.name} is {hosts[0]}, not {setup.hostname}."
    else:
        problem = "The Return-Path record is not published."
    return _result(record, target or hosts, RecordStatus.FAIL, problem, fix)
