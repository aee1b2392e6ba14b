"""Where posting time goes: cProfile of both posting variants, and SQL statements per voucher.

    python -m bench.profile_posting [--vouchers 2000] [--top 25]

Prints, per variant, the statements each voucher sends (by verb), the jxc functions by
cumulative share of the posting time, the heaviest functions by own time, and a
coarse split: database driver (execute + commit) against Python around it. Writes
the raw profiles to bench/out/profile-*.prof for `python -m pstats` or snakeviz.
cProfile adds overhead to every Python call, so shares are what to read, not times.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from collections import Counter
from collections.abc import Callable
from itertools import islice
from typing import Any

from sqlalchemy import Engine, bindparam, event, select

from bench import book, generate
from jxc.db.models import Company
from jxc.domain.status import VoucherStatus
from jxc.services import vouchers
from jxc.services.vouchers import VoucherIn

PStatKey = tuple[str, int, str]


def count_statements(engine: Engine, work: Callable[[], None]) -> Counter[str]:
    """The statements `work` sends, by first keyword (SELECT, INSERT, ...). Counted in a pass of
    its own: the listener would otherwise show up in the profile."""
    seen: Counter[str] = Counter()

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen[statement.lstrip().split(None, 1)[0].upper()] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        work()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return seen


def floor_costs(engine: Engine, rounds: int = 2000) -> dict[str, float]:
    """Microseconds for an empty write transaction and for one cached primary-key SELECT on its
    connection: with the statement count, the floor a posting path of that shape can reach."""
    db = book.session(engine)
    one = select(Company.id).where(Company.id == bindparam("k"))
    for _ in range(200):
        with db.begin():
            db.connection().execute(one, {"k": 1}).scalar_one()
    start = time.perf_counter()
    for _ in range(rounds):
        with db.begin():
            pass
    empty = (time.perf_counter() - start) / rounds
    start = time.perf_counter()
    with db.begin():
        conn = db.connection()
        for _ in range(rounds):
            conn.execute(one, {"k": 1}).scalar_one()
    select_one = (time.perf_counter() - start) / rounds
    db.close()
    return {"empty_transaction_us": empty * 1e6, "pk_select_us": select_one * 1e6}


def _label(key: PStatKey) -> str:
    path, line, func = key
    for marker in ("/src/jxc/", "/site-packages/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{line}({func})" if line else func


def summarise(profile: cProfile.Profile, top: int) -> dict[str, Any]:
    """Shares of the total by cumulative time (jxc code) and by own time (everything)."""
    stats: dict[PStatKey, tuple[int, int, float, float, Any]] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    total = sum(tt for _, _, tt, _, _ in stats.values())
    ours = sorted(((k, v[3]) for k, v in stats.items() if "/src/jxc/" in k[0]), key=lambda kv: -kv[1])
    own = sorted(((k, v[2]) for k, v in stats.items()), key=lambda kv: -kv[1])

    def own_share(match: Callable[[PStatKey], bool]) -> float:
        return sum(v[2] for k, v in stats.items() if match(k)) / total

    return {
        "total_s": total,
        "cumulative_jxc": [(_label(k), ct / total) for k, ct in ours[:top]],
        "own_time": [(_label(k), tt / total) for k, tt in own[:top]],
        "split": {
            "driver execute": own_share(lambda k: k[2] in ("<method 'execute' of 'sqlite3.Cursor' objects>",
                                                            "<method 'executemany' of 'sqlite3.Cursor' objects>")),
            "driver commit": own_share(lambda k: k[2] == "<method 'commit' of 'sqlite3.Connection' objects>"),
            "sqlalchemy (python)": own_share(lambda k: "/sqlalchemy/" in k[0]),
            "jxc (python)": own_share(lambda k: "/src/jxc/" in k[0]),
        },
    }


def print_summary(title: str, statements: Counter[str], counted: int, n: int, summary: dict[str, Any]) -> None:
    print(f"\n== {title} ({n} vouchers; profiled total {summary['total_s']:.2f} s) ==")
    per = ", ".join(f"{verb} {count / counted:.1f}" for verb, count in statements.most_common())
    print(f"statements per voucher: {sum(statements.values()) / counted:.1f} ({per})")
    print("own-time split: " + ", ".join(f"{k} {v:.0%}" for k, v in summary["split"].items()))
    print("jxc functions by cumulative share:")
    for label, share in summary["cumulative_jxc"]:
        print(f"  {share:6.1%}  {label}")
    print("heaviest by own time:")
    for label, share in summary["own_time"]:
        print(f"  {share:6.1%}  {label}")


def _profiled(work: Callable[[], None]) -> cProfile.Profile:
    profile = cProfile.Profile()
    profile.enable()
    work()
    profile.disable()
    return profile


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_posting", description=__doc__.split("\n\n")[0])
    parser.add_argument("--vouchers", type=int, default=2000)
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args(argv)

    path = book.OUT / "tmp" / "profile.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    book.remove_sqlite(path)
    engine = book.new_book(book.sqlite_url(path), generate.Spec(0))
    db = book.session(engine)
    actor = book.admin_actor(db)
    n = args.vouchers
    source = generate.vouchers(generate.Spec(n * 4 + 400, generate.DEFAULT_SEED + 11))

    def create(batch: list[VoucherIn], status: VoucherStatus) -> list[int]:
        return [vouchers.create_voucher(db, v, actor=actor, advance_to=status).id for v in batch]

    def post(ids: list[int]) -> None:
        for voucher_id in ids:
            vouchers.post_voucher(db, voucher_id, actor=actor)

    create(list(islice(source, 200)), VoucherStatus.POSTED)  # warm the statement caches
    sample = list(islice(source, 200))
    a_statements = count_statements(engine, lambda: create(sample, VoucherStatus.POSTED))
    sample_ids = create(list(islice(source, 200)), VoucherStatus.AUDITED)
    b_statements = count_statements(engine, lambda: post(sample_ids))

    batch = list(islice(source, n))
    profile = _profiled(lambda: create(batch, VoucherStatus.POSTED))
    profile.dump_stats(book.OUT / "profile-create-post.prof")
    print_summary("(a) create_voucher(advance_to=POSTED)", a_statements, len(sample), n,
                  summarise(profile, args.top))

    ids = create(list(islice(source, n)), VoucherStatus.AUDITED)
    profile = _profiled(lambda: post(ids))
    profile.dump_stats(book.OUT / "profile-post-only.prof")
    print_summary("(b) post_voucher", b_statements, len(sample_ids), n, summarise(profile, args.top))

    floor = floor_costs(engine)
    print(f"\nfloor on this machine: empty write transaction {floor['empty_transaction_us']:.0f} us, "
          f"cached primary-key SELECT {floor['pk_select_us']:.0f} us")
    db.close()
    engine.dispose()
    book.remove_sqlite(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
