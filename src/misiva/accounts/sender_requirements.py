"""A server's standing against the Gmail/Yahoo 2024 sender requirements, per sending domain
and stream: its domains' last DNS checks (the doors run a fresh one first when asked), its
streams' unsubscribe handling and each stream's complaint rate from the rollups."""

from __future__ import annotations

from datetime import datetime, timedelta

from misiva.domain.clock import Clock, utcnow
from misiva.domain.enums import StreamType
from misiva.domain.sender_requirements import StreamRequirements, check_requirements
from misiva.domain.stats import Dimension, Metric, Step
from misiva.mail.dmarc_policy import aligned
from misiva.storage import Database, Tx, rollups
from misiva.storage import domains as domain_store
from misiva.storage import streams as stream_store

# Gmail's Postmaster Tools judge the complaint rate day by day; a week of days smooths one
# bad send without hiding a trend.
COMPLAINT_WINDOW = timedelta(days=7)


async def sender_requirements(
    db: Database,
    server_id: int,
    *,
    bounce_domain: str | None,
    clock: Clock = utcnow,
) -> list[StreamRequirements]:
    """One line per (domain, stream) of the server, inbound streams left out."""
    now = clock()
    async with db.reading() as tx:
        domains = await domain_store.list_domains(tx, server_id)
        streams = await stream_store.list_streams(tx, server_id, archived=False)
        checks = await domain_store.last_checks(tx, server_id)
        # The domain's own Return-Path once a check found it in place, as delivery uses it.
        identities = await domain_store.sending_identities(tx, [d.id for d in domains])
        complaints = await _complaints(tx, server_id, now)
    lines = []
    for domain in sorted(domains, key=lambda d: d.name):
        identity = identities.get(domain.id)
        return_path = (identity and identity.return_path_domain) or bounce_domain or domain.name
        for stream in streams:
            if stream.stream_type is StreamType.INBOUND:
                continue
            lines.append(
                check_requirements(
                    domain.name,
                    stream.stream_id,
                    stream.stream_type,
                    stream.subscriptions.handles_unsubscribe,
                    checks.get(domain.id),
                    return_path,
                    aligned(domain.name, return_path, "r"),
                    complaints.get(stream.stream_id, (0, 0)),
                )
            )
    return lines


async def _complaints(tx: Tx, server_id: int, now: datetime) -> dict[str, tuple[int, int]]:
    since = (now - COMPLAINT_WINDOW).replace(hour=0, minute=0, second=0, microsecond=0)
    by_stream = await rollups.breakdown(tx, server_id, Dimension.STREAM, Step.DAY, since)
    return {
        stream: (counts.get(Metric.COMPLAINED, 0), counts.get(Metric.DELIVERED, 0))
        for stream, counts in by_stream.items()
    }
