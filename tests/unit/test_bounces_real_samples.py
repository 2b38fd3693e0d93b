"""Every real bounce, complaint, auto-reply and non-bounce in ../shared/real-bounces/ gets the
class and the recipients that its INDEX.tsv row expects (issue 4's acceptance table)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from misiva.bounces import feedback_class, parse_feedback
from misiva.domain.bounces import BounceType, FeedbackKind

# The repository is /work/main and the corpus /work/shared: siblings, here and in CI.
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "real-bounces"
INDEX = SAMPLES / "INDEX.tsv"
CLASSES = {"hard", "soft", "complaint", "autoreply", "not-bounce"}

# Rows where what INDEX.tsv expects cannot honestly be produced; each is checked to still
# disagree (strict xfail), and what we report instead is asserted in its own test below.
DISAGREEMENTS = {
    "sisimai-arf-12.eml": (
        "INDEX's recipient, undisclosed-recipient-in-headers@libsisimai.org.invalid, is a "
        "placeholder sisimai invents when a report names nobody it recognises; the message "
        "contains no such address. Its opt-out report names the complainant in the ARF "
        "drafts' Removal-Recipient field (user@example.com), which is what we report."
    ),
}


@dataclass(frozen=True)
class Row:
    file: str
    expected_class: str
    recipients: tuple[str, ...]


def read_index() -> list[Row]:
    if not INDEX.exists():
        return []
    lines = [line for line in INDEX.read_text().splitlines() if line and line[0] != "#"]
    header, *rows = (line.split("\t") for line in lines)
    at = {name: i for i, name in enumerate(header)}
    return [
        Row(
            file=fields[at["file"]],
            expected_class=fields[at["expected_class"]],
            recipients=tuple(
                address.strip().lower()
                for address in fields[at["failed_recipients"]].split(",")
                if address.strip()
            ),
        )
        for fields in rows
    ]


ROWS = read_index()


def messages_in(raw: bytes) -> list[bytes]:
    """A file is one message, or an mbox of several (its "From " lines separate them); the
    bounce receiver gets one message per SMTP transaction, so each is parsed on its own."""
    if not raw.startswith(b"From "):
        return [raw]
    return re.split(rb"\r?\n(?=From \S+ +\w{3} \w{3} +\d)", raw)


def test_the_sample_corpus_is_there() -> None:
    assert INDEX.exists(), f"{INDEX} is missing: the shared corpus sits beside the repository"
    assert len(ROWS) == 66
    assert {row.expected_class for row in ROWS} == CLASSES
    assert all((SAMPLES / row.file).is_file() for row in ROWS)
    assert set(DISAGREEMENTS) <= {row.file for row in ROWS}


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(
            row,
            id=row.file,
            marks=[pytest.mark.xfail(strict=True, reason=DISAGREEMENTS[row.file])]
            if row.file in DISAGREEMENTS
            else [],
        )
        for row in ROWS
    ],
)
def test_each_sample_gets_its_class_and_recipients(row: Row) -> None:
    reports = [parse_feedback(raw) for raw in messages_in((SAMPLES / row.file).read_bytes())]
    assert {feedback_class(report) for report in reports} == {row.expected_class}
    found = {address for report in reports for address in report.recipients}
    assert set(row.recipients) <= found, f"expected {row.recipients}, found {sorted(found)}"


def test_an_opt_out_report_names_its_removal_recipient() -> None:
    report = parse_feedback((SAMPLES / "sisimai-arf-12.eml").read_bytes())
    assert report.kind is FeedbackKind.COMPLAINT
    assert report.bounce_type is BounceType.SPAM_COMPLAINT
    assert report.recipients == ("user@example.com",)
    assert report.details["feedback_type"] == "opt-out"


@pytest.mark.parametrize(
    ("file", "bounce_type", "status"),
    [
        ("sisimai-lhost-postfix-04.eml", BounceType.HARD_BOUNCE, "5.1.1"),
        ("sisimai-lhost-postfix-06.eml", BounceType.HARD_BOUNCE, "5.4.4"),
        ("sisimai-lhost-postfix-63.eml", BounceType.SOFT_BOUNCE, "5.2.2"),
        ("sisimai-rhost-yahooinc-02.eml", BounceType.TRANSIENT, "4.7.0"),
        ("sisimai-lhost-qmail-13.eml", BounceType.HARD_BOUNCE, "5.1.2"),
        ("flufl-dsn_06.eml", BounceType.TRANSIENT, "4.4.0"),
    ],
)
def test_samples_carry_their_postmark_type_and_status(
    file: str, bounce_type: BounceType, status: str
) -> None:
    report = parse_feedback((SAMPLES / file).read_bytes())
    assert (report.bounce_type, report.status) == (bounce_type, status)


def test_a_dsn_names_the_original_message_and_the_remote_server() -> None:
    report = parse_feedback((SAMPLES / "sisimai-lhost-postfix-04.eml").read_bytes())
    assert report.original_message_id == "A8F82EDD-E518-4F5C-8C70-BC4EFF24AB9F@example.ne.jp"
    assert report.remote_mta == "mx01.example.co.jp"
    assert report.diagnostic.startswith("smtp; 550 5.1.1 Address rejected")


def test_a_delayed_dsn_is_a_delay_not_a_bounce() -> None:
    report = parse_feedback((SAMPLES / "flufl-dsn_06.eml").read_bytes())
    assert report.kind is FeedbackKind.DELAY
