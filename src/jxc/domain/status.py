"""Document and voucher lifecycles as transition tables, not scattered ifs."""

from __future__ import annotations

from enum import StrEnum

from jxc.domain.errors import InvalidTransition


class VoucherStatus(StrEnum):
    DRAFT = "draft"
    AUDITED = "audited"  # 审核
    POSTED = "posted"  # 过账: in the ledger balances
    VOID = "void"  # 作废: keeps its number, never counted


class VoucherAction(StrEnum):
    AUDIT = "audit"  # 审核
    UNAUDIT = "unaudit"  # 反审核
    POST = "post"  # 过账
    UNPOST = "unpost"  # 反过账
    VOID = "void"  # 作废


# Each action moves from exactly one status to one other. Naming the action, not just the
# target, matters: "audited" is the target of both audit (from draft) and unpost (from
# posted), and a user allowed to audit must not thereby be able to un-post. Un-post and
# un-audit walk back one step at a time, the mirror of the forward path, as in Kingdee and
# Yonyou (反过账 → 反审核).
VOUCHER_ACTIONS: dict[VoucherAction, tuple[VoucherStatus, VoucherStatus]] = {
    VoucherAction.AUDIT: (VoucherStatus.DRAFT, VoucherStatus.AUDITED),
    VoucherAction.UNAUDIT: (VoucherStatus.AUDITED, VoucherStatus.DRAFT),
    VoucherAction.POST: (VoucherStatus.AUDITED, VoucherStatus.POSTED),
    VoucherAction.UNPOST: (VoucherStatus.POSTED, VoucherStatus.AUDITED),
    VoucherAction.VOID: (VoucherStatus.DRAFT, VoucherStatus.VOID),
}

VOUCHER_TRANSITIONS: frozenset[tuple[VoucherStatus, VoucherStatus]] = frozenset(VOUCHER_ACTIONS.values())


def voucher_action_target(current: VoucherStatus, action: VoucherAction, *, voucher: str) -> VoucherStatus:
    """The status `action` leads to from `current`; InvalidTransition unless `current` is the
    one status the action starts from."""
    source, target = VOUCHER_ACTIONS[action]
    if VoucherStatus(current) is not source:
        raise InvalidTransition(document=voucher, current=str(current), target=str(target))
    return target
