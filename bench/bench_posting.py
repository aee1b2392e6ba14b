"""Posting throughput through the service layer, one transaction per voucher.

Two variants, because they answer different questions:
(a) `create_voucher(..., advance_to=POSTED)`: what a clerk entering and posting a
    voucher in one step costs (number, insert, audit, post, one audit-log entry);
(b) `post_voucher(id)` on vouchers created and audited beforehand (untimed): what an
    accountant's batch 过账 costs per voucher.
Each timed round posts `batch` vouchers; the rate is batch / seconds of the round.
Per-voucher latencies of all rounds are kept too, for the p50/p95 of a single call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import TypeVar

from sqlalchemy.orm import Session

from bench import generate
from bench.book import admin_actor, session
from bench.timing import Result, Stats, percentile
from jxc.domain.permissions import Actor
from jxc.domain.status import VoucherStatus
from jxc.services import vouchers
from jxc.services.vouchers import VoucherIn

T = TypeVar("T")

TARGET_RATE = 2000.0  # vouchers per second, SQLite, 2 cores


@dataclass(frozen=True, slots=True)
class PostingPlan:
    batch: int
    rounds: int
    warmup: int = 1

    @property
    def total(self) -> int:
        return self.batch * (self.rounds + self.warmup)


def _stream(seed: int, count: int) -> Iterator[VoucherIn]:
    """Fresh, realistic vouchers: the generator's year, offset by seed so reruns don't repeat a book's own."""
    return generate.vouchers(generate.Spec(count, seed))


def _latency_extra(latencies: list[float], warm: list[float], batch: int) -> dict[str, object]:
    return {"per_voucher_ms": {"p50": percentile(latencies, 50) * 1000, "p95": percentile(latencies, 95) * 1000,
                               "max": max(latencies) * 1000},
            "warmup_rate": [batch / w for w in warm]}


def _timed_rounds(plan: PostingPlan, source: Iterator[VoucherIn], prepare: Callable[[list[VoucherIn]], list[T]],
                  step: Callable[[T], object], *, label: str, backend: str) -> Result:
    """Warm-up and timed rounds of `plan.batch` calls of `step`; `prepare` runs untimed per round."""
    latencies: list[float] = []
    warm: list[float] = []
    samples: list[float] = []
    cpu: list[float] = []
    for round_no in range(plan.warmup + plan.rounds):
        items = prepare(list(islice(source, plan.batch)))
        started, started_cpu = time.perf_counter(), time.process_time()
        for item in items:
            t0 = time.perf_counter()
            step(item)
            if round_no >= plan.warmup:
                latencies.append(time.perf_counter() - t0)
        elapsed, elapsed_cpu = time.perf_counter() - started, time.process_time() - started_cpu
        if round_no < plan.warmup:
            warm.append(elapsed)
        else:
            samples.append(elapsed)
            cpu.append(elapsed_cpu)
    return Result(label, backend, "rate", Stats.of(samples), TARGET_RATE, plan.batch,
                  _latency_extra(latencies, warm, plan.batch), Stats.of(cpu))


def bench_create_and_post(db: Session, actor: Actor, plan: PostingPlan, *, backend: str, seed: int,
                          label: str = "post (a) create+audit+post") -> Result:
    """Variant (a): each voucher created, audited and posted in one service call and transaction."""
    return _timed_rounds(
        plan, _stream(seed, plan.total), lambda batch: batch,
        lambda v: vouchers.create_voucher(db, v, actor=actor, advance_to=VoucherStatus.POSTED),
        label=label, backend=backend)


def bench_post_only(db: Session, actor: Actor, plan: PostingPlan, *, backend: str, seed: int,
                    label: str = "post (b) post_voucher only") -> Result:
    """Variant (b): vouchers created and audited (untimed), then each posted in its own transaction."""
    def prepare(batch: list[VoucherIn]) -> list[int]:
        return [vouchers.create_voucher(db, v, actor=actor, advance_to=VoucherStatus.AUDITED).id for v in batch]

    return _timed_rounds(plan, _stream(seed, plan.total), prepare,
                         lambda voucher_id: vouchers.post_voucher(db, voucher_id, actor=actor),
                         label=label, backend=backend)


def run(engine_url: str, plan: PostingPlan, *, backend: str, variants: tuple[str, ...] = ("a", "b"),
        seed: int = generate.DEFAULT_SEED + 7, suffix: str = "") -> list[Result]:
    """Both variants on the book at `engine_url` (which must already hold the generator's partners)."""
    from jxc.db.session import make_engine

    engine = make_engine(engine_url)
    db = session(engine)
    try:
        actor = admin_actor(db)
        results = []
        if "a" in variants:
            results.append(bench_create_and_post(db, actor, plan, backend=backend, seed=seed,
                                                 label=f"post (a) create+audit+post{suffix}"))
        if "b" in variants:
            results.append(bench_post_only(db, actor, plan, backend=backend, seed=seed + 1,
                                           label=f"post (b) post_voucher only{suffix}"))
        return results
    finally:
        db.close()
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.bench_posting`: both variants on a fresh SQLite book, one line of output.

    Handy for A/B runs of two source trees: export one with `git archive REV src | tar -x -C DIR`
    and run this with `PYTHONPATH=DIR/src:.` in front.
    """
    import argparse

    import jxc
    from bench.book import OUT, new_book, remove_sqlite, sqlite_url

    parser = argparse.ArgumentParser(prog="python -m bench.bench_posting", description=main.__doc__)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    path = OUT / "tmp" / "posting-ab.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_sqlite(path)
    new_book(sqlite_url(path), generate.Spec(0)).dispose()
    try:
        results = run(sqlite_url(path), PostingPlan(args.batch, args.rounds), backend="sqlite")
    finally:
        remove_sqlite(path)
    cpu = {r.name: r.items / r.cpu.median for r in results if r.cpu}
    print(f"{jxc.__file__}: " + " | ".join(f"{r.name}: {r.headline:,.0f}/s (cpu {cpu[r.name]:,.0f}/s)"
                                          for r in results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
