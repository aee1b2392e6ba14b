"""The chart of accounts: add sub-accounts, enable and disable, list."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from jxc.db.models import Account, OpeningBalance, VoucherLine
from jxc.domain import permissions as perm
from jxc.domain.accounts import ensure_child_code, level_of, parent_code_of
from jxc.domain.errors import AccountExists, AccountInUse, AccountUnknown, InvalidInput
from jxc.domain.permissions import Actor, require
from jxc.services.common import append_audit, reading


@dataclass(frozen=True, slots=True)
class AccountInfo:
    code: str
    name: str
    level: int
    category: str
    direction: str
    is_leaf: bool
    active: bool
    partner_aux: bool


def _info(a: Account) -> AccountInfo:
    return AccountInfo(a.code, a.name, a.level, a.category, a.direction, a.is_leaf, a.active, a.partner_aux)


def _has_entries(db: Session, account_id: int) -> bool:
    return bool(db.execute(select(
        exists().where(VoucherLine.account_id == account_id)
        | exists().where(OpeningBalance.account_id == account_id)
    )).scalar())


def add_account(db: Session, code: str, name: str, *, partner_aux: bool | None = None,
                actor: Actor) -> AccountInfo:
    """Add a sub-account under the account its code extends (100201 under 1002).

    It inherits category and direction; partner sub-ledgers are inherited unless
    given. A parent that already has entries cannot take a child, because its
    entries would then sit on a non-leaf account. Raises AccountExists,
    AccountUnknown, AccountCodeInvalid, AccountInUse, InvalidInput.
    """
    require(actor, perm.ACCOUNT_EDIT)
    code, name = code.strip(), name.strip()
    if not name:
        raise InvalidInput(field="name", reason="input.required")
    with db.begin():
        parent_code = parent_code_of(code) if code.isdigit() and len(code) > 4 else None
        if parent_code is None:
            level_of(code)  # raises AccountCodeInvalid for a malformed code
            raise InvalidInput(field="code", reason="account.top_level_fixed", value=code)
        ensure_child_code(parent_code, code)
        if db.execute(select(Account.id).where(Account.code == code)).first():
            raise AccountExists(account=code)
        parent = db.execute(select(Account).where(Account.code == parent_code).with_for_update()
                            ).scalar_one_or_none()
        if parent is None:
            raise AccountUnknown(account=parent_code)
        if parent.is_leaf and _has_entries(db, parent.id):
            raise AccountInUse(account=parent_code)
        child = Account(code=code, name=name, parent_id=parent.id, level=parent.level + 1,
                        category=parent.category, direction=parent.direction, is_leaf=True, active=True,
                        partner_aux=parent.partner_aux if partner_aux is None else partner_aux)
        db.add(child)
        db.execute(update(Account).where(Account.id == parent.id).values(is_leaf=False))
        db.flush()
        append_audit(db, actor, "account.add", "account", code, {"name": name, "parent": parent_code})
        return _info(child)


def set_account_active(db: Session, code: str, active: bool, *, actor: Actor) -> AccountInfo:
    """Enable or disable an account. A disabled account keeps its history but takes no new lines."""
    require(actor, perm.ACCOUNT_EDIT)
    with db.begin():
        acct = db.execute(select(Account).where(Account.code == code).with_for_update()).scalar_one_or_none()
        if acct is None:
            raise AccountUnknown(account=code)
        acct.active = active
        db.flush()
        append_audit(db, actor, "account.enable" if active else "account.disable", "account", code)
        return _info(acct)


def list_accounts(db: Session, *, actor: Actor) -> list[AccountInfo]:
    require(actor, perm.LEDGER_READ)
    with reading(db):
        return [_info(a) for a in db.execute(select(Account).order_by(Account.code)).scalars()]
