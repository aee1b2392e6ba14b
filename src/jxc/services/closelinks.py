"""Where each offender of the close checklist lives: the checklist names documents by number,
vouchers by label (记-0003), stock by product@warehouse and AR/AP differences by
account/partner; the close wizard links each to its page. Reads only."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from jxc.db.base import table_of
from jxc.db.models import CashDoc, Invoice, Period, StockDoc, Voucher
from jxc.domain import permissions as perm
from jxc.domain.closing import CheckItem
from jxc.domain.periods import parse_period_label
from jxc.domain.permissions import Actor, require
from jxc.services.common import reading

DOC = table_of(StockDoc)
INVOICE = table_of(Invoice)
CASH = table_of(CashDoc)
VOUCHER = table_of(Voucher)
PERIOD = table_of(Period)

DOCUMENT_CHECKS = frozenset({"unaudited_documents", "stocktake_pending", "zero_cost_entries",
                             "uninvoiced_deliveries", "uninvoiced_receipts", "estimated_payables"})
VOUCHER_CHECKS = frozenset({"unposted_vouchers", "voucher_gaps"})


@dataclass(frozen=True, slots=True)
class OffenderLink:
    """One offender as the checklist names it, and what it points at: a document or voucher
    (entity: stock_doc, invoice, cash_doc, voucher; and its id), or a product (with its
    warehouse) or a partner, whose report pages show it. All None: nothing to link to."""

    text: str
    entity: str | None = None
    id: int | None = None
    product: str | None = None
    warehouse: str | None = None
    partner: str | None = None


def _first_token(text: str) -> str:
    return text.split(" ", 1)[0].rstrip(":")


def _document_ids(db: Session, numbers: Iterable[str]) -> dict[str, tuple[str, int]]:
    wanted = sorted(set(numbers))
    found: dict[str, tuple[str, int]] = {}
    if not wanted:
        return found
    for entity, table in (("stock_doc", DOC), ("invoice", INVOICE), ("cash_doc", CASH)):
        for no, doc_id in db.execute(select(table.c.no, table.c.id).where(table.c.no.in_(wanted))
                                     .order_by(table.c.id)):
            found.setdefault(no, (entity, doc_id))
    return found


def _voucher_ids(db: Session, period: str, labels: Iterable[str]) -> dict[str, int]:
    year, month = parse_period_label(period)
    pid = db.execute(select(PERIOD.c.id).where(PERIOD.c.year == year, PERIOD.c.month == month)).scalar()
    out: dict[str, int] = {}
    if pid is None:
        return out
    for label in set(labels):
        word, _, num = label.rpartition("-")
        if not num.isdigit():
            continue
        vid = db.execute(select(VOUCHER.c.id).where(VOUCHER.c.period_id == pid, VOUCHER.c.word == word,
                                                    VOUCHER.c.number == int(num))).scalar()
        if vid is not None:
            out[label] = int(vid)
    return out


def _stock_key(text: str) -> OffenderLink:
    """P001@WH01/B2603 2026-03-05 -> product P001 in warehouse WH01."""
    key = _first_token(text)
    product, _, rest = key.partition("@")
    warehouse = rest.split("/", 1)[0] or None
    return OffenderLink(text, product=product or None, warehouse=warehouse)


def _partner_key(text: str) -> OffenderLink:
    """1122/C001: 100.00 != 90.00 -> partner C001."""
    _, _, partner = _first_token(text).partition("/")
    return OffenderLink(text, partner=partner or None)


def offender_links(db: Session, period: str, items: Iterable[CheckItem], *, actor: Actor
                   ) -> dict[str, list[OffenderLink]]:
    """Per check code, its offenders with what each points at (in the checklist's order)."""
    require(actor, perm.PERIOD_CLOSE)
    checks = list(items)
    with reading(db):
        numbers = [_first_token(x) for c in checks if c.code in DOCUMENT_CHECKS for x in c.items]
        docs = _document_ids(db, numbers)
        vouchers = _voucher_ids(db, period, [x for c in checks if c.code in VOUCHER_CHECKS for x in c.items])
    out: dict[str, list[OffenderLink]] = {}
    for check in checks:
        links = []
        for text in check.items:
            if check.code in DOCUMENT_CHECKS and _first_token(text) in docs:
                entity, doc_id = docs[_first_token(text)]
                links.append(OffenderLink(text, entity, doc_id))
            elif check.code in VOUCHER_CHECKS and text in vouchers:
                links.append(OffenderLink(text, "voucher", vouchers[text]))
            elif check.code == "negative_stock":
                links.append(_stock_key(text))
            elif check.code == "subledger_arap":
                links.append(_partner_key(text))
            else:
                links.append(OffenderLink(text))
        out[check.code] = links
    return out
