"""A sending domain's DKIM keys and their rotation schedule: each key's state and its times.

A rotation (RFC 6376 §3.1 selectors make it possible, M3AAWG's key rotation practice says
when) walks one key through `pending → active → retiring → retired`:

* **pending**: made and shown to publish at its new selector; nothing is signed with it yet.
* **active**: messages are signed with it. A domain has at most one active key per
  algorithm, so with an Ed25519 key each message carries two signatures (RFC 8463 §4).
* **retiring**: a newer key of its algorithm took over; it stays published so that mail
  signed with it and still in transit, or verified late, keeps verifying.
* **retired**: its DNS record may be removed; the row stays as the domain's key history.

`advance` decides the steps from the keys and the clock alone, so a scheduler pass and a
test with an injected clock walk the same path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum


class KeyAlgorithm(StrEnum):
    """The key's type, and the a= of its signatures."""

    RSA = "rsa"
    ED25519 = "ed25519"

    @property
    def signature_algorithm(self) -> str:
        return "rsa-sha256" if self is KeyAlgorithm.RSA else "ed25519-sha256"


class KeyState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    RETIRING = "retiring"
    RETIRED = "retired"

    @property
    def published(self) -> bool:
        """Whether its DNS record must be (or stay) published."""
        return self is not KeyState.RETIRED


@dataclass(frozen=True, slots=True)
class DkimKeyRecord:
    """One stored key of a domain, with the times of its rotation."""

    id: int
    domain_id: int
    selector: str
    algorithm: KeyAlgorithm
    state: KeyState
    private_key_pem: bytes = field(repr=False)
    public_txt: str
    created_at: datetime
    activated_at: datetime | None = None
    retiring_at: datetime | None = None
    retired_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RotationPolicy:
    """How long each step lasts: both settings, both in hours in the configuration."""

    # Between publishing a key and signing with it: DNS caches (TTLs, negative answers,
    # RFC 2308) must all have seen the new record before a receiver looks it up.
    overlap: timedelta = timedelta(days=3)
    # Between the last signature with a key and its retirement: mail signed with it may sit
    # in other queues for days (RFC 5321 §4.5.4.1 suggests 4-5 days) before it is verified.
    retire_after: timedelta = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Transition:
    """One step to take: `key` goes to `to` at `at`."""

    key: DkimKeyRecord
    to: KeyState
    at: datetime


def advance(
    keys: list[DkimKeyRecord],
    now: datetime,
    policy: RotationPolicy,
    published: frozenset[str] | None = None,
) -> list[Transition]:
    """The steps due at `now` for one domain's keys.

    A pending key becomes active once the overlap has passed *and* (when `published` is
    given: the selectors whose DNS record was found with the right key) it is published:
    signing with a key receivers cannot find would fail DKIM for every message. The key it
    replaces (the active one of the same algorithm) starts retiring at that moment.
    """
    steps: list[Transition] = []
    for key in keys:
        if key.state is KeyState.PENDING and now >= key.created_at + policy.overlap:
            if published is not None and key.selector not in published:
                continue
            steps.append(Transition(key, KeyState.ACTIVE, now))
            steps += [
                Transition(old, KeyState.RETIRING, now)
                for old in keys
                if old.state is KeyState.ACTIVE and old.algorithm is key.algorithm
            ]
        elif (
            key.state is KeyState.RETIRING
            and key.retiring_at is not None
            and now >= key.retiring_at + policy.retire_after
        ):
            steps.append(Transition(key, KeyState.RETIRED, now))
    return steps


def signing_keys(keys: list[DkimKeyRecord]) -> list[DkimKeyRecord]:
    """The keys a message is signed with: the active ones, RSA first.

    RSA first because some verifiers look only at the first signature, and every verifier
    knows rsa-sha256 while ed25519-sha256 is still unknown to many (RFC 8463 §4).
    """
    active = [k for k in keys if k.state is KeyState.ACTIVE]
    return sorted(active, key=lambda k: (k.algorithm is not KeyAlgorithm.RSA, k.id))


def new_selector(now: datetime, algorithm: KeyAlgorithm, taken: set[str]) -> str:
    """A selector naming the day the key was made and its algorithm, e.g. `misiva20261122`
    or `misiva20261122e`; `-2`, `-3`... when a selector of that day is taken already.

    Selectors are DNS labels (RFC 6376 §3.1); a dated one tells which key is older, and
    old and new are published side by side during a rotation.
    """
    base = f"misiva{now:%Y%m%d}" + ("e" if algorithm is KeyAlgorithm.ED25519 else "")
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        candidate = f"{base}-{number}"
    return candidate
