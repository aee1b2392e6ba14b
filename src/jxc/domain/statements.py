"""Financial statements as data: 资产负债表 (会小企01表), 利润表 (会小企02表) and 现金流量表
(会小企03表). Each line (行次) carries a formula; this module reads and checks the formulas and
evaluates them on plain figures. No I/O: the service gathers the figures.

A formula is a sum of terms separated by spaces, each `+KIND(arg)` or `-KIND(arg)`; a term
without a sign is added, and an empty formula is 0. A term over an account covers the account
and all its sub-accounts (the codes that start with it). The kinds each statement accepts:

Balance sheet; each column (期末余额, 年初余额) is the ledger at one date.
  B(code)    the balance in the account's own direction (the chart's `direction`): debit −
             credit for a debit account, credit − debit for a credit account, so 应交税费 with a
             debit balance comes out negative, as the standard requires.
  DR(code)   the debit balances of the account's details, as a positive number; CR(code) the
             credit balances. A detail is one partner of an account kept by partner (辅助核算),
             and a leaf account otherwise. 应收账款 = +DR(1122) +DR(2203); 预收账款 = +CR(2203)
             +CR(1122): a customer who paid in advance is shown as such, not netted against the
             others. DR(code) − CR(code) = the balance, debit positive.
  PL()       the net balance of every profit_loss account, credit positive: the profit not yet
             carried to 本年利润. In an open period it keeps the sheet balanced (未分配利润 =
             +B(3103) +B(3104) +PL()); once the period is closed it is 0.
Income statement; each column (本年累计金额, 本月金额) is a span of periods.
  A(code)    the span's activity in the account's direction (revenue credit − debit, expense
             debit − credit), leaving out the vouchers the close itself generates (结转损益 and
             the year-end transfer), which would otherwise bring every P&L account to zero.
Cash flow statement; each column is a span of periods (see allocate_cash for the method).
  CF(code)   net cash received against the account: inflows − outflows (a payment is negative).
  IN(code)   the cash received against it, positive; OUT(code) the cash paid, positive.
  CASH(code) the balance of a cash account at the start of the span. The accounts named by
             CASH terms are the statement's cash accounts (库存现金, 银行存款, 其他货币资金).
Every statement.
  L(n)       the value of line n of the same statement, in the same column.

Totals are lines too (流动资产合计 = +L(1) +L(2) ...). By convention the last line (by
position) of each side of the balance sheet is that side's total, the last line of the
income statement is 净利润 and that of the cash flow statement 期末现金余额; `uncovered`
uses them to find accounts a company's edits have left off a statement or counted twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from jxc.domain.errors import BatchInvalid, InvalidInput, JxcError, StatementFormulaInvalid
from jxc.domain.numbers import ZERO, Money, money

BALANCE_SHEET = "balance_sheet"
INCOME_STATEMENT = "income_statement"
CASH_FLOW = "cash_flow"
STATEMENTS = (BALANCE_SHEET, INCOME_STATEMENT, CASH_FLOW)

KINDS: dict[str, tuple[str, ...]] = {
    BALANCE_SHEET: ("B", "DR", "CR", "PL", "L"),
    INCOME_STATEMENT: ("A", "L"),
    CASH_FLOW: ("CF", "IN", "OUT", "CASH", "L"),
}
ACCOUNT_KINDS = frozenset({"B", "DR", "CR", "A", "CF", "IN", "OUT", "CASH"})
ASSET, EQUITY = "asset", "equity"  # the two sides of the balance sheet (资产; 负债和所有者权益)
PROFIT_LOSS = "profit_loss"
MAX_FORMULA = 500  # the column's length

_TERM = re.compile(r"([+-]?)\s*([A-Za-z]+)\s*\(\s*([^()\s]*)\s*\)")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Term:
    sign: int  # +1 or -1
    kind: str  # B, DR, CR, PL, A, CF, IN, OUT, CASH, L
    arg: str  # an account code, a line number, or "" (PL)

    def __str__(self) -> str:
        return f"{'+' if self.sign > 0 else '-'}{self.kind}({self.arg})"


@dataclass(frozen=True, slots=True)
class LineDef:
    """One line of a statement as stored."""

    line_no: int  # 行次
    position: int  # display order
    side: str  # balance sheet: asset or equity; "" elsewhere
    label: str  # zh_CN
    label_en: str
    formula: str


@dataclass(frozen=True, slots=True)
class Definition:
    """A statement's lines in display order, each formula read into terms (by line number)."""

    statement: str
    lines: tuple[LineDef, ...]
    terms: Mapping[int, tuple[Term, ...]]


@dataclass(frozen=True, slots=True)
class ChartAccount:
    code: str
    direction: str  # debit / credit
    category: str  # asset, liability, equity, cost, profit_loss


@dataclass(frozen=True, slots=True)
class Figures:
    """What one column is computed from, by account code (a leaf, as the ledger keeps them);
    a code that is absent counts as zero.

    balances: debit − credit at the column's date (balance sheet), or at the start of its span
    (cash flow: CASH terms). details: for the accounts kept by partner, each partner's balance
    (debit positive); what the partners do not explain is one more detail, so DR − CR always
    equals the balance. activity: debit − credit over the span, close vouchers left out.
    inflows / outflows: cash received / paid against each account over the span (positive)."""

    balances: Mapping[str, Money] = field(default_factory=dict)
    details: Mapping[str, tuple[Money, ...]] = field(default_factory=dict)
    activity: Mapping[str, Money] = field(default_factory=dict)
    inflows: Mapping[str, Money] = field(default_factory=dict)
    outflows: Mapping[str, Money] = field(default_factory=dict)


# --- reading and checking formulas ------------------------------------------------------

def _problem(statement: str, line_no: int, term: str, reason: str, **params: object) -> StatementFormulaInvalid:
    return StatementFormulaInvalid(statement=statement, line_no=line_no, term=term, reason=reason, **params)


def ensure_statement(statement: str) -> None:
    """Raise InvalidInput unless `statement` is one of STATEMENTS."""
    if statement not in STATEMENTS:
        raise InvalidInput(field="statement", reason="input.choice", value=statement, choices=", ".join(STATEMENTS))


def _read_formula(statement: str, line_no: int, text: str) -> tuple[tuple[Term, ...], list[JxcError]]:
    """The terms of one formula and the problems of their shape (not of what they name)."""
    terms: list[Term] = []
    problems: list[JxcError] = []
    allowed = KINDS[statement]
    pos, end = 0, len(text)
    while True:
        gap = _SPACE.match(text, pos)
        if gap:
            pos = gap.end()
        if pos >= end:
            break
        found = _TERM.match(text, pos)
        if found is None:
            piece = _SPACE.split(text[pos:], maxsplit=1)[0]
            problems.append(_problem(statement, line_no, piece, "statement.syntax"))
            break
        pos = found.end()
        sign, kind, arg = found.group(1), found.group(2).upper(), found.group(3)
        shown = found.group(0).strip()
        if kind not in allowed:
            problems.append(_problem(statement, line_no, shown, "statement.unknown_kind", kinds=", ".join(allowed)))
            continue
        if kind in ACCOUNT_KINDS and not (arg.isascii() and arg.isdigit()):
            problems.append(_problem(statement, line_no, shown, "statement.needs_account"))
            continue
        if kind == "L" and not (arg.isascii() and arg.isdigit() and int(arg) > 0):
            problems.append(_problem(statement, line_no, shown, "statement.needs_line"))
            continue
        if kind == "PL" and arg:
            problems.append(_problem(statement, line_no, shown, "statement.needs_nothing"))
            continue
        terms.append(Term(-1 if sign == "-" else 1, kind, str(int(arg)) if kind == "L" else arg))
    return tuple(terms), problems


def format_formula(terms: Iterable[Term]) -> str:
    """The canonical text of a formula: "+B(1001) +B(1002) -L(3)"."""
    return " ".join(str(t) for t in terms)


def read_formula(statement: str, line_no: int, text: str) -> tuple[Term, ...]:
    """The terms of one formula; raises StatementFormulaInvalid (one problem) or BatchInvalid
    (several) for bad syntax, a kind the statement does not know or a misshapen argument."""
    ensure_statement(statement)
    terms, problems = _read_formula(statement, line_no, text)
    _raise(problems)
    return terms


def _raise(problems: list[JxcError]) -> None:
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise BatchInvalid(problems)


def _check(statement: str, lines: Sequence[LineDef], account_codes: Iterable[str],
           ) -> tuple[dict[int, tuple[Term, ...]], list[tuple[frozenset[int], JxcError]]]:
    """Every line's terms, and every problem with the lines it concerns (a cycle concerns
    all the lines on it)."""
    ensure_statement(statement)
    codes = set(account_codes)
    numbers = {ln.line_no for ln in lines}
    problems: list[tuple[frozenset[int], JxcError]] = []
    terms: dict[int, tuple[Term, ...]] = {}
    for ln in lines:
        read, found = _read_formula(statement, ln.line_no, ln.formula)
        problems += [(frozenset({ln.line_no}), p) for p in found]
        for term in read:
            if term.kind in ACCOUNT_KINDS and term.arg not in codes:
                problems.append((frozenset({ln.line_no}), _problem(
                    statement, ln.line_no, str(term), "statement.unknown_account", account=term.arg)))
            elif term.kind == "L" and int(term.arg) not in numbers:
                problems.append((frozenset({ln.line_no}), _problem(
                    statement, ln.line_no, str(term), "statement.unknown_line", referenced=term.arg)))
        terms[ln.line_no] = read
    problems += _cycles(statement, terms)
    return terms, problems


def check_definition(statement: str, lines: Sequence[LineDef], account_codes: Iterable[str]) -> Definition:
    """Read and check every formula of a statement: syntax, kinds, that each account exists,
    that each L(n) names a line of this statement, and that no line depends on itself through
    L terms. All problems are collected and raised at once (one StatementFormulaInvalid, or a
    BatchInvalid of them), so a company's edits are fixed in one pass."""
    terms, problems = _check(statement, lines, account_codes)
    _raise([p for _, p in problems])
    ordered = tuple(sorted(lines, key=lambda ln: (ln.position, ln.line_no)))
    return Definition(statement, ordered, terms)


def check_line(statement: str, lines: Sequence[LineDef], account_codes: Iterable[str], line_no: int,
               ) -> tuple[Term, ...]:
    """check_definition for one edited line: raises only the problems of that line (and the
    cycles through it), so a company can repair a statement one line at a time even while
    another line is still wrong. Returns the line's terms."""
    terms, problems = _check(statement, lines, account_codes)
    _raise([p for on, p in problems if line_no in on])
    return terms.get(line_no, ())


def _cycles(statement: str, terms: Mapping[int, tuple[Term, ...]]) -> list[tuple[frozenset[int], JxcError]]:
    """One problem per cycle of L references (depth-first search, white/grey/black)."""
    state: dict[int, int] = {}  # 1: on the current path, 2: done
    problems: list[tuple[frozenset[int], JxcError]] = []

    def visit(n: int, path: list[int]) -> None:
        state[n] = 1
        path.append(n)
        for term in terms.get(n, ()):
            if term.kind != "L":
                continue
            m = int(term.arg)
            if m not in terms:
                continue
            if state.get(m) == 1:
                cycle = [*path[path.index(m):], m]
                problems.append((frozenset(cycle), _problem(statement, n, str(term), "statement.cycle",
                                                            cycle=" -> ".join(str(c) for c in cycle))))
            elif m not in state:
                visit(m, path)
        path.pop()
        state[n] = 2

    for n in sorted(terms):
        if n not in state:
            visit(n, [])
    return problems


# --- evaluating ---------------------------------------------------------------------------

def _under(code: str, values: Mapping[str, Money]) -> Money:
    return sum((v for k, v in values.items() if k.startswith(code)), ZERO)


def _direction_sign(chart: Mapping[str, ChartAccount], code: str) -> int:
    return -1 if chart[code].direction == "credit" else 1


def _detail_sides(code: str, figures: Figures) -> tuple[Money, Money]:
    """(debit balances, credit balances) of the details under `code`, both positive."""
    debit = credit = ZERO
    for leaf, balance in figures.balances.items():
        if not leaf.startswith(code):
            continue
        parts = figures.details.get(leaf, ())
        rest = balance - sum(parts, ZERO)
        for part in (*parts, rest) if rest else parts:
            if part > 0:
                debit += part
            else:
                credit -= part
    return debit, credit


def _term_value(term: Term, chart: Mapping[str, ChartAccount], figures: Figures) -> Money:
    kind, code = term.kind, term.arg
    if kind in ("B", "CASH"):
        return _direction_sign(chart, code) * _under(code, figures.balances)
    if kind == "A":
        return _direction_sign(chart, code) * _under(code, figures.activity)
    if kind in ("DR", "CR"):
        debit, credit = _detail_sides(code, figures)
        return debit if kind == "DR" else credit
    if kind == "PL":
        return -sum((v for k, v in figures.balances.items()
                     if k in chart and chart[k].category == PROFIT_LOSS), ZERO)
    if kind == "IN":
        return _under(code, figures.inflows)
    if kind == "OUT":
        return _under(code, figures.outflows)
    if kind == "CF":
        return _under(code, figures.inflows) - _under(code, figures.outflows)
    raise AssertionError(f"term {term} reached evaluation unchecked")


def evaluate(definition: Definition, chart: Mapping[str, ChartAccount], figures: Figures) -> dict[int, Money]:
    """The value of every line for one column, by line number, to the cent. The definition
    must come from check_definition (accounts known, no cycles); amounts are sums of cents, so
    nothing is rounded but the final quantize."""
    values: dict[int, Money] = {}

    def value(n: int) -> Money:
        if n not in values:
            total = ZERO
            for term in definition.terms.get(n, ()):
                part = value(int(term.arg)) if term.kind == "L" else _term_value(term, chart, figures)
                total += term.sign * part
            values[n] = money(total)
        return values[n]

    for ln in definition.lines:
        value(ln.line_no)
    return values


def total_lines(definition: Definition) -> tuple[int, ...]:
    """The lines a statement's check reads: on the balance sheet the last line of each side
    (资产总计, 负债和所有者权益总计), elsewhere the last line (净利润, 期末现金余额); () when
    the statement has no such line."""
    if definition.statement == BALANCE_SHEET:
        ends = [[ln.line_no for ln in definition.lines if ln.side == side] for side in (ASSET, EQUITY)]
        return (ends[0][-1], ends[1][-1]) if ends[0] and ends[1] else ()
    return (definition.lines[-1].line_no,) if definition.lines else ()


def cash_accounts(definition: Definition) -> tuple[str, ...]:
    """The accounts named by CASH terms: the cash flow statement's cash (库存现金 and so on)."""
    return tuple(sorted({t.arg for terms in definition.terms.values() for t in terms if t.kind == "CASH"}))


def uncovered(definition: Definition, chart: Mapping[str, ChartAccount], codes: Iterable[str]) -> list[str]:
    """Of the given (leaf) accounts, those the statement does not carry exactly once, found by
    evaluating it on one account's unit amount at a time:
    - balance sheet: a debit (credit) balance of 1 must make 资产总计 − 负债和所有者权益总计
      +1 (−1), which is what keeps the sheet balanced for any balanced ledger;
    - income statement: a P&L account's debit activity of 1 must make 净利润 −1 (other
      accounts are not its business);
    - cash flow: an inflow (outflow) of 1 against an account must make 期末现金余额 +1 (−1),
      and a cash account's opening balance of 1 must make it +1.
    """
    ends = total_lines(definition)
    if not ends:
        return sorted(set(codes))
    cash = cash_accounts(definition)

    def result(figures: Figures) -> Money:
        values = evaluate(definition, chart, figures)
        if definition.statement == BALANCE_SHEET:
            return values[ends[0]] - values[ends[1]]
        return values[ends[0]]

    one = Money(1)
    missing = []
    for code in sorted(set(codes)):
        if code not in chart:
            missing.append(code)
            continue
        if definition.statement == BALANCE_SHEET:
            ok = result(Figures(balances={code: one})) == one and result(Figures(balances={code: -one})) == -one
        elif definition.statement == INCOME_STATEMENT:
            ok = chart[code].category != PROFIT_LOSS or result(Figures(activity={code: one})) == -one
        elif any(code.startswith(c) for c in cash):
            ok = result(Figures(balances={code: one})) == one
        else:
            ok = result(Figures(inflows={code: one})) == one and result(Figures(outflows={code: one})) == -one
        if not ok:
            missing.append(code)
    return missing


# --- cash flows ---------------------------------------------------------------------------

@dataclass(slots=True)
class CashFlows:
    """Cash received (inflows) and paid (outflows) against each counterpart account, both
    positive, and the net movement of the cash accounts they explain. Built up voucher by
    voucher with add()."""

    inflows: dict[str, Money]
    outflows: dict[str, Money]
    net: Money

    def add(self, shares: Iterable[tuple[str, Money]]) -> None:
        for code, amount in shares:
            self.net += amount
            if amount > 0:
                self.inflows[code] = self.inflows.get(code, ZERO) + amount
            elif amount < 0:
                self.outflows[code] = self.outflows.get(code, ZERO) - amount


def cash_shares(lines: Mapping[str, Money], cash_codes: tuple[str, ...]) -> list[tuple[str, Money]]:
    """One voucher's cash movement classified by its counterpart accounts: (account, amount
    received, negative when paid). The voucher is given as its net (debit − credit) per account.

    The movement is the net of the voucher's lines on cash accounts; a voucher that only moves
    money between cash accounts has none. Since a voucher balances, the movement equals the
    sum over the other accounts of credit − debit. The accounts on the same side as the
    movement (credited when cash comes in, debited when it goes out) share it in proportion to
    their amounts, each share rounded half-up to the cent and the rounding difference given
    to the largest share, so the shares add up to the movement exactly. Usually they are the
    only counterparts, and each simply gets its own amount. Accounts on the other side (a bank
    fee or a discount deducted from a receipt) are netted, not shown as flows: 借 银行存款 98,
    财务费用 2 / 贷 应收账款 100 is 98 received from a customer. A voucher that both receives
    and pays is therefore shown net; enter receipts and payments separately to see both.
    """
    moved = ZERO
    counter: list[tuple[str, Money]] = []
    for code, net in lines.items():
        if code.startswith(cash_codes):
            moved += net
        elif net:
            counter.append((code, -net))
    if not moved:
        return []
    inflow = moved > 0
    same = [(code, v) for code, v in counter if (v > 0) == inflow]
    if len(same) == len(counter):
        return same  # the shares are the amounts themselves: they add up to the movement
    whole = sum((v for _, v in same), ZERO)
    shares = {code: money(moved * v / whole) for code, v in same}
    gap = moved - sum(shares.values(), ZERO)
    if gap:
        largest = max(sorted(shares), key=lambda code: abs(shares[code]))
        shares[largest] += gap
    return list(shares.items())


def allocate_cash(vouchers: Iterable[Mapping[str, Money]], cash_codes: Sequence[str]) -> CashFlows:
    """The cash flows of many vouchers (see cash_shares), added up per counterpart account."""
    flows = CashFlows({}, {}, ZERO)
    cash = tuple(cash_codes)
    for lines in vouchers:
        flows.add(cash_shares(lines, cash))
    return flows
