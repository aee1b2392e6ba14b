"""The stock ledger's invariants, re-proved from the stored rows by `jxc verify`.

1. Each balance row equals the sum of its entries, and every entry's running
   balance equals the sum of the entries up to it (in ledger order).
2. No running balance is negative unless the book allows negative stock.
3. The stock ledger's value equals the general ledger balance of the inventory
   accounts at the end of every period (账账相符), once the book keeps stock.
4. Every audited document has its entries, and every line of a generated
   voucher equals the sum of the entry amounts that point at it; drafts have no
   entries; a document's voucher is posted.
5. FIFO layers hold exactly the stock on hand.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import and_, func, select, type_coerce
from sqlalchemy.orm import Session

from jxc.db.models import (
    AccountBalance,
    Company,
    FifoLayer,
    OpeningBalance,
    Period,
    PostingRule,
    Product,
    StockBalance,
    StockDoc,
    StockEntry,
    Voucher,
    VoucherLine,
    Warehouse,
)
from jxc.db.types import Money
from jxc.domain.numbers import ZERO
from jxc.services.checks_base import CheckResult, result

_KEY = (StockEntry.product_id, StockEntry.warehouse_id, StockEntry.batch)


def _key_names(db: Session) -> tuple[dict[int, str], dict[int, str]]:
    return (dict(db.execute(select(Product.id, Product.code)).all()),
            dict(db.execute(select(Warehouse.id, Warehouse.code)).all()))


def check_stock_balances(db: Session) -> CheckResult:
    """Balance rows equal the sum of their entries; running balances equal running sums."""
    products, warehouses = _key_names(db)
    items: list[str] = []
    sums = {(p, w, b): (q or ZERO, v or ZERO, a or ZERO) for p, w, b, q, v, a in db.execute(
        select(*_KEY, func.sum(StockEntry.qty), func.sum(StockEntry.value), func.sum(StockEntry.adjust))
        .group_by(*_KEY))}
    kept = {(r.product_id, r.warehouse_id, r.batch): (r.qty, r.value) for r in db.execute(select(StockBalance))
            .scalars()}
    for key in sorted(set(sums) | set(kept)):
        q, v, a = sums.get(key, (ZERO, ZERO, ZERO))
        if kept.get(key, (ZERO, ZERO)) != (q, v - a):
            items.append(f"{products[key[0]]}@{warehouses[key[1]]}{'/' + key[2] if key[2] else ''}")
    running = (select(StockEntry.id, StockEntry.bal_qty, StockEntry.bal_value,
                      func.sum(StockEntry.qty).over(partition_by=_KEY, order_by=(StockEntry.entry_date,
                                                                                 StockEntry.id)).label("rq"),
                      func.sum(StockEntry.value - StockEntry.adjust).over(
                          partition_by=_KEY, order_by=(StockEntry.entry_date, StockEntry.id)).label("rv"))
               .subquery())
    bad = db.execute(select(running.c.id).where((running.c.bal_qty != running.c.rq)
                                                | (running.c.bal_value != running.c.rv)).limit(20)).scalars()
    items += [f"entry#{x}" for x in bad]
    return result("stock_balances_match", items, "check.stock_balances")


def check_no_negative_stock(db: Session) -> CheckResult:
    """No running balance below zero unless negative stock is allowed."""
    if db.execute(select(Company.allow_negative_stock)).scalar():
        return result("no_negative_stock", [], "")
    products, warehouses = _key_names(db)
    rows = db.execute(select(StockEntry.product_id, StockEntry.warehouse_id, StockEntry.entry_date)
                      .where(StockEntry.bal_qty < 0).order_by(StockEntry.entry_date).limit(20)).all()
    items = [f"{products[p]}@{warehouses[w]} {d}" for p, w, d in rows]
    return result("no_negative_stock", items, "check.negative_stock")


def check_inventory_matches_ledger(db: Session) -> CheckResult:
    """At the end of every period, the stock ledger's value equals the balance of the inventory
    accounts in the general ledger (opening + posted). Books that keep no stock are not held
    to it: their inventory account is kept by manual vouchers."""
    if db.execute(select(StockEntry.id).limit(1)).first() is None:
        return result("inventory_matches_ledger", [], "")
    inventory = select(PostingRule.inventory_account_id).distinct()
    od, oc = db.execute(select(func.sum(OpeningBalance.debit), func.sum(OpeningBalance.credit))
                        .where(OpeningBalance.account_id.in_(inventory))).one()
    gl = (od or ZERO) - (oc or ZERO)
    stock = ZERO
    posted = {pid: (d or ZERO) - (c or ZERO) for pid, d, c in db.execute(
        select(AccountBalance.period_id, func.sum(AccountBalance.debit), func.sum(AccountBalance.credit))
        .where(AccountBalance.account_id.in_(inventory)).group_by(AccountBalance.period_id))}
    moved = {pid: v or ZERO for pid, v in db.execute(
        select(StockEntry.period_id, func.sum(type_coerce(StockEntry.value - StockEntry.adjust, Money())))
        .group_by(StockEntry.period_id))}
    items = []
    last = max(set(posted) | set(moved))
    for pid, year, month in db.execute(select(Period.id, Period.year, Period.month).order_by(Period.start_date)):
        gl += posted.get(pid, ZERO)
        stock += moved.get(pid, ZERO)
        if stock != gl:
            items.append(f"{year:04d}-{month:02d}: {stock} != {gl}")
        if pid == last:
            break
    return result("inventory_matches_ledger", items, "check.inventory_mismatch")


def check_stock_documents(db: Session) -> CheckResult:
    """Audited documents have their entries and a posted voucher when they post anything;
    drafts have none; every generated voucher line equals the sum of the entry amounts
    pointing at it."""
    items: list[str] = []
    draft_with = db.execute(select(StockDoc.no).join(StockEntry, StockEntry.doc_id == StockDoc.id)
                            .where(StockDoc.status != "audited").distinct().limit(20)).scalars()
    items += [f"{no}: draft with entries" for no in draft_with]
    no_entries = db.execute(
        select(StockDoc.no).outerjoin(StockEntry, StockEntry.doc_id == StockDoc.id)
        .where(StockDoc.status == "audited", StockDoc.doc_type != "stocktake", StockEntry.id.is_(None))
        .limit(20)).scalars()
    items += [f"{no}: no entries" for no in no_entries]
    unposted = db.execute(
        select(StockDoc.no).join(Voucher, Voucher.id == StockDoc.voucher_id)
        .where(and_(StockDoc.status == "audited", Voucher.status != "posted")).limit(20)).scalars()
    items += [f"{no}: voucher not posted" for no in unposted]
    expected: dict[tuple[int, int], Decimal] = defaultdict(lambda: ZERO)
    for e in db.execute(select(StockEntry.voucher_id, StockEntry.dir, StockEntry.value, StockEntry.adjust,
                               StockEntry.dr_line, StockEntry.cr_line, StockEntry.adj_dr_line,
                               StockEntry.adj_cr_line).where(StockEntry.voucher_id.is_not(None))):
        for line, amount in ((e.dr_line, e.value * e.dir), (e.cr_line, e.value * e.dir),
                             (e.adj_dr_line, e.adjust), (e.adj_cr_line, e.adjust)):
            if line is not None:
                expected[(e.voucher_id, line)] += amount
    lines = db.execute(select(VoucherLine.voucher_id, VoucherLine.line_no, VoucherLine.debit, VoucherLine.credit,
                              Voucher.status)
                       .join(Voucher, Voucher.id == VoucherLine.voucher_id)
                       .where(Voucher.source_type.in_(("stock_doc", "cost_run")))).all()
    seen = set()
    for v, n, d, c, status in lines:
        if status == "void":
            continue
        seen.add((v, n))
        if d + c != expected.get((v, n), ZERO):
            items.append(f"voucher#{v} line {n}: {d + c} != {expected.get((v, n), ZERO)}")
    items += [f"voucher#{v} line {n}: missing" for (v, n) in expected if (v, n) not in seen]
    return result("stock_documents_complete", items, "check.stock_documents")


def check_fifo_layers(db: Session) -> CheckResult:
    """FIFO layers left hold exactly the stock on hand of each FIFO product/warehouse/batch."""
    products, warehouses = _key_names(db)
    layers = {(p, w, b): (q, v) for p, w, b, q, v in db.execute(
        select(FifoLayer.product_id, FifoLayer.warehouse_id, FifoLayer.batch, func.sum(FifoLayer.qty),
               func.sum(FifoLayer.value)).group_by(FifoLayer.product_id, FifoLayer.warehouse_id, FifoLayer.batch))}
    items = []
    for r in db.execute(select(StockBalance).join(Product, Product.id == StockBalance.product_id)
                        .where(Product.costing_method == "fifo", StockBalance.qty >= 0)).scalars():
        key = (r.product_id, r.warehouse_id, r.batch)
        if layers.get(key, (ZERO, ZERO)) != (r.qty, r.value):
            items.append(f"{products[key[0]]}@{warehouses[key[1]]}")
    return result("fifo_layers_match", items, "check.fifo_layers")


STOCK_CHECKS = [check_stock_balances, check_no_negative_stock, check_inventory_matches_ledger,
                check_stock_documents, check_fifo_layers]
