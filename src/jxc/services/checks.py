"""`jxc verify`: re-prove the whole-book invariants from the stored rows (beancount's bean-check).

Each check is independent and reports the offending items, so one run shows
everything that is wrong. Later issues add their checks to CHECKS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jxc.db.models import (
    Account,
    AccountBalance,
    AuditHead,
    AuditLog,
    Company,
    OpeningBalance,
    PartnerBalance,
    Period,
    Voucher,
    VoucherLine,
    VoucherSequence,
)
from jxc.domain import permissions as perm
from jxc.domain.auditchain import GENESIS, AuditEntry, first_break
from jxc.domain.numbers import ZERO
from jxc.domain.permissions import Actor, require
from jxc.domain.voucher import voucher_label
from jxc.services.checks_base import CheckResult, result
from jxc.services.common import reading
from jxc.services.stockchecks import STOCK_CHECKS
from jxc.services.tradechecks import TRADE_CHECKS


@dataclass(frozen=True, slots=True)
class VerifyReport:
    checks: list[CheckResult]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


def _period_labels(db: Session) -> dict[int, str]:
    return {p.id: f"{p.year:04d}-{p.month:02d}" for p in db.execute(select(Period.id, Period.year, Period.month))}


def check_vouchers_balanced(db: Session) -> CheckResult:
    """Every voucher that is not void has two or more lines, Σdebit = Σcredit, and its
    stored total equals Σdebit."""
    labels = _period_labels(db)
    rows = db.execute(
        select(Voucher.id, Voucher.period_id, Voucher.word, Voucher.number, Voucher.total,
               func.count(VoucherLine.id), func.sum(VoucherLine.debit), func.sum(VoucherLine.credit))
        .outerjoin(VoucherLine, VoucherLine.voucher_id == Voucher.id)
        .where(Voucher.status != "void")
        .group_by(Voucher.id, Voucher.period_id, Voucher.word, Voucher.number, Voucher.total)
        .having((func.count(VoucherLine.id) < 2)
                | (func.coalesce(func.sum(VoucherLine.debit), 0) != func.coalesce(func.sum(VoucherLine.credit), 0))
                | (func.coalesce(func.sum(VoucherLine.debit), 0) != Voucher.total))
    ).all()
    items = [f"{labels[r.period_id]} {voucher_label(r.word, r.number)}" for r in rows]
    return result("vouchers_balanced", items, "check.vouchers_unbalanced")


def check_trial_balance(db: Session) -> CheckResult:
    """Opening balances balance (once the book has left initialisation), and each period's
    posted debits equal its posted credits."""
    items: list[str] = []
    locked = db.execute(select(Company.opening_locked)).scalar()
    d, c = db.execute(select(func.sum(OpeningBalance.debit), func.sum(OpeningBalance.credit))).one()
    if locked and (d or ZERO) != (c or ZERO):
        items.append(f"opening {d or ZERO} != {c or ZERO}")
    labels = _period_labels(db)
    for pid, pd, pc in db.execute(select(AccountBalance.period_id, func.sum(AccountBalance.debit),
                                         func.sum(AccountBalance.credit)).group_by(AccountBalance.period_id)):
        if pd != pc:
            items.append(f"{labels[pid]} {pd} != {pc}")
    return result("trial_balance_balanced", items, "check.trial_balance_unbalanced")


Key = TypeVar("Key", bound=tuple[int, ...])


def _compare(kept: Mapping[Key, tuple[Decimal, Decimal]], fresh: Mapping[Key, tuple[Decimal, Decimal]]) -> list[Key]:
    keys = set(kept) | set(fresh)
    zero = (ZERO, ZERO)
    return sorted(k for k in keys if kept.get(k, zero) != fresh.get(k, zero))


def check_balances_match_lines(db: Session) -> CheckResult:
    """The per-period balance tables equal a from-scratch sum of the posted lines, per account
    and per partner."""
    labels = _period_labels(db)
    codes = {r.id: r.code for r in db.execute(select(Account.id, Account.code))}
    posted = select(VoucherLine).join(Voucher, Voucher.id == VoucherLine.voucher_id).where(
        Voucher.status == "posted").subquery()
    fresh_acc = {(p, a): (d, c) for p, a, d, c in db.execute(
        select(posted.c.period_id, posted.c.account_id, func.sum(posted.c.debit), func.sum(posted.c.credit))
        .group_by(posted.c.period_id, posted.c.account_id))}
    kept_acc = {(r.period_id, r.account_id): (r.debit, r.credit) for r in db.execute(select(AccountBalance))
                .scalars()}
    fresh_par = {(p, a, q): (d, c) for p, a, q, d, c in db.execute(
        select(posted.c.period_id, posted.c.account_id, posted.c.partner_id, func.sum(posted.c.debit),
               func.sum(posted.c.credit)).where(posted.c.partner_id.is_not(None))
        .group_by(posted.c.period_id, posted.c.account_id, posted.c.partner_id))}
    kept_par = {(r.period_id, r.account_id, r.partner_id): (r.debit, r.credit)
                for r in db.execute(select(PartnerBalance)).scalars()}
    items = [f"{labels[k[0]]} {codes[k[1]]}" for k in _compare(kept_acc, fresh_acc)]
    items += [f"{labels[k[0]]} {codes[k[1]]} partner#{k[2]}" for k in _compare(kept_par, fresh_par)]
    return result("balances_match_lines", items, "check.balances_mismatch")


def check_leaf_postings(db: Session) -> CheckResult:
    """Voucher lines sit only on leaf accounts."""
    rows = db.execute(select(Account.code).join(VoucherLine, VoucherLine.account_id == Account.id)
                      .where(Account.is_leaf.is_(False)).distinct()).scalars().all()
    return result("leaf_postings", sorted(rows), "check.non_leaf_postings")


def check_voucher_numbers(db: Session) -> CheckResult:
    """Voucher numbers run 1..N without gaps per period and word, N being the sequence's last number."""
    labels = _period_labels(db)
    seq = {(r.period_id, r.word): r.last_number for r in db.execute(select(VoucherSequence)).scalars()}
    found = {(p, w): (n, mx) for p, w, n, mx in db.execute(
        select(Voucher.period_id, Voucher.word, func.count(Voucher.id), func.max(Voucher.number))
        .group_by(Voucher.period_id, Voucher.word))}
    items = []
    for key in sorted(set(seq) | set(found)):
        count, top = found.get(key, (0, 0))
        if not (count == top == seq.get(key, 0)):
            items.append(f"{labels[key[0]]} {key[1]}: {count}/{top}/{seq.get(key, 0)}")
    return result("voucher_numbers", items, "check.voucher_number_gaps")


def check_audit_chain(db: Session) -> CheckResult:
    """The audit log is an unbroken hash chain ending at the stored head."""
    prev_hash, prev_seq = GENESIS, 0
    batch = 5000
    while True:
        rows = db.execute(select(AuditLog).where(AuditLog.seq > prev_seq).order_by(AuditLog.seq)
                          .limit(batch)).scalars().all()
        if not rows:
            break
        entries = [AuditEntry(r.seq, r.at, r.username, r.action, r.entity, r.entity_id, r.detail,
                              r.prev_hash, r.hash) for r in rows]
        broken = first_break(entries, prev_hash, prev_seq)
        if broken is not None:
            return result("audit_chain", [f"#{broken}"], "check.audit_chain_broken")
        prev_hash, prev_seq = entries[-1].hash, entries[-1].seq
    head = db.execute(select(AuditHead)).scalar_one_or_none()
    if head is not None and (head.seq, head.hash) != (prev_seq, prev_hash):
        return result("audit_chain", [f"head #{head.seq}"], "check.audit_chain_broken")
    return result("audit_chain", [], "")


def check_period_seals(db: Session) -> CheckResult:
    """Every closed or locked period has a seal, and it still matches the period's rows: a
    change made behind the services' back (direct SQL) shows here."""
    from jxc.services.closing import seal_differences
    bad = seal_differences(db.connection())
    return result("period_seals", bad, "check.seal_mismatch", periods="; ".join(bad[:5]))


def check_period_snapshots(db: Session) -> CheckResult:
    """Each closed period's balance snapshots equal the recomputation from voucher lines and
    stock entries."""
    from jxc.services.closing import snapshot_differences
    bad = snapshot_differences(db.connection())
    return result("period_snapshots", bad, "check.snapshot_mismatch", first="; ".join(bad[:3]))


CHECKS: list[Callable[[Session], CheckResult]] = [
    check_vouchers_balanced,
    check_trial_balance,
    check_balances_match_lines,
    check_leaf_postings,
    check_voucher_numbers,
    check_audit_chain,
    *STOCK_CHECKS,
    *TRADE_CHECKS,
    check_period_seals,
    check_period_snapshots,
]


def verify_books(db: Session) -> VerifyReport:
    """Run every check inside the caller's transaction (used by tests after each scenario)."""
    return VerifyReport([check(db) for check in CHECKS])


def verify(db: Session, *, actor: Actor) -> VerifyReport:
    """Run every whole-book check in one read transaction."""
    require(actor, perm.LEDGER_READ)
    with reading(db):
        return verify_books(db)


