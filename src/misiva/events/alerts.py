"""Record that an alert opened or resolved: an `alert` event (no message), whose webhooks
are queued in the same transaction like every other event's."""

from __future__ import annotations

from datetime import datetime

from misiva.domain.alerts import Alert, AlertState
from misiva.domain.delivery import EventRecord
from misiva.domain.enums import EventType
from misiva.events.record import record_events
from misiva.storage import Tx


def alert_event(alert: Alert, state: AlertState, at: datetime) -> EventRecord:
    # The recipient column names what the alert is about, for the event log's readers.
    return EventRecord(
        message_id=None,
        server_id=alert.server_id,
        type=EventType.ALERT,
        recipient=alert.subject or "server",
        at=at,
        details={
            "alert_id": str(alert.id),
            "state": state.value,
            "level": alert.level.value,
            "metric": alert.metric.value,
            "scope": alert.scope.value,
            "subject": alert.subject,
            "window": alert.window,
            "value": repr(alert.value),
            "threshold": repr(alert.threshold),
            "volume": str(alert.volume),
            "summary": alert.describe(),
        },
    )


async def record_alert(tx: Tx, alert: Alert, state: AlertState, at: datetime) -> None:
    await record_events(tx, [alert_event(alert, state, at)])
