"""Concurrent writers on one book (real commits, several connections).

Voucher numbers must stay gap-free and unique, balances must equal the posted
lines, and the audit chain must stay one unbroken line, whatever the interleaving.
PostgreSQL exercises the row locks; SQLite exercises BEGIN IMMEDIATE queuing.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from jxc.db.models import Voucher
from jxc.domain.status import VoucherStatus
from jxc.services import checks, reports, users, vouchers
from tests.conftest import make_book
from tests.factories import cash_sale

WORKERS = 4
PER_WORKER = 15


@pytest.mark.parametrize("fresh_url", ["sqlite", "postgresql"], indirect=True)
def test_parallel_posting_keeps_numbers_balances_and_chain(fresh_url):
    engine = make_book(fresh_url)
    with Session(engine) as s:
        admin = users.load_actor(s, "admin")
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            with Session(engine, expire_on_commit=False) as db:
                for i in range(PER_WORKER):
                    ref = vouchers.create_voucher(db, cash_sale(f"2026-01-{1 + (i % 28):02d}", f"{n}.{i:02d}"),
                                                  actor=admin, advance_to=VoucherStatus.AUDITED)
                    vouchers.post_voucher(db, ref.id, actor=admin)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n + 1,)) for n in range(WORKERS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not errors, errors

    with Session(engine) as db:
        numbers = sorted(db.execute(select(Voucher.number)).scalars())
        assert numbers == list(range(1, WORKERS * PER_WORKER + 1))
        expected = sum(Decimal(f"{n}.{i:02d}") for n in range(1, WORKERS + 1) for i in range(PER_WORKER))
        db.rollback()
        tb = reports.trial_balance(db, "2026-01", actor=admin)
        assert tb.balanced and tb.totals["debit"] == expected
        report = checks.verify(db, actor=admin)
        assert report.ok, [c for c in report.checks if not c.ok]
    engine.dispose()


@pytest.mark.parametrize("fresh_url", ["sqlite"], indirect=True)
def test_a_report_in_progress_does_not_hold_the_sqlite_write_lock(fresh_url):
    """Readers start deferred (services.common.reading): a voucher posts while a report's
    transaction is still open, and the open report keeps reading its own snapshot."""
    import time

    from jxc.services.common import reading

    engine = make_book(fresh_url)
    with Session(engine) as s:
        admin = users.load_actor(s, "admin")
    with Session(engine) as reader, Session(engine) as writer, reading(reader):
        before = reports.trial_balance_data(reader, "2026-01").totals["debit"]
        started = time.monotonic()
        vouchers.create_voucher(writer, cash_sale("2026-01-09", "7.00"), actor=admin,
                                advance_to=VoucherStatus.POSTED)
        assert time.monotonic() - started < 5  # not queued behind the reader (busy timeout is 30 s)
        assert reports.trial_balance_data(reader, "2026-01").totals["debit"] == before
    with Session(engine) as s:
        assert reports.trial_balance(s, "2026-01", actor=admin).totals["debit"] == Decimal("7.00")
    engine.dispose()
