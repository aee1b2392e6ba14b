"""Books made by an earlier version keep working after `jxc db upgrade`.

The earlier schema is produced the honest way: a book is made at head, used, and taken back
down to revision 0001 by the migrations' own downgrade (which drops what 0002 added); then
it is upgraded again, used again, and everything must still reconcile.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from alembic import command
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jxc.db import migrate
from jxc.db.models import PostingRule, RolePermission
from jxc.domain.errors import BookMissing
from jxc.services import books, checks, masterdata, stock, users, vouchers
from jxc.services.stock import StockDocIn, StockLineIn
from tests.conftest import make_book
from tests.factories import cash_sale

D = Decimal


def test_a_book_from_revision_0001_upgrades_and_keeps_its_books(backend_name, fresh_url):
    engine = make_book(fresh_url)
    with Session(engine) as db:
        admin = users.load_actor(db, "admin")
        db.rollback()
        posted = vouchers.create_voucher(db, cash_sale("2026-01-10", "100.00"), actor=admin,
                                         advance_to=vouchers.VoucherStatus.POSTED)
    with engine.begin() as conn:
        command.downgrade(migrate.alembic_config(conn), "0001")
    assert migrate.current_revision(engine) == "0001"

    done = books.upgrade_book(engine)
    assert (done.before, done.after) == ("0001", migrate.head_revision())
    assert books.upgrade_book(engine).before == done.after  # a second run has nothing to do

    with Session(engine) as db:
        with db.begin():
            assert db.execute(select(func.count()).select_from(PostingRule)).scalar_one() >= 9
            grants = set(db.execute(select(RolePermission.role_code, RolePermission.permission)).all())
            assert ("warehouse", "stock.audit") in grants
            assert checks.verify_books(db).ok
        admin = users.load_actor(db, "admin")
        db.rollback()
        assert vouchers.get_voucher(db, posted.id, actor=admin).total == D("100.00")
        masterdata.add_warehouse(db, masterdata.WarehouseIn("W1", "主仓"), actor=admin)
        masterdata.add_partner(db, masterdata.PartnerIn("S1", "供", "supplier"), actor=admin)
        masterdata.add_product(db, masterdata.ProductIn("P1", "鼠标", "个", D("0.13")), actor=admin)
        stock.create_stock_doc(db, StockDocIn("purchase_receipt", date(2026, 1, 12), (
            StockLineIn("P1", D(10), D("12.50")),), warehouse="W1", partner="S1"), actor=admin, audit=True)
        with db.begin():
            report = checks.verify_books(db)
            assert report.ok, [c for c in report.checks if not c.ok]
    engine.dispose()


def test_upgrade_of_an_empty_database_is_refused(backend_name, fresh_url):
    from jxc.db.session import make_engine

    engine = make_engine(fresh_url)
    with pytest.raises(BookMissing):
        books.upgrade_book(engine)
    engine.dispose()


def test_a_book_from_revision_0002_gets_open_items_for_its_receivables(backend_name, fresh_url):
    """0003 turns the posted AR/AP lines and opening balances of an existing book into open
    items, so the new verify check holds at once and a receipt can settle them."""
    from jxc.db.models import ArapItem
    from jxc.domain.voucher import VoucherLine
    from jxc.services import opening

    engine = make_book(fresh_url)
    with Session(engine) as db:
        admin = users.load_actor(db, "admin")
        db.rollback()
        masterdata.add_partner(db, masterdata.PartnerIn("C1", "客", "customer"), actor=admin)
        opening.set_opening_balance(db, opening.OpeningIn("1122", D("300.00"), D(0), "C1"), actor=admin)
        opening.set_opening_balance(db, opening.OpeningIn("3001", D(0), D("300.00")), actor=admin)
        vouchers.create_voucher(db, vouchers.VoucherIn(date(2026, 1, 5), (
            VoucherLine("1122", debit=D("113.00"), partner_code="C1"), VoucherLine("5001", credit=D("100.00")),
            VoucherLine("22210101", credit=D("13.00")))), actor=admin, advance_to=vouchers.VoucherStatus.POSTED)
    with engine.begin() as conn:
        command.downgrade(migrate.alembic_config(conn), "0002")
    books.upgrade_book(engine)
    with Session(engine) as db, db.begin():
        amounts = sorted(db.execute(select(ArapItem.amount, ArapItem.source_type)).all())
        assert amounts == [(D("113.00"), "voucher"), (D("300.00"), "opening")]
        report = checks.verify_books(db)
        assert report.ok, [c for c in report.checks if not c.ok]
    engine.dispose()
