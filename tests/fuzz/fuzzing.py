"""Hypothesis budgets for the bad-input suites: a bounded "ci" profile for `make test`, a long
"fuzz" profile for `make fuzz` (MISIVA_FUZZ_PROFILE=fuzz), and the per-example bounds on time
and memory every fuzzer asserts."""

from __future__ import annotations

import os
import random
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings

# The suites name their settings explicitly rather than loading a profile globally: loading one
# would change every other Hypothesis test of the session too.
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,  # the same examples every run: `make test` never flakes on a new one
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz",
    max_examples=5000,
    deadline=None,
    database=None,
    print_blob=True,  # a failure prints the @reproduce_failure blob to replay it
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

PROFILE = os.environ.get("MISIVA_FUZZ_PROFILE", "ci")
if PROFILE not in ("ci", "fuzz"):
    raise ValueError(f"MISIVA_FUZZ_PROFILE must be ci or fuzz, not {PROFILE!r}")
LONG = PROFILE == "fuzz"

# schemathesis's seed: fixed under make test (the same cases every run), fresh under make fuzz;
# shown in pytest's header, and MISIVA_FUZZ_SEED=n replays a run. Hypothesis's own failures
# print a @reproduce_failure blob (print_blob) to replay them.
SEED = int(os.environ.get("MISIVA_FUZZ_SEED") or (random.randrange(2**32) if LONG else 12))

# One example that takes longer than this is a hang: generous, the machine is shared.
EXAMPLE_SECONDS = 5.0

T = TypeVar("T")


def budget(ci_examples: int, fuzz_examples: int | None = None) -> settings:
    """This suite's settings: `ci_examples` under make test, 20 times more under make fuzz."""
    examples = (fuzz_examples or ci_examples * 20) if LONG else ci_examples
    return settings(settings.get_profile(PROFILE), max_examples=examples)


def bounded(call: Callable[[], T], seconds: float = EXAMPLE_SECONDS) -> T:
    """Run `call`, failing if it took longer than `seconds` (a hang, or quadratic behaviour)."""
    started = time.monotonic()
    result = call()
    elapsed = time.monotonic() - started
    assert elapsed < seconds, f"took {elapsed:.1f} s (bound {seconds} s)"
    return result


@contextmanager
def peak_memory(limit_bytes: int) -> Iterator[None]:
    """Fail if the block's peak Python allocation passes `limit_bytes` (unbounded memory)."""
    tracemalloc.start()
    try:
        yield
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < limit_bytes, f"peak {peak / 1e6:.1f} MB (bound {limit_bytes / 1e6:.1f} MB)"


def any_of(*errors: type[BaseException]) -> Callable[[Callable[[], Any]], Any]:
    """Call and swallow only the module's declared errors; anything else fails the example."""

    def run(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except errors:
            return None

    return run


def nested(depth: int, leaf: bytes, prefix: str = "b") -> bytes:
    """`leaf` wrapped in `depth` levels of multipart/mixed, boundaries `prefix0`, `prefix1`..."""
    body = leaf
    for level in range(depth):
        boundary = f"{prefix}{level}".encode()
        body = (
            b'Content-Type: multipart/mixed; boundary="'
            + boundary
            + b'"\r\n\r\n--'
            + boundary
            + b"\r\n"
            + body
            + b"\r\n--"
            + boundary
            + b"--\r\n"
        )
    return body
