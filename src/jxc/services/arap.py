"""Receivable and payable open items (往来未清项) and settlement (核销).

Every posted voucher line on an AR/AP account (应收 1122, 预收 2203, 应付 220201,
预付 1123) that names a partner is an open item, whatever made the voucher: an
invoice, a receipt or payment, a settlement, a manual voucher. Opening balances on
those accounts are items too. So the items of an account and partner always add up
to its general-ledger balance, which `jxc verify` re-proves.

Settlement pairs a debit item with a credit item of the same account and partner
and reduces the open amount of both; it writes nothing to the ledger. Moving money
between accounts (applying a 预收 to an invoice) is a voucher first, whose lines
are items, then a settlement of those.

The voucher functions (services/vouchers.py) call add_voucher_items,
drop_voucher_items and adjust_items; nothing else writes items.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, literal, select

from jxc.db.base import table_of
from jxc.db.models import Account, ArapItem, Settlement, SettlementPair, Voucher, VoucherLine
from jxc.domain.numbers import ZERO
from jxc.domain.trade import ITEM_ACCOUNTS, SettleRefused
from jxc.services.common import DB, conn_of, per_transaction, update_many

ITEM = table_of(ArapItem)
PAIR = table_of(SettlementPair)
SETTLEMENT = table_of(Settlement)
ACCOUNT = table_of(Account)
VLINE = table_of(VoucherLine)
VOUCHER = table_of(Voucher)

_ITEM_ACCOUNT_IDS = select(ACCOUNT.c.id).where(ACCOUNT.c.code.in_(ITEM_ACCOUNTS)).scalar_subquery()


_ITEM_ACCOUNTS_Q = select(ACCOUNT.c.code, ACCOUNT.c.id).where(ACCOUNT.c.code.in_(ITEM_ACCOUNTS))


def item_account_ids(db: DB) -> dict[str, int]:
    """code -> id of the open-item accounts present in the chart."""
    return per_transaction(db, "item_accounts", lambda: {r.code: r.id for r in conn_of(db).execute(_ITEM_ACCOUNTS_Q)})


_OPEN_OF = (select(func.sum(ITEM.c.open)).join(ACCOUNT, ACCOUNT.c.id == ITEM.c.account_id)
            .where(ACCOUNT.c.code.in_(bindparam("codes", expanding=True)), ITEM.c.partner_id == bindparam("p")))


def open_balance_of(db: DB, codes: Sequence[str], partner_id: int) -> Decimal:
    """Σ open of a partner's items on the accounts with these codes (debit +)."""
    total = conn_of(db).execute(_OPEN_OF, {"codes": list(codes), "p": partner_id}).scalar()
    return Decimal(total) if total is not None else ZERO


_AMOUNT = VLINE.c.debit - VLINE.c.credit
_ADD_ITEMS = insert(ITEM).from_select(
    ["account_id", "partner_id", "item_date", "amount", "open", "source_type", "source_id", "voucher_id", "line_no",
     "memo"],
    select(VLINE.c.account_id, VLINE.c.partner_id, VLINE.c.voucher_date, _AMOUNT, _AMOUNT,
           func.coalesce(VOUCHER.c.source_type, literal("voucher")), func.coalesce(VOUCHER.c.source_id, VOUCHER.c.id),
           VOUCHER.c.id, VLINE.c.line_no, VLINE.c.memo)
    .join(VOUCHER, VOUCHER.c.id == VLINE.c.voucher_id)
    .where(VLINE.c.voucher_id.in_(bindparam("vids", expanding=True)), VLINE.c.line_no >= bindparam("first"),
           VLINE.c.partner_id.is_not(None), VLINE.c.account_id.in_(_ITEM_ACCOUNT_IDS)))


def add_voucher_items(db: DB, voucher_ids: Sequence[int], first_line: int = 1) -> None:
    """Make the open items of these posted vouchers' lines (from line first_line on)."""
    if not voucher_ids:
        return
    conn_of(db).execute(_ADD_ITEMS, {"vids": list(voucher_ids), "first": first_line})


def drop_voucher_items(db: DB, voucher_id: int, document: str) -> None:
    """Remove a voucher's items as it leaves the ledger (unpost, void, un-audit of its
    document). Refused while any of them is settled: undo the settlement first."""
    conn = conn_of(db)
    settled = conn.execute(select(func.count()).select_from(ITEM).where(
        ITEM.c.voucher_id == voucher_id, ITEM.c.open != ITEM.c.amount)).scalar_one()
    if settled:
        raise SettleRefused(document=document, reason="trade.items_settled")
    conn.execute(delete(ITEM).where(ITEM.c.voucher_id == voucher_id))


def adjust_items(db: DB, changes: Sequence[tuple[int, int, Decimal]]) -> None:
    """(voucher id, line no, signed change) of generated lines whose amounts were rewritten in
    place; the items of those lines (if any) follow."""
    rows = [(d, d, v, n) for v, n, d in changes if d]
    if rows:
        update_many(conn_of(db), ITEM, ("amount", "open"), ("voucher_id", "line_no"), rows, add=True)


_OPENING_DEL = delete(ITEM).where(ITEM.c.source_type == "opening", ITEM.c.account_id == bindparam("a"),
                                  ITEM.c.partner_id == bindparam("p"))


def sync_opening_item(db: DB, account_id: int, account_code: str, partner_id: int | None,
                      debit: Decimal, credit: Decimal, start: date) -> None:
    """An opening balance on an open-item account is an item dated the day before the books start."""
    if partner_id is None or account_code not in ITEM_ACCOUNTS:
        return
    conn = conn_of(db)
    conn.execute(_OPENING_DEL, {"a": account_id, "p": partner_id})
    if debit or credit:
        conn.execute(insert(ITEM), {"account_id": account_id, "partner_id": partner_id,
                                    "item_date": start - timedelta(days=1), "amount": debit - credit,
                                    "open": debit - credit, "source_type": "opening", "source_id": None,
                                    "voucher_id": None, "line_no": None, "memo": ""})


# --- settlement -------------------------------------------------------------------------

_LOCK_ITEMS = (select(ITEM.c.id, ITEM.c.account_id, ITEM.c.partner_id, ITEM.c.amount, ITEM.c.open)
               .where(ITEM.c.id.in_(bindparam("ids", expanding=True))).order_by(ITEM.c.id).with_for_update())


def lock_items(db: DB, ids: Sequence[int]) -> dict[int, Any]:
    return {r.id: r for r in conn_of(db).execute(_LOCK_ITEMS, {"ids": sorted(set(ids))})}


def settle_pairs(db: DB, settlement_id: int, document: str, pairs: Sequence[tuple[int, int, Decimal]]) -> None:
    """Clear (debit item, credit item, amount) pairs: both items must be of one account and
    partner, and neither may go past zero. Items are locked in id order."""
    items = lock_items(db, [x for p in pairs for x in p[:2]])
    opens = {i: r.open for i, r in items.items()}
    for debit_id, credit_id, amount in pairs:
        d, c = items[debit_id], items[credit_id]
        if (d.account_id, d.partner_id) != (c.account_id, c.partner_id):
            raise SettleRefused(document=document, reason="trade.settle_other_account")
        if amount <= 0 or opens[debit_id] < amount or -opens[credit_id] < amount:
            raise SettleRefused(document=document, reason="trade.settle_exceeds", amount=str(amount),
                                open=str(min(opens[debit_id], -opens[credit_id])))
        opens[debit_id] -= amount
        opens[credit_id] += amount
    conn = conn_of(db)
    conn.execute(insert(PAIR), [{"settlement_id": settlement_id, "debit_item_id": d, "credit_item_id": c,
                                 "amount": a} for d, c, a in pairs])
    update_many(conn, ITEM, ("open",), "id", [(opens[i], i) for i in sorted(opens)])


def unsettle(db: DB, settlement_id: int) -> None:
    """Give the items of a settlement their open amounts back and remove its pairs."""
    conn = conn_of(db)
    pairs = list(conn.execute(select(PAIR.c.debit_item_id, PAIR.c.credit_item_id, PAIR.c.amount)
                              .where(PAIR.c.settlement_id == settlement_id)))
    if not pairs:
        return
    items = lock_items(db, [x for p in pairs for x in p[:2]])
    opens = {i: r.open for i, r in items.items()}
    for d, c, a in pairs:
        opens[d] += a
        opens[c] -= a
    update_many(conn, ITEM, ("open",), "id", [(opens[i], i) for i in sorted(opens)])
    conn.execute(delete(PAIR).where(PAIR.c.settlement_id == settlement_id))
