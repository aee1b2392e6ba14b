"""Document and voucher lifecycles as transition tables, not scattered ifs."""

from __future__ import annotations

from enum import StrEnum

from jxc.domain.errors import InvalidTransition


class VoucherStatus(StrEnum):
    DRAFT = "draft"
    AUDITED = "audited"  # 审核
    POSTED = "posted"  # 过账: in the ledger balances
    VOID = "void"  # 作废: keeps its number, never counted


# (current, target) pairs. Un-post and un-audit walk back one step at a time,
# the mirror of the forward path, as in Kingdee and Yonyou (反过账 → 反审核).
VOUCHER_TRANSITIONS: frozenset[tuple[VoucherStatus, VoucherStatus]] = frozenset(
    {
        (VoucherStatus.DRAFT, VoucherStatus.AUDITED),
        (VoucherStatus.AUDITED, VoucherStatus.DRAFT),
        (VoucherStatus.AUDITED, VoucherStatus.POSTED),
        (VoucherStatus.POSTED, VoucherStatus.AUDITED),
        (VoucherStatus.DRAFT, VoucherStatus.VOID),
    }
)


def ensure_voucher_transition(current: VoucherStatus, target: VoucherStatus, *, voucher: str) -> None:
    """Raise InvalidTransition unless a voucher may move from `current` to `target`."""
    if (VoucherStatus(current), VoucherStatus(target)) not in VOUCHER_TRANSITIONS:
        raise InvalidTransition(document=voucher, current=str(current), target=str(target))
