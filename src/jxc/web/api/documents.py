"""Documents over the API: every document type (stock documents, orders, invoices, receipts and
payments, vouchers) created from its INTERCHANGE record, read, listed a page at a time,
audited, un-audited and the rest; documents made from orders and receipts/deliveries;
settlements; red-letter reversal; FEFO batch suggestions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Path, Query, Response
from pydantic import BaseModel, BeforeValidator, Field

from jxc.domain.errors import InvalidInput
from jxc.domain.numbers import parse_decimal
from jxc.services import apiviews, cash, documents
from jxc.web.deps import DbDep, ViewerDep
from jxc.web.jsonout import plain

router = APIRouter()


def _decimal_text(value: object) -> Decimal:
    """Decimals travel as JSON strings ("12.50"), never numbers (a float has lost the value)."""
    if not isinstance(value, str | Decimal):
        raise ValueError("a decimal is written as a JSON string, e.g. \"12.50\"")
    parsed = parse_decimal(value)
    if parsed is None:
        raise ValueError("not a decimal number")
    return parsed


DecimalText = Annotated[Decimal, BeforeValidator(_decimal_text)]

KindPath = Annotated[str, Path(description="Document type: " + ", ".join(documents.KINDS),
                               examples=["purchase_receipt"])]
IdPath = Annotated[int, Path(description="The document's id")]
Action = Literal["audit", "unaudit", "close", "reopen", "cancel", "post", "unpost", "void"]
Side = Literal["purchase", "sales"]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200,
                                              description="The same key and body again returns the "
                                                          "first document instead of a second one")]

RECORD_EXAMPLE = {"date": "2026-03-20", "partner": "S001", "warehouse": "WH01",
                  "lines": [{"product": "P001", "qty": "10", "price": "45.0000", "tax_rate": "0.13"}]}


def _created(kind: str, result: documents.CreateResult, response: Response) -> dict[str, Any]:
    response.status_code = 200 if result.replayed else 201
    response.headers["Location"] = f"/api/documents/{kind}/{result.created.id}"
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return {"kind": kind, **plain(result.created)}


@router.get("/documents/{kind}", tags=["documents"], summary="List documents of one type")
def list_documents(kind: KindPath, db: DbDep, viewer: ViewerDep,
                   q: Annotated[str | None, Query(description="Number start, partner code or name")] = None,
                   status: str | None = None, partner: Annotated[str | None, Query(description="Partner code")] = None,
                   date_from: date | None = None, date_to: date | None = None,
                   cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
                   limit: Annotated[int, Query(ge=1, le=documents.MAX_PAGE)] = 50) -> dict[str, Any]:
    """Newest first, a page at a time (keyset pagination: pass `next_cursor` back as `cursor`)."""
    page = documents.list_documents(db, kind, actor=viewer.actor, q=q, status=status, partner=partner,
                                    date_from=date_from, date_to=date_to, cursor=cursor, limit=limit)
    return {"items": plain(page.rows), "next_cursor": page.next_cursor}


@router.post("/documents/{kind}", status_code=201, tags=["documents"], summary="Create a document",
             responses={200: {"description": "Replayed: the document an earlier request with this "
                                             "Idempotency-Key created"},
                        422: {"description": "Invalid record: `error.errors` names each field "
                                             "(`lines[2].qty`)"}})
def create_document(kind: KindPath, response: Response, db: DbDep, viewer: ViewerDep,
                    body: Annotated[dict[str, Any], Body(description="The INTERCHANGE record of this type, "
                                                                     "without `type`",
                                                         examples=[RECORD_EXAMPLE])],
                    audit: Annotated[bool, Query(description="Audit (post, for a voucher) at once")] = False,
                    idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """A draft (or, with `audit=true`, an audited document) from its INTERCHANGE record."""
    result = documents.create_document(db, kind, body, actor=viewer.actor, audit=audit,
                                       idempotency_key=idempotency_key)
    return _created(kind, result, response)


@router.get("/documents/{kind}/by-no/{no}", tags=["documents"], summary="Find a document by its number")
def document_by_no(kind: KindPath, no: str, db: DbDep, viewer: ViewerDep) -> Any:
    """The document numbered `no` (a voucher: `2026-03 记-0001`)."""
    doc_id = documents.find_document(db, kind, no, actor=viewer.actor)
    return plain(documents.get_document(db, kind, doc_id, actor=viewer.actor))


@router.get("/documents/{kind}/{doc_id}", tags=["documents"], summary="Read a document")
def get_document(kind: KindPath, doc_id: IdPath, db: DbDep, viewer: ViewerDep) -> Any:
    """The document with its lines, status and links."""
    return plain(documents.get_document(db, kind, doc_id, actor=viewer.actor))


class ReverseIn(BaseModel):
    date: date
    audit: bool = Field(False, description="Audit the red-letter stock document at once")


@router.post("/documents/{kind}/{doc_id}/reverse", status_code=201, tags=["documents"],
             summary="Red-letter reversal")
def reverse_document(kind: KindPath, doc_id: IdPath, body: ReverseIn, db: DbDep, viewer: ViewerDep) -> Any:
    """A red-letter copy of an audited stock document or a posted manual voucher, dated `date`."""
    return plain(apiviews.reverse_document(db, kind, doc_id, body.date, actor=viewer.actor, audit=body.audit))


@router.post("/documents/{kind}/{doc_id}/{action}", tags=["documents"], summary="Audit, un-audit, close, ...")
def document_action(kind: KindPath, doc_id: IdPath, action: Action, db: DbDep, viewer: ViewerDep,
                    override_match: Annotated[bool, Query(description="Invoices: audit despite a failed "
                                                                      "three-way match")] = False) -> Any:
    """One step of the document's life: stock documents, invoices, receipts/payments audit and
    unaudit; orders also close, reopen and cancel; vouchers audit, unaudit, post, unpost, void."""
    return plain(documents.document_action(db, kind, doc_id, action, actor=viewer.actor,
                                           override_match=override_match))


@router.delete("/documents/{kind}/{doc_id}", status_code=204, tags=["documents"], summary="Delete a draft")
def delete_document(kind: KindPath, doc_id: IdPath, db: DbDep, viewer: ViewerDep) -> None:
    """Only drafts can be deleted; audited documents are corrected by red-letter ones."""
    documents.document_action(db, kind, doc_id, "delete", actor=viewer.actor)


# --- documents made from others ----------------------------------------------------------------

class FromOrderIn(BaseModel):
    date: date
    warehouse: str = Field(max_length=40)
    create: bool = Field(False, description="Create the draft instead of only returning the record")
    audit: bool = Field(False, description="With create: audit it at once")


def _prefilled(found: apiviews.Prefilled, response: Response) -> dict[str, Any]:
    if found.created is None:
        return {"kind": found.kind, "record": found.record}
    return {**_created(found.kind, found.created, response), "record": found.record}


@router.post("/orders/{side}/{no}/receive", tags=["documents"], summary="Receipt from a purchase order")
def receive_order(side: Side, no: str, body: FromOrderIn, response: Response, db: DbDep, viewer: ViewerDep,
                  idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """The purchase receipt for what is still open on the order, as an INTERCHANGE record to
    edit and send to `POST /api/documents/purchase_receipt`, or created at once with `create`."""
    return _prefilled(apiviews.from_order(db, side, no, body.date, body.warehouse, actor=viewer.actor,
                                          create=body.create, audit=body.audit, idempotency_key=idempotency_key),
                      response)


@router.post("/orders/{side}/{no}/deliver", tags=["documents"], summary="Delivery from a sales order")
def deliver_order(side: Side, no: str, body: FromOrderIn, response: Response, db: DbDep, viewer: ViewerDep,
                  idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """The sales delivery for what is still open on the order (see receive)."""
    return _prefilled(apiviews.from_order(db, side, no, body.date, body.warehouse, actor=viewer.actor,
                                          create=body.create, audit=body.audit, idempotency_key=idempotency_key),
                      response)


class FromStockIn(BaseModel):
    sources: list[str] = Field(description="Receipt/delivery numbers (red: return numbers)")
    date: date
    red: bool = False
    invoice_kind: Literal["special", "ordinary"] = "special"
    create: bool = False
    audit: bool = False


@router.post("/invoices/{side}/from-stock", tags=["documents"], summary="Invoice from receipts/deliveries")
def invoice_from_stock(side: Side, body: FromStockIn, response: Response, db: DbDep, viewer: ViewerDep,
                       idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    """The invoice billing what is left of these documents, at their prices and tax rates."""
    return _prefilled(apiviews.from_stock(db, side, body.sources, body.date, actor=viewer.actor, red=body.red,
                                          invoice_kind=body.invoice_kind, create=body.create, audit=body.audit,
                                          idempotency_key=idempotency_key), response)


# --- settlements -------------------------------------------------------------------------------

class SettleLine(BaseModel):
    invoice: str
    amount: DecimalText
    writeoff: DecimalText = Decimal(0)


class SettleBody(BaseModel):
    side: Side
    partner: str
    date: date
    invoices: list[SettleLine]
    credits: list[str] = Field(description="Receipt/payment numbers or red invoice numbers, used in this order")


@router.post("/settlements", status_code=201, tags=["documents"], summary="Settle invoices")
def settle(body: SettleBody, db: DbDep, viewer: ViewerDep) -> Any:
    """Apply advances, unapplied money or red invoices of one partner to open invoices."""
    data = cash.SettleIn(body.side, body.partner, body.date,
                         tuple(cash.SettleLineIn(x.invoice, x.amount, x.writeoff) for x in body.invoices),
                         tuple(body.credits))
    return plain(cash.settle(db, data, actor=viewer.actor))


@router.delete("/settlements/{no}", tags=["documents"], summary="Undo a settlement")
def undo_settlement(no: str, db: DbDep, viewer: ViewerDep) -> Any:
    """The settled items are open again (while the period is open)."""
    return plain(cash.undo_settlement(db, no, actor=viewer.actor))


# --- stock -------------------------------------------------------------------------------------

@router.get("/stock/batches", tags=["stock"], summary="FEFO batch suggestion")
def stock_batches(db: DbDep, viewer: ViewerDep, product: str, warehouse: str,
                  qty: Annotated[str, Query(description="Quantity wanted, e.g. \"25\"")]) -> Any:
    """Which batches a delivery of `qty` should take, earliest expiry first."""
    wanted = _decimal_query("qty", qty)
    return plain(apiviews.suggest_batches(db, product, warehouse, wanted, actor=viewer.actor))


def _decimal_query(field: str, text: str) -> Decimal:
    parsed = parse_decimal(text)
    if parsed is None:
        raise InvalidInput(field=field, reason="input.not_decimal", value=text[:60])
    return parsed
