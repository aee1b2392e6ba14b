"""Terse builders for stock tests: master data, documents, and reads of what auditing wrote.

Every read opens its own `with db.begin()` (the services open theirs), so call these
between service calls, never inside another transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, aliased

from jxc.db.models import (
    Account,
    AccountBalance,
    Company,
    Partner,
    Period,
    Product,
    StockBalance,
    StockDoc,
    StockDocLine,
    StockEntry,
    Voucher,
    VoucherLine,
    Warehouse,
)
from jxc.services import masterdata
from jxc.services.stock import StockDocIn, StockLineIn

D = Decimal
Num = Decimal | str | int | None


def _d(x: Num) -> Decimal | None:
    return None if x is None else Decimal(str(x))


def _day(day: date | str) -> date:
    return date.fromisoformat(day) if isinstance(day, str) else day


# --- master data -------------------------------------------------------------------

def product(db: Session, admin: Any, code: str, *, method: str = "moving_average", batch: bool = False,
            tax: str = "0.13", category: str | None = None) -> str:
    masterdata.add_product(db, masterdata.ProductIn(code, f"商品{code}", "个", D(tax), category=category,
                                                    costing_method=method, batch_tracked=batch), actor=admin)
    return code


def warehouse(db: Session, admin: Any, code: str) -> str:
    masterdata.add_warehouse(db, masterdata.WarehouseIn(code, f"仓库{code}"), actor=admin)
    return code


def partner(db: Session, admin: Any, code: str, kind: str) -> str:
    masterdata.add_partner(db, masterdata.PartnerIn(code, f"单位{code}", kind), actor=admin)
    return code


def standard_master_data(db: Session, admin: Any) -> None:
    """P1, P2, P3 moving average; PF FIFO; PM monthly average; PB batch-tracked;
    warehouses W1, W2; supplier S1, S2; customer C1."""
    for code in ("P1", "P2", "P3"):
        product(db, admin, code)
    product(db, admin, "PF", method="fifo")
    product(db, admin, "PM", method="monthly_average")
    product(db, admin, "PB", batch=True)
    warehouse(db, admin, "W1")
    warehouse(db, admin, "W2")
    partner(db, admin, "S1", "supplier")
    partner(db, admin, "S2", "supplier")
    partner(db, admin, "C1", "customer")


def allow_negative_stock(db: Session, allowed: bool = True) -> None:
    with db.begin():
        db.execute(update(Company).values(allow_negative_stock=allowed))


def close_period(db: Session, label: str) -> None:
    """Mark a period closed the quick way, out of order and whatever is in it, but sealed and
    snapshotted as the real close would, so `verify` holds it to the same rules."""
    seal_closed(db, label)


def seal_closed(db: Session, label: str, status: str = "closed") -> None:
    from jxc.services import closing
    with db.begin():
        conn = db.connection()
        p = closing._period_row(conn, label)
        closing._write_snapshots(conn, p)
        seal = closing.seal_of(conn, p, closing.previous_seal(conn, p))
        conn.execute(closing.CLOSE.insert().values(period_id=p.id, closed_at=closing.utcnow(), closed_by=1,
                                                   seal=seal, ran_costing=False, profit=0))
        db.execute(update(Period).where(Period.id == p.id).values(status=status))


# --- documents ---------------------------------------------------------------------

def ln(product: str, qty: Num = None, price: Num = None, *, incl: Num = None, tax_rate: Num = None,
       batch: str | None = None, expiry: date | str | None = None, amount: Num = None) -> StockLineIn:
    """A line: ln("P1", 100, "12.50"); incl= for a price including tax; amount= for cost adjustments."""
    return StockLineIn(product, _d(qty), _d(price), _d(incl), _d(tax_rate), batch,
                       _day(expiry) if expiry is not None else None, _d(amount))


def doc(doc_type: str, day: date | str, *lines: StockLineIn, wh: str | None = "W1", **kw: Any) -> StockDocIn:
    return StockDocIn(doc_type, _day(day), tuple(lines), warehouse=wh, **kw)


def receipt(day: date | str, *lines: StockLineIn, supplier: str = "S1", **kw: Any) -> StockDocIn:
    return doc("purchase_receipt", day, *lines, partner=supplier, **kw)


def purchase_return(day: date | str, *lines: StockLineIn, supplier: str = "S1", **kw: Any) -> StockDocIn:
    return doc("purchase_return", day, *lines, partner=supplier, **kw)


def delivery(day: date | str, *lines: StockLineIn, customer: str = "C1", **kw: Any) -> StockDocIn:
    return doc("sales_delivery", day, *lines, partner=customer, **kw)


def sales_return(day: date | str, *lines: StockLineIn, customer: str = "C1", **kw: Any) -> StockDocIn:
    return doc("sales_return", day, *lines, partner=customer, **kw)


def transfer(day: date | str, *lines: StockLineIn, to: str = "W2", **kw: Any) -> StockDocIn:
    return doc("transfer", day, *lines, to_warehouse=to, **kw)


def other_in(day: date | str, *lines: StockLineIn, **kw: Any) -> StockDocIn:
    return doc("other_in", day, *lines, **kw)


def other_out(day: date | str, *lines: StockLineIn, **kw: Any) -> StockDocIn:
    return doc("other_out", day, *lines, **kw)


def stocktake(day: date | str, *lines: StockLineIn, **kw: Any) -> StockDocIn:
    return doc("stocktake", day, *lines, **kw)


def cost_adjustment(day: date | str, *lines: StockLineIn, **kw: Any) -> StockDocIn:
    return doc("cost_adjustment", day, *lines, **kw)


# --- reads -------------------------------------------------------------------------

@dataclass(frozen=True)
class EntryRow:
    product: str
    warehouse: str
    batch: str
    qty: Decimal
    value: Decimal
    adjust: Decimal
    bal_qty: Decimal
    bal_value: Decimal


def entries(db: Session, doc_id: int) -> list[EntryRow]:
    """A document's stock entries, in ledger (id) order."""
    with db.begin():
        rows = db.execute(select(Product.code, Warehouse.code, StockEntry.batch, StockEntry.qty, StockEntry.value,
                                 StockEntry.adjust, StockEntry.bal_qty, StockEntry.bal_value)
                          .join(Product, Product.id == StockEntry.product_id)
                          .join(Warehouse, Warehouse.id == StockEntry.warehouse_id)
                          .where(StockEntry.doc_id == doc_id).order_by(StockEntry.id)).all()
    return [EntryRow(*r) for r in rows]


def moves(db: Session, doc_id: int) -> list[tuple[Decimal, Decimal]]:
    """(qty, value) of each entry of a document."""
    return [(e.qty, e.value) for e in entries(db, doc_id)]


def balance(db: Session, product: str, wh: str = "W1", batch: str = "") -> tuple[Decimal, Decimal]:
    """(qty, value) of the balance row, (0, 0) when there is none."""
    with db.begin():
        row = db.execute(select(StockBalance.qty, StockBalance.value)
                         .join(Product, Product.id == StockBalance.product_id)
                         .join(Warehouse, Warehouse.id == StockBalance.warehouse_id)
                         .where(Product.code == product, Warehouse.code == wh, StockBalance.batch == batch)).first()
    return (D(0), D(0)) if row is None else (row[0], row[1])


def balance_row(db: Session, product: str, wh: str = "W1", batch: str = "") -> Any:
    with db.begin():
        return db.execute(select(StockBalance).join(Product, Product.id == StockBalance.product_id)
                          .join(Warehouse, Warehouse.id == StockBalance.warehouse_id)
                          .where(Product.code == product, Warehouse.code == wh, StockBalance.batch == batch)
                          ).scalar_one_or_none()


def stock_doc(db: Session, doc_id: int) -> StockDoc | None:
    with db.begin():
        found = db.get(StockDoc, doc_id)
        if found is not None:
            db.refresh(found)
        return found


def doc_lines(db: Session, doc_id: int) -> list[StockDocLine]:
    with db.begin():
        return list(db.execute(select(StockDocLine).where(StockDocLine.doc_id == doc_id)
                               .order_by(StockDocLine.line_no)).scalars())


VLine = tuple[str, Decimal, Decimal, str | None]


def voucher_lines_of(db: Session, voucher_id: int) -> list[VLine]:
    """(account code, debit, credit, partner code) of a voucher's lines, in line order."""
    p = aliased(Partner)
    with db.begin():
        rows = db.execute(select(Account.code, VoucherLine.debit, VoucherLine.credit, p.code)
                          .join(Account, Account.id == VoucherLine.account_id)
                          .outerjoin(p, p.id == VoucherLine.partner_id)
                          .where(VoucherLine.voucher_id == voucher_id).order_by(VoucherLine.line_no)).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def voucher_of(db: Session, doc_id: int) -> Voucher | None:
    """The voucher a document points at now (None: it has none)."""
    with db.begin():
        vid = db.scalar(select(StockDoc.voucher_id).where(StockDoc.id == doc_id))
        if vid is None:
            return None
        v = db.get(Voucher, vid)
        assert v is not None
        db.refresh(v)
        return v


def doc_voucher_lines(db: Session, doc_id: int) -> list[VLine]:
    v = voucher_of(db, doc_id)
    assert v is not None, f"document {doc_id} has no voucher"
    assert v.status == "posted" and v.source_type == "stock_doc" and v.source_id == doc_id
    return voucher_lines_of(db, v.id)


def vouchers(db: Session, source_type: str, *, include_void: bool = False) -> list[Voucher]:
    with db.begin():
        q = select(Voucher).where(Voucher.source_type == source_type).order_by(Voucher.id)
        if not include_void:
            q = q.where(Voucher.status != "void")
        found = list(db.execute(q).scalars())
        for v in found:
            db.refresh(v)
        return found


def account_movement(db: Session, code: str, period: str | None = None) -> Decimal:
    """Posted debit - credit on an account (all periods, or one period)."""
    with db.begin():
        q = (select(func.coalesce(func.sum(AccountBalance.debit), 0), func.coalesce(func.sum(AccountBalance.credit), 0))
             .join(Account, Account.id == AccountBalance.account_id).where(Account.code == code))
        if period is not None:
            q = q.join(Period, Period.id == AccountBalance.period_id).where(
                Period.year == int(period[:4]), Period.month == int(period[5:]))
        d, c = db.execute(q).one()
    return D(d) - D(c)


def counts(db: Session) -> dict[str, int]:
    """Row counts of everything a stock document writes."""
    from jxc.db.models import DocSequence, FifoLayer, FifoTake

    with db.begin():
        return {m.__tablename__: db.scalar(select(func.count()).select_from(m)) or 0
                for m in (StockDoc, StockDocLine, StockEntry, StockBalance, Voucher, VoucherLine, FifoLayer, FifoTake,
                          DocSequence)}


def balances_snapshot(db: Session) -> list[tuple[Any, ...]]:
    """Every stock balance and account balance, to compare before/after a refused step."""
    with db.begin():
        stock = sorted(tuple(r) for r in db.execute(select(StockBalance.product_id, StockBalance.warehouse_id,
                                                           StockBalance.batch, StockBalance.qty,
                                                           StockBalance.value)))
        ledger = sorted(tuple(r) for r in db.execute(select(AccountBalance.account_id, AccountBalance.period_id,
                                                            AccountBalance.debit, AccountBalance.credit)))
    return stock + ledger


def assert_books_ok(db: Session) -> None:
    """verify_books now, in the middle of a scenario (the `db` fixture runs it again at the end)."""
    from jxc.services import checks

    with db.begin():
        report = checks.verify_books(db)
    assert report.ok, [c for c in report.checks if not c.ok]
