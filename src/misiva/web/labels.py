"""Names shown for Misiva's own values (statuses, roles, event types), marked for translation.

Templates translate them with `_(labels.status[value])`: the values themselves stay the
stable words the API speaks; only what a person reads changes with the language.
"""

from __future__ import annotations

from typing import Final

from misiva.domain.enums import EventType, MessageStatus
from misiva.domain.users import Role
from misiva.web.i18n import N_

STATUS: Final[dict[str, str]] = {
    MessageStatus.QUEUED.value: N_("queued"),
    MessageStatus.DEFERRED.value: N_("deferred"),
    MessageStatus.DELIVERED.value: N_("delivered"),
    MessageStatus.BOUNCED.value: N_("bounced"),
    MessageStatus.PARTIAL.value: N_("partly delivered"),
}
ROLE: Final[dict[str, str]] = {
    Role.OWNER.value: N_("owner"),
    Role.DEVELOPER.value: N_("developer"),
    Role.MARKETER.value: N_("marketer"),
    Role.VIEWER.value: N_("viewer"),
}
EVENT: Final[dict[str, str]] = {
    EventType.QUEUED.value: N_("Queued"),
    EventType.DELIVERED.value: N_("Delivered"),
    EventType.DEFERRED.value: N_("Deferred"),
    EventType.BOUNCED.value: N_("Bounced"),
    EventType.OPENED.value: N_("Opened"),
    EventType.CLICKED.value: N_("Clicked"),
    EventType.COMPLAINED.value: N_("Complained"),
    EventType.AUTO_REPLIED.value: N_("Auto-replied"),
    EventType.SUBSCRIPTION_CHANGED.value: N_("Subscription changed"),
    EventType.DOMAIN_CHECK_FAILED.value: N_("Domain check failed"),
    EventType.ALERT.value: N_("Sending alert"),
}
