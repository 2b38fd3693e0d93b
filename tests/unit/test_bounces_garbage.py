"""Anything can arrive at the bounce address: any bytes in, a report out, never an exception."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from misiva.bounces import parse_feedback, parse_feedback_all
from misiva.domain.bounces import FeedbackKind, FeedbackReport

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "real-bounces"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00" * 64,
        b"\xff\xfe\xfd not a message",
        b"A" * 1_000_000,
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\n\n--x\n",
        b"Content-Type: multipart/mixed; boundary=a\n\n"
        + b"--a\nContent-Type: multipart/mixed; boundary=a\n\n" * 2000,
        b"From: =?utf-8?b?////?= <@>\nSubject: =?bogus?q?x?=\n\n\x80\x81",
        b"Content-Type: message/delivery-status\n\nFinal-Recipient: rfc822;\nAction: failed\n",
        b"Content-Type: multipart/report; report-type=feedback-report; boundary=f\n\n"
        b"--f\nContent-Type: message/feedback-report\nContent-Transfer-Encoding: base64\n\n!!!\n",
    ],
)
def test_garbage_gets_a_report_not_an_exception(raw: bytes) -> None:
    reports = parse_feedback_all(raw)
    assert reports and all(isinstance(report, FeedbackReport) for report in reports)


@pytest.mark.parametrize("raw", [b"", b"\x00" * 64, b"no header here, just words\n"])
def test_unreadable_input_is_not_a_bounce_and_says_why(raw: bytes) -> None:
    report = parse_feedback(raw)
    assert report.kind is FeedbackKind.NOT_BOUNCE
    assert report.bounce_type is None
    assert report.details["error"]


def test_not_even_bytes_gets_a_report() -> None:
    report = parse_feedback("a str, not bytes")  # type: ignore[arg-type]
    assert report.kind is FeedbackKind.NOT_BOUNCE
    assert report.details["error"]


def test_mangled_real_samples_never_raise() -> None:
    samples = [path.read_bytes() for path in sorted(SAMPLES.glob("*.eml"))]
    assert samples, f"no samples in {SAMPLES}"
    rng = random.Random(4)
    for _ in range(600):
        sample = bytearray(rng.choice(samples))
        for _ in range(rng.randrange(1, 40)):
            sample[rng.randrange(len(sample))] = rng.randrange(256)
        cut = rng.randrange(len(sample) + 1)
        parse_feedback(bytes(sample[:cut]))
        parse_feedback(bytes(sample))
