"""Ledger arithmetic (jxc.domain.ledger): roll-up, debit/credit columns, trial balance totals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from jxc.domain.ledger import (
    Movement,
    TrialBalanceRow,
    is_balanced,
    roll_up,
    split_net,
    trial_balance_rows,
    trial_balance_totals,
)

D = Decimal
ZERO = D("0")


@pytest.mark.parametrize(
    ("net", "columns"),
    [
        (D("70.00"), (D("70.00"), ZERO)),
        (D("-30.00"), (ZERO, D("30.00"))),
        (ZERO, (ZERO, ZERO)),
    ],
)
def test_split_net(net, columns):
    assert split_net(net) == columns


def test_movement_adds_and_nets():
    total = Movement(D("10.00"), D("3.00")) + Movement(D("1.00"), D("5.00"))
    assert total == Movement(D("11.00"), D("8.00"))
    assert total.net == D("3.00")
    assert Movement().net == ZERO


def test_roll_up_adds_each_leaf_to_every_ancestor():
    leaf = {
        "100201": Movement(D("100.00"), ZERO),
        "100202": Movement(D("50.00"), D("20.00")),
        "2221010101": Movement(ZERO, D("13.00")),
        "5001": Movement(ZERO, D("117.00")),
    }
    up = roll_up(leaf)
    assert up["1002"] == Movement(D("150.00"), D("20.00"))
    assert up["100201"] == leaf["100201"]
    for code in ("22210101", "222101", "2221"):
        assert up[code] == Movement(ZERO, D("13.00"))
    assert up["5001"] == leaf["5001"]
    assert set(up) == {"1002", "100201", "100202", "2221", "222101", "22210101", "2221010101", "5001"}


def test_roll_up_does_not_change_its_input():
    leaf = {"100201": Movement(D("1.00"), ZERO)}
    roll_up(leaf)
    assert leaf == {"100201": Movement(D("1.00"), ZERO)}


ACCOUNTS = [
    ("1001", "库存现金", 1),
    ("1002", "银行存款", 1),
    ("100201", "工商银行", 2),
    ("100202", "建设银行", 2),
    ("3001", "实收资本", 1),
    ("5001", "主营业务收入", 1),
]


def test_trial_balance_rows_roll_up_and_split():
    opening = {"100201": Movement(D("100.00"), D("30.00")), "3001": Movement(ZERO, D("70.00"))}
    activity = {"100202": Movement(D("50.00"), ZERO), "5001": Movement(ZERO, D("50.00"))}
    rows = {r.account: r for r in trial_balance_rows(ACCOUNTS, opening, activity)}
    assert "1001" not in rows  # zero rows are left out by default
    bank = rows["1002"]
    # Opening is carried as a net balance: 借 100 and 贷 30 open at 借 70.
    assert (bank.opening_debit, bank.opening_credit) == (D("70.00"), ZERO)
    assert (bank.debit, bank.credit) == (D("50.00"), ZERO)
    assert (bank.closing_debit, bank.closing_credit) == (D("120.00"), ZERO)
    assert bank.level == 1 and bank.name == "银行存款"
    assert rows["100201"].closing_debit == D("70.00")
    assert (rows["3001"].opening_credit, rows["3001"].closing_credit) == (D("70.00"), D("70.00"))
    assert (rows["5001"].credit, rows["5001"].closing_credit) == (D("50.00"), D("50.00"))


def test_trial_balance_rows_can_include_zero_rows_in_account_order():
    rows = trial_balance_rows(ACCOUNTS, {}, {}, include_zero=True)
    assert [r.account for r in rows] == [a[0] for a in ACCOUNTS]
    assert all(r.closing_debit == ZERO and r.closing_credit == ZERO for r in rows)


def test_a_balance_that_changes_side_moves_column():
    rows = trial_balance_rows([("1002", "bank", 1)], {"1002": Movement(D("10.00"), ZERO)},
                              {"1002": Movement(ZERO, D("25.00"))})
    assert (rows[0].opening_debit, rows[0].closing_credit, rows[0].closing_debit) == (D("10.00"), D("15.00"), ZERO)


def test_an_account_with_equal_movement_still_shows():
    rows = trial_balance_rows([("1002", "bank", 1)], {}, {"1002": Movement(D("5.00"), D("5.00"))})
    assert len(rows) == 1 and rows[0].closing_debit == ZERO


def test_totals_count_top_level_rows_only():
    opening = {"100201": Movement(D("100.00"), ZERO), "3001": Movement(ZERO, D("100.00"))}
    activity = {"100202": Movement(D("40.00"), ZERO), "5001": Movement(ZERO, D("40.00"))}
    rows = trial_balance_rows(ACCOUNTS, opening, activity)
    totals = trial_balance_totals(rows)
    # Children (100201, 100202) are already inside 1002; counting them again would double the bank.
    assert totals == {
        "opening_debit": D("100.00"), "opening_credit": D("100.00"),
        "debit": D("40.00"), "credit": D("40.00"),
        "closing_debit": D("140.00"), "closing_credit": D("140.00"),
    }
    assert is_balanced(totals)


def row(level: int, **amounts: str) -> TrialBalanceRow:
    values = {k: D(amounts.get(k, "0")) for k in ("opening_debit", "opening_credit", "debit", "credit",
                                                  "closing_debit", "closing_credit")}
    return TrialBalanceRow("x", "x", level, **values)


def test_totals_of_no_rows_are_zero_and_balanced():
    totals = trial_balance_totals([])
    assert set(totals.values()) == {ZERO}
    assert is_balanced(totals)


@pytest.mark.parametrize("column", ["opening", "", "closing"])
def test_is_balanced_checks_every_pair(column):
    prefix = f"{column}_" if column else ""
    totals = trial_balance_totals([row(1, **{f"{prefix}debit": "1.00"}), row(2, **{f"{prefix}credit": "1.00"})])
    assert not is_balanced(totals)
