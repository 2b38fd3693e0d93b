"""DMARC (RFC 7489): read a domain's policy record and tell whether two domains align.

Alignment compares organizational domains (§3.2), which the Public Suffix List defines;
`publicsuffixlist` ships a copy of the list, so no download happens at run time.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from publicsuffixlist import PublicSuffixList

_TAG = re.compile(r"^\s*([a-z]+)\s*=\s*(.*?)\s*$", re.I)
_POLICIES = ("none", "quarantine", "reject")


class DmarcSyntaxError(ValueError):
    """A record that receivers cannot use, with the reason in a sentence."""


@dataclass(frozen=True, slots=True)
class DmarcPolicy:
    """The tags that matter to a sender: the policy and how strictly each identifier aligns."""

    policy: str
    subdomain_policy: str
    # "r" relaxed (same organizational domain) or "s" strict (same name), RFC 7489 §3.1.
    adkim: str = "r"
    aspf: str = "r"
    pct: int = 100
    rua: tuple[str, ...] = ()


def parse_policy(record: str) -> DmarcPolicy:
    """A DMARC TXT value as a policy; DmarcSyntaxError when receivers would ignore it."""
    parts = [p for p in record.split(";") if p.strip()]
    tags: dict[str, str] = {}
    for part in parts:
        match = _TAG.match(part)
        if match is None:
            raise DmarcSyntaxError(f"{part.strip()!r} is not a tag=value pair.")
        tags.setdefault(match.group(1).lower(), match.group(2))
    # RFC 7489 §6.3: v=DMARC1 must come first, and p= must be there with a known value.
    first = _TAG.match(parts[0]) if parts else None
    if first is None or first.group(1).lower() != "v" or first.group(2) != "DMARC1":
        raise DmarcSyntaxError("The record must start with v=DMARC1.")
    policy = tags.get("p", "").lower()
    if policy not in _POLICIES:
        raise DmarcSyntaxError("The record needs p=none, p=quarantine or p=reject.")
    subdomain = tags.get("sp", policy).lower()
    modes = {k: tags.get(k, "r").lower() for k in ("adkim", "aspf")}
    if any(mode not in ("r", "s") for mode in modes.values()):
        raise DmarcSyntaxError("adkim and aspf take r (relaxed) or s (strict).")
    try:
        pct = int(tags.get("pct", "100"))
    except ValueError:
        raise DmarcSyntaxError("pct must be a number from 0 to 100.") from None
    rua = tuple(u.strip() for u in tags.get("rua", "").split(",") if u.strip())
    return DmarcPolicy(policy, subdomain, modes["adkim"], modes["aspf"], pct, rua)


@functools.lru_cache(maxsize=1)
def _suffixes() -> PublicSuffixList:
    # Reading the list takes a moment: once per process.
    return PublicSuffixList()


def organizational_domain(name: str) -> str:
    """The registered domain of `name` (RFC 7489 §3.2): `mail.shop.example.co.uk` gives
    `example.co.uk`. A name that is itself a public suffix is its own."""
    name = name.strip().rstrip(".").lower()
    return _suffixes().privatesuffix(name) or name


def aligned(from_domain: str, other: str, mode: str) -> bool:
    """Whether `other` (DKIM d= or the Return-Path domain) aligns with the From domain."""
    a, b = from_domain.rstrip(".").lower(), other.rstrip(".").lower()
    if mode == "s":
        return a == b
    return organizational_domain(a) == organizational_domain(b)
