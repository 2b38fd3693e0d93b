"""The soak test's sampling of processes: resident memory, CPU time and run-queue wait.

Each named root process and everything it started, by pid, every few seconds; psutil when
the venv has it, /proc otherwise (the same numbers on Linux).
"""

from __future__ import annotations

import contextlib
import importlib
from pathlib import Path
from typing import Any

from scale import _command, _descendants, _rss_kib
from workers import cpu_seconds

try:  # psutil when the venv has it; /proc otherwise (the same numbers on Linux)
    psutil: Any = importlib.import_module("psutil")
except ImportError:
    psutil = None


def usage(pid: int) -> tuple[float, float] | None:
    """(resident MB, CPU seconds so far) of a process, or None once it has ended."""
    if psutil is not None:
        try:
            process = psutil.Process(pid)
            cpu = process.cpu_times()
            return process.memory_info().rss / 2**20, cpu.user + cpu.system
        except psutil.Error:
            return None
    kib = _rss_kib(pid)
    try:
        return None if kib is None else (kib / 1024, cpu_seconds(pid))
    except OSError:
        return None


def runqueue_wait(pid: int) -> float:
    """Seconds the process's threads spent ready to run but waiting for a CPU (schedstat's
    second field): what a busy machine costs it, apart from its own work."""
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int(stat.read_text().split()[1])
    return total / 1e9


class Memory:
    """RSS series of each named root process and everything it started, by pid; the CPU
    time of the judged (Misiva's) ones together, and the machine's load average: when
    latency rises, these say whether Misiva got slower or the machine got busier."""

    def __init__(self, roots: dict[str, int], judged: set[str]) -> None:
        self.roots, self.judged = roots, judged
        self.names: dict[int, tuple[str, bool]] = {}
        self.series: dict[int, list[tuple[float, float]]] = {}
        self.cpu: list[tuple[float, float]] = []  # (at, Misiva's CPU seconds so far)
        self.wait: list[tuple[float, float]] = []  # (at, Misiva's run-queue seconds so far)
        self.load: list[tuple[float, float]] = []  # (at, 1-minute load average)

    def sample(self, at: float) -> None:
        cpu = wait = 0.0
        for label, root in self.roots.items():
            for pid in [root, *_descendants(root)]:
                found = usage(pid)
                if found is None:
                    continue
                if pid not in self.names:
                    name = label if pid == root else f"{label} child: {_command(pid)[:60]}"
                    self.names[pid] = (name, label in self.judged)
                self.series.setdefault(pid, []).append((at, found[0]))
                if label in self.judged:
                    cpu, wait = cpu + found[1], wait + runqueue_wait(pid)
        self.cpu.append((at, cpu))
        self.wait.append((at, wait))
        self.load.append((at, float(Path("/proc/loadavg").read_text().split()[0])))
