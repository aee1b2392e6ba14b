"""A deterministic year of vouchers for a small trading company, as Python values or INTERCHANGE JSON Lines.

Benchmarks need books that look like real ones (partner sub-ledgers, VAT lines, a
skew towards a few big customers, vouchers spread over twelve periods) and that are
the same on every run, so timings can be compared across commits. Everything is
drawn from `random.Random(seed)`; amounts are built from integer fen, never floats.

    python -m bench.generate --vouchers 10000 --out bench/out/year.jsonl
    python -m bench.generate --lines 1000000 --out bench/out/year-1m.jsonl
    jxc --db sqlite:///year.db init ... && jxc --db sqlite:///year.db import bench/out/year.jsonl --audit
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from jxc.domain.numbers import ZERO, money
from jxc.domain.voucher import VoucherLine
from jxc.services.masterdata import PartnerIn
from jxc.services.opening import OpeningIn
from jxc.services.vouchers import VoucherIn

# Bump when the output for a given seed changes: cached books are keyed by it.
GENERATOR_VERSION = 1
DEFAULT_SEED = 20261123
YEAR = 2026
OPENING_CASH = Decimal("10000000.00")
VAT = Decimal("0.13")
SERVICE_VAT = Decimal("0.06")


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of business event, how often it happens and how many lines its voucher has."""

    name: str
    weight: int
    lines: int


KINDS: tuple[Kind, ...] = (
    Kind("sale", 30, 3),             # 1122@customer / 5001 / 22210101
    Kind("purchase", 22, 3),         # 1405 / 22210102 / 220201@supplier
    Kind("receipt", 15, 3),          # 1002 / 560302 bank fee / 1122@customer
    Kind("payment", 12, 3),          # 220201@supplier / 560302 / 1002
    Kind("expense", 8, 3),           # 5602 / 22210102 / 1002 or 1001
    Kind("cost_of_sales", 8, 2),     # 5401 / 1405
    Kind("advance_receipt", 3, 2),   # 1002 / 2203@customer
    Kind("prepayment", 2, 2),        # 1123@supplier / 1002
    Kind("cash_withdrawal", 1, 2),   # 1001 / 1002: keeps petty cash positive
)
_WEIGHTS = [k.weight for k in KINDS]


@dataclass(frozen=True, slots=True)
class Spec:
    """What to generate; equal specs give identical output."""

    vouchers: int
    seed: int = DEFAULT_SEED
    customers: int = 200
    suppliers: int = 80

    def customer_codes(self) -> list[str]:
        return [f"C{i:04d}" for i in range(1, self.customers + 1)]

    def supplier_codes(self) -> list[str]:
        return [f"S{i:04d}" for i in range(1, self.suppliers + 1)]


def _kinds(seed: int) -> Iterator[Kind]:
    """The sequence of event kinds; its own stream, so the voucher count for a line target is cheap."""
    rng = random.Random(seed)
    while True:
        yield rng.choices(KINDS, _WEIGHTS)[0]


def vouchers_for_lines(lines: int, seed: int = DEFAULT_SEED) -> int:
    """The smallest number of vouchers whose lines reach `lines` (the last voucher may overshoot by 1-2)."""
    total = 0
    for count, kind in enumerate(_kinds(seed)):
        if total >= lines:
            return count
        total += kind.lines
    raise AssertionError("unreachable")


def spec_for_lines(lines: int, seed: int = DEFAULT_SEED) -> Spec:
    return Spec(vouchers_for_lines(lines, seed), seed)


def partners(spec: Spec) -> list[PartnerIn]:
    return ([PartnerIn(c, f"客户{c}", "customer") for c in spec.customer_codes()]
            + [PartnerIn(s, f"供应商{s}", "supplier") for s in spec.supplier_codes()])


def openings() -> list[OpeningIn]:
    """期初: money in the bank against paid-in capital, so the bank balance stays positive all year."""
    return [OpeningIn("1002", OPENING_CASH, ZERO), OpeningIn("3001", ZERO, OPENING_CASH)]


def _fen(rng: random.Random, low_yuan: int, high_yuan: int) -> Decimal:
    """A random amount in [low, high] yuan, exact to the fen."""
    return Decimal(rng.randint(low_yuan * 100, high_yuan * 100)).scaleb(-2)


def _pick(rng: random.Random, codes: list[str]) -> str:
    """Skewed towards the first codes: a few big customers and suppliers, a long tail."""
    return codes[int(len(codes) * rng.random() ** 2)]


def _lines(kind: str, rng: random.Random, customers: list[str], suppliers: list[str]) -> tuple[str, list[VoucherLine]]:
    """Memo and lines of one voucher of `kind`; every voucher balances by construction."""
    if kind == "sale":
        c = _pick(rng, customers)
        net = _fen(rng, 100, 50_000)
        tax = money(net * VAT)
        return f"销售 {c}", [VoucherLine("1122", debit=net + tax, partner_code=c),
                              VoucherLine("5001", credit=net), VoucherLine("22210101", credit=tax)]
    if kind == "purchase":
        s = _pick(rng, suppliers)
        net = _fen(rng, 100, 40_000)
        tax = money(net * VAT)
        return f"采购 {s}", [VoucherLine("1405", debit=net), VoucherLine("22210102", debit=tax),
                              VoucherLine("220201", credit=net + tax, partner_code=s)]
    if kind == "receipt":
        c = _pick(rng, customers)
        amount = _fen(rng, 1_000, 60_000)
        fee = _fen(rng, 1, 20)
        return f"收款 {c}", [VoucherLine("1002", debit=amount - fee), VoucherLine("560302", debit=fee),
                              VoucherLine("1122", credit=amount, partner_code=c)]
    if kind == "payment":
        s = _pick(rng, suppliers)
        amount = _fen(rng, 1_000, 45_000)
        fee = _fen(rng, 1, 20)
        return f"付款 {s}", [VoucherLine("220201", debit=amount, partner_code=s),
                              VoucherLine("560302", debit=fee), VoucherLine("1002", credit=amount + fee)]
    if kind == "expense":
        net = _fen(rng, 50, 8_000)
        tax = money(net * SERVICE_VAT)
        paid_from = "1001" if net < 500 else "1002"
        return "管理费用报销", [VoucherLine("5602", debit=net), VoucherLine("22210102", debit=tax),
                               VoucherLine(paid_from, credit=net + tax)]
    if kind == "cost_of_sales":
        cost = _fen(rng, 500, 30_000)
        return "结转销售成本", [VoucherLine("5401", debit=cost), VoucherLine("1405", credit=cost)]
    if kind == "advance_receipt":
        c = _pick(rng, customers)
        amount = _fen(rng, 1_000, 20_000)
        return f"预收 {c}", [VoucherLine("1002", debit=amount), VoucherLine("2203", credit=amount, partner_code=c)]
    if kind == "prepayment":
        s = _pick(rng, suppliers)
        amount = _fen(rng, 1_000, 20_000)
        return f"预付 {s}", [VoucherLine("1123", debit=amount, partner_code=s), VoucherLine("1002", credit=amount)]
    if kind == "cash_withdrawal":
        amount = _fen(rng, 2_000, 20_000)
        return "提取备用金", [VoucherLine("1001", debit=amount), VoucherLine("1002", credit=amount)]
    raise ValueError(f"unknown kind {kind}")


def vouchers(spec: Spec) -> Iterator[VoucherIn]:
    """`spec.vouchers` vouchers spread evenly over the year in date order (so numbers follow dates)."""
    rng = random.Random(spec.seed + 1)
    customers, suppliers = spec.customer_codes(), spec.supplier_codes()
    first = date(YEAR, 1, 1)
    days = (date(YEAR + 1, 1, 1) - first).days
    kinds = _kinds(spec.seed)
    for i in range(spec.vouchers):
        kind = next(kinds)
        memo, lines = _lines(kind.name, rng, customers, suppliers)
        yield VoucherIn(first + timedelta(days=i * days // spec.vouchers), tuple(lines), memo)


def _amount(value: Decimal) -> str:
    return str(value) if value else "0"


def voucher_record(v: VoucherIn) -> dict[str, Any]:
    """A voucher as an INTERCHANGE "voucher" record (no "no": the book numbers it)."""
    lines: list[dict[str, Any]] = []
    for ln in v.lines:
        rec: dict[str, Any] = {"account": ln.account_code}
        if ln.partner_code:
            rec["partner"] = ln.partner_code
        rec["debit"], rec["credit"] = _amount(ln.debit), _amount(ln.credit)
        if ln.memo:
            rec["memo"] = ln.memo
        lines.append(rec)
    return {"type": "voucher", "date": v.voucher_date.isoformat(), "memo": v.memo, "lines": lines}


def records(spec: Spec) -> Iterator[dict[str, Any]]:
    """Partners, opening balances, then the vouchers: a whole book as INTERCHANGE records."""
    for p in partners(spec):
        yield {"type": "partner", "code": p.code, "name": p.name, "kind": p.kind}
    for o in openings():
        yield {"type": "opening_balance", "account": o.account_code,
               "debit": _amount(o.debit), "credit": _amount(o.credit)}
    for v in vouchers(spec):
        yield voucher_record(v)


def write_jsonl(spec: Spec, out: Path) -> int:
    """Write the book as JSON Lines; returns the number of records."""
    out.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with out.open("w", encoding="utf-8") as fh:
        for rec in records(spec):
            fh.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
            n += 1
    return n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--vouchers", type=int, help="number of vouchers")
    size.add_argument("--lines", type=int, help="generate enough vouchers to reach this many voucher lines")
    parser.add_argument("--out", type=Path, required=True, help="JSON Lines file to write")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--suppliers", type=int, default=80)
    args = parser.parse_args(argv)
    count = args.vouchers if args.vouchers is not None else vouchers_for_lines(args.lines, args.seed)
    spec = Spec(count, args.seed, args.customers, args.suppliers)
    n = write_jsonl(spec, args.out)
    print(f"wrote {n} records ({spec.vouchers} vouchers) to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
