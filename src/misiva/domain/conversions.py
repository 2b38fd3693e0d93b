"""Conversions: an order, a donation or a sign-up the customer's systems report, with its value,
attributed to the message that led to it (and so to its template, stream, blocks, variants).

By MessageID the attribution is given. By recipient it is last touch within a window, the
rule Klaviyo and Mailchimp use: the last message the person clicked in the window, else the
last they opened, else the last delivered to them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Final

from babel.numbers import list_currencies

from misiva.domain.enums import ErrorCode, EventType
from misiva.domain.errors import InvalidRequest

# Values are kept in millionths of the unit: whole numbers sum exactly in SQL on both
# databases, and no ISO 4217 currency has more than four minor digits.
MICROS: Final = 1_000_000
# A value larger than this is a typo in cents, not a sale (and stays inside 64 bits).
MAX_VALUE: Final = Decimal("1000000000000")
DEFAULT_WINDOW: Final = timedelta(days=7)
MAX_WINDOW: Final = timedelta(days=90)
ORDER_ID_LENGTH: Final = 100
_CURRENCIES: Final = frozenset(list_currencies())


class Touch:
    """How a conversion reported by recipient found its message (the preference order)."""

    CLICKED: Final = EventType.CLICKED.value
    OPENED: Final = EventType.OPENED.value
    DELIVERED: Final = EventType.DELIVERED.value
    GIVEN: Final = "message"  # the report named the message
    ORDER: Final = (CLICKED, OPENED, DELIVERED)


@dataclass(frozen=True, slots=True)
class NewConversion:
    value: Decimal
    currency: str
    message_id: str | None = None
    recipient: str | None = None
    order_id: str | None = None
    occurred_at: datetime | None = None  # when it happened; now if not said
    window: timedelta = DEFAULT_WINDOW  # how far back a recipient's messages are looked at


@dataclass(frozen=True, slots=True)
class Conversion:
    id: int
    server_id: int
    message_id: str
    recipient: str
    template_id: int | None
    stream: str
    value: Decimal
    currency: str
    order_id: str | None
    occurred_at: datetime
    recorded_at: datetime


def _invalid(message: str) -> InvalidRequest:
    return InvalidRequest(message, ErrorCode.INVALID_REQUEST)


def parse_value(given: object) -> Decimal:
    """A JSON number or a decimal string, zero or more (a refund is not a conversion)."""
    if isinstance(given, bool) or not isinstance(given, int | float | str):
        raise _invalid("'Value' must be a number such as 49.90.")
    try:
        value = Decimal(str(given))
    except InvalidOperation:
        raise _invalid("'Value' must be a number such as 49.90.") from None
    if not value.is_finite() or value < 0 or value > MAX_VALUE:
        raise _invalid("'Value' must be a number from 0 up to 1,000,000,000,000.")
    if value != value.quantize(Decimal(1) / MICROS):
        raise _invalid("'Value' has more than six decimal places.")
    return value


def check_currency(given: object) -> str:
    code = given.upper() if isinstance(given, str) else ""
    if code not in _CURRENCIES:
        raise _invalid("'Currency' must be an ISO 4217 code such as EUR or USD.")
    return code


def check_window(hours: object) -> timedelta:
    if isinstance(hours, bool) or not isinstance(hours, int) or hours < 1:
        raise _invalid("'WindowHours' must be a whole number of hours, 1 or more.")
    window = timedelta(hours=hours)
    if window > MAX_WINDOW:
        raise _invalid(f"'WindowHours' can be at most {int(MAX_WINDOW.total_seconds() // 3600)}.")
    return window


def check_order_id(given: object) -> str | None:
    if given is None:
        return None
    if not isinstance(given, str) or not given.strip() or len(given) > ORDER_ID_LENGTH:
        raise _invalid(f"'OrderID' must be a text of 1 to {ORDER_ID_LENGTH} characters.")
    return given.strip()


def to_micros(value: Decimal) -> int:
    return int(value * MICROS)


def from_micros(micros: int) -> Decimal:
    return (Decimal(micros) / MICROS).normalize()


def last_touch(touches: list[tuple[str, str]]) -> tuple[str, str] | None:
    """The message a recipient's touches (message id, event type; newest first) credit, and
    how it was touched: the newest click, else the newest open, else the newest delivery."""
    for wanted in Touch.ORDER:
        for message_id, kind in touches:
            if kind == wanted:
                return message_id, kind
    return None
