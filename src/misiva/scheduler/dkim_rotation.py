"""Advance DKIM key rotations: activate published new keys after the overlap, retire old
ones after theirs (the steps are `domain.dkim_keys.advance`; this job takes them)."""

from __future__ import annotations

import asyncio
import logging

from misiva.domain.clock import Clock, utcnow
from misiva.domain.dkim_keys import DkimKeyRecord, KeyState, Transition, advance
from misiva.mail.published import records_to_publish
from misiva.scheduler.domain_checks import DomainChecker
from misiva.scheduler.periodic import run_every
from misiva.storage import Database
from misiva.storage import dkim_keys as key_store
from misiva.storage import domains as domain_store

log = logging.getLogger(__name__)


class DkimRotation:
    """`run_once` takes every step that is due; `run` does so every `poll_seconds`."""

    def __init__(
        self,
        db: Database,
        checker: DomainChecker,
        *,
        clock: Clock = utcnow,
        poll_seconds: float = 300.0,
    ) -> None:
        self._db = db
        self._checker = checker
        self._clock = clock
        self._poll = poll_seconds

    async def run_once(self) -> list[Transition]:
        """The steps taken in this pass, over every domain with a key coming or going."""
        async with self._db.reading() as tx:
            ids = await key_store.domains_rotating(tx)
            domains = await domain_store.get_domains_by_id(tx, ids)
            keys = await key_store.keys_by_domain(tx, ids)
        taken: list[Transition] = []
        for domain_id in ids:
            domain = domains[domain_id]
            taken += await self._advance(domain.name, keys[domain_id])
        return taken

    async def _advance(self, name: str, keys: list[DkimKeyRecord]) -> list[Transition]:
        now = self._clock()
        policy = self._checker.policy
        due = advance(keys, now, policy)
        published = None
        if any(step.to is KeyState.ACTIVE for step in due):
            # Only when a key would start signing is the DNS asked whether it is there.
            records = records_to_publish(name, keys, self._checker.setup)
            published = await self._checker.published_selectors(name, records)
            due = advance(keys, now, policy, published)
        taken = []
        async with self._db.transaction() as tx:
            for step in due:
                if await key_store.set_state(
                    tx, step.key.id, step.to, step.at, expected=step.key.state
                ):
                    taken.append(step)
        for step in taken:
            log.info("dkim %s: key %s is %s", name, step.key.selector, step.to.value)
        return taken

    async def run(self, stop: asyncio.Event) -> None:
        await run_every(stop, self._poll, self.run_once, "dkim rotation")
