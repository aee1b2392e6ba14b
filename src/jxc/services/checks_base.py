"""What a `jxc verify` check returns; shared by the ledger and the stock checks."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_LISTED = 20


@dataclass(frozen=True, slots=True)
class CheckResult:
    """`code` names the message that explains a failure; `items` are the offending things."""

    name: str
    ok: bool
    code: str = ""
    items: list[str] = field(default_factory=list)
    params: dict[str, object] = field(default_factory=dict)


def result(name: str, items: list[str], code: str, **params: object) -> CheckResult:
    return CheckResult(name, not items, code if items else "", items[:MAX_LISTED],
                       {"count": len(items), **params})
