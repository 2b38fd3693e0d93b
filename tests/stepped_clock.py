"""A wall clock that can be stepped under a running `misiva serve`, for the clock fault suite.

A small library preloaded into the process (built with gcc at test time) makes
clock_gettime(CLOCK_REALTIME), gettimeofday and time return the real time plus the seconds
written in a file, as after an NTP step or an administrator's `date -s`. CLOCK_MONOTONIC is
untouched, as it is by a real step, so timers and sleeps go on. Why not libfaketime: in
Debian's 0.9.10, FAKETIME_DONT_FAKE_MONOTONIC (which a realistic step needs) makes every
clock_nanosleep fail with EINVAL, so time.sleep raises.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

_CLOCK_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static int (*real_gettime)(clockid_t, struct timespec *);
static long long offset_ns, checked_ns = -1;

static long long shift(void) {
    struct timespec mono;
    real_gettime(CLOCK_MONOTONIC, &mono);
    long long now = mono.tv_sec * 1000000000LL + mono.tv_nsec;
    /* Read the file at most every 50 ms: a step is seen within that, like a real one. */
    if (checked_ns < 0 || now - __atomic_load_n(&checked_ns, __ATOMIC_RELAXED) > 50000000LL) {
        __atomic_store_n(&checked_ns, now, __ATOMIC_RELAXED);
        const char *path = getenv("CLOCK_SHIFT_FILE");
        FILE *file = path ? fopen(path, "r") : NULL;
        double seconds;
        if (file) {
            if (fscanf(file, "%lf", &seconds) == 1)
                __atomic_store_n(&offset_ns, (long long)(seconds * 1e9), __ATOMIC_RELAXED);
            fclose(file);
        }
    }
    return __atomic_load_n(&offset_ns, __ATOMIC_RELAXED);
}

int clock_gettime(clockid_t id, struct timespec *ts) {
    if (!real_gettime) real_gettime = dlsym(RTLD_NEXT, "clock_gettime");
    int result = real_gettime(id, ts);
    if (result == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) {
        long long ns = ts->tv_sec * 1000000000LL + ts->tv_nsec + shift();
        ts->tv_sec = ns / 1000000000LL;
        ts->tv_nsec = ns % 1000000000LL;
    }
    return result;
}

int gettimeofday(struct timeval *tv, void *tz) {
    struct timespec ts;
    (void)tz;
    int result = clock_gettime(CLOCK_REALTIME, &ts);
    if (result == 0 && tv) {
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    return result;
}

time_t time(time_t *out) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (out) *out = ts.tv_sec;
    return ts.tv_sec;
}
"""


class SteppedClock:
    """The wall clock of the processes started with `env`, stepped by `step_to(seconds)`."""

    def __init__(self, workdir: Path) -> None:
        self.file = workdir / "clock-shift"
        self.file.write_text("0\n")
        source = workdir / "clock_shim.c"
        source.write_text(_CLOCK_SHIM)
        self.library = workdir / "clock_shim.so"
        subprocess.run(
            ["gcc", "-shared", "-fPIC", "-O2", "-o", str(self.library), str(source), "-ldl"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        self.offset = 0.0

    @property
    def env(self) -> dict[str, str]:
        return {"LD_PRELOAD": str(self.library), "CLOCK_SHIFT_FILE": str(self.file)}

    def step_to(self, seconds: float) -> None:
        """From now on the clock reads real time plus `seconds` (written atomically)."""
        scratch = self.file.with_suffix(".new")
        scratch.write_text(f"{seconds}\n")
        scratch.replace(self.file)
        self.offset = seconds
        time.sleep(0.2)  # the shim reads the file at most every 50 ms
