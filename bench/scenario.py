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
"""

from __future__ import annotations

import argparse
import calendar
import json
import random
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

# Bump when the output for given arguments changes: cached books are keyed by it.
GENERATOR_VERSION = 1
DEFAULT_SEED = 42
METHODS = ("moving_average", "fifo", "monthly_average")
METHOD_CHOICES = (*METHODS, "mixed")
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
                 lines: int, lines_per_doc: int, month: str, method: str, batch_share: float) -> None:
        for name, value, low in (("products", products, 1), ("warehouses", warehouses, 1),
                                 ("customers", customers, 1), ("suppliers", suppliers, 1),
                                 ("lines", lines, 0), ("lines_per_doc", lines_per_doc, 1)):
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
            method = METHODS[i % len(METHODS)] if self.method == "mixed" else self.method
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
        """Documents in date order until exactly `lines` document lines were emitted."""
        rng = self.rng
        emitted, total, most = 0, self.lines, 2 * self.lines_per_doc - 1
        types, weights = self.types, self.weights
        while emitted < total:
            day = self.first + timedelta(days=emitted * self.days // total)
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


def scenario_records(*, seed: int = DEFAULT_SEED, products: int = 1000, warehouses: int = 3, customers: int = 200,
                     suppliers: int = 50, lines: int = 100_000, lines_per_doc: int = 5, month: str = "2026-06",
                     method: str = "moving_average", batch_share: float = 0.0) -> Iterator[Record]:
    """The scenario as INTERCHANGE records in file order: master data, opening stock, then documents.

    Arguments are checked when this is called, not when iteration starts.
    """
    gen = _Generator(seed=seed, products=products, warehouses=warehouses, customers=customers,
                     suppliers=suppliers, lines=lines, lines_per_doc=lines_per_doc, month=month,
                     method=method, batch_share=batch_share)
    return gen.records()


def write_scenario(path: Path | str, *, seed: int = DEFAULT_SEED, products: int = 1000, warehouses: int = 3,
                   customers: int = 200, suppliers: int = 50, lines: int = 100_000, lines_per_doc: int = 5,
                   month: str = "2026-06", method: str = "moving_average",
                   batch_share: float = 0.0) -> dict[str, int]:
    """Write the scenario as JSON Lines; returns the number of records per record type, in file order."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    counts: Counter[str] = Counter()
    records = scenario_records(seed=seed, products=products, warehouses=warehouses, customers=customers,
                               suppliers=suppliers, lines=lines, lines_per_doc=lines_per_doc, month=month,
                               method=method, batch_share=batch_share)
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
    parser.add_argument("--month", default="2026-06", help="YYYY-MM: every document is dated within it")
    parser.add_argument("--method", choices=METHOD_CHOICES, default="moving_average",
                        help="costing method of every product; mixed = round-robin of the three")
    parser.add_argument("--batch-share", type=float, default=0.0, help="fraction of products that are batch tracked")
    args = parser.parse_args(argv)
    try:
        counts = write_scenario(args.out, seed=args.seed, products=args.products, warehouses=args.warehouses,
                                customers=args.customers, suppliers=args.suppliers, lines=args.lines,
                                lines_per_doc=args.lines_per_doc, month=args.month, method=args.method,
                                batch_share=args.batch_share)
    except ValueError as exc:
        parser.error(str(exc))
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    print(f"wrote {sum(counts.values())} records ({args.lines} document lines) to {args.out}: {summary}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
