"""The activity search's filters as they travel in a URL: read, checked, and written back.

Filters live in the query string (GET) so that a search can be bookmarked and shared. What a
person typed is kept as typed, to show it again in the form; what does not parse (a date that
is no date, metadata without `=`) becomes a message for them rather than an error page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from misiva.domain.enums import MessageStatus
from misiva.storage.search import MessageQuery
from misiva.web.i18n import N_

PAGE_SIZE = 50
# The text fields of the form, in the order the URL carries them.
FIELDS = ("recipient", "subject", "tag", "status", "template", "stream", "from", "to", "metadata")
# Far past any real search, and it keeps a typed page number from overflowing an OFFSET.
_MAX_PAGE = 100_000

BAD_FROM = N_("“From” must be a date such as 2026-03-31.")
BAD_TO = N_("“To” must be a date such as 2026-03-31.")
BAD_RANGE = N_("“From” must not be after “To”.")
BAD_METADATA = N_("Metadata must be written as key=value, for example order_id=1042.")
BAD_STATUS = N_("That status does not exist.")
BAD_TEMPLATE = N_("That template does not exist.")


@dataclass(frozen=True, slots=True)
class Filters:
    """A search as asked for: the values to show back, the query, its page, or what is wrong."""

    values: dict[str, str]
    query: MessageQuery
    page: int = 1
    errors: list[str] = field(default_factory=list)

    @property
    def offset(self) -> int:
        return (self.page - 1) * PAGE_SIZE

    def url(self, path: str, page: int) -> str:
        """This search's URL at another page (empty filters left out, to keep it short)."""
        given = [(k, v) for k, v in self.values.items() if v]
        return f"{path}?{urlencode([*given, ('page', str(page))])}"


def read_filters(
    params: Mapping[str, str], template_ids: Sequence[int], streams: Sequence[str]
) -> Filters:
    """The filters a query string asks for; `template_ids` and `streams` are the server's."""
    values = {name: (params.get(name) or "").strip() for name in FIELDS}
    errors: list[str] = []
    status = _status(values["status"], errors)
    template_id = _template(values["template"], template_ids, errors)
    since = _day(values["from"], BAD_FROM, errors)
    until = _day(values["to"], BAD_TO, errors)
    if since and until and since > until:
        errors.append(BAD_RANGE)
    metadata = _metadata(values["metadata"], errors)
    query = MessageQuery(
        recipient=values["recipient"] or None,
        subject=values["subject"] or None,
        tag=values["tag"] or None,
        statuses=(status,) if status else (),
        template_id=template_id,
        stream=values["stream"] if values["stream"] in streams else None,
        # Days are UTC days, as the activity shows its times; "to" includes its whole day.
        since=datetime.combine(since, time.min, UTC) if since else None,
        until=datetime.combine(until + timedelta(days=1), time.min, UTC) - timedelta(microseconds=1)
        if until
        else None,
        metadata=metadata,
    )
    return Filters(values, query, _page(params.get("page")), errors)


def _status(value: str, errors: list[str]) -> MessageStatus | None:
    if not value:
        return None
    try:
        return MessageStatus(value)
    except ValueError:
        errors.append(BAD_STATUS)
        return None


def _template(value: str, known: Sequence[int], errors: list[str]) -> int | None:
    if not value:
        return None
    if not _number(value) or int(value) not in known:
        errors.append(BAD_TEMPLATE)
        return None
    return int(value)


def _day(value: str, problem: str, errors: list[str]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(problem)
        return None


def _metadata(value: str, errors: list[str]) -> dict[str, str]:
    if not value:
        return {}
    key, sep, wanted = value.partition("=")
    if not sep or not key.strip():
        errors.append(BAD_METADATA)
        return {}
    return {key.strip(): wanted.strip()}


def _page(value: str | None) -> int:
    # A page that is no number is the first page: paging links are ours, a typo is harmless.
    return min(max(int(value), 1), _MAX_PAGE) if value and _number(value) else 1


def _number(value: str) -> bool:
    # isdigit alone takes "²" and other digits int() refuses; and a short number stays short.
    return value.isascii() and value.isdigit() and len(value) <= 9
