"""The DNS records a sending domain publishes, derived from its DKIM keys and how this
installation sends: what `misiva domains records`, the domains page and the check share."""

from __future__ import annotations

from dataclasses import dataclass

from misiva.domain.dkim_keys import DkimKeyRecord, KeyState
from misiva.domain.dns_checks import RETURN_PATH_LABEL, RecordKind
from misiva.mail.addresses import ascii_domain


@dataclass(frozen=True, slots=True)
class SendingSetup:
    """How this installation sends: from which host and addresses, with which bounce domain."""

    hostname: str
    bounce_domain: str | None = None
    # The public addresses delivery connects from (MISIVA_OUTBOUND_IPS); when empty, the
    # addresses of `hostname` are taken to be them.
    outbound_ips: tuple[str, ...] = ()

    def spf_value(self) -> str:
        """The SPF record that authorises this installation (RFC 7208): its addresses when
        known, else its host name's; `~all` (softfail) while a domain is being set up."""
        if self.outbound_ips:
            terms = [f"ip6:{ip}" if ":" in ip else f"ip4:{ip}" for ip in self.outbound_ips]
        else:
            terms = [f"a:{self.hostname}"]
        return "v=spf1 " + " ".join(terms) + " ~all"


@dataclass(frozen=True, slots=True)
class PublishedRecord:
    """One record to publish: its kind, host name, type and value; a DKIM one names its key."""

    kind: RecordKind
    name: str
    type: str
    value: str
    key: DkimKeyRecord | None = None

    @property
    def key_state(self) -> KeyState | None:
        return self.key.state if self.key else None


def return_path_name(domain: str) -> str:
    return f"{RETURN_PATH_LABEL}.{ascii_domain(domain)}"


def spf_name(domain: str, setup: SendingSetup) -> str:
    """Where receivers look for the SPF record: the Return-Path's domain (RFC 7208 §2.4).

    With a bounce domain that is the bounce domain (or, through its CNAME, the domain's own
    Return-Path name); without one, the From address is the Return-Path.
    """
    return setup.bounce_domain or ascii_domain(domain)


def records_to_publish(
    domain: str, keys: list[DkimKeyRecord], setup: SendingSetup
) -> list[PublishedRecord]:
    """DKIM (every key not yet retired, the signing ones first), SPF, DMARC, and the
    domain's Return-Path name when this installation has a bounce domain."""
    name = ascii_domain(domain)
    shown = sorted(
        (k for k in keys if k.state.published),
        key=lambda k: (k.state is not KeyState.ACTIVE, k.state is not KeyState.PENDING, k.id),
    )
    records = [
        PublishedRecord(RecordKind.DKIM, f"{k.selector}._domainkey.{name}", "TXT", k.public_txt, k)
        for k in shown
    ]
    records.append(PublishedRecord(RecordKind.SPF, spf_name(name, setup), "TXT", setup.spf_value()))
    # RFC 7489 §6.3: p=none only reports, the safe first step before quarantine or reject.
    records.append(
        PublishedRecord(
            RecordKind.DMARC, f"_dmarc.{name}", "TXT", f"v=DMARC1; p=none; rua=mailto:dmarc@{name}"
        )
    )
    if setup.bounce_domain:
        records.append(
            PublishedRecord(
                RecordKind.RETURN_PATH, return_path_name(name), "CNAME", setup.bounce_domain
            )
        )
    return records
