"""Users, roles and the chart of accounts through the services, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from jxc.db.models import Account, AuditLog, User, UserRole
from jxc.domain.errors import (
    AccountCodeInvalid,
    AccountExists,
    AccountInactive,
    AccountInUse,
    AccountNotLeaf,
    AccountUnknown,
    AuthenticationFailed,
    BatchInvalid,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RoleUnknown,
    UserExists,
)
from jxc.domain.status import VoucherStatus
from jxc.i18n import describe
from jxc.services import accounts, opening, users, vouchers
from tests.factories import cash_sale, cr, dr, voucher

POSTED = VoucherStatus.POSTED


def audit_since(db, seq: int) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    with db.begin():
        return [tuple(r) for r in db.execute(select(AuditLog.action, AuditLog.entity, AuditLog.entity_id)
                                             .where(AuditLog.seq > seq).order_by(AuditLog.seq))]


def last_seq(db) -> int:  # type: ignore[no-untyped-def]
    with db.begin():
        return db.scalar(select(func.coalesce(func.max(AuditLog.seq), 0)))


def actor_for(db, username: str):  # type: ignore[no-untyped-def]
    actor = users.load_actor(db, username)
    db.rollback()
    return actor


# --- users -------------------------------------------------------------------------------

def test_add_user_stores_an_argon2_hash_not_the_password(db, admin):
    seq = last_seq(db)
    info = users.add_user(db, "clerk", "clerk-secret-1", roles=["accountant", "auditor"], display_name="小王",
                          actor=admin)
    assert (info.username, info.display_name, info.active, info.roles) == ("clerk", "小王", True,
                                                                           ("accountant", "auditor"))
    with db.begin():
        stored = db.execute(select(User.password_hash).where(User.username == "clerk")).scalar_one()
        detail = db.execute(select(AuditLog.detail).where(AuditLog.seq > seq)).scalar_one()
    assert stored.startswith("$argon2")
    assert "clerk-secret-1" not in stored
    assert "clerk-secret-1" not in detail and "$argon2" not in detail  # the log never holds secrets
    assert json.loads(detail) == {"roles": ["accountant", "auditor"]}
    assert audit_since(db, seq) == [("user.add", "user", "clerk")]


def test_list_users(db, admin):
    users.add_user(db, "zed", "zed-secret-1", roles=["manager"], actor=admin)
    found = {u.username: u for u in users.list_users(db, actor=admin)}
    assert found["zed"].roles == ("manager",)
    assert found["admin"].roles == ("admin",)
    names = [u.username for u in users.list_users(db, actor=admin)]
    assert names == sorted(names)


def test_authenticate(db, admin):
    users.add_user(db, "clerk", "clerk-secret-1", roles=["accountant"], actor=admin)
    actor = users.authenticate(db, "clerk", "clerk-secret-1")
    assert actor.username == "clerk"
    assert actor.can("voucher.create") and not actor.can("user.manage")


def test_wrong_password_and_unknown_user_look_the_same(db, admin):
    users.add_user(db, "clerk", "clerk-secret-1", roles=["accountant"], actor=admin)
    with pytest.raises(AuthenticationFailed) as wrong:
        users.authenticate(db, "clerk", "clerk-secret-2")
    with pytest.raises(AuthenticationFailed) as unknown:
        users.authenticate(db, "nobody", "clerk-secret-2")
    assert type(wrong.value) is type(unknown.value)
    for lang in ("zh_CN", "en"):
        assert describe(wrong.value, lang) == describe(unknown.value, lang)
    assert "clerk" not in describe(wrong.value, "en")


def test_a_disabled_user_cannot_log_in(db, admin):
    users.add_user(db, "clerk", "clerk-secret-1", roles=["accountant"], actor=admin)
    with db.begin():
        db.execute(update(User).where(User.username == "clerk").values(active=False))
    with pytest.raises(AuthenticationFailed):
        users.authenticate(db, "clerk", "clerk-secret-1")
    with pytest.raises(NotFound):
        users.load_actor(db, "clerk")
    db.rollback()


def test_grant_and_revoke_roles(db, admin):
    users.add_user(db, "clerk", "clerk-secret-1", roles=["auditor"], actor=admin)
    seq = last_seq(db)
    assert not actor_for(db, "clerk").can("voucher.create")
    users.grant_role(db, "clerk", "accountant", actor=admin)
    users.grant_role(db, "clerk", "accountant", actor=admin)  # idempotent
    assert actor_for(db, "clerk").can("voucher.create")
    with db.begin():
        links = db.execute(select(UserRole.role_code).join(User, User.id == UserRole.user_id)
                           .where(User.username == "clerk").order_by(UserRole.role_code)).scalars().all()
    assert links == ["accountant", "auditor"]
    users.revoke_role(db, "clerk", "accountant", actor=admin)
    users.revoke_role(db, "clerk", "accountant", actor=admin)  # idempotent
    clerk = actor_for(db, "clerk")
    assert not clerk.can("voucher.create") and clerk.can("ledger.read")
    assert [a for a, _, _ in audit_since(db, seq)] == ["user.grant", "user.grant", "user.revoke", "user.revoke"]
    assert {(e, i) for _, e, i in audit_since(db, seq)} == {("user", "clerk")}


def test_revoked_user_is_refused_by_services(db, admin):
    users.add_user(db, "clerk", "clerk-secret-1", roles=["accountant"], actor=admin)
    users.revoke_role(db, "clerk", "accountant", actor=admin)
    with pytest.raises(PermissionDenied):
        vouchers.create_voucher(db, cash_sale(), actor=actor_for(db, "clerk"))


@pytest.mark.parametrize(
    ("username", "password", "roles", "error", "params"),
    [
        ("admin", "whatever-1", ["auditor"], UserExists, {"username": "admin"}),
        ("clerk", "whatever-1", ["boss"], RoleUnknown, {"role": "boss"}),
        ("clerk", "short", ["auditor"], InvalidInput, {"field": "password", "reason": "input.password_short",
                                                       "min": 8}),
        ("  ", "whatever-1", ["auditor"], InvalidInput, {"field": "username", "reason": "input.required"}),
        ("x" * 61, "whatever-1", ["auditor"], InvalidInput, {"field": "username", "reason": "input.required"}),
    ],
)
def test_add_user_refusals_write_nothing(db, admin, username, password, roles, error, params):
    seq = last_seq(db)
    with pytest.raises(error) as err:
        users.add_user(db, username, password, roles=roles, actor=admin)
    assert err.value.params == params
    assert audit_since(db, seq) == []
    with db.begin():
        assert db.scalar(select(func.count()).select_from(User)) == 1


def test_grant_and_revoke_refusals(db, admin):
    with pytest.raises(NotFound):
        users.grant_role(db, "nobody", "auditor", actor=admin)
    with pytest.raises(NotFound):
        users.revoke_role(db, "nobody", "auditor", actor=admin)
    with pytest.raises(RoleUnknown):
        users.grant_role(db, "admin", "boss", actor=admin)


def test_user_management_needs_user_manage(db, admin):
    users.add_user(db, "clerk", "clerk-secret-1", roles=["accountant", "manager"], actor=admin)
    clerk = actor_for(db, "clerk")
    seq = last_seq(db)
    calls = [
        lambda: users.add_user(db, "other", "other-secret-1", roles=["auditor"], actor=clerk),
        lambda: users.grant_role(db, "clerk", "admin", actor=clerk),  # no granting oneself admin
        lambda: users.revoke_role(db, "admin", "admin", actor=clerk),
        lambda: users.list_users(db, actor=clerk),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied) as err:
            call()
        assert err.value.params == {"user": "clerk", "permission": "user.manage"}
    assert audit_since(db, seq) == []
    assert not actor_for(db, "clerk").can("user.manage")


# --- accounts --------------------------------------------------------------------------

def account_row(db, code: str) -> Account:  # type: ignore[no-untyped-def]
    with db.begin():
        return db.execute(select(Account).where(Account.code == code)).scalar_one()


def test_add_sub_account(db, admin):
    seq = last_seq(db)
    assert account_row(db, "1002").is_leaf
    info = accounts.add_account(db, "100201", "工商银行", actor=admin)
    assert (info.code, info.name, info.level, info.category, info.direction, info.is_leaf, info.active,
            info.partner_aux) == ("100201", "工商银行", 2, "asset", "debit", True, True, False)
    parent, child = account_row(db, "1002"), account_row(db, "100201")
    assert not parent.is_leaf
    assert child.parent_id == parent.id
    assert audit_since(db, seq) == [("account.add", "account", "100201")]
    listed = {a.code: a for a in accounts.list_accounts(db, actor=admin)}
    assert not listed["1002"].is_leaf and listed["100201"].is_leaf


def test_sub_accounts_nest_and_inherit(db, admin):
    accounts.add_account(db, "112201", "华东区", actor=admin)
    accounts.add_account(db, "11220101", "上海", actor=admin)
    accounts.add_account(db, "112202", "华北区", partner_aux=False, actor=admin)
    rows = {a.code: a for a in accounts.list_accounts(db, actor=admin)}
    assert rows["11220101"].level == 3 and rows["11220101"].partner_aux  # 1122 keeps partner sub-ledgers
    assert not rows["112202"].partner_aux
    assert not rows["112201"].is_leaf
    liability = accounts.add_account(db, "220203", "其他应付", actor=admin)
    assert (liability.category, liability.direction) == ("liability", "credit")


def test_the_parent_no_longer_takes_lines(db, admin):
    accounts.add_account(db, "100201", "工商银行", actor=admin)
    with pytest.raises(BatchInvalid) as err:
        vouchers.create_voucher(db, cash_sale(), actor=admin)
    assert [type(e) for e in err.value.errors] == [AccountNotLeaf]
    ref = vouchers.create_voucher(db, voucher("2026-01-05", dr("100201", "10.00"), cr("5001", "10.00")),
                                  actor=admin, advance_to=POSTED)
    assert ref.status == "posted"


@pytest.mark.parametrize(
    ("code", "error", "params"),
    [
        ("1002", InvalidInput, {"field": "code", "reason": "account.top_level_fixed", "value": "1002"}),
        ("9999", InvalidInput, {"field": "code", "reason": "account.top_level_fixed", "value": "9999"}),
        ("10020", AccountCodeInvalid, {"account": "10020", "parent": ""}),
        ("1002011", AccountCodeInvalid, {"account": "1002011", "parent": ""}),
        ("10a201", AccountCodeInvalid, None),
        ("22210101", AccountExists, {"account": "22210101"}),
        ("999901", AccountUnknown, {"account": "9999"}),
        ("10020101", AccountUnknown, {"account": "100201"}),  # skips a level
    ],
)
def test_add_account_refusals_write_nothing(db, admin, code, error, params):
    seq = last_seq(db)
    with pytest.raises(error) as err:
        accounts.add_account(db, code, "x", actor=admin)
    if params is not None:
        assert err.value.params == params
    assert audit_since(db, seq) == []
    assert account_row(db, "1002").is_leaf


def test_an_existing_sub_account_is_refused(db, admin):
    accounts.add_account(db, "100201", "工商银行", actor=admin)
    with pytest.raises(AccountExists):
        accounts.add_account(db, "100201", "again", actor=admin)


def test_a_name_is_required(db, admin):
    with pytest.raises(InvalidInput) as err:
        accounts.add_account(db, "100201", "  ", actor=admin)
    assert err.value.params["field"] == "name"


@pytest.mark.parametrize("advance_to", [POSTED, VoucherStatus.DRAFT])
def test_a_parent_with_voucher_lines_is_in_use(db, admin, advance_to):
    vouchers.create_voucher(db, cash_sale(), actor=admin, advance_to=advance_to)
    with pytest.raises(AccountInUse) as err:
        accounts.add_account(db, "100201", "工商银行", actor=admin)
    assert err.value.params == {"account": "1002"}
    assert account_row(db, "1002").is_leaf


def test_a_parent_with_an_opening_balance_is_in_use(db, admin):
    opening.set_opening_balance(db, opening.OpeningIn("1001", Decimal("500.00"), Decimal("0")), actor=admin)
    with pytest.raises(AccountInUse):
        accounts.add_account(db, "100101", "零钱", actor=admin)
    assert account_row(db, "1001").is_leaf


def test_a_disabled_account_refuses_new_lines(db, admin):
    accounts.add_account(db, "100201", "工商银行", actor=admin)
    seq = last_seq(db)
    info = accounts.set_account_active(db, "100201", False, actor=admin)
    assert not info.active
    bad = voucher("2026-01-05", dr("100201", "10.00"), cr("5001", "10.00"))
    with pytest.raises(BatchInvalid) as err:
        vouchers.create_voucher(db, bad, actor=admin)
    assert [type(e) for e in err.value.errors] == [AccountInactive]
    assert err.value.errors[0].params == {"account": "100201", "line": 1}
    assert accounts.set_account_active(db, "100201", True, actor=admin).active
    assert vouchers.create_voucher(db, bad, actor=admin).status == "draft"
    assert [a for a, _, _ in audit_since(db, seq)] == ["account.disable", "account.enable", "voucher.create"]
    assert {(e, i) for _, e, i in audit_since(db, seq)[:2]} == {("account", "100201")}


def test_a_disabled_account_keeps_its_posted_history(db, admin):
    vouchers.create_voucher(db, cash_sale(amount="7.00"), actor=admin, advance_to=POSTED)
    accounts.set_account_active(db, "5001", False, actor=admin)
    from jxc.services import reports

    rows = {r.account: r for r in reports.trial_balance(db, "2026-01", actor=admin).rows}
    assert rows["5001"].credit == Decimal("7.00")


def test_set_active_on_an_unknown_account(db, admin):
    with pytest.raises(AccountUnknown):
        accounts.set_account_active(db, "9999", False, actor=admin)


def test_account_changes_need_account_edit(db, admin):
    users.add_user(db, "viewer", "viewer-pass", roles=["auditor"], actor=admin)
    viewer = actor_for(db, "viewer")
    seq = last_seq(db)
    for call in (lambda: accounts.add_account(db, "100201", "x", actor=viewer),
                 lambda: accounts.set_account_active(db, "1002", False, actor=viewer)):
        with pytest.raises(PermissionDenied) as err:
            call()
        assert err.value.params == {"user": "viewer", "permission": "account.edit"}
    assert audit_since(db, seq) == []
    assert len(accounts.list_accounts(db, actor=viewer)) > 100  # reading is allowed
