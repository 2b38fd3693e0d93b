"""The releaser takes its poll, batch and lease from MISIVA_SCHEDULED_* settings."""

from __future__ import annotations

from misiva.config import Settings
from misiva.runtime.wiring import build_platform


async def test_the_releaser_is_built_with_the_settings(database_url: str) -> None:
    settings = Settings(
        database_url=database_url,
        scheduled_poll_seconds=0.25,
        scheduled_batch_size=7,
        scheduled_lease_seconds=12,
    )
    platform = build_platform(settings)
    try:
        config = platform.releaser.config
        assert (config.poll_seconds, config.batch_size, config.lease_seconds) == (0.25, 7, 12)
    finally:
        await platform.close()
