"""One column type for every Decimal in the books.

PostgreSQL stores NUMERIC(p, s). SQLite has no decimal type (a NUMERIC column
there is a binary float), so the same TypeDecorator stores a scaled 64-bit
integer: fen for money, 10^-4 for quantities, 10^-6 for unit costs. Either
way a value comes back as the exact Decimal that went in. A value finer than
the column's scale is refused rather than rounded: rounding is the domain's
job (numbers.money), and doing it silently here would hide a bug.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Dialect, Numeric
from sqlalchemy.types import TypeDecorator, TypeEngine


class ScaledDecimal(TypeDecorator[Decimal]):
    impl = BigInteger
    cache_ok = True

    def __init__(self, places: int, precision: int = 18) -> None:
        super().__init__()
        self.places = places
        self.precision = precision
        self._quantum = Decimal(1).scaleb(-places)
        self._limit = Decimal(10) ** precision  # scaled values stay below this (precision digits)

    def __repr__(self) -> str:
        return f"ScaledDecimal(places={self.places}, precision={self.precision})"

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(self.precision, self.places, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if type(value) is Decimal and dialect.name == "sqlite":
            # The common case, kept short (it runs for every amount written): scale, and accept
            # only an exact integer within the column's digits.
            scaled = value.scaleb(self.places)
            if scaled == scaled.to_integral_value() and abs(scaled) < self._limit:
                return int(scaled)
        if isinstance(value, bool) or not isinstance(value, Decimal | int):
            raise TypeError(f"ScaledDecimal takes Decimal or int, not {type(value).__name__}")
        value = Decimal(value)
        if not value.is_finite():
            raise ValueError(f"not a finite decimal: {value}")
        exact = value.quantize(self._quantum)
        if exact != value:
            raise ValueError(f"{value} has more than {self.places} decimal places")
        if exact.adjusted() >= self.precision - self.places:
            # Same limit on both databases: NUMERIC(p, s) on PostgreSQL, int64 on SQLite.
            raise ValueError(f"{value} has more than {self.precision - self.places} integer digits")
        if dialect.name == "sqlite":
            return int(exact.scaleb(self.places))
        return exact

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            # An integer scaled down comes out with exactly `places` decimals: no quantize needed.
            return Decimal(value if type(value) is int else int(value)).scaleb(-self.places)
        return Decimal(value).quantize(self._quantum)

    def coerce_compared_value(self, op: Any, value: Any) -> TypeEngine[Any]:
        return self


# The range of a money column as SQLite stores it (fen): used as a CHECK on tables whose
# values the database sums itself (balances), where no bind-time check can see the sum.
SQLITE_MONEY_RANGE_CHECK = ("debit BETWEEN -999999999999999999 AND 999999999999999999 "
                            "AND credit BETWEEN -999999999999999999 AND 999999999999999999")


def Money() -> ScaledDecimal:  # noqa: N802 (reads like a type in column declarations)
    return ScaledDecimal(2, 18)


def Quantity() -> ScaledDecimal:  # noqa: N802
    return ScaledDecimal(4, 18)


def UnitCost() -> ScaledDecimal:  # noqa: N802
    return ScaledDecimal(6, 18)  # 10^18 still fits SQLite's signed 64-bit integer


def Rate() -> ScaledDecimal:  # noqa: N802
    return ScaledDecimal(4, 8)
