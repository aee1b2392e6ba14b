"""The chart of accounts: hierarchical codes (4-2-2-2), categories, balance direction.

P&L classification is by category, never by code prefix: the 小企业 template
puts P&L under 5xxx and the CAS template under 6xxx.
"""

from __future__ import annotations

from enum import StrEnum

from jxc.domain.errors import AccountCodeInvalid

# Code lengths per level: 1001 / 100201 / 22210101 / 2221010101.
LEVEL_LENGTHS = (4, 6, 8, 10)


class AccountCategory(StrEnum):
    ASSET = "asset"  # 资产
    LIABILITY = "liability"  # 负债
    EQUITY = "equity"  # 所有者权益
    COST = "cost"  # 成本
    PROFIT_LOSS = "profit_loss"  # 损益


class Direction(StrEnum):
    DEBIT = "debit"  # 借
    CREDIT = "credit"  # 贷


def level_of(code: str) -> int:
    """1 for a top-level code, 2 for its first sub-level, ...; raises for a malformed code."""
    if not (code.isascii() and code.isdigit()) or len(code) not in LEVEL_LENGTHS:
        raise AccountCodeInvalid(account=code, parent="")
    return LEVEL_LENGTHS.index(len(code)) + 1


def parent_code_of(code: str) -> str | None:
    """The code of the account this one sits under, or None for a top-level account."""
    level = level_of(code)
    return None if level == 1 else code[: LEVEL_LENGTHS[level - 2]]


def ancestors_of(code: str) -> list[str]:
    """All codes above this one, nearest first."""
    out = []
    parent = parent_code_of(code)
    while parent is not None:
        out.append(parent)
        parent = parent_code_of(parent)
    return out


def ensure_child_code(parent: str, child: str) -> None:
    """A child's code is its parent's code plus two digits (100201 under 1002)."""
    ok = child.isascii() and child.isdigit() and len(child) in LEVEL_LENGTHS and parent_code_of(child) == parent
    if not ok:
        raise AccountCodeInvalid(account=child, parent=parent)
