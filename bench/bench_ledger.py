"""Report latency on a big book: trial balance and detail-ledger pages, through the services.

The targets (trial balance <= 0.3 s, first detail page <= 0.1 s at 1,000,000 voucher
lines) hold only if the reports read the balance tables and walk an index, never
scan the lines: that is what these numbers check. Each case is one service call,
timed after warm-up on an already-open session (the page cache is warm, as it is
for a user clicking through the same books); the first, cold call is kept as well.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from bench.book import admin_actor, session
from bench.timing import Result, repeat
from jxc.db.session import make_engine
from jxc.domain.permissions import Actor
from jxc.services import reports

TARGET_TRIAL_BALANCE = 0.3
TARGET_DETAIL_FIRST_PAGE = 0.1
PERIOD = "2026-06"
JUNE = (date(2026, 6, 1), date(2026, 6, 30))
PAGE = 100


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    call: Callable[[], Any]
    target: float | None
    describe: Callable[[Any], dict[str, Any]]


def _page_info(page: reports.DetailLedger) -> dict[str, Any]:
    return {"rows": len(page.rows), "has_next": page.next_cursor is not None}


def cursor_at(db: Session, actor: Actor, account: str, page_no: int, *, partner: str | None = None,
              span: tuple[date, date] = JUNE) -> tuple[str | None, int]:
    """The cursor that opens page `page_no` (1-based), walking the pages before it; stops at the last page.
    Returns the cursor and the page number it opens."""
    cursor: str | None = None
    reached = 1
    while reached < page_no:
        page = reports.detail_ledger(db, account, date_from=span[0], date_to=span[1], partner=partner,
                                     limit=PAGE, cursor=cursor, actor=actor)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
        reached += 1
    return cursor, reached


def count_pages(db: Session, actor: Actor, account: str, *, partner: str | None = None) -> int:
    _, pages = cursor_at(db, actor, account, 10**9, partner=partner)
    return pages


def cases(db: Session, actor: Actor, partner: str) -> list[Case]:
    """The report calls to time. Later pages are the middle page of June, found by walking the pages first."""
    def detail(account: str, *, frm: date = JUNE[0], to: date = JUNE[1], who: str | None = None,
               cursor: str | None = None) -> Callable[[], reports.DetailLedger]:
        return lambda: reports.detail_ledger(db, account, date_from=frm, date_to=to, partner=who, limit=PAGE,
                                             cursor=cursor, actor=actor)

    pages_1002 = count_pages(db, actor, "1002")
    pages_partner = count_pages(db, actor, "1122", partner=partner)
    mid_1002, at_1002 = cursor_at(db, actor, "1002", max(2, pages_1002 // 2))
    mid_partner, at_partner = cursor_at(db, actor, "1122", max(2, pages_partner // 2), partner=partner)
    found = [
        Case(f"trial balance {PERIOD}", lambda: reports.trial_balance(db, PERIOD, actor=actor),
             TARGET_TRIAL_BALANCE, lambda tb: {"rows": len(tb.rows), "balanced": tb.balanced}),
        Case("detail 1002 June, first page", detail("1002"), TARGET_DETAIL_FIRST_PAGE,
             lambda p: {**_page_info(p), "pages_in_june": pages_1002}),
        Case(f"detail 1002 June, page {at_1002}/{pages_1002} (cursor)", detail("1002", cursor=mid_1002), None,
             _page_info),
        Case(f"detail 1122 @{partner} June, first page", detail("1122", who=partner), None,
             lambda p: {**_page_info(p), "pages_in_june": pages_partner}),
        Case(f"detail 1122 @{partner} June, page {at_partner}/{pages_partner} (cursor)",
             detail("1122", who=partner, cursor=mid_partner), None, _page_info),
        Case("detail 1002 from 06-16, first page", detail("1002", frm=date(2026, 6, 16)), None, _page_info),
        Case("detail 1002 whole year, first page", detail("1002", frm=date(2026, 1, 1), to=date(2026, 12, 31)),
             None, _page_info),
        Case("detail 1122 (all partners) June, first page", detail("1122"), None, _page_info),
    ]
    # A book too small for a second page has no "later page" to time.
    return [c for c in found if "(cursor)" not in c.name or " page 1/" not in c.name]


def run(url: str, *, backend: str, rounds: int, warmup: int = 2, partner: str = "C0001") -> list[Result]:
    """Time every case on the book at `url` (read-only: the book is not changed). The first call of
    each case counts as one of the warm-up calls and is reported as `first_call_s`."""
    engine = make_engine(url)
    db = session(engine)
    try:
        actor = admin_actor(db)
        results = []
        for case in cases(db, actor, partner):
            started = time.perf_counter()
            last = case.call()
            first = time.perf_counter() - started
            stats, cpu = repeat(case.call, rounds=rounds, warmup=max(0, warmup - 1))
            results.append(Result(case.name, backend, "latency", stats, case.target, 1,
                                  {"first_call_s": first, **case.describe(last)}, cpu))
        return results
    finally:
        db.close()
        engine.dispose()
