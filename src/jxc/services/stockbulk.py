"""Bulk import of audited stock documents: the rules of the one-by-one audit, the writes batched.

`jxc import --audit` of a large file spends its time in statements, not in
costing: one document audited on its own takes about a dozen round trips. Here
documents are validated one by one (the same `_validate`), inserted a batch at
a time, costed in file order against balances kept in memory (the same
`_plan` and `_cost_doc`), and their entries, vouchers, balances and audit-log
entries written with a few statements per batch.

What the fast path does not do itself, it hands to the one-by-one audit,
after writing what it has: a document dated before what is already in the
ledger for one of its products (back-dated: re-costing), a return or
red-letter document (its source's remaining quantity is checked in the
database), and anything in a period whose monthly costing run is done.
A business-rule refusal raises as usual; the importer then re-runs the file
record by record to report every problem (see importer.py).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, update

from jxc.domain.numbers import ZERO
from jxc.domain.permissions import Actor
from jxc.domain.stockdocs import KINDS, DocStatus, DocType, doc_number, parse_doc_number
from jxc.services.common import (
    DB,
    BookRules,
    PeriodRef,
    append_audit_many,
    conn_of,
    insert_many,
    open_period_and_rules,
    reserve_ids,
    utcnow,
)
from jxc.services.stock import (
    _LINK,
    _RETURNED,
    _SOURCE_DOC,
    _SOURCE_LINES,
    DOC,
    ENTRY,
    LINE,
    TAKE,
    DocRef,
    Key,
    Refs,
    StockDocIn,
    _cost_doc,
    _KeyState,
    _LineFacts,
    _lock_keys,
    _next_doc_number,
    _plan,
    _Planned,
    _Rules,
    _run_covers,
    _run_periods,
    _save_states,
    _source_entries,
    _validate,
    _warehouse_codes,
    audit_doc,
    enter_doc,
    number_entries,
    raise_doc_sequence,
)
from jxc.services.vouchers import insert_generated_vouchers

_DOC_DONE = update(DOC).where(DOC.c.id == bindparam("d")).values(status=DocStatus.AUDITED.value,
                                                                   audited_by=bindparam("a"),
                                                                   voucher_id=bindparam("vid"))
_BOOK_QTY = update(LINE).where(LINE.c.id == bindparam("l")).values(book_qty=bindparam("q"))


@dataclass(frozen=True, slots=True)
class _SourceLine:
    id: int
    qty: Decimal


@dataclass(slots=True)
class _Doc:
    """A validated document waiting in the batch; `row` is what the header looks like in the table."""

    data: StockDocIn
    row: dict[str, Any]
    lines: list[dict[str, Any]]
    period: PeriodRef
    id: int = 0
    line_ids: list[int] = field(default_factory=list)


class _Ids:
    """Primary keys handed out before the rows are written, so a return can name a line of a
    document still waiting in the batch. Reset whenever something else inserts rows."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.next: dict[str, int] = {}  # SQLite: the next id to hand out
        self.free: dict[str, list[int]] = {}  # PostgreSQL: drawn from the sequence, not yet used

    def take(self, table: Any, count: int) -> list[int]:
        if self.conn.dialect.name == "sqlite":
            # One past the largest id written, then counting on: nothing else inserts meanwhile
            # (the import holds the write lock, and reset() follows anything that does).
            start = self.next.get(table.name) or reserve_ids(self.conn, table, 1)[0]
            self.next[table.name] = start + count
            return list(range(start, start + count))
        pool = self.free.setdefault(table.name, [])
        if len(pool) < count:
            pool.extend(reserve_ids(self.conn, table, max(count, 2000)))
        taken, self.free[table.name] = pool[:count], pool[count:]
        return taken

    def reset(self) -> None:
        self.next.clear()


class BulkAuditor:
    """Feed documents with add(); call finish() at the end. One transaction, the caller's."""

    BATCH = 500

    def __init__(self, db: DB, actor: Actor, refs: Refs) -> None:
        self.conn = conn_of(db)
        self.actor = actor
        self.refs = refs
        self.batch: list[_Doc] = []
        self.states: dict[Key, _KeyState] = {}
        self.last_dates: dict[Key, date] = {}  # newest date per key, this batch included
        self.periods: dict[date, tuple[PeriodRef, BookRules]] = {}
        self.runs = _run_periods(self.conn)
        self.done: list[DocRef] = []
        self.pending: dict[tuple[str, str], _Doc] = {}  # documents in the batch, not yet written
        self.ids = _Ids(self.conn)
        self.given_numbers: dict[tuple[str, int], int] = {}  # the highest imported number per type/period
        self.pending_returned: dict[int, Decimal] = defaultdict(lambda: ZERO)  # by the batch's returns

    # -- intake -------------------------------------------------------------------------------

    def add(self, data: StockDocIn) -> None:
        self.refs.load(self.conn, [data])
        if self._backdated(data) or (self.runs and _run_covers(self.runs, data.doc_date)):
            self.flush()
            self._one_by_one(data, recost=True)
            return
        if data.order or self._credit_checked(data):  # orders and credit limits: the careful path
            self._one_by_one(data, recost=False)
            return
        source_id, source_lines = None, None
        if data.source:
            found = self._source(data)
            if found is None or any(getattr(x, "order_line_id", None) for x in found[1].values()):
                self._one_by_one(data, recost=False)  # it says what is wrong with the source
                return
            source_id, source_lines = found
        header, rows = _validate(self.conn, data, self.refs, source_lines)
        if source_lines is not None and not self._returnable(rows, source_lines):
            self._one_by_one(data, recost=False)  # it names the line that returns too much
            return
        period, _ = self._period(data.doc_date)
        doc_type = DocType(data.doc_type)
        if data.no:
            no = data.no.strip()  # a duplicate number fails on the unique index; the slow path names it
            number = parse_doc_number(doc_type, int(period.label[:4]), int(period.label[5:]), no)
            if number is not None:
                seq_key = (doc_type.value, period.id)
                self.given_numbers[seq_key] = max(number, self.given_numbers.get(seq_key, 0))
        else:
            no = doc_number(doc_type, int(period.label[:4]), int(period.label[5:]),
                            _next_doc_number(self.conn, doc_type.value, period.id))
        row = {**header, "no": no, "doc_date": data.doc_date, "period_id": period.id,
               "status": DocStatus.DRAFT.value, "red": False, "source_id": source_id, "reason": data.reason,
               "memo": data.memo, "created_by": self.actor.id, "created_at": utcnow(), "audited_by": None,
               "voucher_id": None, "order_id": None, "salesperson": data.salesperson}
        lines = [{"line_no": i, "product_id": r.product_id, "qty": r.qty, "price": r.price, "tax_rate": r.tax_rate,
                  "amount": r.amount, "tax": r.tax, "batch": r.batch, "expiry": r.expiry, "book_qty": None,
                  "source_line_id": r.source_line_id} for i, r in enumerate(rows, start=1)]
        doc = _Doc(data, row, lines, period)
        doc.id = self.ids.take(DOC, 1)[0]
        doc.line_ids = self.ids.take(LINE, len(lines))
        self.batch.append(doc)
        self.pending[(row["doc_type"], no)] = doc
        for r in rows:
            if r.source_line_id is not None:
                self.pending_returned[r.source_line_id] += r.qty
        for key in self._keys(row, lines):
            self.last_dates[key] = max(data.doc_date, self.last_dates.get(key, data.doc_date))
        if len(self.batch) >= self.BATCH:
            self.flush()

    def _credit_checked(self, data: StockDocIn) -> bool:
        if data.doc_type != DocType.SALES_DELIVERY:
            return False
        partner = self.refs.partners.get(data.partner or "")
        return partner is not None and partner.credit_limit is not None and self._period(
            data.doc_date)[1].credit_control != "off"

    def _keys(self, row: dict[str, Any], lines: list[dict[str, Any]]) -> list[Key]:
        keys = [(ln["product_id"], row["warehouse_id"], ln["batch"]) for ln in lines]
        if row.get("to_warehouse_id"):
            keys += [(ln["product_id"], row["to_warehouse_id"], ln["batch"]) for ln in lines]
        return keys

    def _backdated(self, data: StockDocIn) -> bool:
        """Dated before something already in the ledger (or the batch) for one of its products:
        that needs the re-costing of the one-by-one audit. Keys not seen yet are looked up
        when the batch is written, so the check there covers them."""
        for ln in data.lines:
            prod = self.refs.products.get(ln.product)
            for wh_code in (data.warehouse, data.to_warehouse):
                wh = self.refs.warehouses.get(wh_code or "")
                if prod is None or wh is None:
                    continue
                last = self.last_dates.get((prod.id, wh.id, (ln.batch or "").strip()))
                if last is not None and last > data.doc_date:
                    return True
        return False

    def _period(self, day: date) -> tuple[PeriodRef, BookRules]:
        found = self.periods.get(day)
        if found is None:
            found = open_period_and_rules(self.conn, day)  # locks the period FOR SHARE, checks it is open
            self.periods[day] = found
        return found

    def _source(self, data: StockDocIn) -> tuple[int, dict[tuple[int, str], Any]] | None:
        """The audited source document a return names, and its lines; None when the one-by-one
        path must look at it (unknown, not audited, another partner's: it reports which)."""
        kind = KINDS[DocType(data.doc_type)]
        if kind.source is None:
            return None
        partner = self.refs.partners.get(data.partner or "")
        waiting = self.pending.get((kind.source.value, data.source or ""))
        if waiting is not None:  # in this batch: audited when the batch is written
            if partner is None or waiting.row["partner_id"] != partner.id:
                return None
            return waiting.id, {(ln["product_id"], ln["batch"]): _SourceLine(lid, ln["qty"])
                                for ln, lid in zip(waiting.lines, waiting.line_ids, strict=True)}
        src = self.conn.execute(_SOURCE_DOC, {"t": kind.source.value, "no": data.source}).one_or_none()
        if src is None or src.status != DocStatus.AUDITED or src.red or partner is None \
                or src.partner_id != partner.id:
            return None
        return src.id, {(r.product_id, r.batch): r for r in self.conn.execute(_SOURCE_LINES, {"d": src.id})}

    def _returnable(self, rows: list[Any], source_lines: dict[tuple[int, str], Any]) -> bool:
        ids = sorted({r.source_line_id for r in rows if r.source_line_id is not None})
        done: dict[int, Decimal] = defaultdict(lambda: ZERO)
        for r in self.conn.execute(_RETURNED, {"ids": ids}):
            done[r.source_line_id] += r.qty  # (a reversed return is left to the one-by-one check)
        qty = {ln.id: ln.qty for ln in source_lines.values()}
        wanted: dict[int, Decimal] = defaultdict(lambda: ZERO)
        for r in rows:
            if r.source_line_id is not None:
                wanted[r.source_line_id] += r.qty
        return all(w <= qty[i] - done[i] - self.pending_returned[i] for i, w in wanted.items())

    def _one_by_one(self, data: StockDocIn, *, recost: bool) -> None:
        self.flush()
        self.ids.reset()  # it inserts rows of its own
        ref = enter_doc(self.conn, data, self.actor, self.refs)
        ref = audit_doc(self.conn, ref.id, self.actor)
        append_audit_many(self.conn, self.actor, [("stock_doc.import", "stock_doc", ref.id,
                                                   {"type": ref.doc_type, "no": ref.no, "status": ref.status})])
        self.done.append(ref)
        if recost:  # the audit may have re-costed anything: read balances afresh from here on
            self.states.clear()
            self.last_dates.clear()
            return
        for key in self._data_keys(data):  # it changed only its own products' balances
            self.states.pop(key, None)

    def _data_keys(self, data: StockDocIn) -> list[Key]:
        keys = []
        for ln in data.lines:
            prod = self.refs.products.get(ln.product)
            for code in (data.warehouse, data.to_warehouse):
                wh = self.refs.warehouses.get(code or "")
                if prod is not None and wh is not None:
                    keys.append((prod.id, wh.id, (ln.batch or "").strip()))
        return keys

    # -- writing ---------------------------------------------------------------------------------

    def flush(self) -> None:
        if not self.batch:
            return
        batch, self.batch = self.batch, []
        self.pending.clear()
        self.pending_returned.clear()
        conn = self.conn
        insert_many(conn, DOC, [{**d.row, "id": d.id} for d in batch])
        insert_many(conn, LINE, [{**ln, "doc_id": d.id, "id": lid} for d in batch
                                 for ln, lid in zip(d.lines, d.line_ids, strict=True)])
        self._load_states(batch)
        start = 0
        for i, d in enumerate(batch):
            if any(st.last_date is not None and st.last_date > d.row["doc_date"]
                   for st in (self.states[k] for k in self._keys(d.row, d.lines))):
                # Back-dated against what was already in the ledger: write what comes before
                # it, then let the one-by-one audit re-cost after it.
                self._write(batch[start:i])
                ref = audit_doc(conn, d.id, self.actor)
                self.ids.reset()
                append_audit_many(conn, self.actor, [("stock_doc.import", "stock_doc", ref.id,
                                                      {"type": ref.doc_type, "no": ref.no, "status": ref.status})])
                self.done.append(ref)
                self.states.clear()
                self._load_states(batch[i + 1:])
                start = i + 1
        self._write(batch[start:])

    def _load_states(self, batch: list[_Doc]) -> None:
        keys = {k for d in batch for k in self._keys(d.row, d.lines)} - self.states.keys()
        if not keys:
            return
        methods = {p.id: p.costing_method for p in self.refs.products.values()}
        codes = {p.id: p.code for p in self.refs.products.values()}
        wh = _warehouse_codes(self.conn, {k[1] for k in keys})
        self.states.update(_lock_keys(self.conn, sorted(keys), methods,
                                      {k: (codes[k[0]], wh[k[1]]) for k in keys}))

    def _write(self, docs: list[_Doc]) -> None:
        if not docs:
            return
        conn = self.conn
        by_period: dict[int, list[tuple[_Doc, Any]]] = defaultdict(list)
        entries: list[dict[str, Any]] = []
        takes: list[dict[str, Any]] = []
        book_qty: list[dict[str, Any]] = []
        touched: dict[Key, date] = {}
        products = {p.id: p for p in self.refs.products.values()}
        sources = _source_entries(conn, [ln["source_line_id"] for d in docs for ln in d.lines])
        for d in docs:
            period, rules = self._period(d.row["doc_date"])
            doc = _DocRow(d.id, d.row)
            facts = [_LineFacts(lid, ln["line_no"], ln["product_id"], ln["qty"], ln["amount"], ln["batch"],
                                ln["expiry"], ln["source_line_id"], products[ln["product_id"]].code,
                                products[ln["product_id"]].costing_method, products[ln["product_id"]].category)
                     for lid, ln in zip(d.line_ids, d.lines, strict=True)]
            plans: list[_Planned] = _plan(doc, facts, self.states.__getitem__, {})
            book = _Rules.of(conn, rules)
            costed = _cost_doc(doc, plans, self.states, book, rules.allow_negative_stock, period.id, sources)
            sources.update(costed.fresh)  # a return later in this batch takes its cost from here
            for p in plans:
                if "book_qty" in p.row:
                    book_qty.append({"l": p.line_id, "q": p.row.pop("book_qty")})
                if p.basis != "none":
                    entries.append(p.row)
                    touched[p.key] = d.row["doc_date"]
            takes += costed.takes
            by_period[period.id].append((d, costed))
        voucher_of: dict[int, int] = {}
        for group in by_period.values():
            period, rules = self._period(group[0][0].row["doc_date"])
            with_voucher = [(d, c) for d, c in group if c.layout.lines]
            vids = insert_generated_vouchers(conn, period, rules, [
                (d.row["doc_date"], d.row["no"], c.layout.new_lines(), "stock_doc", d.id) for d, c in with_voucher],
                self.actor, item_accounts=_Rules.of(conn, rules).items)
            voucher_of.update({d.id: v for (d, _), v in zip(with_voucher, vids, strict=True)})
        for row in entries:
            if row["dr_line"] is not None or row["adj_dr_line"] is not None:
                row["voucher_id"] = voucher_of[row["doc_id"]]
        done = [{"d": d.id, "a": self.actor.id, "vid": voucher_of.get(d.id)} for d in docs]
        number_entries(conn, entries, self.states, self.ids.take(ENTRY, len(entries)))
        insert_many(conn, ENTRY, entries, exact=True)  # costed here: every amount made by money()
        insert_many(conn, TAKE, takes, exact=True)
        linked = sorted({ln["source_line_id"] for d in docs for ln in d.lines if ln["source_line_id"]})
        if linked:
            conn.execute(_LINK, [{"l": x} for x in linked])
        if book_qty:
            conn.execute(_BOOK_QTY, book_qty)
        conn.execute(_DOC_DONE, done)
        for key, day in touched.items():
            st = self.states[key]
            st.last_date = max(day, st.last_date) if st.last_date else day
        _save_states(conn, [self.states[k] for k in sorted(touched)], None)
        append_audit_many(conn, self.actor, [
            ("stock_doc.import", "stock_doc", d.id, {"type": d.row["doc_type"], "no": d.row["no"],
                                                    "status": DocStatus.AUDITED.value}) for d in docs])
        self.done += [DocRef(d.id, d.row["doc_type"], d.row["no"], DocStatus.AUDITED.value) for d in docs]

    def finish(self) -> list[DocRef]:
        self.flush()
        for (doc_type, period_id), number in sorted(self.given_numbers.items()):
            raise_doc_sequence(self.conn, doc_type, period_id, number)
        return self.done


class _DocRow:
    """The attributes _plan and _cost_doc read from a document row."""

    __slots__ = ("counter_account_id", "doc_date", "doc_type", "id", "no", "partner_id", "red", "to_warehouse_id",
                 "warehouse_id")

    def __init__(self, doc_id: int, row: dict[str, Any]) -> None:
        self.id = doc_id
        self.no = row["no"]
        self.doc_type = row["doc_type"]
        self.doc_date = row["doc_date"]
        self.warehouse_id = row["warehouse_id"]
        self.to_warehouse_id = row.get("to_warehouse_id")
        self.partner_id = row.get("partner_id")
        self.counter_account_id = row.get("counter_account_id")
        self.red = False

