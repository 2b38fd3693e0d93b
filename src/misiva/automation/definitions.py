"""What a rule must pass to be saved: its own fields (key, event names, condition, delay,
window, cap, dedupe, tag), then what it names on the server (template, stream, sender)."""

from __future__ import annotations

from datetime import timedelta

from misiva.domain.automation import EVENT_NAME, MAX_DELAY, TRIGGER_KEY, TriggerDefinition
from misiva.domain.enums import ErrorCode, StreamType
from misiva.domain.errors import InvalidRequest, MisivaError, SenderNotAllowed
from misiva.domain.message import MAX_TAG
from misiva.domain.templates import TemplateType
from misiva.mail.addresses import parse_single_address
from misiva.render.blocks import compile_rule
from misiva.storage import Tx
from misiva.storage import domains as domain_store
from misiva.storage import streams as stream_store
from misiva.storage import templates as template_store

# A cap or dedupe window longer than a year is a rule nobody remembers writing.
MAX_PERIOD = timedelta(days=365)
MAX_DESCRIPTION = 1000
MAX_CANCEL_ON = 20


def _invalid(message: str, code: int = ErrorCode.INVALID_REQUEST) -> InvalidRequest:
    return InvalidRequest(message, code)


# Words the addresses of rules use for themselves: /triggers/dry-run, /automation/rules/new.
RESERVED_KEYS = frozenset({"new", "dry-run"})


def check_key(key: str) -> str:
    if not TRIGGER_KEY.match(key):
        raise _invalid(
            f"Invalid trigger key {key!r}: 1-100 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit."
        )
    if key.lower() in RESERVED_KEYS:
        raise _invalid(f"The trigger key {key!r} is reserved: choose another.")
    return key


def check_event_name(name: str, field: str = "EventName") -> str:
    if not EVENT_NAME.match(name):
        raise _invalid(
            f"Invalid '{field}' {name!r}: 1-100 letters, digits, '_', '.', ':' or '-', "
            "starting with a letter or digit (such as order.placed)."
        )
    return name


def check_condition(condition: str | None) -> None:
    """The condition compiles as the same sandboxed expression content blocks use."""
    if not condition:
        return
    try:
        compile_rule(condition)
    except MisivaError as error:
        raise _invalid(error.message.replace("audience rule", "condition")) from None


def _check_period(value: timedelta | None, field: str) -> None:
    if value is not None and not timedelta(0) < value <= MAX_PERIOD:
        raise _invalid(f"'{field}' must be more than 0 and at most 365 days.")


# More than this many messages from one rule to one person is no cap at all.
MAX_CAP_COUNT = 1000


def check_fields(definition: TriggerDefinition) -> TriggerDefinition:
    """InvalidRequest naming the first field of the rule that cannot work."""
    d = definition
    check_event_name(d.event_name)
    check_condition(d.condition)
    if not timedelta(0) <= d.delay <= MAX_DELAY:
        raise _invalid("The delay must be from 0 minutes to 365 days.")
    window = d.window
    if window.not_before is not None and window.not_before == window.not_after:
        raise _invalid("The window's NotBefore and NotAfter must differ.")
    if d.cap is not None:
        if not 1 <= d.cap.count <= MAX_CAP_COUNT:
            raise _invalid(f"'Cap.Count' must be from 1 to {MAX_CAP_COUNT}.")
        _check_period(d.cap.period, "Cap.PeriodHours")
    _check_period(d.dedupe, "DedupeHours")
    if len(d.cancel_on) > MAX_CANCEL_ON:
        raise _invalid(f"'CancelOn' names at most {MAX_CANCEL_ON} events.")
    for name in d.cancel_on:
        check_event_name(name, "CancelOn")
    if d.tag is not None and len(d.tag) > MAX_TAG:
        raise _invalid(f"Invalid 'Tag': it is limited to {MAX_TAG} characters.")
    if len(d.description) > MAX_DESCRIPTION:
        raise _invalid(f"'Description' is limited to {MAX_DESCRIPTION} characters.")
    if not d.template:
        raise _invalid("A trigger needs a 'Template' (its alias or id).")
    parse_single_address("From", d.sender)
    return d


async def check_references(tx: Tx, server_id: int, definition: TriggerDefinition) -> None:
    """The template, stream and sender the rule names exist on the server and can send now
    (a rule that cannot send is refused when saved, not found broken on each event)."""
    template = await template_store.get_template(tx, server_id, definition.template)
    if template is None or template.template_type is not TemplateType.STANDARD:
        raise _invalid(
            f"The template {definition.template!r} was not found on this server.",
            ErrorCode.TEMPLATE_NOT_FOUND,
        )
    stream = await stream_store.get_stream(tx, server_id, definition.stream)
    if stream is None or stream.stream_type is StreamType.INBOUND or stream.archived_at:
        raise _invalid(
            f"The stream {definition.stream!r} does not exist on this server or cannot send.",
            ErrorCode.STREAM_NOT_FOUND,
        )
    sender = parse_single_address("From", definition.sender)
    if await domain_store.find_domain(tx, server_id, sender.domain) is None:
        raise SenderNotAllowed(
            f"The 'From' address {sender.email} is not on a sending domain of this server."
        )
