"""Financial statements as data (jxc.domain.statements): reading formulas, checking a
statement, evaluating it on plain figures, the coverage check, and the cash-flow allocation.
The shipped lines are checked against the shipped chart of accounts here too."""

from __future__ import annotations

import csv
import re
from decimal import Decimal
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jxc.domain.errors import BatchInvalid, InvalidInput, StatementFormulaInvalid
from jxc.domain.statements import (
    BALANCE_SHEET,
    CASH_FLOW,
    INCOME_STATEMENT,
    STATEMENTS,
    ChartAccount,
    Figures,
    LineDef,
    Term,
    allocate_cash,
    cash_accounts,
    cash_shares,
    check_definition,
    check_line,
    evaluate,
    format_formula,
    read_formula,
    total_lines,
    uncovered,
)
from jxc.i18n import describe

D = Decimal
CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")

# A small chart: code -> (direction, category).
CHART = {c: ChartAccount(c, d, k) for c, d, k in (
    ("1001", "debit", "asset"), ("1002", "debit", "asset"), ("1122", "debit", "asset"),
    ("1602", "credit", "asset"), ("2202", "credit", "liability"), ("220201", "credit", "liability"),
    ("220202", "credit", "liability"), ("2203", "credit", "liability"), ("2221", "credit", "liability"),
    ("222101", "credit", "liability"), ("222102", "credit", "liability"), ("3001", "credit", "equity"),
    ("3103", "credit", "equity"), ("5001", "credit", "profit_loss"), ("5401", "debit", "profit_loss"),
    ("5603", "debit", "profit_loss"), ("560301", "debit", "profit_loss"), ("560302", "debit", "profit_loss"),
)}


def lines(statement: str, *rows: tuple[int, str] | tuple[int, str, str]) -> list[LineDef]:
    """(line_no, formula[, side]) -> LineDefs, position = line number."""
    return [LineDef(r[0], r[0], r[2] if len(r) > 2 else "", f"L{r[0]}", f"L{r[0]}", r[1]) for r in rows]


def problem(exc: pytest.ExceptionInfo[Exception]) -> StatementFormulaInvalid:
    assert isinstance(exc.value, StatementFormulaInvalid), exc.value
    return exc.value


# --- reading formulas ------------------------------------------------------------------

@pytest.mark.parametrize(("text", "canonical"), [
    ("+B(1001) +B(1002) +B(1012)", "+B(1001) +B(1002) +B(1012)"),
    ("B(1001)", "+B(1001)"),  # no sign: added
    ("  +b(1001)+B(1002)  -  dr( 1122 ) ", "+B(1001) +B(1002) -DR(1122)"),
    ("+L(07) -L(2)", "+L(7) -L(2)"),
    ("+B(3103) +B(3104) +PL()", "+B(3103) +B(3104) +PL()"),
    ("", ""),
    ("   ", ""),
])
def test_formulas_are_read_into_canonical_terms(text, canonical):
    assert format_formula(read_formula(BALANCE_SHEET, 1, text)) == canonical


def test_terms():
    assert read_formula(INCOME_STATEMENT, 21, "+L(1) -A(5401)") == (Term(1, "L", "1"), Term(-1, "A", "5401"))
    assert str(Term(-1, "CR", "2202")) == "-CR(2202)"


@pytest.mark.parametrize(("statement", "text", "term", "reason"), [
    (BALANCE_SHEET, "+B1001", "+B1001", "statement.syntax"),
    (BALANCE_SHEET, "+B(1001", "+B(1001", "statement.syntax"),
    (BALANCE_SHEET, "+B(1001) * 2", "*", "statement.syntax"),
    (BALANCE_SHEET, "+B(10 01)", "+B(10", "statement.syntax"),
    (BALANCE_SHEET, "+X(1001)", "+X(1001)", "statement.unknown_kind"),
    (BALANCE_SHEET, "+A(5001)", "+A(5001)", "statement.unknown_kind"),  # activity is not a balance
    (INCOME_STATEMENT, "+B(1001)", "+B(1001)", "statement.unknown_kind"),
    (CASH_FLOW, "+PL()", "+PL()", "statement.unknown_kind"),
    (BALANCE_SHEET, "+B(cash)", "+B(cash)", "statement.needs_account"),
    (BALANCE_SHEET, "+DR()", "+DR()", "statement.needs_account"),
    (BALANCE_SHEET, "+L(0)", "+L(0)", "statement.needs_line"),
    (BALANCE_SHEET, "+L(x)", "+L(x)", "statement.needs_line"),
    (BALANCE_SHEET, "+PL(3103)", "+PL(3103)", "statement.needs_nothing"),
])
def test_bad_formulas_name_the_statement_line_and_term(statement, text, term, reason):
    with pytest.raises(StatementFormulaInvalid) as exc:
        read_formula(statement, 7, text)
    p = problem(exc)
    assert (p.params["statement"], p.params["line_no"], p.params["term"], p.params["reason"]) == (
        statement, 7, term, reason)


def test_an_unknown_kind_lists_the_kinds_the_statement_takes():
    with pytest.raises(StatementFormulaInvalid) as exc:
        read_formula(INCOME_STATEMENT, 1, "+Q(5001)")
    assert problem(exc).params["kinds"] == "A, L"


def test_several_problems_come_together():
    with pytest.raises(BatchInvalid) as exc:
        read_formula(BALANCE_SHEET, 3, "+X(1) +B(abc) +L(1)")
    assert [e.params["term"] for e in exc.value.errors] == ["+X(1)", "+B(abc)"]


def test_unknown_statement():
    with pytest.raises(InvalidInput) as exc:
        read_formula("profit_and_loss", 1, "+A(5001)")
    assert exc.value.params["choices"] == ", ".join(STATEMENTS)


# --- checking a whole statement ---------------------------------------------------------

def test_check_definition_finds_unknown_accounts_and_lines_and_cycles_at_once():
    defs = lines(BALANCE_SHEET, (1, "+B(1001) +B(9999)", "asset"), (2, "+L(1) +L(5)", "asset"),
                 (3, "+L(4)", "equity"), (4, "+L(3) +L(1)", "equity"))
    with pytest.raises(BatchInvalid) as exc:
        check_definition(BALANCE_SHEET, defs, CHART)
    found = {(e.params["line_no"], e.params["term"], e.params["reason"]) for e in exc.value.errors}
    assert found == {(1, "+B(9999)", "statement.unknown_account"), (2, "+L(5)", "statement.unknown_line"),
                     (4, "+L(3)", "statement.cycle")}
    cycle = next(e for e in exc.value.errors if e.params["reason"] == "statement.cycle")
    assert cycle.params["cycle"] == "3 -> 4 -> 3"


def test_a_line_referring_to_itself_is_a_cycle():
    with pytest.raises(StatementFormulaInvalid) as exc:
        check_definition(INCOME_STATEMENT, lines(INCOME_STATEMENT, (1, "+A(5001) +L(1)")), CHART)
    assert problem(exc).params["cycle"] == "1 -> 1"


def test_check_line_reports_only_the_edited_line():
    defs = lines(BALANCE_SHEET, (1, "+B(9999)", "asset"), (2, "+B(1001)", "asset"), (3, "+L(1)", "equity"))
    assert check_line(BALANCE_SHEET, defs, CHART, 2) == (Term(1, "B", "1001"),)
    with pytest.raises(StatementFormulaInvalid):
        check_line(BALANCE_SHEET, defs, CHART, 1)
    cyclic = lines(BALANCE_SHEET, (1, "+B(9999)", "asset"), (2, "+L(3)", "asset"), (3, "+L(2)", "equity"))
    with pytest.raises(StatementFormulaInvalid) as exc:
        check_line(BALANCE_SHEET, cyclic, CHART, 3)  # the cycle is found at line 2 but runs through 3
    assert problem(exc).params["reason"] == "statement.cycle"


def test_lines_are_ordered_by_position():
    defs = [LineDef(2, 1, "", "b", "b", ""), LineDef(1, 2, "", "a", "a", "")]
    d = check_definition(INCOME_STATEMENT, defs, CHART)
    assert [ln.line_no for ln in d.lines] == [2, 1]
    assert total_lines(d) == (1,)


# --- evaluating -------------------------------------------------------------------------

BS = check_definition(BALANCE_SHEET, lines(
    BALANCE_SHEET,
    (1, "+B(1001) +B(1002)", "asset"),
    (2, "+DR(1122) +DR(2203)", "asset"),  # 应收账款
    (3, "+DR(2202)", "asset"),  # 预付 (suppliers in debit)
    (4, "-B(1602)", "asset"),
    (5, "+L(1) +L(2) +L(3) +L(4)", "asset"),
    (11, "+CR(2202)", "equity"),
    (12, "+CR(2203) +CR(1122)", "equity"),  # 预收账款
    (13, "+B(2221)", "equity"),
    (14, "+B(3001)", "equity"),
    (15, "+B(3103) +PL()", "equity"),
    (16, "+L(11) +L(12) +L(13) +L(14) +L(15)", "equity"),
), CHART)


def test_balance_sheet_figures():
    # Ledger (debit positive): cash 700 + 300; customers +800 and -150 (one paid in advance);
    # suppliers on 220201 -500 and +40 (a supplier we overpaid), 220202 -60 (estimated, no
    # partner detail); 累计折旧 -100; 应交税费: 222101 +90 (留抵), 222102 -20; capital -1000;
    # P&L not yet carried: revenue -400, cost +300.
    figures = Figures(
        balances={"1001": D(700), "1002": D(300), "1122": D(650), "220201": D(-460), "220202": D(-60),
                  "1602": D(-100), "222101": D(90), "222102": D(-20), "3001": D(-1000), "5001": D(-400),
                  "5401": D(300)},
        details={"1122": (D(800), D(-150)), "220201": (D(-500), D(40))},
    )
    v = evaluate(BS, CHART, figures)
    assert v[1] == D("1000.00")
    assert v[2] == D("800.00")  # only the customer in debit; 2203 has nothing
    assert v[3] == D("40.00")
    assert v[4] == D("-100.00")  # 累计折旧 is a credit account: B = +100, shown here as -B
    assert v[5] == D("1740.00")
    assert v[11] == D("560.00")  # 500 + 60: the estimated payable is its own detail
    assert v[12] == D("150.00")
    assert v[13] == D("-70.00")  # 应交税费 in debit comes out negative
    assert v[14] == D("1000.00")
    assert v[15] == D("100.00")  # profit not yet carried: 400 - 300
    assert v[16] == D("1740.00") == v[5]
    assert total_lines(BS) == (5, 16)


def test_details_explain_the_balance_or_the_rest_is_one_more_detail():
    # 1122 balance 100 but the partners explain 130: the missing -30 is a detail of its own.
    d = check_definition(BALANCE_SHEET, lines(BALANCE_SHEET, (1, "+DR(1122)", "asset"),
                                              (2, "+CR(1122)", "equity")), CHART)
    v = evaluate(d, CHART, Figures(balances={"1122": D(100)}, details={"1122": (D(130),)}))
    assert (v[1], v[2]) == (D("130.00"), D("30.00"))


def test_income_statement_activity_in_the_accounts_direction():
    d = check_definition(INCOME_STATEMENT, lines(
        INCOME_STATEMENT, (1, "+A(5001)"), (2, "+A(5401)"), (3, "+A(5603)"), (4, "+A(560301)"),
        (5, "+L(1) -L(2) -L(3)")), CHART)
    # revenue: credit 1000, a return debited 50; cost debit 600; interest income credited 20, fee 5.
    v = evaluate(d, CHART, Figures(activity={"5001": D(-950), "5401": D(600), "560301": D(-20),
                                             "560302": D(5)}))
    assert [v[n] for n in (1, 2, 3, 4, 5)] == [D("950.00"), D("600.00"), D("-15.00"), D("-20.00"), D("365.00")]


def test_empty_formulas_are_zero():
    d = check_definition(INCOME_STATEMENT, lines(INCOME_STATEMENT, (1, ""), (2, "+L(1)")), CHART)
    assert evaluate(d, CHART, Figures()) == {1: D("0.00"), 2: D("0.00")}


# --- coverage -----------------------------------------------------------------------------

LEAVES = ("1001", "1002", "1122", "1602", "220201", "220202", "2203", "222101", "222102", "3001", "3103", "5001",
          "5401", "560301", "560302")


def test_a_complete_balance_sheet_covers_every_account():
    assert uncovered(BS, CHART, LEAVES) == []


def test_coverage_finds_accounts_left_out_or_counted_twice():
    broken = check_definition(BALANCE_SHEET, [
        *(ln for ln in BS.lines if ln.line_no not in (1, 3)),
        LineDef(1, 1, "asset", "", "", "+B(1001)"),  # 1002 left out
        LineDef(3, 3, "asset", "", "", "+DR(2202) +B(1001)"),  # 1001 twice
    ], CHART)
    assert uncovered(broken, CHART, LEAVES) == ["1001", "1002"]


def test_coverage_of_the_income_statement_concerns_profit_and_loss_only():
    d = check_definition(INCOME_STATEMENT, lines(INCOME_STATEMENT, (1, "+A(5001)"), (2, "+A(5401)"),
                                                 (3, "+L(1) -L(2)")), CHART)
    assert uncovered(d, CHART, LEAVES) == ["560301", "560302"]


# --- cash flows ---------------------------------------------------------------------------

CASH = ("1001", "1002")


@pytest.mark.parametrize(("voucher", "shares"), [
    # 借 银行存款 113 / 贷 主营业务收入 100, 应交税费 13: each counterpart gets its own amount.
    ({"1002": D(113), "5001": D(-100), "222101": D(-13)}, {"5001": D(100), "222101": D(13)}),
    # 借 应付账款 500 / 贷 银行存款 500: a payment, negative.
    ({"220201": D(500), "1002": D(-500)}, {"220201": D(-500)}),
    # 借 库存现金 200 / 贷 银行存款 200: cash to cash, no flow.
    ({"1001": D(200), "1002": D(-200)}, {}),
    # 借 银行存款 98, 财务费用 2 / 贷 应收账款 100: 98 received from the customer, the fee netted.
    ({"1002": D(98), "560302": D(2), "1122": D(-100)}, {"1122": D(98)}),
    # 借 银行存款 100, 财务费用 1.01 / 贷 3 × 33.67: 100 shared in proportion (33.333... each),
    # rounded to 33.33 and the cent left over given to the largest share (ties: the first code).
    ({"1002": D(100), "560302": D("1.01"), "1122": D("-33.67"), "2203": D("-33.67"), "5001": D("-33.67")},
     {"1122": D("33.34"), "2203": D("33.33"), "5001": D("33.33")}),
])
def test_cash_shares(voucher, shares):
    assert dict(cash_shares(voucher, CASH)) == shares


def test_allocate_cash_adds_up_per_account():
    flows = allocate_cash([{"1002": D(113), "1122": D(-113)}, {"1002": D(-13), "1122": D(13)},
                           {"1001": D(-5), "5603": D(5)}], CASH)
    assert flows.inflows == {"1122": D(113)}
    assert flows.outflows == {"1122": D(13), "5603": D(5)}
    assert flows.net == D(95)


amounts = st.integers(min_value=-10**8, max_value=10**8).map(lambda n: D(n).scaleb(-2))
accounts = st.sampled_from(("1001", "1002", "1122", "2203", "220201", "5001", "560302", "3001"))


@given(st.lists(st.dictionaries(accounts, amounts, min_size=1, max_size=6), max_size=20))
def test_the_flows_always_explain_the_cash_movement(drafts):
    vouchers = []
    for draft in drafts:
        # Balance each voucher on 5603 (a non-cash account): Σ(debit − credit) = 0.
        v = dict(draft)
        v["5603"] = v.get("5603", D(0)) - sum(draft.values(), D(0))
        vouchers.append(v)
    flows = allocate_cash(vouchers, CASH)
    moved = sum((a for v in vouchers for k, a in v.items() if k.startswith(CASH)), D(0))
    assert flows.net == moved
    assert sum(flows.inflows.values(), D(0)) - sum(flows.outflows.values(), D(0)) == moved
    assert all(a > 0 for a in (*flows.inflows.values(), *flows.outflows.values()))
    assert not set(flows.inflows) & set(CASH) and not set(flows.outflows) & set(CASH)


def test_cash_flow_terms():
    d = check_definition(CASH_FLOW, lines(
        CASH_FLOW, (1, "+CF(1122) +CF(5001)"), (2, "+OUT(220201)"), (3, "+IN(220201)"), (4, "+L(1) -L(2) +L(3)"),
        (5, "+CASH(1001) +CASH(1002)"), (6, "+L(4) +L(5)")), CHART)
    assert cash_accounts(d) == ("1001", "1002")
    v = evaluate(d, CHART, Figures(balances={"1002": D(50)}, inflows={"1122": D(100), "220201": D(7)},
                                   outflows={"1122": D(10), "220201": D(30)}))
    assert [v[n] for n in range(1, 7)] == [D("90.00"), D("30.00"), D("7.00"), D("67.00"), D("50.00"), D("117.00")]
    leaves = ("1001", "1002", "1122", "5001", "220201")
    assert uncovered(d, CHART, leaves) == []
    assert uncovered(d, CHART, (*leaves, "2203")) == ["2203"]


# --- the shipped statements -----------------------------------------------------------

def _csv(name: str) -> list[dict[str, str]]:
    text = resources.files("jxc.data").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


SHIPPED_CHART = {r["code"]: ChartAccount(r["code"], r["direction"], r["category"])
                 for r in _csv("coa_small_2013.csv")}
SHIPPED_LEAVES = [c for c in SHIPPED_CHART if not any(o != c and o.startswith(c) for o in SHIPPED_CHART)]


def shipped(statement: str) -> list[LineDef]:
    return [LineDef(int(r["line_no"]), int(r["position"]), r["side"], r["label"], r["label_en"], r["formula"])
            for r in _csv("statements_small_2013.csv") if r["statement"] == statement]


@pytest.mark.parametrize(("statement", "count", "ends"), [
    (BALANCE_SHEET, 53, (30, 53)), (INCOME_STATEMENT, 32, (32,)), (CASH_FLOW, 22, (22,))])
def test_the_shipped_statements_are_complete(statement, count, ends):
    """Each form's 行次 run 1..n; every formula reads and names only accounts of the shipped
    chart; and every leaf account is carried exactly once (so the balance sheet balances on
    any balanced ledger, 净利润 takes in every P&L account, and the cash flows explain the
    change of the cash accounts)."""
    rows = shipped(statement)
    assert [r.line_no for r in rows] == list(range(1, count + 1))
    assert all(r.label and r.label_en and not CJK.search(r.label_en) for r in rows)
    d = check_definition(statement, rows, SHIPPED_CHART)
    assert total_lines(d) == ends
    assert uncovered(d, SHIPPED_CHART, SHIPPED_LEAVES) == []


def test_the_shipped_balance_sheet_sides_and_key_lines():
    rows = {r.line_no: r for r in shipped(BALANCE_SHEET)}
    assert {rows[n].side for n in range(1, 31)} == {"asset"}
    assert {rows[n].side for n in range(31, 54)} == {"equity"}
    assert (rows[30].label, rows[53].label) == ("资产总计", "负债和所有者权益（或股东权益）总计")
    assert rows[4].formula == "+DR(1122) +DR(2203)" and rows[34].formula == "+CR(2203) +CR(1122)"
    assert rows[5].formula == "+DR(1123) +DR(2202)" and rows[33].formula == "+CR(2202) +CR(1123)"
    assert rows[51].formula == "+B(3103) +B(3104) +PL()"
    income = {r.line_no: r for r in shipped(INCOME_STATEMENT)}
    assert income[3].label == "税金及附加" and income[3].formula == "+A(5403)"
    assert income[21].formula == "+L(1) -L(2) -L(3) -L(11) -L(14) -L(18) +L(20)"


# --- messages -----------------------------------------------------------------------------

def _raised(statement: str, text: str) -> StatementFormulaInvalid:
    with pytest.raises(StatementFormulaInvalid) as exc:
        check_definition(statement, lines(statement, (1, text, "asset"), (2, "+L(1)", "equity")), CHART)
    return problem(exc)


@pytest.mark.parametrize("text", ["+B(1001) *", "+Q(1)", "+B(x)", "+L(0)", "+PL(1)", "+B(9999)", "+L(9)",
                                  "+L(1)"])
@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_errors_read_as_sentences(text, lang):
    message = describe(_raised(BALANCE_SHEET, text), lang)
    assert "{" not in message and "}" not in message and "statement." not in message, message
    # the statement is named in the user's language, never by its code
    assert "balance_sheet" not in message and "1" in message
    assert ("资产负债表" if lang == "zh_CN" else "alance sheet") in message, message
    assert bool(CJK.search(message)) == (lang == "zh_CN"), message


def test_error_messages_name_what_is_wrong():
    assert "科目 9999 不存在" in describe(_raised(BALANCE_SHEET, "+B(9999)"), "zh_CN")
    assert "no line 9" in describe(_raised(BALANCE_SHEET, "+L(9)"), "en")
    assert "1 -> 1" in describe(_raised(BALANCE_SHEET, "+L(1)"), "en")
    assert "B, DR, CR, PL, L" in describe(_raised(BALANCE_SHEET, "+A(5001)"), "zh_CN")
