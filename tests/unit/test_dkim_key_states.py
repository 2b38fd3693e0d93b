"""A DKIM key rotation's steps, decided from the keys and an injected clock alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from misiva.domain.dkim_keys import (
    DkimKeyRecord,
    KeyAlgorithm,
    KeyState,
    RotationPolicy,
    advance,
    signing_keys,
)

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
POLICY = RotationPolicy(overlap=timedelta(days=3), retire_after=timedelta(days=7))


def key(
    id: int,
    state: KeyState,
    algorithm: KeyAlgorithm = KeyAlgorithm.RSA,
    *,
    created: datetime = T0,
    retiring: datetime | None = None,
) -> DkimKeyRecord:
    return DkimKeyRecord(id, 1, f"s{id}", algorithm, state, b"", "", created, retiring_at=retiring)


def test_a_new_key_signs_only_after_the_overlap_and_once_published() -> None:
    old = key(1, KeyState.ACTIVE, created=T0 - timedelta(days=300))
    new = key(2, KeyState.PENDING)
    assert advance([old, new], T0 + timedelta(days=2), POLICY) == []
    later = T0 + timedelta(days=3)
    assert advance([old, new], later, POLICY, published=frozenset({"s1"})) == []
    steps = advance([old, new], later, POLICY, published=frozenset({"s1", "s2"}))
    assert [(s.key.id, s.to) for s in steps] == [(2, KeyState.ACTIVE), (1, KeyState.RETIRING)]


def test_a_retiring_key_is_retired_after_its_period() -> None:
    retiring = key(1, KeyState.RETIRING, retiring=T0)
    assert advance([retiring], T0 + timedelta(days=6), POLICY) == []
    [step] = advance([retiring], T0 + timedelta(days=7), POLICY)
    assert (step.key.id, step.to) == (1, KeyState.RETIRED)


def test_an_ed25519_key_replaces_only_the_ed25519_one_and_both_sign() -> None:
    rsa = key(1, KeyState.ACTIVE)
    ed_old = key(2, KeyState.ACTIVE, KeyAlgorithm.ED25519)
    ed_new = key(3, KeyState.PENDING, KeyAlgorithm.ED25519)
    steps = advance([rsa, ed_old, ed_new], T0 + timedelta(days=3), POLICY)
    assert [(s.key.id, s.to) for s in steps] == [(3, KeyState.ACTIVE), (2, KeyState.RETIRING)]
    # RSA first: verifiers that know only rsa-sha256 find theirs on top (RFC 8463 §4).
    assert [k.id for k in signing_keys([ed_old, rsa, ed_new])] == [1, 2]
