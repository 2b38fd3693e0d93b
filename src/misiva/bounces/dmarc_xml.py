"""Parse a DMARC aggregate report's XML (RFC 7489 appendix C) into a DmarcReport.

The XML comes from anyone who can send mail or upload a file, so it is read by defusedxml,
which refuses DTDs, entity declarations and external references (no billion laughs, no
XXE). Element names are matched without their namespace: the 2012 schema has none, the
DMARCbis drafts add `urn:ietf:params:xml:ns:dmarc-2.0`, and reporters write both.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from misiva.domain.dmarc import (
    MAX_RECORDS,
    AuthResult,
    BadReport,
    Disposition,
    DmarcReport,
    DmarcRow,
    PolicyPublished,
)

_RESULTS: Final = frozenset({"pass", "fail"})


def parse_report(xml: bytes) -> DmarcReport:
    """The report; BadReport naming what is missing or malformed."""
    try:
        root = fromstring(xml, forbid_dtd=True)
    except DefusedXmlException as error:
        raise BadReport(f"The XML is refused: {type(error).__name__}.") from None
    except ParseError as error:
        raise BadReport(f"The file is not well-formed XML: {error}.") from None
    if _local(root.tag) != "feedback":
        raise BadReport("The XML is not a DMARC aggregate report (no <feedback> element).")
    metadata = _child(root, "report_metadata")
    date_range = _child(metadata, "date_range")
    rows = [_row(record) for record in _children(root, "record")]
    if len(rows) > MAX_RECORDS:
        raise BadReport(f"The report has more than {MAX_RECORDS} records.")
    return DmarcReport(
        org_name=_text(metadata, "org_name"),
        org_email=_text(metadata, "email", required=False),
        report_id=_text(metadata, "report_id"),
        begin=_timestamp(date_range, "begin"),
        end=_timestamp(date_range, "end"),
        policy=_policy(_child(root, "policy_published")),
        rows=tuple(rows),
    )


def _policy(element: Element) -> PolicyPublished:
    pct = _text(element, "pct", required=False)
    return PolicyPublished(
        domain=_text(element, "domain").lower().rstrip("."),
        p=_text(element, "p", required=False) or "none",
        sp=_text(element, "sp", required=False),
        # ASCII and at most 3 digits: str.isdigit() accepts "²", which int() refuses (a
        # crash, found by tests/fuzz), and any length, which the column does not.
        pct=int(pct) if pct.isascii() and pct.isdigit() and len(pct) <= 3 else 100,
        adkim=_text(element, "adkim", required=False) or "r",
        aspf=_text(element, "aspf", required=False) or "r",
    )


def _row(record: Element) -> DmarcRow:
    row = _child(record, "row")
    evaluated = _child(row, "policy_evaluated")
    identifiers = _child(record, "identifiers")
    count = _text(row, "count")
    # ASCII digits ("²" passed isdigit() and crashed int(), found by tests/fuzz), and at most
    # 12 of them: a trillion messages a row, so even MAX_RECORDS rows sum within a BIGINT.
    if not (count.isascii() and count.isdigit() and len(count) <= 12):
        raise BadReport(f"A record's count {count!r} is not a number.")
    disposition = _text(evaluated, "disposition", required=False).lower() or "none"
    try:
        chosen = Disposition(disposition)
    except ValueError:
        raise BadReport(f"Unknown disposition {disposition!r}.") from None
    return DmarcRow(
        source_ip=_text(row, "source_ip"),
        count=int(count),
        disposition=chosen,
        dkim=_result(_text(evaluated, "dkim", required=False)),
        spf=_result(_text(evaluated, "spf", required=False)),
        header_from=_text(identifiers, "header_from").lower(),
        envelope_from=_text(identifiers, "envelope_from", required=False).lower(),
        auth=tuple(_auth(record)),
    )


def _auth(record: Element) -> list[AuthResult]:
    results = _first(record, "auth_results")
    if results is None:
        return []
    found = []
    for element in results:
        method = _local(element.tag)
        if method in ("dkim", "spf"):
            found.append(
                AuthResult(
                    method=method,
                    domain=_text(element, "domain", required=False).lower(),
                    result=_text(element, "result", required=False).lower(),
                    selector=_text(element, "selector", required=False),
                )
            )
    return found


def _result(value: str) -> str:
    """An aligned result, "pass" or "fail"; a missing one is not a pass."""
    value = value.lower()
    return value if value in _RESULTS else "fail"


def _timestamp(element: Element, name: str) -> datetime:
    value = _text(element, name)
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (ValueError, OverflowError, OSError):
        raise BadReport(f"<{name}> {value!r} is not a Unix time.") from None


# --- Namespace-blind element access -----------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _children(element: Element, name: str) -> list[Element]:
    return [c for c in element if _local(c.tag) == name]


def _first(element: Element, name: str) -> Element | None:
    found = _children(element, name)
    return found[0] if found else None


def _child(element: Element, name: str) -> Element:
    found = _first(element, name)
    if found is None:
        raise BadReport(f"The report has no <{name}> in <{_local(element.tag)}>.")
    return found


def _text(element: Element, name: str, *, required: bool = True) -> str:
    found = _first(element, name)
    value = (found.text or "").strip() if found is not None else ""
    if required and not value:
        raise BadReport(f"The report has no <{name}> in <{_local(element.tag)}>.")
    return value
