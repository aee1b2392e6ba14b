"""The voucher lifecycle as a table of named actions (jxc.domain.status): no database."""

from __future__ import annotations

import itertools

import pytest

from jxc.domain.errors import InvalidTransition
from jxc.domain.status import VOUCHER_ACTIONS, VOUCHER_TRANSITIONS, VoucherAction, VoucherStatus, voucher_action_target

S = VoucherStatus
A = VoucherAction

ALLOWED = {
    (S.DRAFT, A.AUDIT): S.AUDITED,  # 审核
    (S.AUDITED, A.UNAUDIT): S.DRAFT,  # 反审核
    (S.AUDITED, A.POST): S.POSTED,  # 过账
    (S.POSTED, A.UNPOST): S.AUDITED,  # 反过账
    (S.DRAFT, A.VOID): S.VOID,  # 作废
}
REFUSED = [pair for pair in itertools.product(S, A) if pair not in ALLOWED]


def test_the_table_is_exactly_the_documented_lifecycle():
    assert {(src, act): dst for act, (src, dst) in VOUCHER_ACTIONS.items()} == ALLOWED
    assert {(src, dst) for (src, _), dst in ALLOWED.items()} == VOUCHER_TRANSITIONS


@pytest.mark.parametrize(("current", "action"), list(ALLOWED))
def test_allowed(current, action):
    assert voucher_action_target(current, action, voucher="2026-01 记-0001") is ALLOWED[(current, action)]


@pytest.mark.parametrize(("current", "action"), REFUSED)
def test_refused(current, action):
    with pytest.raises(InvalidTransition) as err:
        voucher_action_target(current, action, voucher="2026-01 记-0001")
    assert err.value.params["document"] == "2026-01 记-0001"
    assert err.value.params["current"] == current.value


@pytest.mark.parametrize(
    ("current", "action"),
    [
        (S.POSTED, A.AUDIT),  # auditing must not un-post, though both lead to "audited"
        (S.DRAFT, A.UNPOST),  # un-posting must not audit a draft
        (S.DRAFT, A.POST),  # no skipping the audit
        (S.POSTED, A.VOID),  # a posted voucher is reversed, never voided
        (S.AUDITED, A.VOID),
        (S.VOID, A.UNAUDIT),  # void is terminal
    ],
)
def test_notable_refusals(current, action):
    assert (current, action) in REFUSED


def test_void_is_terminal():
    assert not any(src is S.VOID for src, _ in VOUCHER_ACTIONS.values())


def test_plain_strings_are_accepted_like_the_stored_status():
    assert voucher_action_target("draft", A.AUDIT, voucher="x") is S.AUDITED  # type: ignore[arg-type]
    with pytest.raises(InvalidTransition):
        voucher_action_target("posted", A.VOID, voucher="x")  # type: ignore[arg-type]


def test_unknown_status_is_not_silently_allowed():
    with pytest.raises(ValueError):
        voucher_action_target("deleted", A.UNAUDIT, voucher="x")  # type: ignore[arg-type]
