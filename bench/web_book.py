"""A book of 1,000,000 documents for the web benchmark (issue 6): `python -m bench.web_book [--docs N]`.

The web target is "with a book of 1,000,000 documents, the 95th percentile of server time for
a list page, a document page and the dashboard under 20 concurrent users is <= 200 ms". The
book counts documents as stock_doc + trade_order + invoice + cash_doc (vouchers apart): a
year (2026-01 .. 2026-12) of a trading company with 2,000 products, 500 partners (400
customers, 100 suppliers) and 3 warehouses, about

* 64 % stock documents (bench/scenario.py's mix at 2 lines a document: purchase receipts,
  sales deliveries, returns naming their source, transfers, other in/out, stocktakes),
* 13 % invoices billing the month's receipts and deliveries (a partner's documents of the
  month in groups, 92 % of them invoiced; sales 30 % 普票, purchases all 专票 at the
  receipt's price, so no cost adjustment is needed),
* 13 % receipts and payments settling invoices (80 % in full, 8 % in two instalments, the
  rest open) plus a few advances (预收/预付),
* 10 % orders: 5 % of the receipts and deliveries are made from an order (the order then
  fully executed), the rest are audited orders nobody has executed yet,

each month also with 5 expense vouchers a day and a voucher booking the month's stocktake
differences out of 190101 待处理财产损溢 (as bench_close does).

How it is built: one `jxc import --audit` (services/importer.import_records) per month, so
the stock documents take the bulk path (services/stockbulk.BulkAuditor: validated and
costed one by one, written a batch at a time) and orders, invoices and receipts/payments the
careful path (the same service code as entry). Within a month the orders come first, then
the stock documents in date order, then the invoices, receipts/payments and vouchers in
date order (a trade record makes the bulk auditor drop its balances, so they are kept
together). A receipt made from an order is put first in its day and a delivery made from an
order last (the generator never lets a return name them), so the bulk batches are not cut
by the one-by-one audit those need; moving a receipt earlier or a delivery later in its own
day only ever leaves more stock in between. Every document is audited; the book passes
`jxc verify` (services.checks.verify) before it is cached.

The book is cached under bench/out/books/web-*.db keyed by everything its content depends
on (size, seed, generator and build versions, the migration scripts). When only the
migrations changed and the schemas differ in nothing but indexes (the web work tunes the
list indexes), the cached book is copied and its indexes brought to the current migrations
(see _reconcile) instead of being rebuilt (~25 min at 1,000,000 documents); `--rebuild`
forces a rebuild. Progress goes to stderr; stdout gets the path and the counts per table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench import book as benchbook
from bench import scenario
from bench.bench_close import checkpoint, clear_suspense, suspense_balance, tree
from jxc.db.session import make_engine
from jxc.services import books, checks, importer, users

ROOT = Path(__file__).resolve().parent.parent
BOOKS = Path(__file__).resolve().parent / "out" / "books"
# Bump when what build() makes for given arguments changes: cached books are keyed by it.
BUILD_VERSION = 2
SEED = 42
ADMIN, PASSWORD = "admin", "bench-password-1"

Record = dict[str, Any]

# Shares of the documents (stock_doc + trade_order + invoice + cash_doc); orders fill the rest.
STOCK_SHARE = 0.64
INVOICE_SHARE = 0.13
LINK_SHARE = 0.05  # of purchase receipts and sales deliveries: made from an order
INVOICED_SHARE = 0.92  # of billable receipts/deliveries: on an invoice within the month
SETTLED_SHARE = 0.80  # of invoices: paid/received in full within the month
INSTALMENT_SHARE = 0.08  # of invoices: paid/received in two parts
ADVANCE_SHARE = 0.3  # of partners active in a month: one advance (预收/预付) settling nothing
EXPENSES_PER_DAY = 5
OPEN_ORDER_LATE_DAYS = 20


@dataclass(frozen=True, slots=True)
class WebSpec:
    docs: int = 1_000_000
    products: int = 2_000
    warehouses: int = 3
    customers: int = 400
    suppliers: int = 100
    month: str = "2026-01"
    months: int = 12
    lines_per_doc: int = 2  # average lines of a stock document (1 .. 3)
    seed: int = SEED

    @property
    def stock_docs(self) -> int:
        return round(self.docs * STOCK_SHARE)


def book_key(spec: WebSpec) -> tuple[str, str]:
    """(the key without the schema, the schema digest): the cache name is both joined."""
    stem = (f"web-d{spec.docs}-{spec.month}x{spec.months}-p{spec.products}-w{spec.warehouses}"
            f"-c{spec.customers}-s{spec.suppliers}-l{spec.lines_per_doc}-r{spec.seed}"
            f"-g{scenario.GENERATOR_VERSION}.{BUILD_VERSION}")
    return stem, benchbook.schema_key()


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- the stock documents ----------------------------------------------------------------------------

class _StockGen(scenario._Generator):
    """bench/scenario.py's generator counting documents rather than lines, and marking a share of
    the purchase receipts and sales deliveries as made from an order (`_link`); those are never
    remembered as the source of a return (a return of an order's document takes the one-by-one
    audit, and a same-day one would have to move with it)."""

    def __init__(self, *, docs: int, **kwargs: Any) -> None:
        super().__init__(lines=docs, **kwargs)
        self.docs = docs
        self._linking = False

    def _remember(self, pool: list[Any], doc: Any) -> None:
        if not self._linking:
            super()._remember(pool, doc)

    def documents(self) -> Iterator[Record]:
        rng = self.rng
        emitted, total, most = 0, self.docs, 2 * self.lines_per_doc - 1
        types, weights = self.types, self.weights
        month = (self.first.year, self.first.month)
        while emitted < total:
            day = self.first + timedelta(days=emitted * self.span // total)
            if (day.year, day.month) != month:
                month, self.yyyymm = (day.year, day.month), f"{day:%Y%m}"
                self.seq.clear()
            kind = rng.choices(types, weights)[0]
            n = rng.randint(1, most)
            self._linking = kind in ("purchase_receipt", "sales_delivery") and rng.random() < LINK_SHARE
            try:
                if kind in ("purchase_receipt", "other_in"):
                    doc = self._inbound(kind, day, n)
                elif kind in ("sales_delivery", "other_out", "transfer"):
                    doc = self._outbound(kind, day, n)
                elif kind == "stocktake":
                    doc = self._stocktake(day, n)
                else:
                    doc = self._return(kind, day, n)
            finally:
                linking, self._linking = self._linking, False
            if doc is not None:
                if linking:
                    doc["_link"] = True
                emitted += 1
                yield doc


# --- the month's orders, invoices, receipts/payments and vouchers ----------------------------------

def _units(text_value: str) -> int:
    """A scenario quantity or price ("12", "2.375", "123.4500") in units of 0.0001."""
    return int(Decimal(text_value) * scenario.Q)


def _keys(doc: Record) -> set[tuple[str, str]]:
    """The (warehouse, product) pairs a stock document moves."""
    whs = [w for w in (doc.get("warehouse"), doc.get("from_warehouse"), doc.get("to_warehouse")) if w]
    return {(w, ln["product"]) for w in whs for ln in doc["lines"]}


class _Trade:
    """Orders, invoices, cash documents and vouchers for one month's stock documents."""

    def __init__(self, spec: WebSpec, gen: _StockGen) -> None:
        self.spec = spec
        self.gen = gen
        self.rng = random.Random(spec.seed + 6)
        self.seq: Counter[tuple[str, str]] = Counter()
        self.returned: set[str] = set()

    def _no(self, kind: str, day: date) -> str:
        month = f"{day:%Y%m}"
        self.seq[kind, month] += 1
        return f"{scenario.TRADE_PREFIXES[kind]}-{month}-{self.seq[kind, month]:06d}"

    def link_orders(self, docs: list[Record], first: date) -> list[Record]:
        """An order for every `_link` document (same lines, dated 0-3 days before, not before the
        month), the document naming it. Returns the orders in date order."""
        rng, out = self.rng, []
        for doc in docs:
            if not doc.pop("_link", False):
                continue
            side = "purchase" if doc["type"] == "purchase_receipt" else "sales"
            day = max(first, date.fromisoformat(doc["date"]) - timedelta(days=rng.randint(0, 3)))
            no = self._no(f"{side}_order", day)
            out.append({"type": f"{side}_order", "no": no, "date": day.isoformat(), "partner": doc["partner"],
                        "delivery_date": doc["date"],
                        "lines": [{"product": ln["product"], "qty": ln["qty"], "price": ln["price"],
                                   "tax_rate": ln["tax_rate"]} for ln in doc["lines"]]})
            doc["order"] = no
        out.sort(key=lambda r: r["date"])
        return out

    @staticmethod
    def reorder(docs: list[Record]) -> list[Record]:
        """Within each day: receipts made from an order first, deliveries made from an order last,
        unless a stocktake of one of their products and warehouses lies on the way (a stocktake
        sets the count, so moving past it would change what is in stock; such a document stays)."""
        by_day: dict[str, list[Record]] = defaultdict(list)
        for doc in docs:
            by_day[doc["date"]].append(doc)
        out: list[Record] = []
        for day in sorted(by_day):
            todays = by_day[day]
            slot = [1] * len(todays)
            seen: set[tuple[str, str]] = set()
            for i, doc in enumerate(todays):  # receipts: no stocktake of their keys before them
                if doc.get("order") and doc["type"] == "purchase_receipt" and not (_keys(doc) & seen):
                    slot[i] = 0
                if doc["type"] == "stocktake":
                    seen |= _keys(doc)
            seen = set()
            for i in range(len(todays) - 1, -1, -1):  # deliveries: none after them
                doc = todays[i]
                if doc.get("order") and doc["type"] == "sales_delivery" and not (_keys(doc) & seen):
                    slot[i] = 2
                if doc["type"] == "stocktake":
                    seen |= _keys(doc)
            out += [d for part in (0, 1, 2) for d, s in zip(todays, slot, strict=True) if s == part]
        return out

    def open_orders(self, count: int, first: date, last: date) -> list[Record]:
        """`count` audited orders nobody has executed yet, spread over the month."""
        rng, gen, out = self.rng, self.gen, []
        days = (last - first).days + 1
        for i in range(count):
            day = first + timedelta(days=i * days // max(count, 1))
            side = "sales" if rng.random() < 0.6 else "purchase"
            partner = scenario._pick(rng, gen.customers if side == "sales" else gen.suppliers)
            picks = rng.sample(range(gen.n_products), rng.randint(1, 2 * self.spec.lines_per_doc - 1))
            lines = []
            for p in picks:
                q = rng.randint(1, 40) if side == "sales" else rng.randint(10, 200)
                price = gen.cost[p] * (rng.randint(1200, 1600) if side == "sales" else rng.randint(900, 1100)) // 1000
                lines.append({"product": gen.p_codes[p], "qty": str(q), "price": scenario._price(price),
                              "tax_rate": scenario.VAT})
            out.append({"type": f"{side}_order", "no": self._no(f"{side}_order", day), "date": day.isoformat(),
                        "partner": partner,
                        "delivery_date": min(day + timedelta(days=rng.randint(3, OPEN_ORDER_LATE_DAYS)),
                                             date(day.year, 12, 31)).isoformat(),
                        "lines": lines})
        return out

    def billing(self, docs: list[Record], first: date, last: date) -> tuple[list[Record], Counter[str]]:
        """Invoices for the month's receipts and deliveries (a partner's, in date order, in groups),
        the receipts/payments settling them, advances and expense vouchers; in date order."""
        rng, out, counts = self.rng, [], Counter[str]()
        for doc in docs:
            if doc["type"] in ("sales_return", "purchase_return"):
                self.returned.add(doc["source"])
        by_partner: dict[tuple[str, str], list[Record]] = defaultdict(list)
        stock_n = 0
        for doc in docs:
            stock_n += 1
            if doc["type"] in ("sales_delivery", "purchase_receipt") and doc["no"] not in self.returned:
                side = "sales" if doc["type"] == "sales_delivery" else "purchase"
                by_partner[side, doc["partner"]].append(doc)
        billable = sum(len(v) for v in by_partner.values())
        wanted = stock_n * INVOICE_SHARE / STOCK_SHARE
        group = max(1.0, INVOICED_SHARE * billable / max(wanted, 1.0))  # mean documents per invoice

        def later(day: str, most: int) -> str:
            return min(date.fromisoformat(day) + timedelta(days=rng.randint(0, most)), last).isoformat()

        def cash(side: str, day: str, partner: str, amount: int, invoice: str | None) -> None:
            kind = "receipt" if side == "sales" else "payment"
            account = "1001" if kind == "receipt" and amount < 5_000_00 and rng.random() < 0.3 else "1002"
            rec: Record = {"type": kind, "no": self._no(kind, date.fromisoformat(day)), "date": day,
                           "partner": partner, "account": account, "amount": scenario._money(amount)}
            if invoice is not None:
                rec["settle"] = [{"invoice": invoice, "amount": scenario._money(amount)}]
            out.append(rec)
            counts["cash_doc"] += 1

        for (side, partner), mine in sorted(by_partner.items()):
            i = 0
            while i < len(mine):
                size = max(1, round(rng.uniform(1, 2 * group - 1)))
                part, i = mine[i:i + size], i + size
                if rng.random() >= INVOICED_SHARE:
                    continue
                lines, total = [], 0
                for d in part:
                    for ln in d["lines"]:
                        lines.append({"product": ln["product"], "qty": ln["qty"], "price": ln["price"],
                                      "tax_rate": scenario.VAT})
                        total += sum(scenario._line_money(_units(ln["qty"]), _units(ln["price"])))
                day = later(part[-1]["date"], 3)
                kind = f"{side}_invoice"
                no = self._no(kind, date.fromisoformat(day))
                ordinary = side == "sales" and rng.random() < scenario.ORDINARY_SHARE[side]
                out.append({"type": kind, "no": no, "date": day, "partner": partner,
                            "invoice_kind": "ordinary" if ordinary else "special",
                            "source": [d["no"] for d in part], "lines": lines})
                counts["invoice"] += 1
                draw = rng.random()
                if draw < SETTLED_SHARE:
                    cash(side, later(day, 10), partner, total, no)
                elif draw < SETTLED_SHARE + INSTALMENT_SHARE and total >= 200:
                    half = total // 200 * 100
                    cash(side, later(day, 5), partner, half, no)
                    cash(side, later(day, 15), partner, total - half, no)
            if rng.random() < ADVANCE_SHARE:
                cash(side, later(first.isoformat(), (last - first).days), partner,
                     rng.randint(10, 500) * 100_00, None)
        each = first
        while each <= last:
            for _ in range(EXPENSES_PER_DAY):
                net = rng.randint(50_00, 8_000_00)
                vat = (net * 6 + 50) // 100
                out.append({"type": "voucher", "date": each.isoformat(), "memo": "费用报销", "lines": [
                    {"account": "5602", "debit": scenario._money(net), "credit": "0"},
                    {"account": "22210102", "debit": scenario._money(vat), "credit": "0"},
                    {"account": "1002", "debit": "0", "credit": scenario._money(net + vat)}]})
            each += timedelta(days=1)
        out.sort(key=lambda r: r["date"])  # stable: an invoice stays before the receipt settling it
        return out, counts


def month_chunks(spec: WebSpec) -> Iterator[tuple[str, list[Record], Counter[str]]]:
    """(period label, records in import order, documents per table) per month. The first chunk
    starts with the master data, the opening stock and the opening balances (the bank funded
    against 3001 beside the stock)."""
    gen = _StockGen(docs=spec.stock_docs, seed=spec.seed, products=spec.products, warehouses=spec.warehouses,
                    customers=spec.customers, suppliers=spec.suppliers, lines_per_doc=spec.lines_per_doc,
                    month=spec.month, method="moving_average", batch_share=0.0, months=spec.months)
    trade = _Trade(spec, gen)
    head: list[Record] = []
    stock_value = 0
    for rec in gen.master():
        head.append(rec)
    for opening in gen.opening():
        rec = opening
        if rec["type"] == "opening_balance" and rec["account"] == "1405":
            stock_value = int(rec["debit"].replace(".", ""))
        elif rec["type"] == "opening_balance" and rec["account"] == "3001":
            bank = 6 * stock_value
            head.append({"type": "opening_balance", "account": "1002", "debit": scenario._money(bank), "credit": "0"})
            rec = {**rec, "credit": scenario._money(stock_value + bank)}
        head.append(rec)
    per_month = spec.docs / spec.months
    index = 0

    def finish(label: str, docs: list[Record]) -> tuple[str, list[Record], Counter[str]]:
        nonlocal index
        index += 1
        first = date.fromisoformat(label + "-01")
        last = scenario._add_months(first, 1) - timedelta(days=1)
        orders = trade.link_orders(docs, first)
        docs = trade.reorder(docs)
        billed, counts = trade.billing(docs, first, last)
        counts["stock_doc"] = len(docs)
        counts["trade_order"] = len(orders)
        # Orders nobody executed yet fill the month up to its share of the documents.
        target = round(per_month * index) - round(per_month * (index - 1))
        fill = max(0, target - sum(counts.values()))
        orders = sorted(orders + trade.open_orders(fill, first, last), key=lambda r: r["date"])
        counts["trade_order"] += fill
        return label, orders + docs + billed, counts

    label, docs = spec.month, list[Record]()
    for doc in gen.documents():
        if doc["date"][:7] != label:
            chunk = finish(label, docs)
            yield chunk[0], head + chunk[1], chunk[2]
            head, label, docs = [], doc["date"][:7], []
        docs.append(doc)
    chunk = finish(label, docs)
    yield chunk[0], head + chunk[1], chunk[2]


# --- building and caching ------------------------------------------------------------------------

def _open(path: Path) -> tuple[Any, Any, Any]:
    from sqlalchemy.orm import Session

    engine = make_engine(f"sqlite:///{path}")
    db = Session(engine)
    actor = users.load_actor(db, ADMIN)
    db.rollback()
    return engine, db, actor


def _watch_fast_path() -> None:
    """Say so when the importer's fast path gives up (it then re-runs the whole month record by
    record, many times slower, to report what the rules refused)."""
    fast = importer._import_fast
    if getattr(fast, "_watched", False):
        return

    def watched(*args: Any, **kwargs: Any) -> Any:
        try:
            return fast(*args, **kwargs)
        except Exception as exc:
            _say(f"  FAST PATH REFUSED ({type(exc).__name__}: {exc}); the careful path runs the month again")
            raise

    watched._watched = True  # type: ignore[attr-defined]
    importer._import_fast = watched


def build(spec: WebSpec, path: Path, *, verify: bool = True) -> dict[str, Any]:
    """Import the year month by month (`jxc import --audit`), clearing each month's stocktake
    differences out of 190101, then verify. Returns how long each part took."""
    _watch_fast_path()
    benchbook.remove_sqlite(path)
    engine = make_engine(f"sqlite:///{path}")
    books.init_book(engine, books.BookSettings("基准测试商贸有限公司", spec.month, ADMIN, PASSWORD))
    engine.dispose()
    engine, db, actor = _open(path)
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    timings: dict[str, Any] = {"generate_s": 0.0, "import_s": 0.0, "months": []}
    start_all = time.perf_counter()
    done_docs = 0
    try:
        chunks = month_chunks(spec)
        for _ in range(spec.months):
            t0 = time.perf_counter()
            label, recs, counts = next(chunks)
            lines = [encode(r) for r in recs]
            kinds = Counter(r["type"] for r in recs)
            del recs
            t1 = time.perf_counter()
            month_docs = sum(counts.values())
            mstart = time.perf_counter()

            def progress(done: int, total: int, label: str = label, mstart: float = mstart) -> None:
                if done % 20_000 == 0 or done == total:
                    el = time.perf_counter() - mstart
                    _say(f"    {label}: {done:>7,}/{total:,} records  {done / max(el, 1e-9):6.0f}/s  {el:6.1f} s")

            importer.import_records(db, lines, actor=actor, audit=True, progress=progress)
            last = scenario._add_months(date.fromisoformat(label + "-01"), 1) - timedelta(days=1)
            balance = suspense_balance(db, label)
            clear_suspense(db, actor, last, balance)
            t3 = time.perf_counter()
            done_docs += month_docs
            timings["generate_s"] += t1 - t0
            timings["import_s"] += t3 - t1
            timings["months"].append({"period": label, "records": len(lines), "documents": dict(counts),
                                      "by_type": dict(kinds), "import_s": round(t3 - t1, 2),
                                      "suspense_booked": str(balance)})
            total_el = time.perf_counter() - start_all
            _say(f"  {label}: {month_docs:,} documents ({dict(counts)}) imported in {t3 - t1:.1f} s "
                 f"({month_docs / max(t3 - t1, 1e-9):,.0f} docs/s); {done_docs:,} documents in {total_el:.0f} s")
        timings["build_s"] = time.perf_counter() - start_all
        if verify:
            _say("  verify ...")
            t0 = time.perf_counter()
            report = checks.verify(db, actor=actor)
            timings["verify_s"] = time.perf_counter() - t0
            timings["verify_checks"] = len(report.checks)
            if not report.ok:
                raise RuntimeError(f"verify failed: {[c for c in report.checks if not c.ok]}")
            _say(f"  verify passed ({len(report.checks)} checks) in {timings['verify_s']:.1f} s")
    finally:
        db.close()
        checkpoint(engine, path)
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in timings.items()}


TABLES = ("stock_doc", "stock_doc_line", "stock_entry", "trade_order", "trade_order_line", "invoice", "invoice_line",
          "invoice_link", "cash_doc", "cash_settle", "settlement", "arap_item", "voucher", "voucher_line",
          "audit_log", "product", "partner", "warehouse", "stock_balance", "account_balance", "partner_balance")
LIST_TABLES = ("stock_doc", "invoice", "trade_order", "cash_doc", "voucher")


def shape(path: Path) -> dict[str, Any]:
    """Counts per table, by type and status, and the indexes of the listed tables (plain sqlite3)."""
    con = sqlite3.connect(path)
    try:
        def pairs(sql: str) -> dict[str, int]:
            return {str(k): int(v) for k, v in con.execute(sql)}

        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
        indexes: dict[str, list[str]] = {}
        for t in LIST_TABLES:
            found = []
            for _, name, unique, origin, _ in con.execute(f"PRAGMA index_list({t})"):
                cols = [r[2] for r in con.execute(f"PRAGMA index_info({name})")]
                found.append(f"{name}({', '.join(cols)}){' unique' if unique else ''}{' pk' if origin == 'pk' else ''}")
            indexes[t] = sorted(found)
        return {
            "counts": counts,
            "documents": sum(counts[t] for t in ("stock_doc", "trade_order", "invoice", "cash_doc")),
            "stock_docs_by_type": pairs("SELECT doc_type, count(*) FROM stock_doc GROUP BY 1"),
            "stock_docs_by_status": pairs("SELECT status, count(*) FROM stock_doc GROUP BY 1"),
            "orders_by_side_status": pairs("SELECT side || ' ' || status, count(*) FROM trade_order GROUP BY 1"),
            "invoices_by_side_kind": pairs("SELECT side || ' ' || invoice_kind, count(*) FROM invoice GROUP BY 1"),
            "cash_by_side": pairs("SELECT side, count(*) FROM cash_doc GROUP BY 1"),
            "vouchers_by_status": pairs("SELECT status, count(*) FROM voucher GROUP BY 1"),
            "stock_docs_by_month": pairs("SELECT substr(doc_date, 1, 7), count(*) FROM stock_doc GROUP BY 1"),
            "indexes": indexes,
        }
    finally:
        con.close()


SEED_TABLES = ("account", "posting_rule", "role", "role_permission", "statement_line", "tax_rate")


def _table_sql(sql: str) -> str:
    """CREATE TABLE with its whitespace collapsed and its CONSTRAINT clauses sorted: the order
    Alembic's batch mode writes them in (it rebuilds a SQLite table to alter it) varies from run
    to run (set order), which changes nothing."""
    sql = " ".join(sql.split())
    head, _, rest = sql.partition("(")
    body, _, tail = rest.rpartition(")")
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(body):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(body[start:i].strip())
            start = i + 1
    parts.append(body[start:].strip())
    columns = [x for x in parts if not x.startswith("CONSTRAINT ")]
    constraints = sorted(x for x in parts if x.startswith("CONSTRAINT "))
    return f"{head.strip()} ({', '.join(columns + constraints)}) {tail.strip()}".strip()


def _schema(con: sqlite3.Connection) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """(table name -> CREATE TABLE, index name -> (table, CREATE INDEX)) of a SQLite file; indexes
    a constraint makes (no SQL of their own) go with their table."""
    tables, indexes = {}, {}
    for kind, name, table, sql in con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"):
        if kind == "table":
            tables[name] = _table_sql(sql)
        elif kind == "index" and sql is not None:
            indexes[name] = (table, sql)
    return tables, indexes


def _reconcile(src: Path, path: Path, schema: str) -> dict[str, Any] | None:
    """The cached book `src` of the same content under another schema, copied to `path` and
    brought to the current migrations, when the two schemas differ only in their indexes (the
    web work tunes them in migration 0005 while it is unreleased): indexes the migrations make
    now are created, indexes they no longer make are dropped, alembic_version is set to the
    head. Anything else (a table, a column, seed rows a migration or init_book writes)
    differing: None, and the book is built again."""
    fresh = BOOKS / f"schema-{schema}.tmp.db"
    benchbook.remove_sqlite(fresh)
    engine = make_engine(f"sqlite:///{fresh}")
    books.init_book(engine, books.BookSettings("基准测试商贸有限公司", "2026-01", ADMIN, PASSWORD))
    checkpoint(engine, fresh)
    head, old = sqlite3.connect(fresh), sqlite3.connect(src)
    try:
        (h_tables, h_indexes), (o_tables, o_indexes) = _schema(head), _schema(old)
        if h_tables != o_tables:
            diff = sorted(set(h_tables.items()) ^ set(o_tables.items()))
            _say(f"  {src.name}: tables differ from the current migrations ({[t for t, _ in diff][:8]}): rebuild")
            return None
        for table in SEED_TABLES:
            q = f"SELECT * FROM {table} ORDER BY 1, 2"
            if head.execute(q).fetchall() != old.execute(q).fetchall():
                _say(f"  {src.name}: seed rows of {table} differ from a fresh book's: rebuild")
                return None
        revision = head.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    finally:
        head.close()
        old.close()
        benchbook.remove_sqlite(fresh)
    create = {n: v for n, v in h_indexes.items() if o_indexes.get(n) != v}
    drop = [n for n, v in o_indexes.items() if h_indexes.get(n) != v]
    tmp = path.with_name(path.stem + ".building.db")
    _say(f"  {src.name}: same tables, indexes differ: dropping {drop}, creating {sorted(create)}")
    benchbook.remove_sqlite(tmp)
    t0 = time.perf_counter()
    shutil.copyfile(src, tmp)
    con = sqlite3.connect(tmp, isolation_level=None)
    try:
        con.execute("BEGIN")
        for name in drop:
            con.execute(f'DROP INDEX "{name}"')
        for _, sql in create.values():
            con.execute(sql)
        con.execute("UPDATE alembic_version SET version_num = ?", (revision,))
        con.execute("COMMIT")
        if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone():
            con.execute("ANALYZE")  # the book had statistics: keep them true of the new indexes
    finally:
        con.close()
    meta: dict[str, Any] = json.loads(src.with_suffix(".json").read_text(encoding="utf-8"))
    meta["reconciled_from"] = {"book": src.name, "dropped": drop, "created": sorted(create),
                               "seconds": round(time.perf_counter() - t0, 2), "at": time.strftime("%Y-%m-%d %H:%M")}
    benchbook.remove_sqlite(path)
    shutil.move(tmp, path)
    return meta


def _from_stale(stem: str, schema: str, path: Path) -> dict[str, Any] | None:
    """A book for the current schema made from the newest cached book of the same content under an
    older one (see _reconcile); None when there is none or it cannot be reconciled."""
    old = sorted((p for p in BOOKS.glob(f"{stem}-*.db") if not p.name.endswith((".building.db", ".tmp.db"))
                  and p.stem != f"{stem}-{schema}" and p.with_suffix(".json").exists()),
                 key=lambda p: p.stat().st_mtime, reverse=True)
    for src in old[:1]:
        _say(f"{path.name} not cached; trying {src.name} (same content, another schema)")
        return _reconcile(src, path, schema)
    return None


def cached_book(spec: WebSpec, *, rebuild: bool = False, verify: bool = True) -> tuple[Path, dict[str, Any]]:
    """The cached, verified web book for `spec`, building it (under a temporary name) if needed."""
    stem, schema = book_key(spec)
    key = f"{stem}-{schema}"
    path, meta_path = BOOKS / f"{key}.db", BOOKS / f"{key}.json"
    if path.exists() and meta_path.exists() and not rebuild:
        return path, json.loads(meta_path.read_text(encoding="utf-8"))
    BOOKS.mkdir(parents=True, exist_ok=True)
    meta = None if rebuild else _from_stale(stem, schema, path)
    if meta is None:
        tmp = BOOKS / f"{key}.building.db"
        _say(f"building {path.name}: {spec.docs:,} documents (cached for later runs)")
        timings = build(spec, tmp, verify=verify)
        benchbook.remove_sqlite(path)
        shutil.move(tmp, path)
        benchbook.remove_sqlite(tmp)
        meta = {"spec": asdict(spec), "built": time.strftime("%Y-%m-%d %H:%M"), "tree": tree(),
                "timings": timings, "verified": verify}
    meta.update({"key": key, "path": str(path.relative_to(ROOT)), "bytes": path.stat().st_size,
                 "shape": shape(path)})
    meta_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    return path, meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.web_book", description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000,
                        help="documents (stock_doc + trade_order + invoice + cash_doc), default 1,000,000")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--rebuild", action="store_true", help="build again even if cached")
    parser.add_argument("--no-verify", action="store_true", help="skip jxc verify (the book is cached as unverified)")
    args = parser.parse_args(argv)
    spec = WebSpec(docs=args.docs, seed=args.seed)
    t0 = time.perf_counter()
    path, meta = cached_book(spec, rebuild=args.rebuild, verify=not args.no_verify)
    print(path)
    s = meta["shape"]
    print(f"documents (stock_doc + trade_order + invoice + cash_doc): {s['documents']:,}")
    for table, n in s["counts"].items():
        print(f"  {table:<18} {n:>12,}")
    t = meta.get("timings", {})
    print(f"file {meta['bytes'] / 2**20:,.0f} MiB; built in {t.get('build_s', 0):,.0f} s, "
          f"verify {t.get('verify_s', 0):,.0f} s" + (f" (this call {time.perf_counter() - t0:.1f} s)"))
    print(f"meta: {Path(meta['path']).with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
