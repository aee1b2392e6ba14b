"""Financial statements on small hand-made books, on SQLite and PostgreSQL.

The main scenario: opening balances (期初) with a customer who paid in advance (1122 in credit)
and input VAT carried forward (应交税费 in debit), then a month of manual vouchers, then two
more in February. Every figure of the balance sheet, the income statement and the cash flow
statement is worked out by hand below, with the arithmetic in the comments; lines not listed
must be zero.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from jxc.db.models import AuditLog, StatementLine
from jxc.domain import permissions as perm
from jxc.domain.errors import BatchInvalid, InvalidInput, NotFound, PermissionDenied, StatementFormulaInvalid
from jxc.domain.permissions import Actor
from jxc.domain.status import VoucherStatus
from jxc.services import books, closing, opening, statements, vouchers
from jxc.services.statements import Statement
from tests import stock_factories as sf
from tests.factories import cr, dr, voucher

D = Decimal


def post(db: Session, admin: Any, day: str, *lines: Any) -> None:
    vouchers.create_voucher(db, voucher(day, *lines), actor=admin, advance_to=VoucherStatus.POSTED)


def figures(s: Statement) -> dict[int, tuple[Decimal, Decimal]]:
    """The statement's non-zero lines: line number -> (first column, second column)."""
    return {r.line_no: r.amounts for r in s.rows if any(r.amounts)}


def pairs(**lines: tuple[str, str]) -> dict[int, tuple[Decimal, Decimal]]:
    return {int(k[1:]): (D(a), D(b)) for k, (a, b) in lines.items()}


def set_opening(db: Session, admin: Any, code: str, debit: str, credit: str, partner: str | None = None) -> None:
    opening.set_opening_balance(db, opening.OpeningIn(code, D(debit), D(credit), partner), actor=admin)


@pytest.fixture
def january(db: Session, admin: Any) -> None:
    """期初 (2026-01-01), debit = credit = 113,000:
    1001 库存现金 2,000 | 1002 银行存款 50,000 | 1122 C1 8,000 | 1122 C2 credit 1,500 (paid in
    advance) | 1405 库存商品 30,000 | 22210102 进项税额 3,000 (留抵: 应交税费 in debit) |
    1601 固定资产 20,000 | 1602 累计折旧 credit 4,000 | 220201 S1 credit 12,000 |
    3001 实收资本 credit 80,000 | 310404 未分配利润 credit 15,500."""
    sf.partner(db, admin, "C1", "customer")
    sf.partner(db, admin, "C2", "customer")
    sf.partner(db, admin, "S1", "supplier")
    for args in (("1001", "2000", "0"), ("1002", "50000", "0"), ("1122", "8000", "0", "C1"),
                 ("1122", "0", "1500", "C2"), ("1405", "30000", "0"), ("22210102", "3000", "0"),
                 ("1601", "20000", "0"), ("1602", "0", "4000"), ("220201", "0", "12000", "S1"),
                 ("3001", "0", "80000"), ("310404", "0", "15500")):
        set_opening(db, admin, *args)
    post(db, admin, "2026-01-05", dr("1122", "11300", "C1"), cr("5001", "10000"), cr("22210101", "1300"))  # sale
    post(db, admin, "2026-01-06", dr("5401", "6000"), cr("1405", "6000"))  # cost of sales
    post(db, admin, "2026-01-10", dr("1405", "5000"), dr("22210102", "650"), cr("220201", "5650", "S1"))  # purchase
    post(db, admin, "2026-01-15", dr("1002", "9000"), cr("1122", "9000", "C1"))  # C1 pays
    post(db, admin, "2026-01-18", dr("220201", "20000", "S1"), cr("1002", "20000"))  # S1 paid (overpaid)
    post(db, admin, "2026-01-20", dr("5602", "800"), cr("1001", "800"))  # office costs in cash
    post(db, admin, "2026-01-25", dr("560302", "50"), cr("1002", "50"))  # bank fee
    post(db, admin, "2026-01-25", dr("1002", "20"), cr("560301", "20"))  # interest income
    post(db, admin, "2026-01-28", dr("1122", "1130", "C2"), cr("5001", "1000"), cr("22210101", "130"))  # C2 buys
    post(db, admin, "2026-01-29", dr("1001", "300"), cr("5301", "300"))  # non-operating income
    post(db, admin, "2026-01-30", dr("5602", "200"), cr("1602", "200"))  # depreciation
    post(db, admin, "2026-01-31", dr("5403", "100"), cr("222112", "70"), cr("222113", "30"))  # surcharges
    # C1 pays 1,000 and the bank keeps 10: 990 received, the fee netted.
    post(db, admin, "2026-01-31", dr("1002", "990"), dr("560302", "10"), cr("1122", "1000", "C1"))


@pytest.fixture
def february(january: None, db: Session, admin: Any) -> None:
    post(db, admin, "2026-02-10", dr("1002", "2260"), cr("5001", "2000"), cr("22210101", "260"))  # cash sale
    post(db, admin, "2026-02-12", dr("5601", "500"), cr("1002", "500"))  # advertising


# The balance sheet's 年初余额 (the opening balances) in the scenario's fiscal year 2026:
#  1 货币资金 2,000 + 50,000 = 52,000      4 应收账款 DR(1122) = C1 8,000 (+ DR(2203) 0)
#  9 存货 = 12 库存商品 30,000            15 流动资产合计 52,000 + 8,000 + 30,000 = 90,000
# 18 固定资产原价 20,000, 19 累计折旧 4,000, 20 账面价值 16,000 = 29 非流动资产合计
# 30 资产总计 90,000 + 16,000 = 106,000
# 33 应付账款 CR(2202) S1 12,000          34 预收账款 CR(2203) 0 + CR(1122) C2 1,500
# 36 应交税费 B(2221) = -3,000 (in debit) 41 流动负债合计 = 47 负债合计 12,000 + 1,500 - 3,000 = 10,500
# 48 实收资本 80,000                      51 未分配利润 B(3103) 0 + B(3104) 15,500 + PL() 0
# 52 所有者权益合计 95,500                53 总计 10,500 + 95,500 = 106,000
YEAR_START = {1: "52000", 4: "8000", 9: "30000", 12: "30000", 15: "90000", 18: "20000", 19: "4000", 20: "16000",
              29: "16000", 30: "106000", 33: "12000", 34: "1500", 36: "-3000", 41: "10500", 47: "10500", 48: "80000",
              51: "15500", 52: "95500", 53: "106000"}


def test_balance_sheet_of_an_open_month(january, db, admin):
    # Closing balances at 2026-01-31:
    #  1001: 2,000 - 800 + 300 = 1,500; 1002: 50,000 + 9,000 - 20,000 - 50 + 20 + 990 = 39,960
    #  1 货币资金 = 41,460
    #  1122 C1: 8,000 + 11,300 - 9,000 - 1,000 = 9,300 (debit); C2: -1,500 + 1,130 = -370 (credit)
    #  4 应收账款 = DR(1122) 9,300 + DR(2203) 0 = 9,300; 34 预收账款 = CR(2203) 0 + CR(1122) 370 = 370
    #  220201 S1: -12,000 - 5,650 + 20,000 = +2,350 (overpaid): 5 预付账款 = DR(1123) 0 + DR(2202) 2,350;
    #  33 应付账款 = CR(2202) 0 + CR(1123) 0 = 0
    #  1405: 30,000 - 6,000 + 5,000 = 29,000 = 9 存货 = 12 库存商品
    #  15 流动资产合计 41,460 + 9,300 + 2,350 + 29,000 = 82,110
    #  19 累计折旧 4,000 + 200 = 4,200; 20 = 29 = 20,000 - 4,200 = 15,800; 30 资产总计 = 97,910
    #  2221 (debit positive): 22210102 3,650 - 22210101 1,430 - 222112 70 - 222113 30 = 2,120
    #  36 应交税费 = -2,120; 41 = 47 = 370 - 2,120 = -1,750
    #  P&L not yet carried (credit positive): 5001 11,000 + 560301 20 + 5301 300 - 5401 6,000
    #  - 5602 1,000 - 560302 60 - 5403 100 = 4,160; 51 未分配利润 = 0 + 15,500 + 4,160 = 19,660
    #  52 = 80,000 + 19,660 = 99,660; 53 = -1,750 + 99,660 = 97,910 = 30
    closing_ = {1: "41460", 4: "9300", 5: "2350", 9: "29000", 12: "29000", 15: "82110", 18: "20000", 19: "4200",
                20: "15800", 29: "15800", 30: "97910", 34: "370", 36: "-2120", 41: "-1750", 47: "-1750",
                48: "80000", 51: "19660", 52: "99660", 53: "97910"}
    s = statements.balance_sheet(db, "2026-01", actor=admin)
    expected = {n: (D(closing_.get(n, "0")), D(YEAR_START.get(n, "0"))) for n in set(closing_) | set(YEAR_START)}
    assert figures(s) == expected
    assert s.columns == ("closing", "year_start")
    assert s.balanced is True and s.uncovered == []
    assert s.totals == {"assets": (D("97910"), D("106000")), "liabilities_and_equity": (D("97910"), D("106000"))}
    assert [r.line_no for r in s.rows] == list(range(1, 54))
    row = s.rows[3]
    assert (row.label, row.label_en, row.side) == ("应收账款", "Accounts receivable", "asset")


def test_income_statement_month_and_year_to_date(february, db, admin):
    # January (本年累计 = 本月: the fiscal year starts in January):
    #  1 营业收入 5001: 10,000 + 1,000 = 11,000; 2 营业成本 5401: 6,000; 3 税金及附加 5403: 100
    #  14 管理费用 5602: 800 + 200 = 1,000; 18 财务费用 5603: fees 50 + 10 - interest 20 = 40
    #  19 其中利息费用 560301: -20; 21 营业利润 11,000 - 6,000 - 100 - 0 - 1,000 - 40 + 0 = 3,860
    #  22 营业外收入 5301: 300; 30 利润总额 3,860 + 300 - 0 = 4,160 = 32 净利润
    jan = {1: "11000", 2: "6000", 3: "100", 14: "1000", 18: "40", 19: "-20", 21: "3860", 22: "300", 30: "4160",
           32: "4160"}
    s = statements.income_statement(db, "2026-01", actor=admin)
    assert s.columns == ("ytd", "month")
    assert figures(s) == {n: (D(v), D(v)) for n, v in jan.items()}
    assert s.balanced is None and s.uncovered == []
    assert s.totals == {"net_profit": (D("4160"), D("4160"))}
    # February alone: 营业收入 2,000, 销售费用 500, so 营业利润 = 利润总额 = 净利润 1,500.
    # Year to date: 营业收入 13,000; 销售费用 500; 营业利润 13,000 - 6,000 - 100 - 500 - 1,000 - 40 = 5,360;
    # 利润总额 = 净利润 5,360 + 300 = 5,660.
    feb_month = {1: "2000", 11: "500", 21: "1500", 30: "1500", 32: "1500"}
    feb_ytd = {1: "13000", 2: "6000", 3: "100", 11: "500", 14: "1000", 18: "40", 19: "-20", 21: "5360", 22: "300",
               30: "5660", 32: "5660"}
    s = statements.income_statement(db, "2026-02", actor=admin)
    assert figures(s) == {n: (D(feb_ytd.get(n, "0")), D(feb_month.get(n, "0"))) for n in set(feb_ytd) | set(feb_month)}


def test_balance_sheet_of_the_next_month_keeps_the_year_start(february, db, admin):
    # February closing: 1002 39,960 + 2,260 - 500 = 41,720, so 货币资金 1,500 + 41,720 = 43,220;
    # 应交税费 -2,120 + 260 = -1,860; 未分配利润 15,500 + 5,660 = 21,160.
    # 资产 43,220 + 9,300 + 2,350 + 29,000 + 15,800 = 99,670 = 负债和权益 370 - 1,860 + 80,000 + 21,160.
    s = statements.balance_sheet(db, "2026-02", actor=admin)
    got = figures(s)
    assert {n: got[n][0] for n in (1, 15, 30, 36, 41, 51, 52, 53)} == {
        1: D("43220"), 15: D("83870"), 30: D("99670"), 36: D("-1860"), 41: D("-1490"), 51: D("21160"),
        52: D("101160"), 53: D("99670")}
    assert {n: v[1] for n, v in got.items() if v[1]} == {n: D(v) for n, v in YEAR_START.items()}
    assert s.balanced
    # 未分配利润 grew by exactly the year's net profit (no close yet: it is all in PL()).
    net = statements.income_statement(db, "2026-02", actor=admin).totals["net_profit"][0]
    assert got[51][0] - got[51][1] == net == D("5660")


def test_cash_flow_statement(february, db, admin):
    # January, by voucher (cash accounts 1001, 1002, 1012):
    #  C1 pays 9,000 (1122)                 -> 1 销售…收到的现金 9,000
    #  S1 paid 20,000 (2202)                -> 3 购买…支付的现金 20,000
    #  office costs 800 (5602)              -> 6 支付其他… 800
    #  bank fee 50 (560302, under 5603)     -> 6: -CF(5603) = 50, so 850
    #  interest 20 received (560301)        -> 17 偿还借款利息: -CF(560301) = -20 (income is negative)
    #  non-operating income 300 (5301)      -> 2 收到其他… 300
    #  C1 pays 1,000 less a fee of 10       -> 1: 990 (the fee is netted), so 9,990
    #  7 经营净额 9,990 + 300 - 20,000 - 0 - 0 - 850 = -10,560; 19 筹资净额 0 + 0 - 0 - (-20) - 0 = 20
    #  20 现金净增加额 -10,560 + 0 + 20 = -10,540; 21 期初现金 52,000; 22 期末现金 41,460 = the ledger
    jan = {1: "9990", 2: "300", 3: "20000", 6: "850", 7: "-10560", 17: "-20", 19: "20", 20: "-10540", 21: "52000",
           22: "41460"}
    s = statements.cash_flow_statement(db, "2026-01", actor=admin)
    assert figures(s) == {n: (D(v), D(v)) for n, v in jan.items()}
    assert s.balanced is True and s.uncovered == []
    assert s.totals == {"ledger_cash": (D("41460"), D("41460")), "closing_cash": (D("41460"), D("41460"))}
    # February alone: cash sale 2,260 (5001 2,000 + 22210101 260, both line 1); advertising 500 (line 6);
    # 7 = 20 = 1,760; 21 期初 (1 February) 41,460; 22 = 43,220.
    # Year to date: 1 = 9,990 + 2,260 = 12,250; 6 = 850 + 500 = 1,350; 7 = 12,250 + 300 - 20,000 - 1,350 = -8,800;
    # 20 = -8,800 + 20 = -8,780; 21 期初 (1 January) 52,000; 22 = 43,220.
    ytd = {1: "12250", 2: "300", 3: "20000", 6: "1350", 7: "-8800", 17: "-20", 19: "20", 20: "-8780", 21: "52000",
           22: "43220"}
    month = {1: "2260", 6: "500", 7: "1760", 20: "1760", 21: "41460", 22: "43220"}
    s = statements.cash_flow_statement(db, "2026-02", actor=admin)
    assert figures(s) == {n: (D(ytd.get(n, "0")), D(month.get(n, "0"))) for n in set(ytd) | set(month)}
    assert s.balanced is True


def test_second_fiscal_year_starts_from_the_last_years_closing(february, db, admin):
    # 2027 is opened, not closed into: 年初余额 of 2027 is the balance at 2027-01-01, that is February 2026's
    # closing (nothing was posted after it), P&L still in PL(). One voucher in January 2027.
    books.open_next_fiscal_year(db, actor=admin)
    post(db, admin, "2027-01-05", dr("1001", "100"), cr("5051", "100"))  # other operating revenue in cash
    dec = statements.balance_sheet(db, "2026-12", actor=admin)
    assert [r.amounts[0] for r in dec.rows] == [r.amounts[0] for r in statements.balance_sheet(
        db, "2026-02", actor=admin).rows]
    s = statements.balance_sheet(db, "2027-01", actor=admin)
    assert [r.amounts[1] for r in s.rows] == [r.amounts[0] for r in dec.rows]  # 年初余额 = last year's 期末
    got = figures(s)
    assert got[1] == (D("43320"), D("43220")) and got[51] == (D("21260"), D("21160"))
    assert s.balanced
    # The income statement of 2027 counts from 2027-01 only.
    assert figures(statements.income_statement(db, "2027-01", actor=admin)) == {
        n: (D("100"), D("100")) for n in (1, 21, 30, 32)}
    cash = statements.cash_flow_statement(db, "2027-01", actor=admin)
    assert figures(cash) == {n: (D(a), D(b)) for n, (a, b) in {
        1: ("100", "100"), 7: ("100", "100"), 20: ("100", "100"), 21: ("43220", "43220"),
        22: ("43320", "43320")}.items()}


def test_a_year_with_closes_reads_the_same_as_an_open_one(db, admin):
    """The close's own vouchers (结转损益 every month, 本年利润 → 利润分配 at the year end) are
    left out of the income statement; the balance sheet is unchanged by them."""
    set_opening(db, admin, "1002", "10000", "0")
    set_opening(db, admin, "3001", "0", "10000")
    post(db, admin, "2026-01-10", dr("1002", "1130"), cr("5001", "1000"), cr("22210101", "130"))
    post(db, admin, "2026-01-20", dr("5602", "200"), cr("1002", "200"))
    post(db, admin, "2026-02-10", dr("1002", "500"), cr("5001", "500"))
    before = {(fn.__name__, p): fn(db, p, actor=admin) for fn in (statements.balance_sheet,
                                                                   statements.income_statement)
              for p in ("2026-01", "2026-02", "2026-12")}
    # January: 净利润 1,000 - 200 = 800; February 500; 未分配利润 by February 1,300, all in PL().
    assert before["income_statement", "2026-01"].totals["net_profit"] == (D("800"), D("800"))
    assert before["income_statement", "2026-02"].totals["net_profit"] == (D("1300"), D("500"))
    closed = closing.close_period(db, "2026-01", actor=admin, acknowledge_warnings=True)
    assert closed.profit == D("800")  # the close carried what the income statement shows
    for m in range(2, 13):
        closing.close_period(db, f"2026-{m:02d}", actor=admin, acknowledge_warnings=True)
    for (name, p), was in before.items():
        now = getattr(statements, name)(db, p, actor=admin)
        assert now.rows == was.rows, (name, p)
    dec = before["balance_sheet", "2026-12"]
    assert figures(dec)[51] == (D("1300"), D("0"))
    # 2027 (made by the year-end close) starts from December's closing; 未分配利润 is now all in 3104.
    jan27 = statements.balance_sheet(db, "2027-01", actor=admin)
    assert [r.amounts[1] for r in jan27.rows] == [r.amounts[0] for r in dec.rows] and jan27.balanced
    assert figures(statements.income_statement(db, "2027-01", actor=admin)) == {}


def test_an_edited_line_changes_the_report(january, db, admin):
    view = statements.set_statement_line(db, "balance_sheet", 1, actor=admin, formula="  +b(1001)+B(1012) ")
    line = next(ln for ln in view.lines if ln.line_no == 1)
    assert line.formula == "+B(1001) +B(1012)"  # stored in its canonical form
    assert view.uncovered == ["1002"]  # every leaf is checked: 银行存款 is now on no line
    s = statements.balance_sheet(db, "2026-01", actor=admin)
    got = figures(s)
    assert got[1] == (D("1500"), D("2000"))
    assert got[30] == (D("97910") - D("39960"), D("106000") - D("50000"))
    assert s.balanced is False and s.uncovered == ["1002"]
    # Labels too, and each change is in the audit log.
    statements.set_statement_line(db, "income_statement", 3, actor=admin, label="税金及附加（含印花税）",
                                  label_en="Taxes and surcharges, incl. stamp duty")
    row = statements.income_statement(db, "2026-01", actor=admin).rows[2]
    assert (row.label, row.label_en) == ("税金及附加（含印花税）", "Taxes and surcharges, incl. stamp duty")
    with db.begin():
        logged = db.execute(select(AuditLog.entity_id, AuditLog.detail).where(
            AuditLog.action == "statement_line.update").order_by(AuditLog.seq)).all()
    assert [e for e, _ in logged] == ["balance_sheet:1", "income_statement:3"]
    assert "+B(1001) +B(1002) +B(1012)" in logged[0][1] and "+B(1001) +B(1012)" in logged[0][1]
    # Putting the line back restores the report.
    statements.set_statement_line(db, "balance_sheet", 1, actor=admin, formula="+B(1001) +B(1002) +B(1012)")
    assert statements.balance_sheet(db, "2026-01", actor=admin).balanced


def test_bad_edits_are_refused_and_change_nothing(db, admin):
    def refused(exc_type: type[Exception], statement: str, line_no: int, **kw: Any) -> Any:
        with pytest.raises(exc_type) as exc:
            statements.set_statement_line(db, statement, line_no, actor=admin, **kw)
        return exc.value

    e = refused(StatementFormulaInvalid, "balance_sheet", 4, formula="+DR(1122) +DR(9999)")
    assert (e.params["line_no"], e.params["term"], e.params["reason"]) == (4, "+DR(9999)",
                                                                          "statement.unknown_account")
    e = refused(StatementFormulaInvalid, "balance_sheet", 15, formula="+L(1) +L(30)")  # 30 = 15 + 29
    assert e.params["reason"] == "statement.cycle" and e.params["cycle"] == "15 -> 30 -> 15"
    e = refused(BatchInvalid, "income_statement", 1, formula="+A(5001) +B(1001) +L(99)")
    assert [x.params["reason"] for x in e.errors] == ["statement.unknown_kind", "statement.unknown_line"]
    refused(NotFound, "balance_sheet", 99, formula="")
    assert refused(InvalidInput, "trial_balance", 1, formula="").params["field"] == "statement"
    assert refused(InvalidInput, "balance_sheet", 1, label=" ").params["reason"] == "input.required"
    assert refused(InvalidInput, "balance_sheet", 1, label="x" * 101).params["reason"] == "input.too_long"
    assert refused(InvalidInput, "balance_sheet", 1, formula="+B(1001) " * 60).params["field"] == "formula"
    reader = Actor(admin.id, "reader", frozenset({perm.LEDGER_READ}))
    with pytest.raises(PermissionDenied):
        statements.set_statement_line(db, "balance_sheet", 1, actor=reader, formula="+B(1001)")
    view = statements.list_statement_lines(db, "balance_sheet", actor=reader)
    assert next(ln for ln in view.lines if ln.line_no == 4).formula == "+DR(1122) +DR(2203)"
    assert view.uncovered == [] and view.problems == []


def test_a_broken_line_shows_and_can_be_repaired_one_line_at_a_time(db, admin):
    # A line broken behind the services' back (say, by an import that skipped the check).
    with db.begin():
        db.execute(update(StatementLine).where(StatementLine.statement == "balance_sheet",
                                               StatementLine.line_no == 2).values(formula="+B(9999)"))
    with pytest.raises(StatementFormulaInvalid) as exc:
        statements.balance_sheet(db, "2026-01", actor=admin)
    assert exc.value.params["line_no"] == 2
    view = statements.list_statement_lines(db, "balance_sheet", actor=admin)
    assert [p.params["term"] for p in view.problems] == ["+B(9999)"] and view.uncovered == []
    statements.set_statement_line(db, "balance_sheet", 3, actor=admin, formula="+B(1121)")  # elsewhere: allowed
    statements.set_statement_line(db, "balance_sheet", 2, actor=admin, formula="+B(1101)")
    assert statements.balance_sheet(db, "2026-01", actor=admin).balanced


def test_reading_needs_ledger_read_and_a_known_period(db, admin):
    nobody = Actor(admin.id, "clerk", frozenset({perm.STOCK_READ}))
    for fn in (statements.balance_sheet, statements.income_statement, statements.cash_flow_statement):
        with pytest.raises(PermissionDenied):
            fn(db, "2026-01", actor=nobody)
        with pytest.raises(NotFound):
            fn(db, "2031-01", actor=admin)
        with pytest.raises(InvalidInput):
            fn(db, "2026-13", actor=admin)
    with pytest.raises(PermissionDenied):
        statements.list_statement_lines(db, "balance_sheet", actor=nobody)


def test_an_empty_book(db, admin):
    for fn in (statements.balance_sheet, statements.income_statement, statements.cash_flow_statement):
        s = fn(db, "2026-06", actor=admin)
        assert figures(s) == {} and s.uncovered == []
        assert s.balanced in (True, None)
    assert statements.balance_sheet(db, "2026-06", actor=admin).period == "2026-06"


def test_statement_data_runs_inside_the_callers_transaction(january, db, admin):
    with db.begin():
        s = statements.statement_data(db, "income_statement", "2026-01")
    assert s.totals["net_profit"] == (D("4160"), D("4160"))
