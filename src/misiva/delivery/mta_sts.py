"""MTA-STS (RFC 8461): find a recipient domain's policy (its `_mta-sts` TXT record, then the
policy file over HTTPS), keep it for its max_age, and say which MX hosts it allows; the one
module of delivery that imports httpx."""

from __future__ import annotations

import logging
import re
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import httpx

from misiva.dns.resolver import DnsError, Resolver

log = logging.getLogger(__name__)

POLICY_URL = "https://mta-sts.{domain}/.well-known/mta-sts.txt"
# RFC 8461 §3.3: at most 31557600 seconds (a year); a policy file is small (64 KB is ample).
MAX_AGE_LIMIT = 31_557_600
MAX_POLICY_BYTES = 64 * 1024
# How long the answer to `_mta-sts.DOMAIN` is reused: asking DNS before every message would
# add a lookup to each delivery, and a changed policy id may wait a few minutes (§3.1).
TXT_RECHECK_SECONDS = 300.0
FETCH_TIMEOUT = 10.0  # §3.3 suggests a timeout of about a minute; an MX attempt waits on it
MAX_DOMAINS = 100_000  # bounds both caches' memory
_TXT_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")


class StsMode(StrEnum):
    ENFORCE = "enforce"
    TESTING = "testing"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class StsPolicy:
    mode: StsMode
    mx: tuple[str, ...]
    max_age: int
    id: str = ""

    def allows(self, host: str) -> bool:
        """§4.1: an exact name, or `*.example.com` matching exactly one leftmost label."""
        name = host.lower().rstrip(".")
        for pattern in self.mx:
            if pattern.startswith("*."):
                label, _, rest = name.partition(".")
                if label and rest == pattern[2:]:
                    return True
            elif name == pattern:
                return True
        return False


def parse_policy(text: str) -> StsPolicy:
    """§3.2: `key: value` lines; version STSv1, a mode, max_age, mx lines unless mode none."""
    fields: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip().lower(), []).append(value.strip())
    if fields.get("version") != ["STSv1"]:
        raise ValueError("the policy's version is not STSv1")
    try:
        mode = StsMode(fields.get("mode", [""])[0])
        max_age = int(fields.get("max_age", [""])[0])
    except ValueError:
        raise ValueError("the policy's mode or max_age is missing or wrong") from None
    mx = tuple(p.lower().rstrip(".") for p in fields.get("mx", []))
    if mode is not StsMode.NONE and not mx:
        raise ValueError("the policy names no mx")
    return StsPolicy(mode=mode, mx=mx, max_age=min(max(max_age, 0), MAX_AGE_LIMIT))


def parse_txt(records: list[str]) -> str | None:
    """§3.1: the id of the one `v=STSv1` record; none (or several) means no policy."""
    found = [r for r in records if r.replace(" ", "").startswith("v=STSv1;")]
    if len(found) != 1:
        return None
    for part in found[0].split(";"):
        key, _, value = part.strip().partition("=")
        if key == "id" and _TXT_ID.match(value):
            return value
    return None


class MtaSts:
    """Policies of recipient domains, cached per domain for their max_age."""

    def __init__(
        self,
        resolver: Resolver,
        *,
        policy_url: str = POLICY_URL,
        ca_file: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._resolver = resolver
        self._url = policy_url
        self._tls = ssl.create_default_context(cafile=ca_file)
        self._clock = clock
        self._cache: dict[str, tuple[float, StsPolicy]] = {}
        self._txt: dict[str, tuple[float, str | None]] = {}
        self._client: httpx.AsyncClient | None = None

    async def policy(self, domain: str) -> StsPolicy | None:
        """The domain's policy in force, or None: deliver as without MTA-STS."""
        domain = domain.lower().rstrip(".")
        cached = self._cache.get(domain)
        if cached is not None and cached[0] <= self._clock():
            del self._cache[domain]
            cached = None
        txt_id = await self._txt_id(domain)
        # §5.1: a cached policy stays in force while its max_age runs, even when the TXT
        # record is gone or unreachable (that is what stops a downgrade by DNS).
        if txt_id is None or (cached is not None and cached[1].id == txt_id):
            return cached[1] if cached else None
        fetched = await self._fetch(domain, txt_id)
        if fetched is None:
            return cached[1] if cached else None
        if len(self._cache) >= MAX_DOMAINS:
            del self._cache[next(iter(self._cache))]
        self._cache[domain] = (self._clock() + fetched.max_age, fetched)
        return fetched

    async def _txt_id(self, domain: str) -> str | None:
        now = self._clock()
        known = self._txt.get(domain)
        if known is not None and known[0] > now:
            return known[1]
        try:
            txt_id = parse_txt(await self._resolver.txt(f"_mta-sts.{domain}"))
        except DnsError:
            txt_id = None
        if len(self._txt) >= MAX_DOMAINS:
            del self._txt[next(iter(self._txt))]  # the oldest entry first
        self._txt[domain] = (now + TXT_RECHECK_SECONDS, txt_id)
        return txt_id

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _fetch(self, domain: str, txt_id: str) -> StsPolicy | None:
        """§3.3: HTTPS with a valid certificate, no redirects, a 200 text/plain answer."""
        if self._client is None:
            self._client = httpx.AsyncClient(
                verify=self._tls, timeout=FETCH_TIMEOUT, follow_redirects=False
            )
        url = self._url.format(domain=domain)
        try:
            response = await self._client.get(url)
            kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if response.status_code != 200 or kind != "text/plain":
                raise ValueError(f"HTTP {response.status_code} {kind or 'no content type'}")
            if len(response.content) > MAX_POLICY_BYTES:
                raise ValueError("the policy is too large")
            parsed = parse_policy(response.text)
        except (httpx.HTTPError, ValueError) as error:
            log.warning("MTA-STS policy of %s not usable (%s): %s", domain, url, error)
            return None
        return StsPolicy(parsed.mode, parsed.mx, parsed.max_age, txt_id)
