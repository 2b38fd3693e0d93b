"""Sending domains' DKIM keys and the states of their rotation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from misiva.domain.dkim_keys import DkimKeyRecord, KeyAlgorithm, KeyState
from misiva.storage.engine import Tx
from misiva.storage.tables import dkim_keys

# The column that records when a key entered each state.
_STATE_TIME = {
    KeyState.ACTIVE: "activated_at",
    KeyState.RETIRING: "retiring_at",
    KeyState.RETIRED: "retired_at",
}


def _key(row: Any) -> DkimKeyRecord:
    return DkimKeyRecord(
        id=row.id,
        domain_id=row.domain_id,
        selector=row.selector,
        algorithm=KeyAlgorithm(row.algorithm),
        state=KeyState(row.state),
        private_key_pem=row.private_key.encode(),
        public_txt=row.public_txt,
        created_at=row.created_at,
        activated_at=row.activated_at,
        retiring_at=row.retiring_at,
        retired_at=row.retired_at,
    )


async def insert_key(
    tx: Tx,
    *,
    domain_id: int,
    selector: str,
    algorithm: KeyAlgorithm,
    private_key_pem: bytes,
    public_txt: str,
    state: KeyState,
    now: datetime,
) -> DkimKeyRecord:
    result = await tx.execute(
        sa.insert(dkim_keys)
        .values(
            domain_id=domain_id,
            selector=selector,
            algorithm=algorithm.value,
            state=state.value,
            private_key=private_key_pem.decode(),
            public_txt=public_txt,
            created_at=now,
            activated_at=now if state is KeyState.ACTIVE else None,
        )
        .returning(*dkim_keys.c)
    )
    return _key(result.one())


async def keys_by_domain(
    tx: Tx, domain_ids: list[int], *, states: tuple[KeyState, ...] = tuple(KeyState)
) -> dict[int, list[DkimKeyRecord]]:
    """Each domain's keys in the given states, oldest first; every id is a key of the dict."""
    found: dict[int, list[DkimKeyRecord]] = {i: [] for i in domain_ids}
    if not domain_ids:
        return found
    rows = await tx.execute(
        sa.select(dkim_keys)
        .where(
            dkim_keys.c.domain_id.in_(domain_ids), dkim_keys.c.state.in_([s.value for s in states])
        )
        .order_by(dkim_keys.c.id)
    )
    for row in rows:
        found[row.domain_id].append(_key(row))
    return found


async def domains_rotating(tx: Tx) -> list[int]:
    """Domains with a key on its way in (pending) or out (retiring): the rotation's work."""
    rows = await tx.execute(
        sa.select(dkim_keys.c.domain_id)
        .where(dkim_keys.c.state.in_([KeyState.PENDING.value, KeyState.RETIRING.value]))
        .distinct()
        .order_by(dkim_keys.c.domain_id)
    )
    return [int(row.domain_id) for row in rows]


async def set_state(
    tx: Tx, key_id: int, state: KeyState, at: datetime, *, expected: KeyState
) -> bool:
    """Move a key to `state` (stamping its time) if it is still in `expected`: two scheduler
    passes on two hosts cannot both take the same step."""
    values: dict[str, Any] = {"state": state.value}
    if state in _STATE_TIME:
        values[_STATE_TIME[state]] = at
    result = await tx.execute(
        sa.update(dkim_keys)
        .where(dkim_keys.c.id == key_id, dkim_keys.c.state == expected.value)
        .values(**values)
    )
    return bool(result.rowcount)
