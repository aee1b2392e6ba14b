"""A deterministic month of inventory documents, as INTERCHANGE JSON Lines, for the inventory benchmarks.

The benchmarks of issue 3 need a stock book that looks like a trading company's
month: audit throughput (`jxc import FILE.jsonl --audit`, one document per user
action), bulk import of 1,000,000 document lines, back-dated re-costing (insert a
document early in the month and re-cost everything after it, under moving average,
FIFO, monthly average or a mix) and the stock summary (收发存汇总表) over
1,000,000 ledger entries and 10,000 products. So the file holds warehouses,
partners, products, opening stock (期初) and then documents dated within one month,
in date order: about 30% of the lines purchase receipts, 50% sales deliveries, 3%
sales returns and 2% purchase returns (each naming an earlier generated document
as `source`), 5% transfers, 5% other in/out and 5% stocktakes.

Every document is valid when replayed in file order: the generator tracks stock per
(product, warehouse, batch) and outbound lines only take what is there, returns
never exceed what their source document moved, and no document repeats a
product+batch. Everything is drawn from one `random.Random(seed)`, quantities and
prices are integers in units of 0.0001 (never floats), so equal arguments give a
byte-identical file and timings can be compared across commits.

    python -m bench.scenario bench/out/scenario-1m.jsonl --lines 1000000 --products 10000
    jxc --db sqlite:///stock.db import bench/out/scenario-1m.jsonl --audit

With `--cycles N` (issue 4) the file holds whole purchasing and sales cycles instead, in
date order over `--months` months: purchase_order → purchase_receipt (`order`) →
purchase_invoice (`source`: its receipts) → payment (`settle`), and sales_order →
sales_delivery (`order`) → sales_invoice (`source`) → receipt (`settle`). Orders have
`--lines-per-doc` lines half the time (otherwise 1 to twice that less one); a fifth are received or
delivered in two parts (a quarter of those never get the second part), a delivery takes only
what is in stock on its day (one more try for the rest), 15% of orders get an advance
(a payment/receipt with no `settle`), 10% of invoices are paid in two instalments and 5%
not at all; some invoices are 普票, some customers have credit limits, small receipts go to
cash. The master data and opening stock come from the same code as above (plus a bank
balance), so the file replays in order through the services (bench/bench_trade.py does).

    python -m bench.scenario bench/out/cycles.jsonl --cycles 20000 --products 200 --month 2026-01 --months 9
"""

from __future__ import annotations

import argparse
import calendar
import heapq
import json
import random
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

# Bump when the output for given arguments changes: cached books are keyed by it.
GENERATOR_VERSION = 1
DEFAULT_SEED = 42
METHODS = ("moving_average", "fifo", "monthly_average")
# "mixed": round-robin of the three; "half_monthly": every other product monthly average, the
# rest alternately moving average and FIFO (the month-end close benchmark, issue 5).
METHOD_CHOICES = (*METHODS, "mixed", "half_monthly")
CATEGORIES = ("电子产品", "日用百货", "食品饮料", "办公用品", "五金工具")
WAREHOUSE_NAMES = ("主仓", "北京仓", "上海仓", "广州仓", "成都仓", "武汉仓")
SHELF_LIVES = (90, 180, 365, 730)
VAT = "0.13"
OTHER_IN_REASONS = ("赠品入库", "样品退回", "委外加工入库")
OTHER_OUT_REASONS = ("内部领用", "样品出库", "报废出库")

PREFIXES = {
    "purchase_receipt": "CGRK", "purchase_return": "CGTH", "sales_delivery": "XSCK", "sales_return": "XSTH",
    "transfer": "DB", "other_in": "QTRK", "other_out": "QTCK", "stocktake": "PD",
}
# Target share of document lines per type, in percent (the weights of the document-type draw).
SHARES: dict[str, float] = {
    "purchase_receipt": 30, "sales_delivery": 50, "sales_return": 3, "purchase_return": 2,
    "transfer": 5, "other_in": 2.5, "other_out": 2.5, "stocktake": 5,
}

Q = 10_000  # quantities and prices are integers in units of 0.0001
FRACTIONAL_SHARE = 0.03  # share of receipt/delivery lines with a non-integer quantity
RETURN_POOL = 4096  # returns name one of the last RETURN_POOL receipts/deliveries
MAX_SEQ = 999_999

Record = dict[str, Any]


def _qty(q: int) -> str:
    """A quantity in units of 0.0001 as a decimal string: "12" when whole, else up to 4 places ("2.375")."""
    whole, frac = divmod(q, Q)
    return str(whole) if not frac else f"{whole}.{frac:04d}".rstrip("0")


def _price(p: int) -> str:
    """A price in units of 0.0001 with exactly 4 places."""
    whole, frac = divmod(p, Q)
    return f"{whole}.{frac:04d}"


def _money(fen: int) -> str:
    whole, frac = divmod(fen, 100)
    return f"{whole}.{frac:02d}"


def _ean13(index: int) -> str:
    """A valid EAN-13 in the 690-699 (China) prefix range, unique per product index."""
    body = f"69{index:010d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def _pick(rng: random.Random, codes: list[str]) -> str:
    """Skewed towards the first codes: a few big customers and suppliers, a long tail."""
    return codes[int(len(codes) * rng.random() ** 2)]


def _month(text: str) -> tuple[date, int]:
    """First day and number of days of a `YYYY-MM` month."""
    try:
        year, month = (int(part) for part in text.split("-"))
        first = date(year, month, 1)
    except ValueError as exc:
        raise ValueError(f"month must be YYYY-MM, got {text!r}") from exc
    return first, calendar.monthrange(year, month)[1]


class _Stock:
    """Quantity per warehouse, product and batch ("" when not batch tracked), and which products have any.

    A product's batches keep insertion order, so the first batch is the oldest (outbound lines take it:
    FIFO by receipt). `avail[w]` lists the products with stock in warehouse w for O(1) random picks.
    """

    def __init__(self, warehouses: int) -> None:
        self.qty: list[dict[int, dict[str, int]]] = [{} for _ in range(warehouses)]
        self.avail: list[list[int]] = [[] for _ in range(warehouses)]
        self._pos: list[dict[int, int]] = [{} for _ in range(warehouses)]

    def batches(self, w: int, p: int) -> dict[str, int]:
        return self.qty[w].get(p) or {}

    def add(self, w: int, p: int, batch: str, q: int) -> None:
        by_batch = self.qty[w].get(p)
        if by_batch is None:
            by_batch = self.qty[w][p] = {}
        if not by_batch:
            self._pos[w][p] = len(self.avail[w])
            self.avail[w].append(p)
        by_batch[batch] = by_batch.get(batch, 0) + q

    def take(self, w: int, p: int, batch: str, q: int) -> None:
        by_batch = self.qty[w][p]
        left = by_batch[batch] - q
        if left < 0:
            raise AssertionError(f"stock of product {p} batch {batch!r} in warehouse {w} would go negative")
        if left:
            by_batch[batch] = left
            return
        del by_batch[batch]
        if not by_batch:
            avail, pos = self.avail[w], self._pos[w]
            i = pos.pop(p)
            last = avail.pop()
            if last != p:
                avail[i] = last
                pos[last] = i


class _Generator:
    """The state of one scenario run; `records()` yields it in file order."""

    def __init__(self, *, seed: int, products: int, warehouses: int, customers: int, suppliers: int,
                 lines: int, lines_per_doc: int, month: str, method: str, batch_share: float,
                 months: int = 1) -> None:
        for name, value, low in (("products", products, 1), ("warehouses", warehouses, 1),
                                 ("customers", customers, 1), ("suppliers", suppliers, 1),
                                 ("lines", lines, 0), ("lines_per_doc", lines_per_doc, 1), ("months", months, 1)):
            if value < low:
                raise ValueError(f"{name} must be at least {low}, got {value}")
        if method not in METHOD_CHOICES:
            raise ValueError(f"method must be one of {', '.join(METHOD_CHOICES)}, got {method!r}")
        if not 0 <= batch_share <= 1:
            raise ValueError(f"batch_share must be between 0 and 1, got {batch_share}")
        self.rng = random.Random(seed)
        self.n_products, self.n_warehouses = products, warehouses
        self.lines, self.lines_per_doc = lines, lines_per_doc
        self.method, self.batch_share = method, batch_share
        self.first, self.days = _month(month)
        self.yyyymm = f"{self.first:%Y%m}"
        # The stock documents spread over `months` months from `month` (numbered per month).
        self.span = (_add_months(self.first, months) - self.first).days
        self.wh_codes = [f"WH{i:02d}" for i in range(1, warehouses + 1)]
        self.suppliers = [f"S{i:04d}" for i in range(1, suppliers + 1)]
        self.customers = [f"C{i:04d}" for i in range(1, customers + 1)]
        self.p_codes = [f"P{i:06d}" for i in range(1, products + 1)]
        self.cost: list[int] = []  # typical purchase price per product, units of 0.0001
        self.shelf_life: list[int] = []  # days; 0 when not batch tracked
        self.batch_seq = [0] * products
        self.seq: Counter[str] = Counter()
        self.stock = _Stock(warehouses)
        # Ring buffers of recent receipts/deliveries: (no, partner, warehouse, [[product, batch, left, price]]).
        self.receipts: list[tuple[str, str, int, list[list[Any]]]] = []
        self.deliveries: list[tuple[str, str, int, list[list[Any]]]] = []
        types = [t for t in SHARES if t != "transfer" or warehouses > 1]
        self.types = types
        # A return has min(drawn size, its source's size) lines, fewer than other documents on average,
        # so returns are drawn more often by E[n] / E[min(n, n')] for n, n' uniform on 1..most.
        most = 2 * lines_per_doc - 1
        boost = lines_per_doc / sum((k / most) ** 2 for k in range(1, most + 1))
        self.weights = [SHARES[t] * (boost if t.endswith("_return") else 1.0) for t in types]

    # -- master data and opening stock -------------------------------------------------------------

    def master(self) -> Iterator[Record]:
        rng = self.rng
        for i, code in enumerate(self.wh_codes):
            name = WAREHOUSE_NAMES[i] if i < len(WAREHOUSE_NAMES) else f"仓库{i + 1:02d}"
            yield {"type": "warehouse", "code": code, "name": name}
        for code in self.suppliers:
            yield {"type": "partner", "code": code, "name": f"供应商{code}", "kind": "supplier"}
        for code in self.customers:
            yield {"type": "partner", "code": code, "name": f"客户{code}", "kind": "customer"}
        tracked = set(rng.sample(range(self.n_products), round(self.batch_share * self.n_products)))
        for i, code in enumerate(self.p_codes):
            if self.method == "mixed":
                method = METHODS[i % len(METHODS)]
            elif self.method == "half_monthly":
                method = "monthly_average" if i % 2 == 0 else ("moving_average" if i % 4 == 1 else "fifo")
            else:
                method = self.method
            self.cost.append(rng.randint(100, 200_000) * 100)  # 1.00 .. 2000.00
            batch = i in tracked
            shelf = rng.choice(SHELF_LIVES) if batch else 0
            self.shelf_life.append(shelf)
            low = rng.randint(1, 5) * 10
            yield {"type": "product", "code": code, "name": f"商品{i + 1:06d}", "unit": "个",
                   "category": CATEGORIES[rng.randrange(len(CATEGORIES))], "costing_method": method,
                   "tax_rate": VAT, "barcode": _ean13(i + 1), "batch_tracked": batch,
                   "shelf_life_days": shelf or None, "min_qty": str(low), "max_qty": str(low * rng.randint(20, 50))}

    def opening(self) -> Iterator[Record]:
        """期初 for about half of the (product, warehouse) pairs, product by product, then the
        opening balances that carry it in the ledger (1405 库存商品 against 3001 实收资本), which
        the book requires to agree with the opening stock before its first posting."""
        rng = self.rng
        total = 0
        for p, code in enumerate(self.p_codes):
            for w, wh in enumerate(self.wh_codes):
                if rng.random() >= 0.5:
                    continue
                q = rng.randint(20, 300)
                unit = self.cost[p] * rng.randint(950, 1050) // 1000
                value = (q * unit + 50) // 100  # units of 0.0001 -> fen, half up
                batch: str | None = None
                expiry: str | None = None
                if self.shelf_life[p]:
                    made = self.first - timedelta(days=rng.randint(1, min(60, self.shelf_life[p] // 3)))
                    batch = self._new_batch(p, made)
                    expiry = (made + timedelta(days=self.shelf_life[p])).isoformat()
                self.stock.add(w, p, batch or "", q * Q)
                total += value
                yield {"type": "opening_stock", "product": code, "warehouse": wh, "qty": str(q),
                       "value": _money(value), "batch": batch, "expiry": expiry}
        yield {"type": "opening_balance", "account": "1405", "debit": _money(total), "credit": "0"}
        yield {"type": "opening_balance", "account": "3001", "debit": "0", "credit": _money(total)}

    # -- documents ----------------------------------------------------------------------------------

    def _new_batch(self, p: int, made: date) -> str:
        self.batch_seq[p] += 1
        return f"B{made:%Y%m%d}-{self.batch_seq[p]:03d}"

    def _no(self, kind: str) -> str:
        self.seq[kind] += 1
        n = self.seq[kind]
        if n > MAX_SEQ:
            raise ValueError(f"more than {MAX_SEQ} documents of type {kind} in one month: raise --lines-per-doc")
        return f"{PREFIXES[kind]}-{self.yyyymm}-{n:06d}"

    def _draw_qty(self, low: int, high: int) -> int:
        rng = self.rng
        if rng.random() < FRACTIONAL_SHARE:
            return rng.randint(low * Q + 1, high * Q)
        return rng.randint(low, high) * Q

    def _warehouse(self) -> int:
        return self.rng.randrange(self.n_warehouses)

    def _distinct_in_stock(self, w: int, n: int) -> list[int]:
        """Up to n distinct products with stock in warehouse w, in random order."""
        avail = self.stock.avail[w]
        if len(avail) <= n:
            picked = list(avail)
            self.rng.shuffle(picked)
            return picked
        seen: set[int] = set()
        picked = []
        rand = self.rng.random
        for _ in range(n * 3):
            p = avail[int(rand() * len(avail))]
            if p not in seen:
                seen.add(p)
                picked.append(p)
                if len(picked) == n:
                    break
        return picked

    def _remember(self, pool: list[tuple[str, str, int, list[list[Any]]]],
                  doc: tuple[str, str, int, list[list[Any]]]) -> None:
        if len(pool) < RETURN_POOL:
            pool.append(doc)
        else:
            pool[self.rng.randrange(RETURN_POOL)] = doc

    def _inbound(self, kind: str, day: date, n: int) -> Record | None:
        """purchase_receipt or other_in: new stock of n distinct products, a new batch per tracked line."""
        rng, stock = self.rng, self.stock
        w = self._warehouse()
        lines: list[Record] = []
        kept: list[list[Any]] = []
        seen: set[int] = set()
        for _ in range(n * 3):
            p = rng.randrange(self.n_products)
            if p in seen:
                continue
            seen.add(p)
            q = self._draw_qty(10, 200) if kind == "purchase_receipt" else rng.randint(1, 20) * Q
            price = _price(self.cost[p] * rng.randint(900, 1100) // 1000)
            line: Record = {"product": self.p_codes[p], "qty": _qty(q), "price": price}
            if kind == "purchase_receipt":
                line["tax_rate"] = VAT
            batch = ""
            if self.shelf_life[p]:
                batch = self._new_batch(p, day)
                line["batch"] = batch
                line["expiry"] = (day + timedelta(days=self.shelf_life[p])).isoformat()
            stock.add(w, p, batch, q)
            lines.append(line)
            kept.append([p, batch, q, price])
            if len(lines) == n:
                break
        if kind == "other_in":
            return {"type": kind, "no": self._no(kind), "date": day.isoformat(), "warehouse": self.wh_codes[w],
                    "reason": rng.choice(OTHER_IN_REASONS), "lines": lines}
        partner = _pick(rng, self.suppliers)
        no = self._no(kind)
        self._remember(self.receipts, (no, partner, w, kept))
        return {"type": kind, "no": no, "date": day.isoformat(), "partner": partner,
                "warehouse": self.wh_codes[w], "lines": lines}

    def _outbound(self, kind: str, day: date, n: int) -> Record | None:
        """sales_delivery, other_out or transfer: take from the oldest batch of products in stock."""
        rng, stock = self.rng, self.stock
        w = self._warehouse()
        to = -1
        if kind == "transfer":
            to = (w + rng.randrange(1, self.n_warehouses)) % self.n_warehouses
        lines: list[Record] = []
        kept: list[list[Any]] = []
        for p in self._distinct_in_stock(w, n):
            batch, have = next(iter(stock.batches(w, p).items()))
            q = min(have, self._draw_qty(1, 40) if kind == "sales_delivery" else rng.randint(1, 20) * Q)
            stock.take(w, p, batch, q)
            line: Record = {"product": self.p_codes[p], "qty": _qty(q)}
            if kind == "sales_delivery":
                price = _price(self.cost[p] * rng.randint(1200, 1600) // 1000)
                line["price"], line["tax_rate"] = price, VAT
                kept.append([p, batch, q, price])
            if batch:
                line["batch"] = batch
            if kind == "transfer":
                stock.add(to, p, batch, q)
            lines.append(line)
        if not lines:
            return None
        head: Record = {"type": kind, "no": self._no(kind), "date": day.isoformat()}
        if kind == "transfer":
            head["from_warehouse"], head["to_warehouse"] = self.wh_codes[w], self.wh_codes[to]
        elif kind == "other_out":
            head["warehouse"], head["reason"] = self.wh_codes[w], rng.choice(OTHER_OUT_REASONS)
        else:
            head["partner"], head["warehouse"] = _pick(rng, self.customers), self.wh_codes[w]
            self._remember(self.deliveries, (head["no"], head["partner"], w, kept))
        head["lines"] = lines
        return head

    def _return(self, kind: str, day: date, n: int) -> Record | None:
        """sales_return or purchase_return of part of an earlier delivery/receipt, at its price and batch."""
        rng, stock = self.rng, self.stock
        pool = self.deliveries if kind == "sales_return" else self.receipts
        if not pool:
            return None
        no, partner, w, kept = pool[rng.randrange(len(pool))]
        lines: list[Record] = []
        start = rng.randrange(len(kept))
        for i in range(len(kept)):
            entry = kept[(start + i) % len(kept)]
            p, batch, left, price = entry
            cap = left if kind == "sales_return" else min(left, stock.batches(w, p).get(batch, 0))
            if cap <= 0:
                continue
            q = rng.randint(1, min(cap // Q, 10)) * Q if cap >= Q and rng.random() < 0.8 else cap
            entry[2] = left - q
            if kind == "sales_return":
                stock.add(w, p, batch, q)
            else:
                stock.take(w, p, batch, q)
            line: Record = {"product": self.p_codes[p], "qty": _qty(q), "price": price, "tax_rate": VAT}
            if batch:
                line["batch"] = batch
            lines.append(line)
            if len(lines) == n:
                break
        if not lines:
            return None
        return {"type": kind, "no": self._no(kind), "date": day.isoformat(), "partner": partner,
                "warehouse": self.wh_codes[w], "source": no, "lines": lines}

    def _stocktake(self, day: date, n: int) -> Record | None:
        """Count n (product, batch) pairs of one warehouse: mostly as booked, some a few units off."""
        rng, stock = self.rng, self.stock
        w = self._warehouse()
        lines: list[Record] = []
        for p in self._distinct_in_stock(w, n):
            for batch, have in list(stock.batches(w, p).items()):
                counted = have if rng.random() < 0.5 else max(0, have + rng.randint(-3, 3) * Q)
                if counted > have:
                    stock.add(w, p, batch, counted - have)
                elif counted < have:
                    stock.take(w, p, batch, have - counted)
                line: Record = {"product": self.p_codes[p], "counted_qty": _qty(counted)}
                if batch:
                    line["batch"] = batch
                lines.append(line)
                if len(lines) == n:
                    break
            if len(lines) == n:
                break
        if not lines:
            return None
        return {"type": "stocktake", "no": self._no("stocktake"), "date": day.isoformat(),
                "warehouse": self.wh_codes[w], "lines": lines}

    def documents(self) -> Iterator[Record]:
        """Documents in date order until exactly `lines` document lines were emitted, spread evenly
        over the months; numbers restart each month (CGRK-202607-000001)."""
        rng = self.rng
        emitted, total, most = 0, self.lines, 2 * self.lines_per_doc - 1
        types, weights = self.types, self.weights
        month = (self.first.year, self.first.month)
        while emitted < total:
            day = self.first + timedelta(days=emitted * self.span // total)
            if (day.year, day.month) != month:
                month, self.yyyymm = (day.year, day.month), f"{day:%Y%m}"
                self.seq.clear()
            kind = rng.choices(types, weights)[0]
            n = min(rng.randint(1, most), total - emitted)
            if kind in ("purchase_receipt", "other_in"):
                doc = self._inbound(kind, day, n)
            elif kind in ("sales_delivery", "other_out", "transfer"):
                doc = self._outbound(kind, day, n)
            elif kind == "stocktake":
                doc = self._stocktake(day, n)
            else:
                doc = self._return(kind, day, n)
            if doc is not None:
                emitted += len(doc["lines"])
                yield doc

    def records(self) -> Iterator[Record]:
        yield from self.master()
        yield from self.opening()
        yield from self.documents()


# -- purchasing and sales cycles (issue 4) -------------------------------------------------------

# Bump when the cycle output for given arguments changes: cached trade books are keyed by it.
CYCLE_GENERATOR_VERSION = 1
TRADE_PREFIXES = {
    "purchase_order": "CGDD", "sales_order": "XSDD", "purchase_invoice": "CGFP", "sales_invoice": "XSFP",
    "payment": "FKD", "receipt": "SKD",
}
PURCHASE_CYCLE_SHARE = 0.35  # of cycles; a purchase line is about 3x a sales line: stock slowly grows
PARTIAL_SHARE = 0.2  # orders received/delivered in two parts
LEFT_OPEN_SHARE = 0.25  # of those, the second part never comes: the order stays partly executed
PREPAY_SHARE = 0.15  # an advance (预付/预收) on the order's day: a payment/receipt with no `settle`
INSTALMENT_SHARE = 0.1  # invoices paid in two parts
UNPAID_SHARE = 0.05  # invoices nobody pays: open items at the end
ORDINARY_SHARE = {"purchase": 0.1, "sales": 0.3}  # 普票 rather than 专票
CREDIT_SHARE = 0.8  # customers with a credit limit (the book's default credit control only warns)
CREDIT_LIMITS = (50_000, 200_000, 1_000_000, 5_000_000)  # yuan
OPENING_BANK = 50_000_000_00  # fen on 1002 银行存款, against 3001
CASH_ACCOUNT_SHARE = 0.3  # small sales receipts (under 10,000.00) taken in cash (1001) rather than the bank
CHECKED_SHARE = 0.9  # sales orders the clerk keeps within the stock on hand; the rest may come up short
VAT_PERCENT = 13


def _add_months(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _line_money(q: int, price: int) -> tuple[int, int]:
    """(金额, 税额) in fen of qty × price (both in units of 0.0001), rounded half up like the services."""
    amount = (q * price + 500_000) // 1_000_000
    return amount, (amount * VAT_PERCENT + 50) // 100


class _Cycle:
    """One order on its way through delivery, invoice and settlement."""

    __slots__ = ("deliveries", "later_parts", "lines", "order_no", "partner", "prepaid", "retried", "side", "w")

    def __init__(self, side: str, partner: str, w: int, order_no: str, lines: list[list[int]]) -> None:
        self.side, self.partner, self.w, self.order_no = side, partner, w, order_no
        self.lines = lines  # [product, ordered qty, price, received/delivered qty]
        self.deliveries: list[tuple[str, list[tuple[int, int, int]]]] = []  # (no, [(product, qty, price)])
        self.prepaid = 0  # fen
        self.later_parts = 0  # further receipts/deliveries planned after the next one
        self.retried = False  # a sales delivery already came back for what was short


class _CycleGenerator(_Generator):
    """Purchase and sales cycles in date order: order → receipt/delivery (naming the order) →
    invoice (naming its receipts/deliveries) → payment/receipt (settling the invoice).

    Cycles start evenly over `months` months from `month`; what follows an order is queued by
    date and written when its day comes, so the file stays in date order and a delivery takes
    what is in stock on its day (a short delivery leaves the rest of the order open for one more
    try). The last documents of the last cycles fall up to about 50 days after the span.
    """

    def __init__(self, *, cycles: int, months: int, **kwargs: Any) -> None:
        super().__init__(lines=0, **kwargs)
        if cycles < 0:
            raise ValueError(f"cycles must be at least 0, got {cycles}")
        if months < 1:
            raise ValueError(f"months must be at least 1, got {months}")
        self.cycles = cycles
        self.span = (_add_months(self.first, months) - self.first).days
        self.trade_seq: Counter[tuple[str, str]] = Counter()
        self.queue: list[tuple[date, int, Callable[[date], Record | None]]] = []
        self.queued = 0

    # master data gets credit limits and opening stock a bank balance; otherwise as the stock scenario

    def master(self) -> Iterator[Record]:
        for rec in super().master():
            if rec["type"] == "partner" and rec["kind"] == "customer" and self.rng.random() < CREDIT_SHARE:
                rec["credit_limit"] = _money(self.rng.choice(CREDIT_LIMITS) * 100)
            yield rec

    def opening(self) -> Iterator[Record]:
        stock_value = 0
        for rec in super().opening():
            if rec["type"] == "opening_balance" and rec["account"] == "1405":
                stock_value = int(rec["debit"].replace(".", ""))
            elif rec["type"] == "opening_balance" and rec["account"] == "3001":
                yield {"type": "opening_balance", "account": "1002", "debit": _money(OPENING_BANK), "credit": "0"}
                yield {**rec, "credit": _money(stock_value + OPENING_BANK)}
                continue
            yield rec

    # the queue of what follows an order

    def _later(self, day: date, step: Callable[[date], Record | None]) -> None:
        self.queued += 1
        heapq.heappush(self.queue, (day, self.queued, step))

    def _due(self, until: date | None) -> Iterator[Record]:
        while self.queue and (until is None or self.queue[0][0] <= until):
            day, _, step = heapq.heappop(self.queue)
            rec = step(day)
            if rec is not None:
                yield rec

    def _trade_no(self, kind: str, day: date) -> str:
        month = f"{day:%Y%m}"
        self.trade_seq[kind, month] += 1
        n = self.trade_seq[kind, month]
        if n > MAX_SEQ:
            raise ValueError(f"more than {MAX_SEQ} documents of type {kind} in {month}: spread over more months")
        return f"{TRADE_PREFIXES.get(kind) or PREFIXES[kind]}-{month}-{n:06d}"

    # the steps of a cycle

    def _order(self, day: date) -> Record:
        rng = self.rng
        w = self._warehouse()
        n = self.lines_per_doc if rng.random() < 0.5 else rng.randint(1, 2 * self.lines_per_doc - 1)
        picks = self._distinct_in_stock(w, n) if rng.random() >= PURCHASE_CYCLE_SHARE else []
        side = "sales" if picks else "purchase"  # nothing in stock there: buy instead
        if side == "purchase":
            picks = rng.sample(range(self.n_products), min(n, self.n_products))
        checked = rng.random() < CHECKED_SHARE
        lines: list[list[int]] = []
        for p in picks:
            if side == "sales":
                q = self._draw_qty(1, 40)
                if checked:
                    q = min(q, sum(self.stock.batches(w, p).values()))
                lines.append([p, q, self.cost[p] * rng.randint(1200, 1600) // 1000, 0])
            else:
                lines.append([p, self._draw_qty(20, 100), self.cost[p] * rng.randint(900, 1100) // 1000, 0])
        partner = _pick(rng, self.customers if side == "sales" else self.suppliers)
        cycle = _Cycle(side, partner, w, self._trade_no(f"{side}_order", day), lines)
        if rng.random() < PARTIAL_SHARE and any(q >= 2 * Q for _, q, _, _ in lines):
            cycle.later_parts = 0 if rng.random() < LEFT_OPEN_SHARE else 1
            self._later(day + timedelta(days=rng.randint(0, 3)), lambda d: self._deliver(cycle, d, partial=True))
        else:
            self._later(day + timedelta(days=rng.randint(0, 3)), lambda d: self._deliver(cycle, d, partial=False))
        if rng.random() < PREPAY_SHARE:
            total = sum(sum(_line_money(q, price)) for _, q, price, _ in lines)
            advance = total * 3 // 10 // 10_000 * 10_000  # 30%, in whole hundreds of yuan
            if advance:
                cycle.prepaid = advance
                self._later(day, lambda d: self._cash(cycle, d, advance, settle=None))
        return {"type": f"{side}_order", "no": cycle.order_no, "date": day.isoformat(), "partner": partner,
                "lines": [{"product": self.p_codes[p], "qty": _qty(q), "price": _price(price), "tax_rate": VAT}
                          for p, q, price, _ in lines]}

    def _deliver(self, c: _Cycle, day: date, *, partial: bool) -> Record | None:
        """A receipt/delivery of what is open on the order: all of it, or (partial) some lines in
        full and the others half or not at all; a delivery only what the oldest batch holds."""
        rng, stock = self.rng, self.stock
        wants = [q - done for _, q, _, done in c.lines]
        if partial:
            full = set(rng.sample(range(len(wants)), rng.randint(0, len(wants) - 1)))
            wants = [want if i in full else (want // 2 // Q * Q if rng.random() < 0.6 else 0)
                     for i, want in enumerate(wants)]
            if not any(wants):  # a one-line order, or every other line left out: half of the biggest
                i = max(range(len(wants)), key=lambda k: c.lines[k][1])
                wants[i] = max(Q, c.lines[i][1] // 2 // Q * Q)
        lines: list[Record] = []
        moved: list[tuple[int, int, int]] = []
        short = False
        for entry, want in zip(c.lines, wants, strict=True):
            p, _, price, _ = entry
            if want <= 0:
                continue
            line: Record = {"product": self.p_codes[p]}
            if c.side == "purchase":
                q, batch = want, ""
                if self.shelf_life[p]:
                    batch = self._new_batch(p, day)
                    line["batch"] = batch
                    line["expiry"] = (day + timedelta(days=self.shelf_life[p])).isoformat()
                stock.add(c.w, p, batch, q)
            else:
                batches = stock.batches(c.w, p)
                if not batches:
                    short = True
                    continue
                batch, have = next(iter(batches.items()))
                q = min(want, have)
                short = short or q < want
                stock.take(c.w, p, batch, q)
                if batch:
                    line["batch"] = batch
            entry[3] += q
            line["qty"], line["price"], line["tax_rate"] = _qty(q), _price(price), VAT
            lines.append({k: line[k] for k in ("product", "qty", "price", "tax_rate", "batch", "expiry")
                          if k in line})
            moved.append((p, q, price))
        if short and not c.retried:  # the rest of a short delivery goes out when stock comes in
            c.retried = True
            c.later_parts += 1
        still_open = any(done < q for _, q, _, done in c.lines)
        if still_open and c.later_parts:
            c.later_parts -= 1
            self._later(day + timedelta(days=rng.randint(2, 7)), lambda d: self._deliver(c, d, partial=False))
        elif c.deliveries or lines:
            self._later(day + timedelta(days=rng.randint(0, 5)), lambda d: self._invoice(c, d))
        if not lines:
            return None
        kind = "purchase_receipt" if c.side == "purchase" else "sales_delivery"
        no = self._trade_no(kind, day)
        c.deliveries.append((no, moved))
        return {"type": kind, "no": no, "date": day.isoformat(), "partner": c.partner,
                "warehouse": self.wh_codes[c.w], "order": c.order_no, "lines": lines}

    def _invoice(self, c: _Cycle, day: date) -> Record:
        """One invoice billing every receipt/delivery of the order, a line per stock line at its price."""
        rng = self.rng
        lines: list[Record] = []
        total = 0
        for _, moved in c.deliveries:
            for p, q, price in moved:
                total += sum(_line_money(q, price))
                lines.append({"product": self.p_codes[p], "qty": _qty(q), "price": _price(price), "tax_rate": VAT})
        no = self._trade_no(f"{c.side}_invoice", day)
        due = total - c.prepaid  # an advance stays an open item of its own, applied by a settlement later
        draw = rng.random()
        if due <= 0 or draw < UNPAID_SHARE:
            pass
        elif draw < UNPAID_SHARE + INSTALMENT_SHARE and due >= 200:
            first = due // 200 * 100  # half, in whole yuan
            self._later(day + timedelta(days=rng.randint(0, 15)), lambda d: self._cash(c, d, first, settle=no))
            self._later(day + timedelta(days=rng.randint(15, 30)),
                        lambda d: self._cash(c, d, due - first, settle=no))
        else:
            self._later(day + timedelta(days=rng.randint(0, 30)), lambda d: self._cash(c, d, due, settle=no))
        kind = "ordinary" if rng.random() < ORDINARY_SHARE[c.side] else "special"
        return {"type": f"{c.side}_invoice", "no": no, "date": day.isoformat(), "partner": c.partner,
                "invoice_kind": kind, "source": [d for d, _ in c.deliveries], "lines": lines}

    def _cash(self, c: _Cycle, day: date, amount: int, *, settle: str | None) -> Record:
        """A payment (purchase) or receipt (sales) of `amount` fen; settling one invoice, or an advance."""
        kind = "payment" if c.side == "purchase" else "receipt"
        account = "1002"
        if kind == "receipt" and amount < 10_000_00 and self.rng.random() < CASH_ACCOUNT_SHARE:
            account = "1001"
        rec: Record = {"type": kind, "no": self._trade_no(kind, day), "date": day.isoformat(), "partner": c.partner,
                       "account": account, "amount": _money(amount)}
        if settle is not None:
            rec["settle"] = [{"invoice": settle, "amount": _money(amount)}]
        return rec

    def documents(self) -> Iterator[Record]:
        for i in range(self.cycles):
            day = self.first + timedelta(days=i * self.span // self.cycles)
            yield from self._due(day)
            yield self._order(day)
        yield from self._due(None)


def scenario_records(*, seed: int = DEFAULT_SEED, products: int = 1000, warehouses: int = 3, customers: int = 200,
                     suppliers: int = 50, lines: int = 100_000, lines_per_doc: int = 5, month: str = "2026-06",
                     method: str = "moving_average", batch_share: float = 0.0,
                     months: int = 1) -> Iterator[Record]:
    """The scenario as INTERCHANGE records in file order: master data, opening stock, then documents
    (spread evenly over `months` months from `month`; with months=1 the output is as it always was).

    Arguments are checked when this is called, not when iteration starts.
    """
    gen = _Generator(seed=seed, products=products, warehouses=warehouses, customers=customers,
                     suppliers=suppliers, lines=lines, lines_per_doc=lines_per_doc, month=month,
                     method=method, batch_share=batch_share, months=months)
    return gen.records()


def write_scenario(path: Path | str, *, seed: int = DEFAULT_SEED, products: int = 1000, warehouses: int = 3,
                   customers: int = 200, suppliers: int = 50, lines: int = 100_000, lines_per_doc: int = 5,
                   month: str = "2026-06", method: str = "moving_average",
                   batch_share: float = 0.0, months: int = 1) -> dict[str, int]:
    """Write the scenario as JSON Lines; returns the number of records per record type, in file order."""
    return _write(path, scenario_records(seed=seed, products=products, warehouses=warehouses, customers=customers,
                                         suppliers=suppliers, lines=lines, lines_per_doc=lines_per_doc,
                                         month=month, method=method, batch_share=batch_share, months=months))


def cycle_records(*, seed: int = DEFAULT_SEED, products: int = 1000, warehouses: int = 3, customers: int = 200,
                  suppliers: int = 50, cycles: int = 10_000, lines_per_doc: int = 5, month: str = "2026-06",
                  months: int = 1, method: str = "moving_average", batch_share: float = 0.0) -> Iterator[Record]:
    """Purchasing and sales cycles as INTERCHANGE records in file order: master data (customers with
    credit limits), opening stock and bank balance, then `cycles` orders over `months` months with
    what follows each (see _CycleGenerator). Arguments are checked when this is called."""
    gen = _CycleGenerator(cycles=cycles, months=months, seed=seed, products=products, warehouses=warehouses,
                          customers=customers, suppliers=suppliers, lines_per_doc=lines_per_doc, month=month,
                          method=method, batch_share=batch_share)
    return gen.records()


def write_cycles(path: Path | str, *, seed: int = DEFAULT_SEED, products: int = 1000, warehouses: int = 3,
                 customers: int = 200, suppliers: int = 50, cycles: int = 10_000, lines_per_doc: int = 5,
                 month: str = "2026-06", months: int = 1, method: str = "moving_average",
                 batch_share: float = 0.0) -> dict[str, int]:
    """Write the cycles as JSON Lines; returns the number of records per record type, in file order."""
    return _write(path, cycle_records(seed=seed, products=products, warehouses=warehouses, customers=customers,
                                      suppliers=suppliers, cycles=cycles, lines_per_doc=lines_per_doc, month=month,
                                      months=months, method=method, batch_share=batch_share))


def _write(path: Path | str, records: Iterator[Record]) -> dict[str, int]:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    counts: Counter[str] = Counter()
    with out.open("w", encoding="utf-8", newline="\n", buffering=1 << 20) as fh:
        for rec in records:
            fh.write(encode(rec) + "\n")
            counts[rec["type"]] += 1
    return dict(counts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scenario", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, metavar="OUT.jsonl", help="JSON Lines file to write")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--warehouses", type=int, default=3)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--suppliers", type=int, default=50)
    parser.add_argument("--lines", type=int, default=100_000,
                        help="document lines to generate (opening stock excluded)")
    parser.add_argument("--lines-per-doc", type=int, default=5, help="average lines per document")
    parser.add_argument("--month", default="2026-06",
                        help="YYYY-MM: every document is dated within it (--cycles: the first month)")
    parser.add_argument("--method", choices=METHOD_CHOICES, default="moving_average",
                        help="costing method of every product; mixed = round-robin of the three; "
                             "half_monthly = every other product monthly average, the rest moving average or FIFO")
    parser.add_argument("--batch-share", type=float, default=0.0, help="fraction of products that are batch tracked")
    parser.add_argument("--cycles", type=int, default=None,
                        help="write this many purchasing/sales cycles (orders, receipts/deliveries, invoices, "
                             "payments/receipts) instead of --lines stock documents")
    parser.add_argument("--months", type=int, default=1,
                        help="months from --month the documents (with --cycles: the orders) span")
    args = parser.parse_args(argv)
    common = {"seed": args.seed, "products": args.products, "warehouses": args.warehouses,
              "customers": args.customers, "suppliers": args.suppliers, "lines_per_doc": args.lines_per_doc,
              "month": args.month, "method": args.method, "batch_share": args.batch_share}
    try:
        if args.cycles is None:
            counts = write_scenario(args.out, lines=args.lines, months=args.months, **common)
            what = f"{args.lines} document lines"
        else:
            counts = write_cycles(args.out, cycles=args.cycles, months=args.months, **common)
            what = f"{args.cycles} cycles"
    except ValueError as exc:
        parser.error(str(exc))
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    print(f"wrote {sum(counts.values())} records ({what}) to {args.out}: {summary}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
