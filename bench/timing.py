"""Repeat, time and summarise: the one place that decides how a number in BENCHMARKS.md is made.

Each measurement runs a few warm-up rounds (imports, statement caches, SQLite page
cache) and then `repeat` timed rounds with `time.perf_counter`. We report the median
(the headline number, robust to a stray slow round on a shared 2-core machine), the
95th percentile by nearest rank (with 7-15 rounds that is close to the slowest) and
the minimum. The garbage collector stays on: production code runs with it.

Wall time is the number that counts, but this machine is shared (tests of the other
engineers run next to the benchmarks), so every round also records the process CPU
time. On SQLite, which runs inside our process, CPU time is close to what the wall
time would be on an idle machine; on PostgreSQL it leaves out the server's share.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Stats:
    """Summary of timed samples, in seconds."""

    n: int
    median: float
    p95: float
    min: float
    max: float
    mean: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Stats:
        if not samples:
            raise ValueError("no samples")
        return cls(len(samples), statistics.median(samples), percentile(samples, 95), min(samples), max(samples),
                   statistics.fmean(samples))


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile: an observed value, never an interpolation between two."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def repeat(fn: Callable[[], Any], *, rounds: int, warmup: int = 1) -> tuple[Stats, Stats]:
    """Time `fn` `rounds` times after `warmup` untimed calls: wall-clock and process CPU stats."""
    for _ in range(warmup):
        fn()
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(rounds):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return Stats.of(wall), Stats.of(cpu)


@dataclass(slots=True)
class Result:
    """One row of the results table.

    `kind` is "latency" (seconds per call; lower is better, target is a maximum) or
    "rate" (items per second computed as `items` / seconds per round; higher is better,
    target is a minimum). For a rate the p95 column is the rate of the p95 (slow) round.
    """

    name: str
    backend: str
    kind: str
    stats: Stats
    target: float | None = None
    items: int = 1
    extra: dict[str, Any] = field(default_factory=dict)
    cpu: Stats | None = None

    def value(self, seconds: float) -> float:
        return self.items / seconds if self.kind == "rate" else seconds

    @property
    def headline(self) -> float:
        return self.value(self.stats.median)

    @property
    def passed(self) -> bool | None:
        if self.target is None:
            return None
        return self.headline >= self.target if self.kind == "rate" else self.headline <= self.target

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "backend": self.backend, "kind": self.kind, "items_per_round": self.items,
            "seconds": {"n": self.stats.n, "median": self.stats.median, "p95": self.stats.p95,
                        "min": self.stats.min, "max": self.stats.max, "mean": self.stats.mean},
            "median": self.headline, "p95": self.value(self.stats.p95), "best": self.value(self.stats.min),
            "cpu_seconds": None if self.cpu is None else {"median": self.cpu.median, "p95": self.cpu.p95,
                                                          "min": self.cpu.min},
            "cpu_median": None if self.cpu is None else self.value(self.cpu.median),
            "target": self.target, "passed": self.passed, **self.extra,
        }


def fmt(result: Result, seconds: float) -> str:
    if result.kind == "rate":
        return f"{result.value(seconds):,.0f}/s"
    return f"{seconds * 1000:,.1f} ms"


def fmt_target(result: Result) -> str:
    if result.target is None:
        return "-"
    return f">= {result.target:,.0f}/s" if result.kind == "rate" else f"<= {result.target * 1000:,.0f} ms"


def table(results: Sequence[Result]) -> str:
    """A fixed-width table for the terminal."""
    head = ("benchmark", "backend", "median", "p95", "best", "cpu median", "target", "result")
    rows = [head] + [
        (r.name, r.backend, fmt(r, r.stats.median), fmt(r, r.stats.p95), fmt(r, r.stats.min), _cpu(r),
         fmt_target(r), {True: "PASS", False: "FAIL", None: "-"}[r.passed])
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths,
                                                                                                   strict=True)))
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cpu(r: Result) -> str:
    return "-" if r.cpu is None else fmt(r, r.cpu.median)


def markdown_table(results: Sequence[Result]) -> str:
    head = ("| benchmark | backend | median | p95 | best | cpu median | target | result |\n"
            "|---|---|---:|---:|---:|---:|---:|---|")
    body = [f"| {r.name} | {r.backend} | {fmt(r, r.stats.median)} | {fmt(r, r.stats.p95)} | {fmt(r, r.stats.min)} "
            f"| {_cpu(r)} | {fmt_target(r)} | {({True: 'PASS', False: 'FAIL', None: '-'}[r.passed])} |"
            for r in results]
    return "\n".join([head, *body])


def load_average() -> tuple[float, float, float]:
    """The 1/5/15-minute load: a benchmark on a busy 2-core machine is not comparable, so we record it."""
    return os.getloadavg()
