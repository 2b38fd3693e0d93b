"""What delivery needs of a sending domain: the keys it signs with and its Return-Path."""

from __future__ import annotations

from dataclasses import dataclass

from misiva.domain.dkim_keys import DkimKeyRecord
from misiva.domain.records import SendingDomain


@dataclass(frozen=True, slots=True)
class SendingIdentity:
    domain: SendingDomain
    # The active keys, RSA first (domain.dkim_keys.signing_keys): one signature each.
    keys: tuple[DkimKeyRecord, ...]
    # The domain's own Return-Path name (misiva-bounces.<domain>) once a check found it
    # leading to the bounce domain; None until then, and the bounce domain is used.
    return_path_domain: str | None = None
