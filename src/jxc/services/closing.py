"""Month-end close (结账), reverse close (反结账) and locking (DESIGN.md §5).

Close period P, the earliest open one, in one transaction: the monthly-average costing
run, the checklist (failures refuse, warnings must be acknowledged), 结转损益 to 本年利润,
at the fiscal year's end 本年利润 to 利润分配—未分配利润 and the next year's periods,
balance snapshots of accounts and stock, the seal, and the period's status. The period row
is locked FOR UPDATE first, so postings in P (which hold it FOR SHARE) finish before and
fail after.

Reverse close undoes what the close made except the costing run when it existed before
the close: a run stays live (documents audited later re-cost at once), so it holds nothing
stale, and un-costing a month of monthly-average issues would cost as much as the run.
When the close made the run itself, the run's voucher stays too; closing again re-runs it
in place, and gives the same vouchers, balances and seal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, type_coerce, update
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from jxc.db.base import table_of
from jxc.db.models import (
    Account,
    AccountBalance,
    AccountSnapshot,
    CashDoc,
    CostRun,
    FiscalYear,
    Invoice,
    InvoiceLine,
    OpeningBalance,
    Partner,
    PartnerBalance,
    Period,
    PeriodClose,
    PostingRule,
    Product,
    Settlement,
    StockDoc,
    StockDocLine,
    StockEntry,
    StockSnapshot,
    User,
    Voucher,
    VoucherLine,
    Warehouse,
)
from jxc.domain import permissions as perm
from jxc.domain.closing import (
    CLOSE_SOURCES,
    CURRENT_YEAR_PROFIT,
    GENESIS_SEAL,
    PL_CARRY,
    RETAINED_EARNINGS,
    YEAR_END,
    CheckItem,
    CheckStatus,
    PlBalance,
    Sealer,
    carry_lines,
    number_gaps,
    verdict,
    year_end_lines,
)
from jxc.domain.costing import Method
from jxc.domain.errors import (
    AccountUnknown,
    CloseBlocked,
    CloseNotNext,
    CloseWarnings,
    InvalidInput,
    NotFound,
    PeriodAlreadyClosed,
    PeriodLocked,
    PeriodNotClosed,
    ReopenNotLatest,
)
from jxc.domain.numbers import ZERO, money
from jxc.domain.periods import PeriodStatus, parse_period_label
from jxc.domain.permissions import Actor, require
from jxc.domain.stockdocs import DocType
from jxc.domain.trade import ESTIMATED_AP, Side
from jxc.domain.voucher import voucher_label
from jxc.services import arap, books, stock, tradereports
from jxc.services.common import PeriodRef, append_audit, book_rules, insert_many, per_transaction, reading, utcnow
from jxc.services.vouchers import SEQUENCE, GenLine, delete_generated_voucher, insert_generated_voucher

PERIOD = table_of(Period)
CLOSE = table_of(PeriodClose)
ASNAP = table_of(AccountSnapshot)
SSNAP = table_of(StockSnapshot)
ACCOUNT = table_of(Account)
ABAL = table_of(AccountBalance)
PBAL = table_of(PartnerBalance)
OPENING = table_of(OpeningBalance)
VOUCHER = table_of(Voucher)
VLINE = table_of(VoucherLine)
ENTRY = table_of(StockEntry)
SLINE = table_of(StockDocLine)
ILINE = table_of(InvoiceLine)
DOC = table_of(StockDoc)
INVOICE = table_of(Invoice)
CASH = table_of(CashDoc)
SETTLEMENT = table_of(Settlement)
PRODUCT = table_of(Product)
WAREHOUSE = table_of(Warehouse)
PARTNER = table_of(Partner)
RULE = table_of(PostingRule)
RUN = table_of(CostRun)
YEAR = table_of(FiscalYear)

Progress = Callable[[str], None]  # called with each step's code as it starts
STEPS = ("costing", "checklist", "carry", "year_end", "snapshot", "seal")
SUSPENSE = "1901"  # 待处理财产损溢: empty once stocktake differences are dealt with


@dataclass(frozen=True, slots=True)
class Checklist:
    period: str
    items: tuple[CheckItem, ...]

    @property
    def ok(self) -> bool:
        return all(i.status is not CheckStatus.FAIL for i in self.items)

    @property
    def failures(self) -> tuple[str, ...]:
        return tuple(i.code for i in self.items if i.status is CheckStatus.FAIL)

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(i.code for i in self.items if i.status is CheckStatus.WARN)


@dataclass(frozen=True, slots=True)
class CloseResult:
    period: str
    seal: str
    vouchers: tuple[str, ...]  # the vouchers the close generated: 记-0031 ...
    profit: Decimal  # 净利润 of the period
    cost_of_sales: Decimal  # the monthly-average costing run's cost of sales
    year_end: bool
    next_year: str | None  # the first period of a fiscal year the close created
    checklist: Checklist


@dataclass(frozen=True, slots=True)
class ReopenResult:
    period: str
    removed_vouchers: tuple[str, ...]
    removed_year: str | None


@dataclass(frozen=True, slots=True)
class PeriodCloseInfo:
    label: str
    status: str
    closed_at: str | None
    closed_by: str | None
    seal: str | None
    profit: Decimal | None


# --- finding periods -------------------------------------------------------------------

def _period_row(conn: Connection, label: str, *, lock: bool = False) -> Any:
    year, month = parse_period_label(label)
    stmt = select(PERIOD).where(PERIOD.c.year == year, PERIOD.c.month == month)
    row = conn.execute(stmt.with_for_update() if lock else stmt).one_or_none()
    if row is None:
        raise NotFound(entity="period", key=label)
    return row


def _label(row: Any) -> str:
    return f"{row.year:04d}-{row.month:02d}"


def _ref(row: Any) -> PeriodRef:
    return PeriodRef(row.id, _label(row), row.status, row.start_date, row.end_date)


def _previous(conn: Connection, p: Any) -> Any:
    return conn.execute(select(PERIOD).where(PERIOD.c.start_date < p.start_date)
                        .order_by(PERIOD.c.start_date.desc()).limit(1)).one_or_none()


def _closed_snapshot(conn: Connection, p: Any) -> bool:
    return p is not None and conn.execute(select(CLOSE.c.period_id).where(CLOSE.c.period_id == p.id)).first() \
        is not None


def _first_open(conn: Connection) -> Any:
    return conn.execute(select(PERIOD).where(PERIOD.c.status == PeriodStatus.OPEN.value)
                        .order_by(PERIOD.c.start_date).limit(1)).one_or_none()


# --- balances at the end of a period -----------------------------------------------------

Key = tuple[int, int]  # (account id, partner id or 0 for the account as a whole)


def _account_closing(conn: Connection, p: Any) -> tuple[dict[Key, Decimal], dict[Key, tuple[Decimal, Decimal]]]:
    """Closing balances (debit positive) at the end of p per leaf account (partner 0) and per
    account and partner, and p's posted movement, from the previous period's snapshot when it
    has one, else from the opening balances and every earlier period's balance rows."""
    base: dict[Key, Decimal] = defaultdict(lambda: ZERO)
    r: Any
    prev = _previous(conn, p)
    if _closed_snapshot(conn, prev):
        for r in conn.execute(select(ASNAP.c.account_id, ASNAP.c.partner_id, ASNAP.c.balance)
                              .where(ASNAP.c.period_id == prev.id)):
            base[(r.account_id, r.partner_id)] = r.balance
    else:
        for r in conn.execute(select(OPENING.c.account_id, OPENING.c.partner_id, OPENING.c.debit,
                                     OPENING.c.credit)):
            base[(r.account_id, 0)] += r.debit - r.credit
            if r.partner_id is not None:
                base[(r.account_id, r.partner_id)] += r.debit - r.credit
        earlier = select(PERIOD.c.id).where(PERIOD.c.start_date < p.start_date)
        for r in conn.execute(select(ABAL.c.account_id, func.sum(ABAL.c.debit), func.sum(ABAL.c.credit))
                              .where(ABAL.c.period_id.in_(earlier)).group_by(ABAL.c.account_id)):
            base[(r[0], 0)] += r[1] - r[2]
        for r in conn.execute(select(PBAL.c.account_id, PBAL.c.partner_id, func.sum(PBAL.c.debit),
                                     func.sum(PBAL.c.credit)).where(PBAL.c.period_id.in_(earlier))
                              .group_by(PBAL.c.account_id, PBAL.c.partner_id)):
            base[(r[0], r[1])] += r[2] - r[3]
    moved: dict[Key, tuple[Decimal, Decimal]] = {}
    for r in conn.execute(select(ABAL.c.account_id, ABAL.c.debit, ABAL.c.credit).where(ABAL.c.period_id == p.id)):
        moved[(r.account_id, 0)] = (r.debit, r.credit)
    for r in conn.execute(select(PBAL.c.account_id, PBAL.c.partner_id, PBAL.c.debit, PBAL.c.credit)
                          .where(PBAL.c.period_id == p.id)):
        moved[(r.account_id, r.partner_id)] = (r.debit, r.credit)
    closing = dict(base)
    for key, (d, c) in moved.items():
        closing[key] = closing.get(key, ZERO) + d - c
    return closing, moved


StockKey = tuple[int, int, str]


def _entries_of(p: Any, *cols: Any) -> Any:
    """The stock entries of period p, found through the entry-date index (the opening stock,
    dated the day before the first period, belongs to that period)."""
    return select(*cols).where(ENTRY.c.entry_date >= p.start_date - timedelta(days=1),
                               ENTRY.c.entry_date <= p.end_date, ENTRY.c.period_id == p.id)


def _stock_closing(conn: Connection, p: Any) -> dict[StockKey, tuple[Decimal, Decimal]]:
    """Stock on hand (qty, value) at the end of p per product/warehouse/batch. Read once per
    transaction (the checklist and the snapshot both need it; the close's vouchers move no stock)."""
    return per_transaction(conn, f"stock_closing_{p.id}", lambda: _read_stock_closing(conn, p))


def _read_stock_closing(conn: Connection, p: Any) -> dict[StockKey, tuple[Decimal, Decimal]]:
    out: dict[StockKey, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    r: Any
    prev = _previous(conn, p)
    key = (ENTRY.c.product_id, ENTRY.c.warehouse_id, ENTRY.c.batch)
    if _closed_snapshot(conn, prev):
        for r in conn.execute(select(SSNAP.c.product_id, SSNAP.c.warehouse_id, SSNAP.c.batch, SSNAP.c.qty,
                                     SSNAP.c.value).where(SSNAP.c.period_id == prev.id)):
            out[(r[0], r[1], r[2])] = [r[3], r[4]]
    else:
        earlier = select(PERIOD.c.id).where(PERIOD.c.start_date < p.start_date)
        for r in conn.execute(select(*key, func.sum(ENTRY.c.qty), func.sum(ENTRY.c.value), func.sum(ENTRY.c.adjust))
                              .where(ENTRY.c.period_id.in_(earlier)).group_by(*key)):
            out[(r[0], r[1], r[2])] = [r[3], r[4] - r[5]]
    for r in conn.execute(_entries_of(p, *key, func.sum(ENTRY.c.qty), func.sum(ENTRY.c.value),
                                      func.sum(ENTRY.c.adjust)).group_by(*key)):
        cell = out[(r[0], r[1], r[2])]
        cell[0] += r[3]
        cell[1] += r[4] - r[5]
    return {k: (q, v) for k, (q, v) in out.items() if q or v}


def _codes(conn: Connection, ids: Iterable[int], table: Any) -> dict[int, str]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return dict(conn.execute(select(table.c.id, table.c.code).where(table.c.id.in_(wanted))).all())


def _subtree(conn: Connection, code: str) -> list[int]:
    return list(conn.execute(select(ACCOUNT.c.id).where(ACCOUNT.c.code.startswith(code, autoescape=True),
                                                        ACCOUNT.c.is_leaf.is_(True))).scalars())


# --- the checklist -------------------------------------------------------------------------

def _checklist(conn: Connection, db: Session, p: Any, *, costed: bool) -> Checklist:
    """Every check of the close for period p, each naming what fails. costed: the period's
    monthly-average issues have been costed (by a run), so a zero cost there is an error."""
    rules = book_rules(conn)
    closing, _ = _account_closing(conn, p)
    items = [
        _unaudited(conn, p),
        _unposted(conn, p),
        _negative_stock(conn, p, rules.allow_negative_stock),
        _stocktakes(conn, p, closing),
        _zero_cost(conn, p, costed),
        *_uninvoiced(db, p, closing),
        _inventory_matches(conn, p, closing),
        _arap_matches(conn, p, closing),
        _opening_balanced(conn),
        _trial_balance(closing),
        _voucher_gaps(conn, p),
    ]
    return Checklist(_label(p), tuple(items))


def _unaudited(conn: Connection, p: Any) -> CheckItem:
    names: list[str] = []
    for table, date_col in ((DOC, DOC.c.doc_date), (INVOICE, INVOICE.c.invoice_date), (CASH, CASH.c.doc_date)):
        names += conn.execute(select(table.c.no).where(table.c.period_id == p.id, table.c.status == "draft")
                              .order_by(date_col, table.c.no)).scalars()
    return verdict("unaudited_documents", names)


def _unposted(conn: Connection, p: Any) -> CheckItem:
    rows = conn.execute(select(VOUCHER.c.word, VOUCHER.c.number, VOUCHER.c.status)
                        .where(VOUCHER.c.period_id == p.id, VOUCHER.c.status.in_(("draft", "audited")))
                        .order_by(VOUCHER.c.word, VOUCHER.c.number)).all()
    return verdict("unposted_vouchers", [voucher_label(r.word, r.number) for r in rows])


def _negative_stock(conn: Connection, p: Any, allowed: bool) -> CheckItem:
    rows = conn.execute(_entries_of(p, ENTRY.c.product_id, ENTRY.c.warehouse_id, ENTRY.c.batch,
                                    func.min(ENTRY.c.entry_date), func.min(ENTRY.c.bal_qty))
                        .where(ENTRY.c.bal_qty < 0)
                        .group_by(ENTRY.c.product_id, ENTRY.c.warehouse_id, ENTRY.c.batch)).all()
    products = _codes(conn, (r[0] for r in rows), PRODUCT)
    warehouses = _codes(conn, (r[1] for r in rows), WAREHOUSE)
    names = sorted(f"{products[r[0]]}@{warehouses[r[1]]}{'/' + r[2] if r[2] else ''} {r[3]}" for r in rows)
    return verdict("negative_stock", names, severity=CheckStatus.WARN if allowed else CheckStatus.FAIL)


def _stocktakes(conn: Connection, p: Any, closing: dict[Key, Decimal]) -> CheckItem:
    """Stocktakes not audited, and stocktake differences still in 待处理财产损溢 (1901): they
    are to be approved and booked (营业外收入/支出, 其他应收款) before the close."""
    names = list(conn.execute(select(DOC.c.no).where(DOC.c.period_id == p.id, DOC.c.status == "draft",
                                                     DOC.c.doc_type == DocType.STOCKTAKE.value)
                              .order_by(DOC.c.no)).scalars())
    suspense = sum((closing.get((a, 0), ZERO) for a in _subtree(conn, SUSPENSE)), ZERO)
    if suspense:
        names += [f"{SUSPENSE}: {suspense}"]
        names += conn.execute(select(DOC.c.no).where(DOC.c.period_id == p.id, DOC.c.status == "audited",
                                                     DOC.c.doc_type == DocType.STOCKTAKE.value)
                              .order_by(DOC.c.no)).scalars()
    return verdict("stocktake_pending", names, suspense=str(money(suspense)))


def _zero_cost(conn: Connection, p: Any, costed: bool) -> CheckItem:
    """Receipts and issues moving stock at no cost or at a cost of the wrong sign."""
    stmt = (_entries_of(p, DOC.c.no, ENTRY.c.product_id, ENTRY.c.qty, ENTRY.c.value)
            .join(DOC, DOC.c.id == ENTRY.c.doc_id)
            .where(ENTRY.c.qty != 0, ENTRY.c.value * ENTRY.c.qty <= 0).order_by(DOC.c.no, ENTRY.c.id))
    if not costed:  # until the run, a monthly-average entry has only its priced value (returns of
        # issues and unpriced receipts, a stocktake gain among them, wait for the run too)
        stmt = stmt.join(PRODUCT, PRODUCT.c.id == ENTRY.c.product_id).where(
            ~((PRODUCT.c.costing_method == Method.MONTHLY_AVERAGE.value) & (ENTRY.c.basis != "fixed")))
    rows = conn.execute(stmt).all()
    products = _codes(conn, (r.product_id for r in rows), PRODUCT)
    return verdict("zero_cost_entries", [f"{r.no} {products[r.product_id]}: {r.qty} @ {r.value}" for r in rows])


def _uninvoiced(db: Session, p: Any, closing: dict[Key, Decimal]) -> list[CheckItem]:
    """已出库未开票 and 已入库未开票 at the period's end, and receipts still carried at 暂估."""
    out = []
    found = {}
    for side, code in ((Side.SALES, "uninvoiced_deliveries"), (Side.PURCHASE, "uninvoiced_receipts")):
        rows = tradereports.uninvoiced_data(db, side, None, p.end_date).rows
        docs = list(dict.fromkeys(r.document for r in rows))
        found[side] = docs
        out.append(verdict(code, docs, severity=CheckStatus.WARN,
                           value=str(money(sum((r.value for r in rows), ZERO)))))
    estimated = -sum((closing.get((a, 0), ZERO) for a in _subtree(db.connection(), ESTIMATED_AP)), ZERO)
    out.append(verdict("estimated_payables", found[Side.PURCHASE] if estimated else [],
                       severity=CheckStatus.WARN, count=len(found[Side.PURCHASE]) if estimated else 0,
                       amount=str(money(estimated))))
    return out


def _inventory_matches(conn: Connection, p: Any, closing: dict[Key, Decimal]) -> CheckItem:
    """The stock ledger's value at the period's end equals the inventory accounts' balance."""
    accounts = set(conn.execute(select(RULE.c.inventory_account_id).distinct()).scalars())
    gl = money(sum((closing.get((a, 0), ZERO) for a in accounts), ZERO))
    value = money(sum((v for _, v in _stock_closing(conn, p).values()), ZERO))
    if value == gl or conn.execute(select(ENTRY.c.id).limit(1)).first() is None:
        return verdict("subledger_inventory", [], stock=str(value), ledger=str(gl))
    return verdict("subledger_inventory", [f"{value} != {gl}"], stock=str(value), ledger=str(gl))


def _arap_matches(conn: Connection, p: Any, closing: dict[Key, Decimal]) -> CheckItem:
    """AR/AP open items dated up to the period's end equal the ledger per account and partner."""
    accounts = arap.item_account_ids(conn)
    codes = {v: k for k, v in accounts.items()}
    items = {(r[0], r[1]): r[2] for r in conn.execute(
        select(arap.ITEM.c.account_id, arap.ITEM.c.partner_id, func.sum(arap.ITEM.c.amount))
        .where(arap.ITEM.c.item_date <= p.end_date).group_by(arap.ITEM.c.account_id, arap.ITEM.c.partner_id))}
    ledger = {k: v for k, v in closing.items() if k[0] in codes and k[1] != 0}
    partners = _codes(conn, (k[1] for k in set(items) | set(ledger)), PARTNER)
    bad = [f"{codes[a]}/{partners[pt]}: {items.get((a, pt), ZERO)} != {ledger.get((a, pt), ZERO)}"
           for a, pt in sorted(set(items) | set(ledger)) if items.get((a, pt), ZERO) != ledger.get((a, pt), ZERO)]
    return verdict("subledger_arap", bad)


def _opening_balanced(conn: Connection) -> CheckItem:
    d, c = conn.execute(select(func.coalesce(func.sum(OPENING.c.debit), 0),
                               func.coalesce(func.sum(OPENING.c.credit), 0))).one()
    d, c = money(Decimal(d)), money(Decimal(c))
    return verdict("opening_balanced", [] if d == c else [f"{d} != {c}"], debit=str(d), credit=str(c))


def _trial_balance(closing: dict[Key, Decimal]) -> CheckItem:
    total = sum((v for (a, pt), v in closing.items() if pt == 0), ZERO)
    return verdict("trial_balance", [] if total == 0 else [str(total)], difference=str(money(total)))


def _voucher_gaps(conn: Connection, p: Any) -> CheckItem:
    by_word: dict[str, list[int]] = defaultdict(list)
    for word, number in conn.execute(select(VOUCHER.c.word, VOUCHER.c.number).where(VOUCHER.c.period_id == p.id)):
        by_word[word].append(number)
    missing = [voucher_label(w, n) for w, nums in sorted(by_word.items()) for n in number_gaps(nums)]
    return verdict("voucher_gaps", missing, severity=CheckStatus.WARN)


def close_checklist(db: Session, period: str, *, actor: Actor) -> Checklist:
    """The close checklist of a period, as the close would see it; changes nothing. Any period
    can be checked (a closed one shows what it was closed with). Raises NotFound."""
    require(actor, perm.PERIOD_CLOSE)
    with reading(db):
        conn = db.connection()
        p = _period_row(conn, period)
        return _checklist(conn, db, p, costed=stock.has_cost_run(conn, p.id))


# --- closing -------------------------------------------------------------------------------

def _account_ids(conn: Connection, *codes: str) -> dict[str, int]:
    found = dict(conn.execute(select(ACCOUNT.c.code, ACCOUNT.c.id).where(ACCOUNT.c.code.in_(codes))).all())
    for code in codes:
        if code not in found:
            raise AccountUnknown(account=code)
    return found


def _carry(conn: Connection, p: Any, rules: Any, actor: Actor, profit_id: int) -> tuple[int | None, Decimal]:
    """结转损益: the generated voucher (or None when nothing moved) and the period's net profit."""
    pl = {r.id: r for r in conn.execute(select(ACCOUNT.c.id, ACCOUNT.c.direction, ACCOUNT.c.partner_aux)
                                        .where(ACCOUNT.c.category == "profit_loss", ACCOUNT.c.is_leaf.is_(True)))}
    balances = [PlBalance(r.account_id, None, pl[r.account_id].direction, r.debit, r.credit)
                for r in conn.execute(select(ABAL).where(ABAL.c.period_id == p.id))
                if r.account_id in pl and not pl[r.account_id].partner_aux]
    balances += [PlBalance(r.account_id, r.partner_id, pl[r.account_id].direction, r.debit, r.credit)
                 for r in conn.execute(select(PBAL).where(PBAL.c.period_id == p.id))
                 if r.account_id in pl and pl[r.account_id].partner_aux]
    lines = carry_lines(balances, profit_id)
    profit = sum((ln.amount for ln in lines if ln.account_id == profit_id and ln.side == -1), ZERO) \
        - sum((ln.amount for ln in lines if ln.account_id == profit_id and ln.side == 1), ZERO)
    if not lines:
        return None, ZERO
    voucher_id = insert_generated_voucher(conn, _ref(p), rules, p.end_date, _label(p),
                                          [GenLine(ln.account_id, ln.partner_id, ln.side, ln.amount) for ln in lines],
                                          PL_CARRY, p.id, actor, items=False)
    return voucher_id, profit


def _year_end(db: Session, conn: Connection, p: Any, rules: Any, actor: Actor, ids: dict[str, int]
              ) -> tuple[int | None, int | None]:
    """At the fiscal year's last period: 本年利润 to 未分配利润, and the next year's periods
    when they do not exist yet. Returns (voucher id, id of the fiscal year created)."""
    profit_id = ids[CURRENT_YEAR_PROFIT]
    closing, _ = _account_closing(conn, p)
    balance = -closing.get((profit_id, 0), ZERO)  # credit positive: a profit
    lines = year_end_lines(balance, profit_id, ids[RETAINED_EARNINGS])
    voucher_id = None
    if lines:
        voucher_id = insert_generated_voucher(conn, _ref(p), rules, p.end_date, _label(p),
                                              [GenLine(ln.account_id, None, ln.side, ln.amount) for ln in lines],
                                              YEAR_END, p.id, actor, items=False)
    created = None
    nxt = p.end_date + timedelta(days=1)
    if conn.execute(select(PERIOD.c.id).where(PERIOD.c.start_date == nxt)).first() is None:
        created = books.add_fiscal_year(db, nxt.year, nxt.month).id
    return voucher_id, created


def _is_year_end(conn: Connection, p: Any) -> bool:
    end = conn.execute(select(YEAR.c.end_date).where(YEAR.c.id == p.fiscal_year_id)).scalar_one()
    return bool(end == p.end_date)


def _write_snapshots(conn: Connection, p: Any) -> None:
    closing, moved = _account_closing(conn, p)
    rows = []
    for key in sorted(set(closing) | set(moved)):
        d, c = moved.get(key, (ZERO, ZERO))
        bal = closing.get(key, ZERO)
        if bal or d or c:
            rows.append({"period_id": p.id, "account_id": key[0], "partner_id": key[1], "debit": d, "credit": c,
                         "balance": bal})
    insert_many(conn, ASNAP, rows)
    insert_many(conn, SSNAP, [{"period_id": p.id, "product_id": k[0], "warehouse_id": k[1], "batch": k[2],
                               "qty": q, "value": v} for k, (q, v) in sorted(_stock_closing(conn, p).items())])


def _raw(*cols: Any) -> list[Any]:
    """Columns read as the driver returns them, without SQLAlchemy's conversions: the seal
    hashes what is stored (SQLite's scaled integers, PostgreSQL's numerics), and converting
    a month's millions of values to Decimals and dates would cost more than hashing them."""
    return [type_coerce(c, NullType()) for c in cols]


def _rows(conn: Connection, stmt: Any) -> Iterator[tuple[Any, ...]]:
    """The statement's rows as the DB-API cursor returns them, a batch at a time, without
    building a SQLAlchemy Row for each (the seal reads millions)."""
    cursor = conn.execute(stmt).cursor
    while batch := cursor.fetchmany(20_000):
        yield from batch


def seal_of(conn: Connection, p: Any, previous: str) -> str:
    """The seal of period p: its vouchers and their lines, balance rows, stock documents and
    their lines, stock entries, invoices and their lines, receipts/payments and snapshots, in a
    fixed order, hashed after the previous period's seal. Ids that a reverse close and a new
    close would renumber (the close's own vouchers and lines) are left out: vouchers are named
    by word and number."""
    s = Sealer(previous, _label(p))
    s.add("V", _rows(conn, select(*_raw(VOUCHER.c.word, VOUCHER.c.number, VOUCHER.c.voucher_date,
                                         VOUCHER.c.status, VOUCHER.c.total, VOUCHER.c.source_type))
                            .where(VOUCHER.c.period_id == p.id).order_by(VOUCHER.c.word, VOUCHER.c.number)))
    s.add("L", _rows(conn, select(*_raw(VOUCHER.c.word, VOUCHER.c.number, VLINE.c.line_no, VLINE.c.account_id,
                                         VLINE.c.partner_id, VLINE.c.debit, VLINE.c.credit, VLINE.c.voucher_date))
                            .join(VOUCHER, VOUCHER.c.id == VLINE.c.voucher_id).where(VLINE.c.period_id == p.id)
                            .order_by(VOUCHER.c.word, VOUCHER.c.number, VLINE.c.line_no)))
    s.add("A", _rows(conn, select(*_raw(ABAL.c.account_id, ABAL.c.debit, ABAL.c.credit))
                            .where(ABAL.c.period_id == p.id).order_by(ABAL.c.account_id)))
    s.add("P", _rows(conn, select(*_raw(PBAL.c.account_id, PBAL.c.partner_id, PBAL.c.debit, PBAL.c.credit))
                            .where(PBAL.c.period_id == p.id).order_by(PBAL.c.account_id, PBAL.c.partner_id)))
    s.add("D", _rows(conn, select(*_raw(DOC.c.doc_type, DOC.c.no, DOC.c.doc_date, DOC.c.status, DOC.c.red,
                                         DOC.c.partner_id, DOC.c.warehouse_id))
                            .where(DOC.c.period_id == p.id).order_by(DOC.c.doc_type, DOC.c.no)))
    s.add("d", _rows(conn, select(*_raw(DOC.c.doc_type, DOC.c.no, SLINE.c.line_no, SLINE.c.product_id, SLINE.c.qty,
                                         SLINE.c.price, SLINE.c.tax_rate, SLINE.c.amount, SLINE.c.tax, SLINE.c.batch,
                                         SLINE.c.expiry, SLINE.c.book_qty, SLINE.c.source_line_id))
                            .join(DOC, DOC.c.id == SLINE.c.doc_id).where(DOC.c.period_id == p.id)
                            .order_by(DOC.c.doc_type, DOC.c.no, SLINE.c.line_no)))
    s.add("E", _rows(conn, _entries_of(p, *_raw(ENTRY.c.doc_line_id, ENTRY.c.leg, ENTRY.c.product_id,
                                                 ENTRY.c.warehouse_id, ENTRY.c.batch, ENTRY.c.entry_date,
                                                 ENTRY.c.dir, ENTRY.c.qty, ENTRY.c.value, ENTRY.c.adjust,
                                                 ENTRY.c.bal_qty, ENTRY.c.bal_value))
                            .order_by(ENTRY.c.doc_line_id, ENTRY.c.leg)))
    s.add("I", _rows(conn, select(*_raw(INVOICE.c.side, INVOICE.c.no, INVOICE.c.invoice_date, INVOICE.c.status,
                                         INVOICE.c.partner_id, INVOICE.c.amount, INVOICE.c.tax, INVOICE.c.total))
                            .where(INVOICE.c.period_id == p.id).order_by(INVOICE.c.side, INVOICE.c.no)))
    s.add("i", _rows(conn, select(*_raw(INVOICE.c.side, INVOICE.c.no, ILINE.c.line_no, ILINE.c.product_id,
                                         ILINE.c.qty, ILINE.c.price, ILINE.c.tax_rate, ILINE.c.amount, ILINE.c.tax,
                                         ILINE.c.total))
                            .join(INVOICE, INVOICE.c.id == ILINE.c.invoice_id).where(INVOICE.c.period_id == p.id)
                            .order_by(INVOICE.c.side, INVOICE.c.no, ILINE.c.line_no)))
    s.add("C", _rows(conn, select(*_raw(CASH.c.side, CASH.c.no, CASH.c.doc_date, CASH.c.status, CASH.c.partner_id,
                                         CASH.c.account_id, CASH.c.amount))
                            .where(CASH.c.period_id == p.id).order_by(CASH.c.side, CASH.c.no)))
    s.add("S", _rows(conn, select(*_raw(ASNAP.c.account_id, ASNAP.c.partner_id, ASNAP.c.debit, ASNAP.c.credit,
                                         ASNAP.c.balance)).where(ASNAP.c.period_id == p.id)
                            .order_by(ASNAP.c.account_id, ASNAP.c.partner_id)))
    s.add("T", _rows(conn, select(*_raw(SSNAP.c.product_id, SSNAP.c.warehouse_id, SSNAP.c.batch, SSNAP.c.qty,
                                         SSNAP.c.value)).where(SSNAP.c.period_id == p.id)
                            .order_by(SSNAP.c.product_id, SSNAP.c.warehouse_id, SSNAP.c.batch)))
    return s.hexdigest()


def previous_seal(conn: Connection, p: Any) -> str:
    prev = _previous(conn, p)
    if prev is None:
        return GENESIS_SEAL
    found = conn.execute(select(CLOSE.c.seal).where(CLOSE.c.period_id == prev.id)).scalar()
    return found or GENESIS_SEAL


def close_period(db: Session, period: str, *, actor: Actor, acknowledge_warnings: bool = False,
                 progress: Progress | None = None) -> CloseResult:
    """结账: close the earliest open period in one transaction (see the module docstring).
    Raises NotFound, PeriodLocked, CloseNotNext (not the earliest open period, naming it),
    CloseBlocked (the checklist's failures; nothing is changed), CloseWarnings (warnings
    not acknowledged), AccountUnknown (本年利润 or 未分配利润 missing from the chart)."""
    require(actor, perm.PERIOD_CLOSE)
    step = progress or (lambda _: None)
    with db.begin():
        conn = db.connection()
        p = _period_row(conn, period, lock=True)
        if p.status == PeriodStatus.LOCKED.value:
            raise PeriodLocked(period=_label(p))
        if p.status == PeriodStatus.CLOSED.value:
            raise PeriodAlreadyClosed(period=_label(p))
        first = _first_open(conn)
        if p.status != PeriodStatus.OPEN.value or first is None or first.id != p.id:
            raise CloseNotNext(period=_label(p), expected=_label(first) if first is not None else "")
        rules = book_rules(conn)
        ids = _account_ids(conn, CURRENT_YEAR_PROFIT, RETAINED_EARNINGS)
        step("costing")
        ran_before = stock.has_cost_run(conn, p.id)
        run = stock.run_costing(conn, _ref(p), rules, actor)
        step("checklist")
        checklist = _checklist(conn, db, p, costed=True)
        if not checklist.ok:
            raise CloseBlocked(period=_label(p), failed=", ".join(checklist.failures), count=len(checklist.failures))
        if checklist.warnings and not acknowledge_warnings:
            raise CloseWarnings(period=_label(p), warnings=", ".join(checklist.warnings))
        step("carry")
        carried, profit = _carry(conn, p, rules, actor, ids[CURRENT_YEAR_PROFIT])
        made = [v for v in (carried,) if v is not None]
        year_end = _is_year_end(conn, p)
        created_year = None
        if year_end:
            step("year_end")
            transfer, created_year = _year_end(db, conn, p, rules, actor, ids)
            made += [transfer] if transfer is not None else []
        step("snapshot")
        _write_snapshots(conn, p)
        step("seal")
        seal = seal_of(conn, p, previous_seal(conn, p))
        conn.execute(insert(CLOSE).values(period_id=p.id, closed_at=utcnow(), closed_by=actor.id, seal=seal,
                                          ran_costing=not ran_before, profit=profit, created_year_id=created_year))
        conn.execute(update(PERIOD).where(PERIOD.c.id == p.id).values(status=PeriodStatus.CLOSED.value))
        # The costing run's voucher is the close's too: made or brought up to date by its run.
        made += [v for v in conn.execute(select(RUN.c.voucher_id).where(RUN.c.period_id == p.id)).scalars()
                 if v is not None]
        labels = tuple(voucher_label(r.word, r.number) for r in conn.execute(
            select(VOUCHER.c.word, VOUCHER.c.number).where(VOUCHER.c.id.in_(made)).order_by(VOUCHER.c.number)))
        next_year = None
        if created_year is not None:
            next_year = _label(conn.execute(select(PERIOD).where(PERIOD.c.fiscal_year_id == created_year)
                                            .order_by(PERIOD.c.start_date).limit(1)).one())
        append_audit(db, actor, "period.close", "period", _label(p), {
            "seal": seal, "vouchers": list(labels), "profit": str(profit), "cost_of_sales": str(run.cost_of_sales),
            "warnings": list(checklist.warnings), "costing_run": "kept" if ran_before else "made",
            "next_year": next_year})
        return CloseResult(_label(p), seal, labels, profit, run.cost_of_sales, year_end, next_year, checklist)


# --- reverse close and lock ----------------------------------------------------------------

def _reason(reason: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidInput(field="reason", reason="input.required")
    if len(text) > 500:
        raise InvalidInput(field="reason", reason="input.too_long", max=500)
    return text


def reopen_period(db: Session, period: str, *, actor: Actor, reason: str) -> ReopenResult:
    """反结账: reopen the latest closed period, removing what its close generated (the 结转
    vouchers, snapshots, seal and, at a year end, the next year's periods if the close made
    them and nothing is dated there). The reason goes to the audit log.
    Raises PermissionDenied, InvalidInput (reason), NotFound, PeriodLocked, PeriodNotClosed,
    ReopenNotLatest (naming the later closed periods to reopen first)."""
    require(actor, perm.PERIOD_REOPEN)
    why = _reason(reason)
    with db.begin():
        conn = db.connection()
        p = _period_row(conn, period, lock=True)
        if p.status == PeriodStatus.LOCKED.value:
            raise PeriodLocked(period=_label(p))
        if p.status != PeriodStatus.CLOSED.value:
            raise PeriodNotClosed(period=_label(p), status=p.status)
        later = [_label(r) for r in conn.execute(
            select(PERIOD).where(PERIOD.c.start_date > p.start_date, PERIOD.c.status != PeriodStatus.OPEN.value)
            .order_by(PERIOD.c.start_date))]
        if later:
            raise ReopenNotLatest(period=_label(p), later=", ".join(later))
        # A period marked closed before revision 0004 (or by hand) has no record: reopen it all the same.
        record = conn.execute(select(CLOSE).where(CLOSE.c.period_id == p.id)).one_or_none()
        conn.execute(update(PERIOD).where(PERIOD.c.id == p.id).values(status=PeriodStatus.OPEN.value))
        made = conn.execute(select(VOUCHER.c.id, VOUCHER.c.word, VOUCHER.c.number)
                            .where(VOUCHER.c.period_id == p.id, VOUCHER.c.source_type.in_(CLOSE_SOURCES),
                                   VOUCHER.c.source_id == p.id)
                            .order_by(VOUCHER.c.number.desc())).all()
        for v in made:  # the last number first, so each gives its number back
            delete_generated_voucher(conn, v.id)
        conn.execute(delete(ASNAP).where(ASNAP.c.period_id == p.id))
        conn.execute(delete(SSNAP).where(SSNAP.c.period_id == p.id))
        conn.execute(delete(CLOSE).where(CLOSE.c.period_id == p.id))
        removed_year = _drop_created_year(conn, record.created_year_id if record is not None else None)
        labels = tuple(voucher_label(v.word, v.number) for v in reversed(made))
        append_audit(db, actor, "period.reopen", "period", _label(p), {
            "reason": why, "seal": record.seal if record is not None else None, "vouchers": list(labels),
            "removed_year": removed_year})
        return ReopenResult(_label(p), labels, removed_year)


def _drop_created_year(conn: Connection, year_id: int | None) -> str | None:
    """The fiscal year a year-end close created goes with its reverse close, unless something
    is dated in it by now (its periods then stay, open)."""
    if year_id is None:
        return None
    periods = list(conn.execute(select(PERIOD.c.id).where(PERIOD.c.fiscal_year_id == year_id)).scalars())
    for table in (VOUCHER, DOC, INVOICE, CASH, SETTLEMENT, ABAL, RUN):
        if conn.execute(select(table.c.period_id).where(table.c.period_id.in_(periods)).limit(1)).first():
            return None
    for table in (stock.SEQ, SEQUENCE):
        conn.execute(delete(table).where(table.c.period_id.in_(periods)))
    year = conn.execute(select(YEAR.c.year).where(YEAR.c.id == year_id)).scalar_one()
    conn.execute(delete(PERIOD).where(PERIOD.c.id.in_(periods)))
    conn.execute(delete(YEAR).where(YEAR.c.id == year_id))
    return str(year)


def lock_period(db: Session, period: str, *, actor: Actor, reason: str) -> list[str]:
    """Lock a closed period for good (tax return filed, audit signed): no reverse close can
    reopen it, nor any period before it, which are locked with it. Returns the periods locked.
    Raises PermissionDenied, InvalidInput (reason), NotFound, PeriodNotClosed."""
    require(actor, perm.PERIOD_LOCK)
    why = _reason(reason)
    with db.begin():
        conn = db.connection()
        p = _period_row(conn, period, lock=True)
        if p.status == PeriodStatus.OPEN.value:
            raise PeriodNotClosed(period=_label(p), status=p.status)
        rows = conn.execute(select(PERIOD).where(PERIOD.c.start_date <= p.start_date,
                                                 PERIOD.c.status == PeriodStatus.CLOSED.value)
                            .order_by(PERIOD.c.start_date).with_for_update()).all()
        labels = [_label(r) for r in rows]
        if not rows:
            raise PeriodLocked(period=_label(p))
        if rows:
            conn.execute(update(PERIOD).where(PERIOD.c.id.in_([r.id for r in rows]))
                         .values(status=PeriodStatus.LOCKED.value))
        append_audit(db, actor, "period.lock", "period", _label(p), {"reason": why, "periods": labels})
        return labels


def period_closes(db: Session, *, actor: Actor) -> list[PeriodCloseInfo]:
    """Every period with its status, and for closed ones who closed it, when, its seal and profit."""
    require(actor, perm.LEDGER_READ)
    users = table_of(User)
    with reading(db):
        rows = db.execute(select(PERIOD, CLOSE.c.closed_at, CLOSE.c.seal, CLOSE.c.profit,
                                 users.c.username)
                          .outerjoin(CLOSE, CLOSE.c.period_id == PERIOD.c.id)
                          .outerjoin(users, users.c.id == CLOSE.c.closed_by).order_by(PERIOD.c.start_date)).all()
        return [PeriodCloseInfo(_label(r), r.status, r.closed_at.isoformat(timespec="seconds") if r.closed_at else None,
                                r.username, r.seal, r.profit) for r in rows]


# --- verify ------------------------------------------------------------------------------

def closed_periods(conn: Connection) -> list[Any]:
    return list(conn.execute(select(PERIOD, CLOSE.c.seal).join(CLOSE, CLOSE.c.period_id == PERIOD.c.id)
                             .order_by(PERIOD.c.start_date)))


def unsealed_closed(conn: Connection) -> list[str]:
    return [_label(r) for r in conn.execute(
        select(PERIOD).outerjoin(CLOSE, CLOSE.c.period_id == PERIOD.c.id)
        .where(PERIOD.c.status != PeriodStatus.OPEN.value, CLOSE.c.period_id.is_(None)))]


def snapshot_differences(conn: Connection) -> list[str]:
    """Each closed period's snapshots against a recomputation from the posted voucher lines
    and the stock entries (cumulated from the opening balances), named by period and key."""
    periods = closed_periods(conn)
    if not periods:
        return []
    closed_ids = {p.id for p in periods}
    r: Any
    k: Any
    order = [r.id for r in conn.execute(select(PERIOD.c.id).order_by(PERIOD.c.start_date))]
    labels = {p.id: _label(p) for p in periods}
    acc: dict[Key, Decimal] = defaultdict(lambda: ZERO)
    for r in conn.execute(select(OPENING.c.account_id, OPENING.c.partner_id, OPENING.c.debit, OPENING.c.credit)):
        acc[(r.account_id, 0)] += r.debit - r.credit
        if r.partner_id is not None:
            acc[(r.account_id, r.partner_id)] += r.debit - r.credit
    lines: dict[int, dict[Key, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for r in conn.execute(select(VLINE.c.period_id, VLINE.c.account_id, VLINE.c.partner_id,
                                 func.sum(VLINE.c.debit), func.sum(VLINE.c.credit))
                          .join(VOUCHER, VOUCHER.c.id == VLINE.c.voucher_id).where(VOUCHER.c.status == "posted")
                          .group_by(VLINE.c.period_id, VLINE.c.account_id, VLINE.c.partner_id)):
        lines[r[0]][(r[1], 0)] += r[3] - r[4]
        if r[2] is not None:
            lines[r[0]][(r[1], r[2])] += r[3] - r[4]
    stock_moves: dict[int, dict[StockKey, list[Decimal]]] = defaultdict(dict)
    key = (ENTRY.c.product_id, ENTRY.c.warehouse_id, ENTRY.c.batch)
    for r in conn.execute(select(ENTRY.c.period_id, *key, func.sum(ENTRY.c.qty), func.sum(ENTRY.c.value),
                                 func.sum(ENTRY.c.adjust)).group_by(ENTRY.c.period_id, *key)):
        stock_moves[r[0]][(r[1], r[2], r[3])] = [r[4], r[5] - r[6]]
    on_hand: dict[StockKey, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    bad: list[str] = []
    last_closed = max(order.index(i) for i in closed_ids)
    for pid in order[:last_closed + 1]:
        for k, v in lines.get(pid, {}).items():
            acc[k] += v
        for k, (q, v) in stock_moves.get(pid, {}).items():
            cell = on_hand[k]
            cell[0] += q
            cell[1] += v
        if pid not in closed_ids:
            continue
        snap = {(r.account_id, r.partner_id): r.balance for r in conn.execute(
            select(ASNAP.c.account_id, ASNAP.c.partner_id, ASNAP.c.balance).where(ASNAP.c.period_id == pid))}
        want = {k: v for k, v in acc.items() if v}
        for k in sorted(set(snap) | set(want)):
            if snap.get(k, ZERO) != want.get(k, ZERO):
                bad.append(f"{labels[pid]} account#{k[0]}/{k[1]}: {snap.get(k, ZERO)} != {want.get(k, ZERO)}")
        ssnap = {(r.product_id, r.warehouse_id, r.batch): (r.qty, r.value) for r in conn.execute(
            select(SSNAP).where(SSNAP.c.period_id == pid))}
        swant = {k: (q, v) for k, (q, v) in on_hand.items() if q or v}
        for k in sorted(set(ssnap) | set(swant)):
            if ssnap.get(k, (ZERO, ZERO)) != swant.get(k, (ZERO, ZERO)):
                bad.append(f"{labels[pid]} stock#{k[0]}@{k[1]}{'/' + k[2] if k[2] else ''}: "
                           f"{ssnap.get(k)} != {swant.get(k)}")
    return bad


def seal_differences(conn: Connection) -> list[str]:
    """Closed periods whose stored seal no longer matches their rows (or with no seal)."""
    bad = [f"{label}: no seal" for label in unsealed_closed(conn)]
    previous = GENESIS_SEAL
    for p in closed_periods(conn):
        if seal_of(conn, p, previous) != p.seal:
            bad.append(f"{_label(p)}: seal mismatch")
        previous = p.seal
    return bad

