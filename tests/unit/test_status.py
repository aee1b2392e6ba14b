"""The voucher lifecycle as a transition table (jxc.domain.status): no database."""

from __future__ import annotations

import itertools

import pytest

from jxc.domain.errors import InvalidTransition
from jxc.domain.status import VOUCHER_TRANSITIONS, VoucherStatus, ensure_voucher_transition

S = VoucherStatus

ALLOWED = [
    (S.DRAFT, S.AUDITED),  # 审核
    (S.AUDITED, S.DRAFT),  # 反审核
    (S.AUDITED, S.POSTED),  # 过账
    (S.POSTED, S.AUDITED),  # 反过账
    (S.DRAFT, S.VOID),  # 作废
]
REFUSED = [pair for pair in itertools.product(S, S) if pair not in ALLOWED]


def test_the_table_is_exactly_the_documented_lifecycle():
    assert set(ALLOWED) == VOUCHER_TRANSITIONS


@pytest.mark.parametrize(("current", "target"), ALLOWED)
def test_allowed(current, target):
    assert ensure_voucher_transition(current, target, voucher="2026-01 记-0001") is None


@pytest.mark.parametrize(("current", "target"), REFUSED)
def test_refused(current, target):
    with pytest.raises(InvalidTransition) as err:
        ensure_voucher_transition(current, target, voucher="2026-01 记-0001")
    assert err.value.params == {"document": "2026-01 记-0001", "current": current.value, "target": target.value}


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.DRAFT, S.POSTED),  # no skipping the audit
        (S.POSTED, S.DRAFT),  # back one step at a time
        (S.POSTED, S.VOID),  # a posted voucher is reversed, never voided
        (S.AUDITED, S.VOID),
        (S.VOID, S.DRAFT),  # void is terminal
        (S.DRAFT, S.DRAFT),
    ],
)
def test_notable_refusals(current, target):
    assert (current, target) in REFUSED


def test_void_is_terminal():
    assert not any(current is S.VOID for current, _ in VOUCHER_TRANSITIONS)


def test_plain_strings_are_accepted_like_the_stored_status():
    ensure_voucher_transition("draft", "audited", voucher="x")  # type: ignore[arg-type]
    with pytest.raises(InvalidTransition):
        ensure_voucher_transition("posted", "void", voucher="x")  # type: ignore[arg-type]


def test_unknown_status_is_not_silently_allowed():
    with pytest.raises(ValueError):
        ensure_voucher_transition("deleted", "draft", voucher="x")  # type: ignore[arg-type]
