"""Opening balances (期初余额), entered before the first posting and then fixed."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from jxc.db.models import Account, Company, OpeningBalance, Partner
from jxc.domain import permissions as perm
from jxc.domain.errors import (
    AccountInactive,
    AccountNotLeaf,
    AccountUnknown,
    InvalidInput,
    OpeningLocked,
    PartnerNotAllowed,
    PartnerRequired,
    PartnerUnknown,
)
from jxc.domain.numbers import MAX_MONEY, MONEY_PLACES, ZERO, fits
from jxc.domain.permissions import Actor, require
from jxc.services import arap
from jxc.services.common import append_audit, reading


@dataclass(frozen=True, slots=True)
class OpeningIn:
    account_code: str
    debit: Decimal
    credit: Decimal
    partner_code: str | None = None


@dataclass(frozen=True, slots=True)
class OpeningCheck:
    debit: Decimal
    credit: Decimal

    @property
    def balanced(self) -> bool:
        return self.debit == self.credit


def set_opening_row(db: Session, data: OpeningIn, actor: Actor) -> None:
    """Replace the opening balance of one leaf account (and partner); zero removes it."""
    locked = db.execute(select(Company.opening_locked).where(Company.id == 1).with_for_update()).scalar_one()
    if locked:
        raise OpeningLocked()
    for field in ("debit", "credit"):
        value = getattr(data, field)
        if value < 0:
            raise InvalidInput(field=field, reason="input.negative", value=str(value))
        problem = fits(value, MONEY_PLACES, MAX_MONEY)
        if problem:
            raise InvalidInput(field=field, reason=problem, value=str(value), places=MONEY_PLACES)
    acct = db.execute(select(Account).where(Account.code == data.account_code)).scalar_one_or_none()
    if acct is None:
        raise AccountUnknown(account=data.account_code)
    if not acct.is_leaf:
        raise AccountNotLeaf(account=data.account_code)
    if not acct.active:
        raise AccountInactive(account=data.account_code)
    partner_id = None
    if data.partner_code:
        if not acct.partner_aux:
            raise PartnerNotAllowed(account=data.account_code, partner=data.partner_code)
        partner_id = db.execute(select(Partner.id).where(Partner.code == data.partner_code)).scalar_one_or_none()
        if partner_id is None:
            raise PartnerUnknown(partner=data.partner_code)
    elif acct.partner_aux:
        raise PartnerRequired(account=data.account_code)
    db.execute(delete(OpeningBalance).where(
        OpeningBalance.account_id == acct.id,
        OpeningBalance.partner_id == partner_id if partner_id else OpeningBalance.partner_id.is_(None),
    ))
    if data.debit or data.credit:
        db.add(OpeningBalance(account_id=acct.id, partner_id=partner_id, debit=data.debit, credit=data.credit))
        db.flush()
    start = db.execute(select(Company.start_date).where(Company.id == 1)).scalar_one()
    arap.sync_opening_item(db, acct.id, acct.code, partner_id, data.debit, data.credit, start)
    append_audit(db, actor, "opening.set", "account", data.account_code,
                 {"partner": data.partner_code, "debit": str(data.debit), "credit": str(data.credit)})


def set_opening_balance(db: Session, data: OpeningIn, *, actor: Actor) -> None:
    """Set one opening balance. Raises OpeningLocked once the first voucher is posted, and the
    account/partner errors of voucher lines."""
    require(actor, perm.OPENING_EDIT)
    with db.begin():
        set_opening_row(db, data, actor)


def check_opening(db: Session, *, actor: Actor) -> OpeningCheck:
    """期初试算平衡: total opening debits against total opening credits."""
    require(actor, perm.LEDGER_READ)
    with reading(db):
        rows = db.execute(select(OpeningBalance.debit, OpeningBalance.credit)).all()
        return OpeningCheck(sum((r.debit for r in rows), ZERO), sum((r.credit for r in rows), ZERO))
