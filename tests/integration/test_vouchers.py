"""Vouchers through the services, on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from jxc.db.models import AccountBalance, AuditLog, Voucher, VoucherLine
from jxc.domain.errors import (
    AccountInactive,
    AccountNotLeaf,
    AccountUnknown,
    BatchInvalid,
    InvalidTransition,
    OpeningLocked,
    OpeningUnbalanced,
    PartnerRequired,
    PeriodClosed,
    PeriodMissing,
    PermissionDenied,
    SameUserAudit,
    UnbalancedVoucher,
)
from jxc.domain.status import VoucherStatus
from jxc.services import accounts, masterdata, opening, reports, users, vouchers
from tests.factories import cash_sale, cr, dr, voucher

POSTED = VoucherStatus.POSTED


def _counts(db):
    with db.begin():
        return (db.scalar(select(func.count()).select_from(Voucher)),
                db.scalar(select(func.count()).select_from(VoucherLine)),
                db.scalar(select(func.count()).select_from(AuditLog)))


def _kinds(exc: BatchInvalid) -> list[type]:
    return [type(e) for e in exc.errors]


def test_numbers_are_gap_free_per_period(db, admin):
    a = vouchers.create_voucher(db, cash_sale("2026-01-05"), actor=admin)
    b = vouchers.create_voucher(db, cash_sale("2026-01-06"), actor=admin)
    c = vouchers.create_voucher(db, cash_sale("2026-02-01"), actor=admin)
    assert (a.label, b.label, c.label) == ("记-0001", "记-0002", "记-0001")
    assert (a.period, c.period) == ("2026-01", "2026-02")


def test_lifecycle_draft_audit_post_and_back(db, admin):
    ref = vouchers.create_voucher(db, cash_sale(amount="250.00"), actor=admin)
    vouchers.audit_voucher(db, ref.id, actor=admin)
    vouchers.post_voucher(db, ref.id, actor=admin)
    tb = reports.trial_balance(db, "2026-01", actor=admin)
    row = {r.account: r for r in tb.rows}
    assert row["1002"].debit == Decimal("250.00") and row["5001"].credit == Decimal("250.00")
    vouchers.unpost_voucher(db, ref.id, actor=admin)
    assert reports.trial_balance(db, "2026-01", actor=admin).totals["debit"] == 0
    vouchers.unaudit_voucher(db, ref.id, actor=admin)
    done = vouchers.void_voucher(db, ref.id, actor=admin)
    assert done.status == "void"
    with pytest.raises(InvalidTransition):
        vouchers.audit_voucher(db, ref.id, actor=admin)


def test_posted_voucher_cannot_be_voided_or_unaudited_directly(db, admin):
    ref = vouchers.create_voucher(db, cash_sale(), actor=admin, advance_to=POSTED)
    with pytest.raises(InvalidTransition):
        vouchers.void_voucher(db, ref.id, actor=admin)
    with pytest.raises(InvalidTransition):
        vouchers.unaudit_voucher(db, ref.id, actor=admin)


def test_unbalanced_voucher_writes_nothing(db, admin):
    before = _counts(db)
    with pytest.raises(BatchInvalid) as err:
        vouchers.create_voucher(db, voucher("2026-01-05", dr("1002", "100.00"), cr("5001", "99.99")), actor=admin)
    assert _kinds(err.value) == [UnbalancedVoucher]
    assert err.value.errors[0].params["difference"] == Decimal("0.01")
    assert _counts(db) == before


def test_every_bad_line_is_reported_at_once(db, admin):
    accounts.set_account_active(db, "1001", False, actor=admin)
    bad = voucher("2026-01-05", dr("2221", "10.00"), dr("9999", "1.00"), dr("1001", "1.00"), dr("1122", "1.00"),
                  cr("5001", "13.00"))
    with pytest.raises(BatchInvalid) as err:
        vouchers.create_voucher(db, bad, actor=admin)
    kinds = _kinds(err.value)
    assert kinds == [AccountNotLeaf, AccountUnknown, AccountInactive, PartnerRequired]
    assert [e.params.get("line") for e in err.value.errors] == [1, 2, 3, 4]


def test_more_than_two_places_and_two_sided_lines_are_refused(db, admin):
    from jxc.domain.voucher import VoucherLine

    with pytest.raises(BatchInvalid) as err:
        vouchers.create_voucher(db, voucher("2026-01-05", dr("1002", "1.005"), cr("5001", "1.005")), actor=admin)
    assert {e.params["reason"] for e in err.value.errors} == {"input.too_many_places"}
    both = VoucherLine("1002", Decimal("1.00"), Decimal("1.00"))
    with pytest.raises(BatchInvalid):
        vouchers.create_voucher(db, voucher("2026-01-05", both, cr("5001", "0.00")), actor=admin)


def test_red_ink_lines_are_allowed_when_balanced(db, admin):
    ref = vouchers.create_voucher(db, voucher("2026-01-05", dr("1002", "-50.00"), cr("5001", "-50.00")),
                                  actor=admin, advance_to=POSTED)
    assert ref.status == "posted"
    row = {r.account: r for r in reports.trial_balance(db, "2026-01", actor=admin).rows}
    assert row["1002"].closing_credit == Decimal("50.00")


def test_date_outside_any_period(db, admin):
    with pytest.raises(PeriodMissing):
        vouchers.create_voucher(db, cash_sale("2025-12-31"), actor=admin)


def test_closed_period_refuses_everything(db, admin):
    from tests.stock_factories import seal_closed

    ref = vouchers.create_voucher(db, cash_sale("2026-01-20"), actor=admin, advance_to=VoucherStatus.AUDITED)
    seal_closed(db, "2026-01")
    before = _counts(db)
    with pytest.raises(PeriodClosed) as err:
        vouchers.create_voucher(db, cash_sale("2026-01-21"), actor=admin)
    assert err.value.params["period"] == "2026-01"
    with pytest.raises(PeriodClosed):
        vouchers.post_voucher(db, ref.id, actor=admin)
    assert _counts(db) == before


def test_segregation_of_duties(db, admin):
    from sqlalchemy import update

    from jxc.db.models import Company

    with db.begin():
        db.execute(update(Company).values(require_distinct_auditor=True))
    users.add_user(db, "checker", "checker-pass", roles=["accountant"], actor=admin)
    checker = users.load_actor(db, "checker")
    db.rollback()
    ref = vouchers.create_voucher(db, cash_sale(), actor=admin)
    with pytest.raises(SameUserAudit):
        vouchers.audit_voucher(db, ref.id, actor=admin)
    assert vouchers.audit_voucher(db, ref.id, actor=checker).status == "audited"
    with pytest.raises(SameUserAudit):
        vouchers.create_voucher(db, cash_sale(), actor=admin, advance_to=POSTED)


def test_permission_denied_names_the_permission(db, admin):
    users.add_user(db, "viewer", "viewer-pass", roles=["auditor"], actor=admin)
    viewer = users.load_actor(db, "viewer")
    db.rollback()
    before = _counts(db)
    with pytest.raises(PermissionDenied) as err:
        vouchers.create_voucher(db, cash_sale(), actor=viewer)
    assert err.value.params == {"user": "viewer", "permission": "voucher.create"}
    assert reports.trial_balance(db, "2026-01", actor=viewer).balanced
    assert _counts(db)[:2] == before[:2]


def test_partner_sub_ledger(db, admin):
    masterdata.add_partner(db, masterdata.PartnerIn("C001", "Star", "customer"), actor=admin)
    masterdata.add_partner(db, masterdata.PartnerIn("C002", "Moon", "customer"), actor=admin)
    vouchers.create_voucher(db, voucher("2026-01-03", dr("1122", "113.00", "C001"), cr("5001", "100.00"),
                                        cr("22210101", "13.00")), actor=admin, advance_to=POSTED)
    vouchers.create_voucher(db, voucher("2026-01-04", dr("1122", "50.00", "C002"), cr("5001", "50.00")),
                            actor=admin, advance_to=POSTED)
    vouchers.create_voucher(db, voucher("2026-02-02", dr("1002", "13.00"), cr("1122", "13.00", "C001")),
                            actor=admin, advance_to=POSTED)
    gl = reports.general_ledger(db, "1122", partner="C001", actor=admin)
    assert [(r.period, r.closing_balance) for r in gl.rows[:2]] == [("2026-01", Decimal("113.00")),
                                                                    ("2026-02", Decimal("100.00"))]
    dl = reports.detail_ledger(db, "1122", partner="C001", date_from=__import__("datetime").date(2026, 2, 1),
                               date_to=__import__("datetime").date(2026, 2, 28), actor=admin)
    assert dl.opening_balance == Decimal("113.00")
    assert [r.balance for r in dl.rows] == [Decimal("100.00")]


def test_opening_balances_must_balance_before_first_posting(db, admin):
    opening.set_opening_balance(db, opening.OpeningIn("1002", Decimal("1000.00"), Decimal("0")), actor=admin)
    ref = vouchers.create_voucher(db, cash_sale(), actor=admin, advance_to=VoucherStatus.AUDITED)
    with pytest.raises(OpeningUnbalanced) as err:
        vouchers.post_voucher(db, ref.id, actor=admin)
    assert err.value.params["difference"] == Decimal("1000.00")
    opening.set_opening_balance(db, opening.OpeningIn("3001", Decimal("0"), Decimal("1000.00")), actor=admin)
    vouchers.post_voucher(db, ref.id, actor=admin)
    with pytest.raises(OpeningLocked):
        opening.set_opening_balance(db, opening.OpeningIn("1001", Decimal("1.00"), Decimal("0")), actor=admin)
    tb = reports.trial_balance(db, "2026-02", actor=admin)
    assert tb.balanced and tb.totals["opening_debit"] == Decimal("1100.00")


def test_trial_balance_carries_earlier_periods(db, admin):
    vouchers.create_voucher(db, cash_sale("2026-01-10", "10.00"), actor=admin, advance_to=POSTED)
    vouchers.create_voucher(db, cash_sale("2026-03-10", "5.00"), actor=admin, advance_to=POSTED)
    tb = reports.trial_balance(db, "2026-03", actor=admin)
    row = {r.account: r for r in tb.rows}
    assert row["1002"].opening_debit == Decimal("10.00")
    assert row["1002"].closing_debit == Decimal("15.00")
    assert tb.balanced


def test_balance_rows_are_kept_per_period(db, admin):
    for _ in range(3):
        vouchers.create_voucher(db, cash_sale("2026-01-10", "1.10"), actor=admin, advance_to=POSTED)
    rows = db.execute(select(AccountBalance.debit, AccountBalance.credit)).all()
    assert sorted(rows) == [(Decimal("0.00"), Decimal("3.30")), (Decimal("3.30"), Decimal("0.00"))]


def test_detail_ledger_pages_with_running_balance(db, admin):
    import datetime as dt

    for i in range(1, 8):
        vouchers.create_voucher(db, cash_sale(f"2026-01-{i:02d}", f"{i}.00"), actor=admin, advance_to=POSTED)
    first = reports.detail_ledger(db, "1002", date_from=dt.date(2026, 1, 3), date_to=dt.date(2026, 1, 31),
                                  limit=2, actor=admin)
    assert first.opening_balance == Decimal("3.00")
    assert [r.balance for r in first.rows] == [Decimal("6.00"), Decimal("10.00")]
    second = reports.detail_ledger(db, "1002", date_from=dt.date(2026, 1, 3), date_to=dt.date(2026, 1, 31),
                                   limit=2, cursor=first.next_cursor, actor=admin)
    assert [r.balance for r in second.rows] == [Decimal("15.00"), Decimal("21.00")]


def test_list_vouchers_pages_by_number_and_filters_status(db, admin):
    refs = [vouchers.create_voucher(db, cash_sale(f"2026-04-{d:02d}"), actor=admin) for d in range(1, 6)]
    vouchers.audit_voucher(db, refs[1].id, actor=admin)
    first = vouchers.list_vouchers(db, "2026-04", limit=2, actor=admin)
    assert [v.label for v in first.vouchers] == ["记-0001", "记-0002"] and first.next_cursor == 2
    rest = vouchers.list_vouchers(db, "2026-04", limit=10, after_number=first.next_cursor, actor=admin)
    assert [v.label for v in rest.vouchers] == ["记-0003", "记-0004", "记-0005"] and rest.next_cursor is None
    audited = vouchers.list_vouchers(db, "2026-04", status=VoucherStatus.AUDITED, actor=admin)
    assert [v.id for v in audited.vouchers] == [refs[1].id]
    assert audited.vouchers[0].created_by == "admin" and audited.vouchers[0].total == Decimal("100.00")


def test_batch_action_on_a_period_reports_refusals_and_keeps_the_rest(db, admin):
    from sqlalchemy import update

    from jxc.db.models import Company
    from jxc.domain.errors import SameUserAudit
    from jxc.domain.status import VoucherAction

    users.add_user(db, "clerk", "clerk-pass-1", roles=["accountant"], actor=admin)
    clerk = users.load_actor(db, "clerk")
    db.rollback()
    mine = vouchers.create_voucher(db, cash_sale("2026-06-01"), actor=admin)
    theirs = [vouchers.create_voucher(db, cash_sale(f"2026-06-0{d}"), actor=clerk) for d in (2, 3)]
    with db.begin():
        db.execute(update(Company).values(require_distinct_auditor=True))
    audited = vouchers.apply_action_to_period(db, "2026-06", VoucherAction.AUDIT, actor=admin)
    assert [r.id for r in audited.done] == [v.id for v in theirs]
    assert [(label, type(exc)) for label, exc in audited.failed] == [(mine.label, SameUserAudit)]
    posted = vouchers.apply_action_to_period(db, "2026-06", VoucherAction.POST, actor=admin)
    assert [r.status for r in posted.done] == ["posted", "posted"] and not posted.failed
    assert reports.trial_balance(db, "2026-06", actor=admin).totals["debit"] == Decimal("200.00")
