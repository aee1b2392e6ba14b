"""The trade commands of `jxc`: orders, invoices, receipts and payments, settlement (核销).
Registered on the app of jxc.cli.main when that module loads; the conventions of
stock_cmds hold: one service call per command (a receipt made from an order is the
order's form handed to the stock service), errors through _errors(), every text from
the catalogs. Warnings a step returns (a customer over the credit limit) are printed on
stderr after the step succeeded."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from jxc.cli.main import Format, FormatOpt, H, _errors, app, ctx
from jxc.cli.output import amount, err, out, print_json, table
from jxc.cli.stock_cmds import _day, _doc_saved, _num
from jxc.domain.errors import BatchInvalid, InvalidInput, JxcError
from jxc.domain.numbers import parse_decimal
from jxc.domain.permissions import Actor
from jxc.domain.trade import PREFIXES, Side, TradeWarning
from jxc.i18n import t
from jxc.services import cash, invoices, orders, stock
from jxc.services.tradecommon import parse_side

order_app = typer.Typer(no_args_is_help=True, help=H("help.order_app"))
invoice_app = typer.Typer(no_args_is_help=True, help=H("help.invoice_app"))
receipt_app = typer.Typer(no_args_is_help=True, help=H("help.receipt_app"))
payment_app = typer.Typer(no_args_is_help=True, help=H("help.payment_app"))
settle_app = typer.Typer(no_args_is_help=True, invoke_without_command=True, help=H("help.settle"))


# --- errors and warnings ----------------------------------------------------------------

def _warn(warnings: Sequence[TradeWarning], lang: str) -> None:
    for w in warnings:
        err.print(t("cli.warning", lang, text=t(w.code, lang, **w.params)))


# --- parsing input ------------------------------------------------------------------------

def _side(kind: str, side: str | None, no: str) -> str:
    """The side given, else the one the number's prefix says (CGDD-… purchase, XSFP-… sales)."""
    if side:
        return parse_side(side.strip()).value
    for s in Side:
        if no.strip().upper().startswith(PREFIXES[(kind, s)] + "-"):
            return s.value
    raise InvalidInput(field="side", reason="input.required")


def _number(field: str, text: str, errors: list[JxcError]) -> Decimal | None:
    value = parse_decimal(text)
    if value is None:
        errors.append(InvalidInput(field=field, reason="input.not_decimal", value=text))
    return value


@dataclasses.dataclass(frozen=True, slots=True)
class _Line:
    product: str
    qty: Decimal | None
    price: Decimal | None
    price_incl_tax: Decimal | None
    tax_rate: Decimal | None


def _trade_lines(specs: Sequence[str], incl_tax: bool) -> list[_Line]:
    """PRODUCT,QTY,PRICE[,TAX_RATE] per line; every malformed part is reported at once, named
    by its line and field. A missing price is left to the service, which names it too."""
    errors: list[JxcError] = []
    lines = []
    price_field = "price_incl_tax" if incl_tax else "price"
    for i, spec in enumerate(specs, start=1):
        parts = [p.strip() for p in spec.split(",")]
        if not 2 <= len(parts) <= 4 or not parts[0] or not parts[1]:
            errors.append(InvalidInput(field=f"lines[{i}]", reason="cli.trade_line_format", value=spec))
            continue
        parts += [""] * (4 - len(parts))
        product, qty_text, price_text, rate_text = parts
        qty = _number(f"lines[{i}].qty", qty_text, errors)
        price = _number(f"lines[{i}].{price_field}", price_text, errors) if price_text else None
        rate = _number(f"lines[{i}].tax_rate", rate_text, errors) if rate_text else None
        lines.append(_Line(product, qty, None if incl_tax else price, price if incl_tax else None, rate))
    if errors:
        raise BatchInvalid(errors)
    return lines


def _settle_lines(specs: Sequence[str], field: str) -> tuple[cash.SettleLineIn, ...]:
    """INVOICE:AMOUNT[:WRITEOFF] per line."""
    errors: list[JxcError] = []
    lines = []
    for i, spec in enumerate(specs, start=1):
        parts = [p.strip() for p in spec.split(":")]
        if not 2 <= len(parts) <= 3 or not parts[0] or not parts[1]:
            errors.append(InvalidInput(field=f"{field}[{i}]", reason="cli.settle_line_format", value=spec))
            continue
        money = _number(f"{field}[{i}].amount", parts[1], errors)
        writeoff = _number(f"{field}[{i}].writeoff", parts[2], errors) if len(parts) == 3 and parts[2] else None
        if money is not None:
            lines.append(cash.SettleLineIn(parts[0], money, writeoff if writeoff is not None else Decimal(0)))
    if errors:
        raise BatchInvalid(errors)
    return tuple(lines)


def _found(db: Session, find: Callable[[Session, str, str], int], side: str, no: str) -> int:
    """A document id by number; the read ends so the service can begin its own transaction."""
    found = find(db, side, no)
    db.rollback()
    return found


# --- options shared by the commands -----------------------------------------------------------

SideOpt = Annotated[str, typer.Option("--side", help=H("help.opt_side"))]
SideInferOpt = Annotated[str | None, typer.Option("--side", help=H("help.opt_side_infer"))]
PartnerOpt = Annotated[str, typer.Option("--partner", help=H("help.opt_partner"))]
DateOpt = Annotated[str, typer.Option("--date", help=H("help.opt_date"))]
LinesOpt = Annotated[list[str] | None, typer.Option("--line", "-l", help=H("help.opt_trade_line"))]
InclTaxOpt = Annotated[bool, typer.Option("--incl-tax", help=H("help.opt_incl_tax"))]
AuditOpt = Annotated[bool, typer.Option("--audit", help=H("help.opt_audit_trade"))]
NoOpt = Annotated[str | None, typer.Option("--no", help=H("help.opt_trade_no"))]
MemoOpt = Annotated[str, typer.Option("--memo", help=H("help.opt_memo"))]
SalespersonOpt = Annotated[str, typer.Option("--salesperson", help=H("help.opt_salesperson"))]
FromOpt = Annotated[str, typer.Option("--from", help=H("help.opt_date_from"))]
ToOpt = Annotated[str, typer.Option("--to", help=H("help.opt_date_to"))]
LimitOpt = Annotated[int, typer.Option("--limit", help=H("help.opt_limit"))]
AfterOpt = Annotated[int | None, typer.Option("--after", help=H("help.opt_after_id"))]
OverrideOpt = Annotated[bool, typer.Option("--override-match", help=H("help.opt_override_match"))]
OrderNoArg = Annotated[str, typer.Argument(help=H("help.arg_order_no"))]
InvoiceNoArg = Annotated[str, typer.Argument(help=H("help.arg_invoice_no"))]
CashNoArg = Annotated[str, typer.Argument(help=H("help.arg_cash_no"))]


def _header(pairs: Sequence[tuple[str, object]], lang: str) -> None:
    for code, value in pairs:
        if value not in (None, ""):
            out.print(f"{t(code, lang)}: {value}")


# --- orders ---------------------------------------------------------------------------------

def _order_saved(ref: orders.OrderRef, lang: str) -> None:
    out.print(t("cli.order_saved", lang, doc=t(f"docname.order_{ref.side}", lang), no=ref.no,
                status=t(f"status.{ref.status}", lang), total=amount(ref.total, blank_zero=False)))
    _warn(ref.warnings, lang)


@order_app.command("add", help=H("help.order_add"))
def order_add(
    side: SideOpt,
    partner: PartnerOpt,
    doc_date: DateOpt,
    line: LinesOpt = None,
    incl_tax: InclTaxOpt = False,
    delivery_date: Annotated[str | None, typer.Option("--delivery-date", help=H("help.opt_delivery_date"))] = None,
    salesperson: SalespersonOpt = "",
    memo: MemoOpt = "",
    no: NoOpt = None,
    audit: AuditOpt = False,
) -> None:
    """Enter an order, e.g. --side purchase --partner S001 --date 2026-06-01 --line P001,100,12.50."""
    c = ctx()
    with _errors():
        day = _day("date", doc_date)
        delivery = _day("delivery_date", delivery_date) if delivery_date else None
        lines = tuple(orders.OrderLineIn(x.product, x.qty, x.price, x.price_incl_tax, x.tax_rate)
                      for x in _trade_lines(line or [], incl_tax))
        data = orders.OrderIn(side.strip(), partner.strip(), day, lines, delivery_date=delivery, no=no, memo=memo,
                              salesperson=salesperson)
        db = c.session()
        _order_saved(orders.create_order(db, data, actor=c.actor(db), audit=audit), c.lang)


def _order_step(no: str, side: str | None, action: str) -> None:
    c = ctx()
    with _errors():
        db = c.session()
        actor = c.actor(db)
        order_id = _found(db, orders.find_order_id, _side("order", side, no), no.strip())
        _order_saved(orders.order_action(db, order_id, action, actor=actor), c.lang)


@order_app.command("audit", help=H("help.order_audit"))
def order_audit(no: OrderNoArg, side: SideInferOpt = None) -> None:
    """Audit an order."""
    _order_step(no, side, "audit")


@order_app.command("unaudit", help=H("help.order_unaudit"))
def order_unaudit(no: OrderNoArg, side: SideInferOpt = None) -> None:
    """Return an order nothing was done against to draft."""
    _order_step(no, side, "unaudit")


@order_app.command("close", help=H("help.order_close"))
def order_close(no: OrderNoArg, side: SideInferOpt = None) -> None:
    """Close an order."""
    _order_step(no, side, "close")


@order_app.command("reopen", help=H("help.order_reopen"))
def order_reopen(no: OrderNoArg, side: SideInferOpt = None) -> None:
    """Reopen a closed order."""
    _order_step(no, side, "reopen")


@order_app.command("cancel", help=H("help.order_cancel"))
def order_cancel(no: OrderNoArg, side: SideInferOpt = None) -> None:
    """Cancel an order."""
    _order_step(no, side, "cancel")


@order_app.command("delete", help=H("help.order_delete"))
def order_delete(no: OrderNoArg, side: SideInferOpt = None) -> None:
    """Delete a draft order."""
    c = ctx()
    with _errors():
        db = c.session()
        actor = c.actor(db)
        which = _side("order", side, no)
        orders.delete_order(db, _found(db, orders.find_order_id, which, no.strip()), actor=actor)
        out.print(t("cli.trade_deleted", c.lang, doc=t(f"docname.order_{which}", c.lang), no=no.strip()))


@order_app.command("show", help=H("help.order_show"))
def order_show(no: OrderNoArg, side: SideInferOpt = None, fmt: FormatOpt = Format.table) -> None:
    """An order with its lines and what was done against them."""
    c = ctx()
    with _errors():
        db = c.session()
        actor = c.actor(db)
        o = orders.get_order(db, _found(db, orders.find_order_id, _side("order", side, no), no.strip()), actor=actor)
        if fmt is Format.json:
            print_json({**_plain_fields(o), "lines": [{**_plain_fields(ln), "open": ln.open} for ln in o.lines]})
            return
        lang = c.lang
        _header([("col.partner", o.partner), ("col.delivery_date", o.delivery_date),
                 ("col.salesperson", o.salesperson), ("col.memo", o.memo)], lang)
        done = f"col.done_{o.side}"
        cols = [("col.product", False), ("col.qty", True), ("col.price", True), ("col.tax_rate", True),
                ("col.amount", True), ("col.tax", True), ("col.delivery_date", False), (done, True),
                ("col.returned", True), ("col.invoiced", True), ("col.open_qty", True)]
        rows = [[ln.product, _num(ln.qty), _num(ln.price), _num(ln.tax_rate), amount(ln.amount), amount(ln.tax),
                 ln.delivery_date.isoformat() if ln.delivery_date else "", _num(ln.done), _num(ln.returned),
                 _num(ln.invoiced), _num(ln.open)] for ln in o.lines]
        table(t("title.order", lang, doc=t(f"docname.order_{o.side}", lang), no=o.no, date=o.order_date,
                status=t(f"status.{o.status}", lang), execution=t(f"execution.{o.execution}", lang)),
              cols, rows, lang, footer=[t("col.total", lang), "", "", "", amount(o.amount), amount(o.tax), "", "",
                                        "", "", ""])
        out.print(f"{t('col.total_incl_tax', lang)}: {amount(o.amount + o.tax, blank_zero=False)}")


def _plain_fields(obj: object) -> dict[str, object]:
    """A view's own fields (not nested lines), for JSON."""
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)  # type: ignore[arg-type]
            if f.name != "lines"}


@order_app.command("list", help=H("help.order_list"))
def order_list(
    side: SideOpt,
    date_from: FromOpt,
    date_to: ToOpt,
    partner: Annotated[str | None, typer.Option("--partner", help=H("help.opt_partner"))] = None,
    status: Annotated[str | None, typer.Option("--status", help=H("help.opt_order_status"))] = None,
    limit: LimitOpt = 100,
    after: AfterOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Orders of a date range in entry order, a page at a time."""
    c = ctx()
    with _errors():
        days = _day("date_from", date_from), _day("date_to", date_to)
        db = c.session()
        found = orders.list_orders(db, actor=c.actor(db), side=side.strip(), date_from=days[0], date_to=days[1],
                                   partner=partner, status=status, after=after, limit=limit)
        more = found[-1].id if len(found) == limit else None
        if fmt is Format.json:
            print_json({"orders": found, "next_after": more})
            return
        rows = [[o.order_date.isoformat(), o.no, o.partner, t(f"status.{o.status}", c.lang),
                 amount(o.total, blank_zero=False), str(o.id)] for o in found]
        table(t("title.order_list", c.lang, side=t(f"side.{parse_side(side.strip()).value}", c.lang),
                date_from=days[0], date_to=days[1]),
              [("col.date", False), ("col.document", False), ("col.partner", False), ("col.status", False),
               ("col.total_incl_tax", True), ("col.id", True)], rows, c.lang)
        if more is not None:
            out.print(t("cli.more_trade", c.lang, after=more))


def _from_order(side: Side, no: str, doc_date: str, warehouse: str, doc_no: str | None, memo: str,
                audit: bool) -> None:
    """A receipt (purchase) or delivery (sales) of what is still open on the order."""
    c = ctx()
    with _errors():
        day = _day("date", doc_date)
        db = c.session()
        actor = c.actor(db)
        form = orders.stock_doc_from_order(db, side.value, no.strip(), day, warehouse.strip(), actor=actor)
        form = dataclasses.replace(form, no=doc_no, memo=memo)
        ref = stock.create_stock_doc(db, form, actor=actor, audit=audit)
        _doc_saved(ref, c.lang)
        _warn(ref.warnings, c.lang)


WarehouseOpt = Annotated[str, typer.Option("--warehouse", help=H("help.opt_warehouse"))]
StockAuditOpt = Annotated[bool, typer.Option("--audit", help=H("help.opt_audit_doc"))]
DocNoOpt = Annotated[str | None, typer.Option("--no", help=H("help.opt_doc_no"))]


@order_app.command("receive", help=H("help.order_receive"))
def order_receive(no: OrderNoArg, doc_date: DateOpt, warehouse: WarehouseOpt, audit: StockAuditOpt = False,
                  doc_no: DocNoOpt = None, memo: MemoOpt = "") -> None:
    """A purchase receipt for what is still open on a purchase order."""
    _from_order(Side.PURCHASE, no, doc_date, warehouse, doc_no, memo, audit)


@order_app.command("deliver", help=H("help.order_deliver"))
def order_deliver(no: OrderNoArg, doc_date: DateOpt, warehouse: WarehouseOpt, audit: StockAuditOpt = False,
                  doc_no: DocNoOpt = None, memo: MemoOpt = "") -> None:
    """A sales delivery for what is still open on a sales order."""
    _from_order(Side.SALES, no, doc_date, warehouse, doc_no, memo, audit)


# --- invoices ----------------------------------------------------------------------------------

KindOpt = Annotated[str, typer.Option("--kind", help=H("help.opt_invoice_kind"))]
SourceOpt = Annotated[list[str] | None, typer.Option("--source", help=H("help.opt_invoice_source"))]
RedOpt = Annotated[bool, typer.Option("--red", help=H("help.opt_red_invoice"))]


def _invoice_saved(ref: invoices.InvoiceRef, kind: str, lang: str) -> None:
    word = t(f"invoicekind.{kind}", lang)
    out.print(t("cli.invoice_saved", lang, doc=t(f"docname.invoice_{ref.side}", lang), no=ref.no,
                kind=f"{word} {t('word.red', lang)}" if ref.red else word, status=t(f"status.{ref.status}", lang),
                total=amount(ref.total, blank_zero=False)))


@invoice_app.command("add", help=H("help.invoice_add"))
def invoice_add(
    side: SideOpt,
    partner: PartnerOpt,
    doc_date: DateOpt,
    line: LinesOpt = None,
    kind: KindOpt = "special",
    source: SourceOpt = None,
    red: RedOpt = False,
    incl_tax: InclTaxOpt = False,
    salesperson: SalespersonOpt = "",
    memo: MemoOpt = "",
    no: NoOpt = None,
    audit: AuditOpt = False,
    override_match: OverrideOpt = False,
) -> None:
    """Enter an invoice, standalone or billing receipts/deliveries (--source)."""
    c = ctx()
    with _errors():
        day = _day("date", doc_date)
        lines = tuple(invoices.InvoiceLineIn(x.product, x.qty, x.price, x.price_incl_tax, x.tax_rate)
                      for x in _trade_lines(line or [], incl_tax))
        data = invoices.InvoiceIn(side.strip(), partner.strip(), day, lines, invoice_kind=kind.strip(),
                                  sources=tuple(s.strip() for s in source or []), red=red, no=no, memo=memo,
                                  salesperson=salesperson)
        db = c.session()
        ref = invoices.create_invoice(db, data, actor=c.actor(db), audit=audit, override_match=override_match)
        _invoice_saved(ref, data.invoice_kind, c.lang)


@invoice_app.command("from", help=H("help.invoice_from"))
def invoice_from(
    side: SideOpt,
    source: Annotated[list[str], typer.Option("--source", help=H("help.opt_invoice_source"))],
    doc_date: DateOpt,
    kind: KindOpt = "special",
    red: RedOpt = False,
    memo: MemoOpt = "",
    no: NoOpt = None,
    audit: AuditOpt = False,
    override_match: OverrideOpt = False,
) -> None:
    """An invoice for what is not yet invoiced on these receipts/deliveries (red: returns)."""
    c = ctx()
    with _errors():
        day = _day("date", doc_date)
        db = c.session()
        actor = c.actor(db)
        form = invoices.invoice_from_stock(db, side.strip(), [s.strip() for s in source], day, actor=actor, red=red,
                                           invoice_kind=kind.strip())
        form = dataclasses.replace(form, no=no, memo=memo)
        ref = invoices.create_invoice(db, form, actor=actor, audit=audit, override_match=override_match)
        _invoice_saved(ref, form.invoice_kind, c.lang)


def _invoice_id(db: Session, side: str | None, no: str) -> int:
    return _found(db, invoices.find_invoice_id, _side("invoice", side, no), no.strip())


def _invoice_kind(db: Session, invoice_id: int, actor: Actor) -> str:
    return invoices.get_invoice(db, invoice_id, actor=actor).invoice_kind


@invoice_app.command("audit", help=H("help.invoice_audit"))
def invoice_audit(no: InvoiceNoArg, side: SideInferOpt = None, override_match: OverrideOpt = False) -> None:
    """Audit an invoice."""
    c = ctx()
    with _errors():
        db = c.session()
        actor = c.actor(db)
        invoice_id = _invoice_id(db, side, no)
        ref = invoices.audit_invoice(db, invoice_id, actor=actor, override_match=override_match)
        _invoice_saved(ref, _invoice_kind(db, invoice_id, actor), c.lang)


@invoice_app.command("unaudit", help=H("help.invoice_unaudit"))
def invoice_unaudit(no: InvoiceNoArg, side: SideInferOpt = None) -> None:
    """Return an audited invoice to draft."""
    c = ctx()
    with _errors():
        db = c.session()
        actor = c.actor(db)
        invoice_id = _invoice_id(db, side, no)
        ref = invoices.unaudit_invoice(db, invoice_id, actor=actor)
        _invoice_saved(ref, _invoice_kind(db, invoice_id, actor), c.lang)


@invoice_app.command("delete", help=H("help.invoice_delete"))
def invoice_delete(no: InvoiceNoArg, side: SideInferOpt = None) -> None:
    """Delete a draft invoice."""
    c = ctx()
    with _errors():
        db = c.session()
        actor = c.actor(db)
        which = _side("invoice", side, no)
        invoices.delete_invoice(db, _found(db, invoices.find_invoice_id, which, no.strip()), actor=actor)
        out.print(t("cli.trade_deleted", c.lang, doc=t(f"docname.invoice_{which}", c.lang), no=no.strip()))


@invoice_app.command("show", help=H("help.invoice_show"))
def invoice_show(no: InvoiceNoArg, side: SideInferOpt = None, fmt: FormatOpt = Format.table) -> None:
    """An invoice with its lines, the documents it bills, its voucher and what is open."""
    c = ctx()
    with _errors():
        db = c.session()
        actor = c.actor(db)
        v = invoices.get_invoice(db, _invoice_id(db, side, no), actor=actor)
        if fmt is Format.json:
            print_json(v)
            return
        lang = c.lang
        _header([("col.partner", v.partner), ("col.voucher", v.voucher),
                 ("col.open_amount", None if v.open is None else amount(v.open, blank_zero=False)),
                 ("col.match_override", v.match_override)], lang)
        cols = [("col.product", False), ("col.qty", True), ("col.price", True), ("col.tax_rate", True),
                ("col.amount", True), ("col.tax", True), ("col.total_incl_tax", True), ("col.source", False)]
        rows = [[ln.product, _num(ln.qty), _num(ln.price), _num(ln.tax_rate), amount(ln.amount), amount(ln.tax),
                 amount(ln.total), ", ".join(f"{doc} × {_num(q)}" for doc, q in ln.billed)] for ln in v.lines]
        word = t(f"invoicekind.{v.invoice_kind}", lang)
        status = t(f"status.{v.status}", lang)
        table(t("title.invoice", lang, doc=t(f"docname.invoice_{v.side}", lang), no=v.no, date=v.invoice_date,
                kind=word, status=f"{status} {t('word.red', lang)}" if v.red else status), cols, rows, lang,
              footer=[t("col.total", lang), "", "", "", amount(v.amount), amount(v.tax), amount(v.total), ""])


@invoice_app.command("list", help=H("help.invoice_list"))
def invoice_list(
    side: SideOpt,
    date_from: FromOpt,
    date_to: ToOpt,
    partner: Annotated[str | None, typer.Option("--partner", help=H("help.opt_partner"))] = None,
    limit: LimitOpt = 100,
    after: AfterOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Invoices of a date range in entry order, a page at a time."""
    c = ctx()
    with _errors():
        days = _day("date_from", date_from), _day("date_to", date_to)
        db = c.session()
        found = invoices.list_invoices(db, actor=c.actor(db), side=side.strip(), date_from=days[0],
                                       date_to=days[1], partner=partner, after=after, limit=limit)
        more = found[-1].id if len(found) == limit else None
        if fmt is Format.json:
            print_json({"invoices": found, "next_after": more})
            return
        lang = c.lang
        rows = [[v.invoice_date.isoformat(), v.no, v.partner, t(f"invoicekind.{v.invoice_kind}", lang),
                 f"{t(f'status.{v.status}', lang)} {t('word.red', lang)}" if v.red else t(f"status.{v.status}", lang),
                 amount(v.total, blank_zero=False), str(v.id)] for v in found]
        table(t("title.invoice_list", lang, side=t(f"side.{parse_side(side.strip()).value}", lang),
                date_from=days[0], date_to=days[1]),
              [("col.date", False), ("col.invoice", False), ("col.partner", False), ("col.invoice_kind", False),
               ("col.status", False), ("col.total_incl_tax", True), ("col.id", True)], rows, lang)
        if more is not None:
            out.print(t("cli.more_trade", lang, after=more))


# --- receipts and payments -------------------------------------------------------------------

def _cash_saved(ref: cash.CashRef, lang: str) -> None:
    out.print(t("cli.cash_saved", lang, doc=t(f"docname.cash_{ref.side}", lang), no=ref.no,
                status=t(f"status.{ref.status}", lang), amount=amount(ref.amount, blank_zero=False),
                advance=amount(ref.advance, blank_zero=False)))


def _cash_commands(sub: typer.Typer, side: Side) -> None:
    """add, audit, unaudit, delete and show for receipts (sales) or payments (purchase)."""
    name = "receipt" if side is Side.SALES else "payment"

    @sub.command("add", help=H(f"help.{name}_add"))
    def add_cmd(
        partner: PartnerOpt,
        account: Annotated[str, typer.Option("--account", help=H("help.opt_cash_account"))],
        money: Annotated[str, typer.Option("--amount", help=H("help.opt_cash_amount"))],
        doc_date: DateOpt,
        settle: Annotated[list[str] | None, typer.Option("--settle", help=H("help.opt_cash_settle"))] = None,
        memo: MemoOpt = "",
        no: NoOpt = None,
        audit: AuditOpt = False,
    ) -> None:
        c = ctx()
        with _errors():
            day = _day("date", doc_date)
            errors: list[JxcError] = []
            value = _number("amount", money, errors)
            if errors:
                raise BatchInvalid(errors)
            assert value is not None
            data = cash.CashIn(side.value, partner.strip(), account.strip(), value, day,
                               _settle_lines(settle or [], "settle"), no=no, memo=memo)
            db = c.session()
            _cash_saved(cash.create_cash(db, data, actor=c.actor(db), audit=audit), c.lang)

    def step(no: str, action: str) -> None:
        c = ctx()
        with _errors():
            db = c.session()
            actor = c.actor(db)
            cash_id = _found(db, cash.find_cash_id, side.value, no.strip())
            if action == "delete":
                cash.delete_cash(db, cash_id, actor=actor)
                out.print(t("cli.trade_deleted", c.lang, doc=t(f"docname.cash_{side.value}", c.lang),
                            no=no.strip()))
                return
            run = cash.audit_cash if action == "audit" else cash.unaudit_cash
            _cash_saved(run(db, cash_id, actor=actor), c.lang)

    @sub.command("audit", help=H("help.cash_audit"))
    def audit_cmd(no: CashNoArg) -> None:
        step(no, "audit")

    @sub.command("unaudit", help=H("help.cash_unaudit"))
    def unaudit_cmd(no: CashNoArg) -> None:
        step(no, "unaudit")

    @sub.command("delete", help=H("help.cash_delete"))
    def delete_cmd(no: CashNoArg) -> None:
        step(no, "delete")

    @sub.command("show", help=H("help.cash_show"))
    def show_cmd(no: CashNoArg, fmt: FormatOpt = Format.table) -> None:
        c = ctx()
        with _errors():
            db = c.session()
            actor = c.actor(db)
            v = cash.get_cash(db, _found(db, cash.find_cash_id, side.value, no.strip()), actor=actor)
            if fmt is Format.json:
                print_json({**dataclasses.asdict(v), "settled": [
                    {"invoice": inv, "amount": a, "writeoff": w} for inv, a, w in v.settled]})
                return
            lang = c.lang
            _header([("col.partner", v.partner), ("col.cash_account", v.account),
                     ("col.amount", amount(v.amount, blank_zero=False)),
                     ("col.advance_open", amount(v.advance_open, blank_zero=False))], lang)
            rows = [[inv, amount(a), amount(w)] for inv, a, w in v.settled]
            table(t("title.cash", lang, doc=t(f"docname.cash_{v.side}", lang), no=v.no, date=v.doc_date,
                    status=t(f"status.{v.status}", lang)),
                  [("col.invoice", False), ("col.settled", True), ("col.writeoff", True)], rows, lang)


_cash_commands(receipt_app, Side.SALES)
_cash_commands(payment_app, Side.PURCHASE)


# --- settlement -----------------------------------------------------------------------------------

@settle_app.callback()
def settle_cmd(
    typer_ctx: typer.Context,
    side: Annotated[str | None, typer.Option("--side", help=H("help.opt_side"))] = None,
    partner: Annotated[str | None, typer.Option("--partner", help=H("help.opt_partner"))] = None,
    doc_date: Annotated[str | None, typer.Option("--date", help=H("help.opt_date"))] = None,
    invoice: Annotated[list[str] | None, typer.Option("--invoice", help=H("help.opt_settle_invoice"))] = None,
    credit: Annotated[list[str] | None, typer.Option("--credit", help=H("help.opt_settle_credit"))] = None,
) -> None:
    """核销: apply advances, unapplied money or red invoices to open invoices of one partner."""
    if typer_ctx.invoked_subcommand is not None:
        return
    c = ctx()
    with _errors():
        missing: list[JxcError] = [InvalidInput(field=f, reason="input.required")
                                   for f, v in (("side", side), ("date", doc_date)) if not v]
        if missing:
            raise BatchInvalid(missing)
        assert side is not None and doc_date is not None
        day = _day("date", doc_date)
        data = cash.SettleIn(side.strip(), (partner or "").strip(), day, _settle_lines(invoice or [], "invoices"),
                             tuple(x.strip() for x in credit or []))
        db = c.session()
        ref = cash.settle(db, data, actor=c.actor(db))
        out.print(t("cli.settled", c.lang, no=ref.no, amount=amount(ref.amount, blank_zero=False)))


@settle_app.command("undo", help=H("help.settle_undo"))
def settle_undo(no: Annotated[str, typer.Argument(help=H("help.arg_settle_no"))]) -> None:
    """Undo a settlement while its period is open."""
    c = ctx()
    with _errors():
        db = c.session()
        ref = cash.undo_settlement(db, no.strip(), actor=c.actor(db))
        out.print(t("cli.settle_undone", c.lang, no=ref.no, amount=amount(ref.amount, blank_zero=False)))


app.add_typer(order_app, name="order")
app.add_typer(invoice_app, name="invoice")
app.add_typer(receipt_app, name="receipt")
app.add_typer(payment_app, name="payment")
app.add_typer(settle_app, name="settle")
