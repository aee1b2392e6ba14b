"""Inventory costing (发出存货计价): moving weighted average, FIFO and monthly
weighted average, on one running balance per product/warehouse/batch.

The ledger carries value, not a rounded unit cost (DOMAIN.md §3.3):

- moving average: an issue costs round(qty × balance value ÷ balance qty, 2), and
  the balance value becomes the previous value minus that cost;
- FIFO: an issue takes the oldest layers first, each portion costed the same way
  against its layer;
- monthly weighted average: issues carry quantity only until the costing run,
  which costs each at round(qty × exact period unit, 2) and lets the last issue
  of the period absorb the rounding residue, so issues + closing value equal
  opening + receipts to the cent;
- whichever the method, an issue that empties the balance takes all of its value,
  so zero stock never carries a residue.

Negative stock, when the book allows it: the part of an issue beyond the balance
is costed at the last known unit cost. The next receipt settles that debt: the
settled units' actual cost (the receipt's unit cost) replaces what they were
charged, and the difference, `adjust`, moves between inventory and cost of sales
on the receipt's voucher. So once the debt is settled every unit carries its
actual cost, and a receipt never leaves the estimate sitting in inventory.

Everything here is pure and mutates only the Balance it is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from jxc.domain.errors import DomainError
from jxc.domain.numbers import ZERO, Money, Qty, UnitCost, money, unit_cost


class Method(StrEnum):
    MOVING_AVERAGE = "moving_average"  # 移动加权平均
    FIFO = "fifo"  # 先进先出
    MONTHLY_AVERAGE = "monthly_average"  # 月末一次加权平均


class Shortfall(DomainError, code="stock.shortfall"):
    """An issue beyond the stock on hand with negative stock forbidden.
    params: product, warehouse, batch, date, shortfall, available (filled by the service)."""


class NothingToAdjust(DomainError, code="stock.nothing_to_adjust"):
    """A cost adjustment on a product/warehouse with no stock. params: product, warehouse."""


@dataclass(slots=True)
class Layer:
    """A FIFO cost layer: what is left of one receipt."""

    ident: int  # the receipt entry's
    qty: Qty
    value: Money


@dataclass(slots=True)
class Balance:
    """The running balance of one product/warehouse/batch. `last_unit` is the last known unit
    cost, used to cost issues beyond the stock and inflows that bring no price of their own.
    `layers` (FIFO only) always sum to qty and value while qty ≥ 0; below zero they are empty."""

    qty: Qty = ZERO
    value: Money = ZERO
    last_unit: UnitCost = ZERO
    layers: list[Layer] = field(default_factory=list)

    def copy(self) -> Balance:
        return Balance(self.qty, self.value, self.last_unit, [Layer(x.ident, x.qty, x.value) for x in self.layers])

    def unit_now(self) -> UnitCost:
        """The unit cost an unpriced movement takes right now."""
        return unit_cost(self.value / self.qty) if self.qty > 0 else self.last_unit


@dataclass(frozen=True, slots=True)
class Move:
    """One stock ledger entry to cost.

    qty: signed, + into stock, - out of it (0 for a value-only cost adjustment).
    value: the signed value when it is known before costing (a priced receipt, goods
    coming back at the cost they left at, a cost adjustment); None when the method
    decides (issues, and inflows without a price such as a stocktake gain).
    prefer_layer (FIFO): the receipt whose layer an outflow leaves from first, when it
    returns or reverses that receipt.
    """

    entry_id: int
    qty: Qty
    value: Money | None = None
    prefer_layer: int | None = None


@dataclass(frozen=True, slots=True)
class Costed:
    value: Money  # signed, like qty
    adjust: Money  # negative-stock settlement moved from inventory to cost of sales (+) or back (-)
    qty_after: Qty
    value_after: Money
    unit_after: UnitCost
    takes: tuple[tuple[int, Qty, Money], ...] = ()  # FIFO: (layer entry id, qty, value) consumed


def portion(qty: Qty, of_qty: Qty, of_value: Money) -> Money:
    """The value of `qty` out of a holding of `of_qty` worth `of_value`: all of it when it is
    all of it, otherwise round(qty × value ÷ quantity, 2) half-up."""
    if qty == of_qty:
        return of_value
    return money(qty * of_value / of_qty)


def cost_move(method: Method, bal: Balance, move: Move, *, allow_negative: bool) -> Costed:
    """Cost one movement against the running balance and advance the balance.

    Monthly average issues come out at value 0 here: they are costed by `monthly_run`.
    Raises Shortfall when an outflow exceeds the stock and negative stock is forbidden.
    """
    if move.qty > 0:
        return _inflow(method, bal, move)
    if move.qty < 0:
        return _outflow(method, bal, move, allow_negative=allow_negative)
    return _adjust_value(method, bal, move)


def _done(method: Method, bal: Balance, value: Money, adjust: Money = ZERO,
          takes: tuple[tuple[int, Qty, Money], ...] = ()) -> Costed:
    # A monthly-average balance carries uncosted issues until the run, so its value ÷ qty
    # is not a unit cost; the run and priced receipts set last_unit instead.
    if bal.qty > 0 and method is not Method.MONTHLY_AVERAGE:
        bal.last_unit = unit_cost(bal.value / bal.qty)
    return Costed(value, adjust, bal.qty, bal.value, bal.last_unit, takes)


def _inflow(method: Method, bal: Balance, move: Move) -> Costed:
    q = move.qty
    monthly = method is Method.MONTHLY_AVERAGE
    # Unpriced inflows take the current unit cost; monthly average leaves them to the run.
    v = (ZERO if monthly else money(q * bal.unit_now())) if move.value is None else move.value
    adjust = ZERO
    had_debt = bal.qty < 0
    if had_debt and not monthly:
        debt = -bal.qty
        settled = min(q, debt)
        adjust = portion(settled, q, v) - portion(settled, debt, -bal.value)
    bal.qty += q
    bal.value += v - adjust
    if move.value is not None:
        bal.last_unit = unit_cost(v / q)
    if method is Method.FIFO and bal.qty > 0:
        # After a debt is settled what is left is exactly the balance; otherwise a new layer.
        bal.layers.append(Layer(move.entry_id, bal.qty, bal.value) if had_debt else Layer(move.entry_id, q, v))
    return _done(method, bal, v, adjust)


def _outflow(method: Method, bal: Balance, move: Move, *, allow_negative: bool) -> Costed:
    q = -move.qty
    available = max(bal.qty, ZERO)
    if q > available and not allow_negative:
        raise Shortfall(shortfall=q - available, available=available)
    if method is Method.MONTHLY_AVERAGE:
        # Mid-period the balance value still holds the issues not yet costed, so it says nothing
        # about what this outflow is worth: unpriced ones wait for the run, priced ones keep their value.
        cost = ZERO if move.value is None else -move.value
        bal.qty -= q
        bal.value -= cost
        return _done(method, bal, -cost)
    if method is Method.FIFO:
        return _fifo_out(bal, move, q)
    if q < bal.qty:
        cost = portion(q, bal.qty, bal.value) if move.value is None else -move.value
    else:  # all there is, and anything beyond it at the last known unit cost
        cost = (bal.value if bal.qty > 0 else ZERO) + money((q - available) * bal.last_unit)
    bal.qty -= q
    bal.value -= cost
    return _done(method, bal, -cost)


def _fifo_out(bal: Balance, move: Move, q: Qty) -> Costed:
    order = list(bal.layers)
    if move.prefer_layer is not None:
        order.sort(key=lambda x: x.ident != move.prefer_layer)  # stable: the preferred first
    takes: list[tuple[int, Qty, Money]] = []
    left = q
    for layer in order:
        if left == 0:
            break
        take = min(layer.qty, left)
        value = portion(take, layer.qty, layer.value)
        layer.qty -= take
        layer.value -= value
        left -= take
        takes.append((layer.ident, take, value))
    bal.layers = [x for x in bal.layers if x.qty > 0]
    cost = sum((t[2] for t in takes), ZERO)
    if left > 0:  # beyond the layers: negative stock, at the last known unit cost
        cost += money(left * bal.last_unit)
    bal.qty -= q
    bal.value -= cost
    return _done(Method.FIFO, bal, -cost, takes=tuple(takes))


def _adjust_value(method: Method, bal: Balance, move: Move) -> Costed:
    """成本调整: a value-only change to the stock on hand."""
    v = move.value or ZERO
    if bal.qty <= 0:
        raise NothingToAdjust()
    bal.value += v
    takes: tuple[tuple[int, Qty, Money], ...] = ()
    if method is Method.FIFO and bal.layers:
        # The newest receipt is what a freight or price correction concerns, unless the move
        # names one (an invoice's price difference for its receipt). Recorded as a take of minus
        # the amount, so that undoing the adjustment gives the layer its value back.
        layer = next((x for x in bal.layers if x.ident == move.prefer_layer), bal.layers[-1])
        layer.value += v
        takes = ((layer.ident, ZERO, -v),)
    return _done(method, bal, v, takes=takes)


def moving_average_run(bal: Balance, moves: Sequence[tuple[Qty, Money | None]], *, allow_negative: bool,
                       ) -> list[tuple[Money, Money, Qty, Money, UnitCost]]:
    """cost_move for a run of moving-average movements, (qty, value or None) each, with the same
    rules and results, written as one loop over local variables: re-costing 100,000 entries
    after a back-dated receipt spends its time here. Returns (value, adjust, qty after, value
    after, unit after) per movement and advances `bal`. A refusal carries `index`, the
    position of the movement that caused it."""
    out: list[tuple[Money, Money, Qty, Money, UnitCost]] = []
    qty, value, last = bal.qty, bal.value, bal.last_unit
    for i, (q, fixed) in enumerate(moves):
        adjust = ZERO
        if q > 0:
            v = (money(q * (unit_cost(value / qty) if qty > 0 else last)) if fixed is None else fixed)
            if qty < 0:
                debt = -qty
                settled = min(q, debt)
                adjust = portion(settled, q, v) - portion(settled, debt, -value)
            qty += q
            value += v - adjust
            if fixed is not None:
                last = unit_cost(v / q)
            moved = v
        elif q < 0:
            taken = -q
            available = qty if qty > 0 else ZERO
            if taken > available and not allow_negative:
                exc = Shortfall(shortfall=taken - available, available=available)
                exc.index = i  # type: ignore[attr-defined]
                raise exc
            if taken < qty:
                cost = portion(taken, qty, value) if fixed is None else -fixed
            else:
                cost = (value if qty > 0 else ZERO) + money((taken - available) * last)
            qty -= taken
            value -= cost
            moved = -cost
        else:
            if qty <= 0:
                err = NothingToAdjust()
                err.index = i  # type: ignore[attr-defined]
                raise err
            moved = fixed or ZERO
            value += moved
        if qty > 0:
            last = unit_cost(value / qty)
        out.append((moved, adjust, qty, value, last))
    bal.qty, bal.value, bal.last_unit = qty, value, last
    return out


@dataclass(frozen=True, slots=True)
class MonthlyResult:
    unit: UnitCost  # the period's unit cost, rounded for display; issues use the exact one
    values: tuple[Money, ...]  # per move, signed; fixed moves keep their value
    closing_qty: Qty
    closing_value: Money


def monthly_run(opening_qty: Qty, opening_value: Money, last_unit: UnitCost,
                moves: Sequence[Move]) -> MonthlyResult:
    """月末一次加权平均 for one product/warehouse/batch and one period.

    unit = (opening value + Σ priced inflows and fixed outflows) ÷ (the same quantities);
    each unpriced movement costs round(qty × unit, 2); the last unpriced issue absorbs the
    residue, so closing value is round(closing qty × unit, 2) (zero on zero stock) and
    nothing is lost or created. Without any quantity to average over, the last known unit
    cost stands in.
    """
    base_qty, base_value = opening_qty, opening_value
    for m in moves:
        if m.value is not None:
            base_qty += m.qty
            base_value += m.value
    exact = base_value / base_qty if base_qty > 0 else last_unit

    def at_unit(q: Qty) -> Money:
        # Multiply before dividing: q × V ÷ Q is exact where V ÷ Q would be cut at 28 digits,
        # and a cut-off 50.00499… must not round down what is really a tie at 50.005.
        return money(q * base_value / base_qty) if base_qty > 0 else money(q * last_unit)

    values: list[Money] = []
    closing_qty = opening_qty
    last_issue = last_out = -1
    for i, m in enumerate(moves):
        if m.qty == 0 and closing_qty <= 0:  # a cost adjustment needs stock to adjust, as in cost_move
            err = NothingToAdjust()
            err.index = i  # type: ignore[attr-defined]
            raise err
        closing_qty += m.qty
        if m.value is not None:
            values.append(m.value)
        else:
            values.append(at_unit(m.qty))
            if m.qty < 0:
                last_issue = i
        if m.qty < 0:
            last_out = i
    moved = sum(values, ZERO)
    closing_value = opening_value + moved
    # No residue on zero stock: when the period ends empty, what is left goes to the last
    # unpriced issue, or with none, to the last outflow of any kind (a transfer valued at the
    # last unit cost). Never to a priced outflow when an unpriced issue can take it: a priced
    # value counts in the unit, so the next run would start from the adjusted value and move
    # the residue again (a cent a run), and the run must give the same result every time.
    absorber = last_issue if last_issue >= 0 else (last_out if closing_qty == 0 else -1)
    if absorber >= 0:
        target = ZERO if closing_qty == 0 else at_unit(closing_qty)
        values[absorber] += target - closing_value
        closing_value = target
    return MonthlyResult(unit_cost(exact), tuple(values), closing_qty, closing_value)
