"""The soak test's verdicts and report: per-minute latency, memory over time, delivery counts.

bench/soak.py collects what happened (each accepted message's send times, each arrival at
the sink, each process's resident memory over time); this module judges it and writes it
out. The thresholds and why they are what they are: docs/reliability.md, "Soak".
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from send_pipeline import percentile

MINUTE = 60.0
TEN_MINUTES = 600.0
MIN_SLOPE_WINDOW = 300.0  # seconds of samples the memory slope needs to mean anything


@dataclass(slots=True)
class Sent:
    """One message the API accepted. Times are time.monotonic(), one clock for every process
    on the machine, so they compare directly with the sink's arrival times."""

    phase: str  # "burst" (capacity) or "soak"
    due: float  # when the schedule said to send it: latency counts from here (no coordinated
    # omission); in the closed-loop burst, when the request was made
    began: float  # when the request went out: due + the sender's lag + a wait for a connection
    accepted: float  # when the API's answer arrived
    message_id: str


@dataclass
class Thresholds:
    max_slope_mb: float  # per 10 minutes, least squares over the run's second half
    max_growth_pct: float  # last quarter's median RSS over the second quarter's
    p99_factor: float  # a minute's p99 may be this many times the baseline p99 ...
    p99_floor_ms: float  # ... or the baseline plus this, whichever is larger
    warmup_minutes: int
    baseline_minutes: int


@dataclass
class Report:
    settings: dict[str, Any]
    capacity: dict[str, float]
    minutes: list[dict[str, Any]] = field(default_factory=list)
    latency: dict[str, Any] = field(default_factory=dict)
    memory: list[dict[str, Any]] = field(default_factory=list)
    delivery: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def _ms(seconds: list[float], p: float) -> float | None:
    return round(percentile(seconds, p) * 1000, 1) if seconds else None


# --- Latency -------------------------------------------------------------------------------


def minute_rows(
    sent: list[Sent], first_arrival: dict[str, float], start: float
) -> list[dict[str, Any]]:
    """Per minute of the schedule (by when each message was due): how many were sent and
    delivered, and p50/p99 of due→delivered (end to end), due→accepted and accepted→delivered."""
    buckets: dict[int, list[Sent]] = {}
    for s in sent:
        if s.phase == "soak":
            buckets.setdefault(int((s.due - start) // MINUTE), []).append(s)
    rows = []
    for minute in sorted(buckets):
        group = buckets[minute]
        arrived = [(s, first_arrival[s.message_id]) for s in group if s.message_id in first_arrival]
        end_to_end = [at - s.due for s, at in arrived]
        delivery = [at - s.accepted for s, at in arrived]
        accept = [s.accepted - s.due for s in group]
        lag = [s.began - s.due for s in group]
        rows.append(
            {
                "minute": minute + 1,
                "accepted": len(group),
                "delivered": len(arrived),
                "p50_ms": _ms(end_to_end, 0.5),
                "p99_ms": _ms(end_to_end, 0.99),
                "max_ms": _ms(end_to_end, 1.0),
                "accept_p50_ms": _ms(accept, 0.5),
                "accept_p99_ms": _ms(accept, 0.99),
                "delivery_p50_ms": _ms(delivery, 0.5),
                "delivery_p99_ms": _ms(delivery, 0.99),
                "sender_lag_max_ms": _ms(lag, 1.0),
            }
        )
    return rows


def add_usage(
    rows: list[dict[str, Any]],
    cpu: list[tuple[float, float]],
    wait: list[tuple[float, float]],
    load: list[tuple[float, float]],
    duration: float,
) -> None:
    """Add to each minute Misiva's CPU (cores busy, and ms per message accepted), the time
    its threads were ready but waited for a CPU (seconds per second), and the machine's
    load average, from samples on the same clock as the minutes (0 = start)."""
    for row in rows:
        # A last minute cut short by the end of the run (or its drain) counts its own length.
        begin, end = (row["minute"] - 1) * MINUTE, min(row["minute"] * MINUTE, duration)
        loads = [v for at, v in load if begin <= at <= end]
        row["load_avg"] = round(statistics.mean(loads), 2) if loads else None
        cores, waited = _rate(cpu, begin, end), _rate(wait, begin, end)
        row["misiva_cores"] = None if cores is None else round(cores, 2)
        row["cpu_wait"] = None if waited is None else round(waited, 2)
        per_s = row["accepted"] / (end - begin) if end > begin else 0.0
        row["cpu_ms_per_msg"] = round(1000 * cores / per_s, 2) if cores and per_s else None


def _rate(series: list[tuple[float, float]], begin: float, end: float) -> float | None:
    """How fast a growing total grew between the first and last samples in [begin, end]."""
    inside = [(at, v) for at, v in series if begin <= at <= end]
    if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
        return None
    return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


def judge_latency(
    sent: list[Sent],
    first_arrival: dict[str, float],
    start: float,
    rows: list[dict[str, Any]],
    t: Thresholds,
) -> tuple[dict[str, Any], list[str]]:
    """The baseline is the p99 of the first stable minutes (after the warm-up), pooled; every
    minute after the warm-up must keep its p99 within the bound made from it."""
    stable = range(t.warmup_minutes, t.warmup_minutes + t.baseline_minutes)
    baseline = [
        first_arrival[s.message_id] - s.due
        for s in sent
        if s.phase == "soak"
        and int((s.due - start) // MINUTE) in stable
        and s.message_id in first_arrival
    ]
    if not baseline:
        return {"verdict": "fail"}, ["latency: no message delivered in the baseline minutes"]
    base_ms = percentile(baseline, 0.99) * 1000
    bound_ms = max(base_ms * t.p99_factor, base_ms + t.p99_floor_ms)
    judged = [r for r in rows if r["minute"] > t.warmup_minutes]
    over = [r for r in judged if r["p99_ms"] is None or r["p99_ms"] > bound_ms]
    worst = max(judged, key=lambda r: r["p99_ms"] or float("inf"), default=None)
    summary = {
        "baseline_minutes": [m + 1 for m in stable],
        "baseline_p99_ms": round(base_ms, 1),
        "bound_ms": round(bound_ms, 1),
        "worst_minute": worst["minute"] if worst else None,
        "worst_p99_ms": worst["p99_ms"] if worst else None,
        "minutes_over": [r["minute"] for r in over],
        "verdict": "fail" if over or not judged else "pass",
    }
    failures = [
        f"latency: minute {r['minute']} p99 {r['p99_ms']} ms > bound {bound_ms:.0f} ms"
        for r in over
    ]
    if not judged:
        failures.append("latency: no minute after the warm-up to judge (run longer)")
    return summary, failures


def explain(rows: list[dict[str, Any]], latency: dict[str, Any]) -> list[str]:
    """For each minute over the bound: did Misiva need more CPU per message than in the
    baseline (Misiva slowed down), or the same while the machine was busier (its neighbours)?"""
    base = [r for r in rows if r["minute"] in latency.get("baseline_minutes", [])]
    per_msg = [r["cpu_ms_per_msg"] for r in base if r.get("cpu_ms_per_msg")]
    loads = [r["load_avg"] for r in base if r.get("load_avg") is not None]
    waits = [r["cpu_wait"] for r in base if r.get("cpu_wait") is not None]
    if not per_msg or not loads or not waits:
        return []
    base_cpu, base_load = statistics.mean(per_msg), statistics.mean(loads)
    base_wait = statistics.mean(waits)
    notes = []
    for r in rows:
        if r["minute"] in latency.get("minutes_over", []) and r.get("cpu_ms_per_msg"):
            change = 100 * (r["cpu_ms_per_msg"] / base_cpu - 1)
            notes.append(
                f"minute {r['minute']}: Misiva's CPU per message {change:+.0f}% against the"
                f" baseline ({r['cpu_ms_per_msg']} vs {base_cpu:.2f} ms), using"
                f" {r['misiva_cores']} cores; waiting for a CPU {r['cpu_wait']} s/s vs"
                f" {base_wait:.2f}; load average {r['load_avg']} vs {base_load:.2f}"
            )
    return notes


# --- Memory --------------------------------------------------------------------------------


def judge_memory(
    name: str, pid: int, judged: bool, series: list[tuple[float, float]], duration: float,
    t: Thresholds,
) -> tuple[dict[str, Any], list[str]]:  # fmt: skip
    """Flat means: the least-squares slope over the second half of the run at most
    `max_slope_mb` per 10 minutes, and the last quarter's median RSS at most
    `max_growth_pct` above the second quarter's (the first quarter is the warm-up)."""
    in_run = [(at, mb) for at, mb in series if 0 <= at <= duration]
    second_half = [(at, mb) for at, mb in in_run if at >= duration / 2]
    q2 = [mb for at, mb in in_run if duration / 4 <= at < duration / 2]
    q4 = [mb for at, mb in in_run if at >= duration * 3 / 4]
    entry: dict[str, Any] = {
        "process": name,
        "pid": pid,
        "judged": judged,
        "first_mb": round(in_run[0][1], 1) if in_run else None,
        "last_mb": round(in_run[-1][1], 1) if in_run else None,
        "max_mb": round(max(mb for _, mb in in_run), 1) if in_run else None,
        "series": [[round(at, 1), round(mb, 2)] for at, mb in series],
    }
    if len(second_half) < 3 or not q2 or not q4:
        entry["verdict"] = "too few samples"
        return entry, [f"memory: {name}: too few samples to judge"] if judged else []
    slope = statistics.linear_regression([a for a, _ in second_half], [m for _, m in second_half])
    per_ten = slope.slope * TEN_MINUTES
    q2_median, q4_median = statistics.median(q2), statistics.median(q4)
    growth = 100 * (q4_median - q2_median) / q2_median
    failures = []
    if duration / 2 < MIN_SLOPE_WINDOW:
        # A one-off step of S MB inside a window of T minutes fits a slope of about 1.5 S/T:
        # over a short run's 90 s, a 1 MB arena step would read as 10 MB/10 min.
        entry["slope_note"] = "not judged: the second half is shorter than 5 minutes"
    elif per_ten > t.max_slope_mb:
        failures.append(
            f"memory: {name} grows {per_ten:.1f} MB/10 min over the second half"
            f" (limit {t.max_slope_mb})"
        )
    if growth > t.max_growth_pct:
        failures.append(
            f"memory: {name} last-quarter median {q4_median:.1f} MB is {growth:.1f}% above"
            f" the second quarter's {q2_median:.1f} MB (limit {t.max_growth_pct}%)"
        )
    entry |= {
        "slope_mb_per_10min": round(per_ten, 2),
        "q2_median_mb": round(q2_median, 1),
        "q4_median_mb": round(q4_median, 1),
        "growth_pct": round(growth, 2),
        "verdict": ("fail" if failures else "pass") if judged else "reported only",
    }
    return entry, failures if judged else []


# --- Delivery ------------------------------------------------------------------------------


def judge_delivery(
    sent: list[Sent], arrivals: dict[str, list[float]], errors: Counter[str],
    db_status: dict[str, int],
) -> tuple[dict[str, Any], list[str]]:  # fmt: skip
    """Every accepted message arrived exactly once; nothing arrived that was not accepted."""
    ids = {s.message_id for s in sent}
    lost = sorted(ids - arrivals.keys())
    duplicates = sum(len(times) - 1 for i, times in arrivals.items() if i in ids)
    unknown = sum(len(times) for i, times in arrivals.items() if i not in ids)
    summary = {
        "accepted": len(ids),
        "accepted_burst": sum(s.phase == "burst" for s in sent),
        "accepted_soak": sum(s.phase == "soak" for s in sent),
        "delivered": len(ids) - len(lost),
        "lost": len(lost),
        "lost_examples": lost[:10],
        "duplicates": duplicates,
        "unknown_arrivals": unknown,
        "refused_or_failed_requests": sum(errors.values()),
        "errors": dict(errors.most_common(10)),
        "database_status": db_status,
    }
    failures = []
    if lost:
        failures.append(f"delivery: {len(lost)} accepted messages never arrived")
    if duplicates:
        failures.append(f"delivery: {duplicates} duplicate arrivals")
    if unknown:
        failures.append(f"delivery: {unknown} arrivals of messages nobody accepted")
    if errors:
        failures.append(f"sending: {sum(errors.values())} messages refused or failed")
    # Misiva's own account must agree with the sink's: every accepted message delivered.
    if db_status and db_status != {"delivered": len(ids)}:
        failures.append(f"database: message states {db_status}, expected {len(ids)} delivered")
    return summary, failures


# --- Output --------------------------------------------------------------------------------


def write(report: Report, out: Path) -> tuple[Path, Path]:
    """The report as JSON (every sample) and Markdown (the tables), beside each other."""
    out.parent.mkdir(parents=True, exist_ok=True)
    as_json, as_md = out.with_suffix(".json"), out.with_suffix(".md")
    data = asdict(report) | {"verdict": "pass" if report.passed else "fail"}
    as_json.write_text(json.dumps(data, indent=1))
    as_md.write_text(markdown(report))
    return as_json, as_md


def markdown(report: Report) -> str:
    s, c, d, lat = report.settings, report.capacity, report.delivery, report.latency
    lines = [
        f"# Soak: {'PASS' if report.passed else 'FAIL'}",
        "",
        f"PostgreSQL, `misiva serve --only {s['api_components']}` and {s['workers']}"
        f" `--only worker` processes; {s['minutes']} min at {s['rate']:.1f} msg/s"
        f" ({s['load']:.0%} of {c['delivered_per_s']:.1f} msg/s measured), batches of"
        f" {s['batch']}.",
        "",
        f"- capacity burst: {c['accepted']:.0f} messages in {c['seconds']:.1f} s,"
        f" accepted {c['accepted_per_s']:.1f}/s, delivered end to end {c['delivered_per_s']:.1f}/s",
        f"- delivery: accepted {d['accepted']}, delivered {d['delivered']}, lost {d['lost']},"
        f" duplicates {d['duplicates']}, unknown {d['unknown_arrivals']},"
        f" refused {d['refused_or_failed_requests']}; Misiva's database: {d['database_status']}",
        f"- latency (due → delivered): baseline p99 {lat.get('baseline_p99_ms')} ms"
        f" (minutes {lat.get('baseline_minutes')}), bound {lat.get('bound_ms')} ms,"
        f" worst minute {lat.get('worst_minute')} at {lat.get('worst_p99_ms')} ms:"
        f" {lat.get('verdict')}",
        "",
        "| minute | accepted | delivered | p50 ms | p99 ms | max ms | accept p99 ms"
        " | accepted→delivered p50 / p99 ms | sender lag max ms | Misiva CPU cores"
        " | CPU ms/msg | waiting for CPU s/s | load avg |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report.minutes:
        lines.append(
            f"| {r['minute']} | {r['accepted']} | {r['delivered']} | {r['p50_ms']} | {r['p99_ms']}"
            f" | {r['max_ms']} | {r['accept_p99_ms']} | {r['delivery_p50_ms']} /"
            f" {r['delivery_p99_ms']} | {r['sender_lag_max_ms']} | {r.get('misiva_cores')}"
            f" | {r.get('cpu_ms_per_msg')} | {r.get('cpu_wait')} | {r.get('load_avg')} |"
        )
    lines += [
        "",
        "| process | first MB | last MB | max MB | slope MB/10 min | Q2 median | Q4 median"
        " | growth % | verdict |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for m in report.memory:
        lines.append(
            f"| {m['process']} | {m['first_mb']} | {m['last_mb']} | {m['max_mb']}"
            f" | {m.get('slope_mb_per_10min', '')} | {m.get('q2_median_mb', '')}"
            f" | {m.get('q4_median_mb', '')} | {m.get('growth_pct', '')}"
            f" | {m['verdict']}{' (slope not judged: short run)' if 'slope_note' in m else ''} |"
        )
    lines += ["", *(f"- FAIL: {f}" for f in report.failures)]
    lines += [f"- note: {w}" for w in report.warnings]
    return "\n".join(lines) + "\n"
