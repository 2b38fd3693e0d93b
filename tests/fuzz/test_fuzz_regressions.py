"""What the mail and bounce fuzzers found, kept as plain example tests (the API's findings are
in test_api_regressions.py, the SMTP handler's in test_fuzz_smtp.py)."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from misiva.bounces.dmarc_xml import parse_report
from misiva.domain.dmarc import BadReport
from misiva.mail.addresses import parse_address_list
from misiva.mail.submission import fields_from_message

REPORT = gzip.decompress(
    next((Path(__file__).parents[1] / "data" / "dmarc").glob("*.xml.gz")).read_bytes()
)


def _retext(tag: str, text: str) -> bytes:
    pattern = rf"<{tag}>[^<]*</{tag}>".encode()
    return re.sub(pattern, f"<{tag}>{text}</{tag}>".encode(), REPORT)


@pytest.mark.parametrize("name", ['")="', '"Smile :)"', '"(<"', '"a\\") ("'])
def test_parentheses_inside_a_quoted_display_name_are_text(name: str) -> None:
    # Were counted as comment delimiters, so these well-formed names were refused.
    [address] = parse_address_list("To", f"{name} <ana@example.com>")
    assert address.email == "ana@example.com"


@pytest.mark.parametrize(
    "given", ["alice@example.org)<bob@example.org>", '"a" ) <b@example.com>', "(x <b@example.com>"]
)
def test_an_unbalanced_comment_outside_quotes_is_still_refused(given: str) -> None:
    # The CVE-2023-27043 guard the fix above must keep.
    with pytest.raises(Exception, match="Invalid 'To'"):
        parse_address_list("To", given)


def test_a_filename_that_decodes_to_non_ascii_is_read() -> None:
    # `filename*=utf-8''%DD` decodes to U+FFFD; reading it back raised UnicodeEncodeError.
    raw = (
        b"From: hola@shop.test\r\nTo: ana@example.com\r\nSubject: x\r\n"
        b'Content-Type: multipart/mixed; boundary="M"\r\n\r\n'
        b"--M\r\nContent-Type: text/plain\r\n\r\nhola\r\n"
        b"--M\r\nContent-Type: application/pdf\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''f%DD.pdf\r\n\r\nAAAA\r\n--M--\r\n"
    )
    [attachment] = fields_from_message(raw, ["ana@example.com"]).attachments
    assert attachment.name == "f\ufffd.pdf"


@pytest.mark.parametrize("count", ["\u00b2", "\u0661", "9" * 20])
def test_a_dmarc_count_that_is_not_a_plain_number_is_refused(count: str) -> None:
    # "²" passed str.isdigit() and crashed int() (a 500 on upload); 20 digits overflowed.
    with pytest.raises(BadReport):
        parse_report(_retext("count", count))


@pytest.mark.parametrize("pct", ["\u00b2", "9" * 20])
def test_a_dmarc_pct_that_is_not_a_plain_number_reads_as_100(pct: str) -> None:
    report = parse_report(_retext("pct", pct))
    assert report.policy.pct == 100
