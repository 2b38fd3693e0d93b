"""Autovacuum's stand-in for the soak, on a PostgreSQL server that runs without it.

PostgreSQL ships with autovacuum on, and Misiva's plans rely on the statistics it keeps.
A server with it off (this project's test machine is one) never analyses Misiva's tables:
the dashboard's rollup fold then chose a scan of every delivered event for each new one,
and took 29 s instead of 34 ms at 100,000 events (measured on the soak's database), which
made the soak measure a misconfigured server. When `SHOW autovacuum` says off, this runs
`VACUUM (ANALYZE)` on the soak's database when the soak starts and every `naptime` seconds
after (autovacuum's default is a minute), and the report says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import asyncpg

NAPTIME_SECONDS = 60.0


async def autovacuum_is_on(database_url: str) -> bool:
    connection = await asyncpg.connect(database_url)
    try:
        return str(await connection.fetchval("SHOW autovacuum")) == "on"
    finally:
        await connection.close()


class Vacuumer:
    """VACUUM (ANALYZE) every `naptime` s until `stop` is set; how many runs, the longest."""

    def __init__(self, database_url: str, naptime: float = NAPTIME_SECONDS) -> None:
        self.database_url, self.naptime = database_url, naptime
        self.runs: list[float] = []

    async def run(self, stop: asyncio.Event) -> None:
        # At once, then every naptime: the burst before the soak wrote thousands of rows,
        # which autovacuum would have analysed by then (its threshold is 50 + 10% of a table).
        while not stop.is_set():
            connection = await asyncpg.connect(self.database_url)
            try:
                began = time.monotonic()
                await connection.execute("VACUUM (ANALYZE)")
                self.runs.append(time.monotonic() - began)
            finally:
                await connection.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.naptime)

    def summary(self) -> str:
        longest = max(self.runs, default=0.0)
        return (
            "autovacuum is off on this PostgreSQL server: the soak ran VACUUM (ANALYZE) in its"
            f" place at the start and every {self.naptime:.0f} s ({len(self.runs)} runs,"
            f" longest {longest:.1f} s)"
        )
