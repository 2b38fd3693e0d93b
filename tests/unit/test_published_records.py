"""The records a sending domain publishes, from its keys and how the installation sends."""

from __future__ import annotations

from builders import T0
from misiva.domain.dkim_keys import DkimKeyRecord, KeyAlgorithm, KeyState
from misiva.domain.dns_checks import RecordKind
from misiva.mail.published import SendingSetup, records_to_publish


def key(id: int, state: KeyState, algorithm: KeyAlgorithm = KeyAlgorithm.RSA) -> DkimKeyRecord:
    return DkimKeyRecord(id, 1, f"s{id}", algorithm, state, b"", f"v=DKIM1; p=K{id}", T0)


def test_records_in_a_label_form_with_the_signing_key_first() -> None:
    keys = [
        key(1, KeyState.RETIRED),
        key(2, KeyState.RETIRING),
        key(3, KeyState.PENDING),
        key(4, KeyState.ACTIVE),
    ]
    setup = SendingSetup("mx.misiva.test", "bounces.misiva.test", ("192.0.2.1", "2001:db8::1"))
    records = records_to_publish("Bücher.de", keys, setup)
    assert [(r.kind, r.name, r.type, r.value) for r in records] == [
        (RecordKind.DKIM, "s4._domainkey.xn--bcher-kva.de", "TXT", "v=DKIM1; p=K4"),
        (RecordKind.DKIM, "s3._domainkey.xn--bcher-kva.de", "TXT", "v=DKIM1; p=K3"),
        (RecordKind.DKIM, "s2._domainkey.xn--bcher-kva.de", "TXT", "v=DKIM1; p=K2"),
        (RecordKind.SPF, "bounces.misiva.test", "TXT", "v=spf1 ip4:192.0.2.1 ip6:2001:db8::1 ~all"),
        (
            RecordKind.DMARC,
            "_dmarc.xn--bcher-kva.de",
            "TXT",
            "v=DMARC1; p=none; rua=mailto:dmarc@xn--bcher-kva.de",
        ),
        (RecordKind.RETURN_PATH, "misiva-bounces.xn--bcher-kva.de", "CNAME", "bounces.misiva.test"),
    ]


def test_without_a_bounce_domain_spf_is_the_domains_own_and_no_return_path() -> None:
    records = records_to_publish("shop.test", [key(1, KeyState.ACTIVE)], SendingSetup("mx.test"))
    assert [(r.kind, r.name, r.value) for r in records[1:]] == [
        (RecordKind.SPF, "shop.test", "v=spf1 a:mx.test ~all"),
        (RecordKind.DMARC, "_dmarc.shop.test", "v=DMARC1; p=none; rua=mailto:dmarc@shop.test"),
    ]
