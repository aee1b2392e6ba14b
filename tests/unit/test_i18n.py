"""Message catalogs and describe(): every error a user can meet reads as a sentence in zh_CN and en."""

from __future__ import annotations

import ast
import re
import string
from decimal import Decimal
from pathlib import Path

import pytest

import jxc
from jxc.domain import errors
from jxc.domain.accounts import ensure_child_code
from jxc.domain.periods import ensure_open, parse_period_label
from jxc.domain.permissions import Actor, require
from jxc.domain.status import VoucherAction, VoucherStatus, voucher_action_target
from jxc.domain.voucher import AccountFacts, VoucherLine, check_voucher
from jxc.i18n import LANGUAGES, catalog, current_language, describe, normalise, t

D = Decimal
SRC = Path(jxc.__file__).parent
CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")


def error_classes(base: type = errors.JxcError) -> list[type[errors.JxcError]]:
    out = []
    for cls in base.__subclasses__():
        out.append(cls)
        out.extend(error_classes(cls))
    return out


ALL_CODES = sorted({errors.JxcError.code} | {cls.code for cls in error_classes()})


def test_error_classes_are_found():
    assert len(ALL_CODES) > 30
    assert "voucher.unbalanced" in ALL_CODES and "import.failed" in ALL_CODES


def test_every_error_class_has_its_own_code():
    classes = error_classes()
    assert len({c.code for c in classes}) == len(classes), "two error classes share a message code"


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("code", ALL_CODES)
def test_every_error_code_has_a_message(code, lang):
    assert catalog(lang).get(code, "").strip(), f"{code} has no {lang} message"


def reason_codes() -> list[str]:
    """Message codes passed as `reason=` anywhere in the source, plus the importer's pydantic mapping."""
    found: set[str] = set()
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        found.update(re.findall(r'reason="([a-z_.]+)"', text))
        found.update(re.findall(r'return "(input\.[a-z_]+)"', text))  # reasons computed by numbers.fits
    from jxc.services.importer import _PYDANTIC_REASONS

    found.update(_PYDANTIC_REASONS.values())
    return sorted(found)


def test_reason_codes_are_found():
    assert {"input.not_decimal", "input.too_many_places", "input.expect_string"} <= set(reason_codes())


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("code", reason_codes())
def test_every_reason_code_has_a_message(code, lang):
    assert catalog(lang).get(code, "").strip(), f"{code} has no {lang} message"


def test_the_default_language_has_every_message():
    missing = set(catalog("en")) - set(catalog("zh_CN"))
    assert not missing


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("code", sorted(set(catalog("zh_CN")) & set(catalog("en"))))
def test_translations_use_the_same_placeholders(code):
    assert placeholders(catalog("zh_CN")[code]) == placeholders(catalog("en")[code])


# --- describe() on errors as the code raises them -------------------------------------

def raised(fn, *args, **kw) -> errors.JxcError:  # type: ignore[no-untyped-def]
    with pytest.raises(errors.JxcError) as err:
        fn(*args, **kw)
    return err.value


FACTS = {"1002": AccountFacts("1002", True, True, False), "2221": AccountFacts("2221", False, True, False),
         "1001": AccountFacts("1001", True, False, False), "1122": AccountFacts("1122", True, True, True)}
Z = D("0")
BAD_VOUCHER = (VoucherLine("2221", D("1.00"), Z), VoucherLine("9999", D("1.00"), Z),
               VoucherLine("1001", D("1.00"), Z), VoucherLine("1122", D("1.00"), Z),
               VoucherLine("1122", D("1.00"), Z, "C9"), VoucherLine("1002", D("1.00"), Z, "C9"),
               VoucherLine("1002", D("9.00"), D("1.00")), VoucherLine("1002", Z, D("1.005")),
               VoucherLine("1002", D("99999999999999999"), Z), VoucherLine("", Z, D("1.00")))

invalid = errors.InvalidInput

REPRESENTATIVE = {
    "base": errors.JxcError(),
    "domain": errors.DomainError(),
    "not_found": errors.NotFound(entity="voucher", key=12),
    "conflict": errors.Conflict(),
    "permission": raised(require, Actor(2, "clerk", frozenset()), "voucher.create"),
    "auth": errors.AuthenticationFailed(username="clerk"),
    "period_format": raised(parse_period_label, "2026-13"),
    "period_closed": raised(ensure_open, "closed", "2026-05"),
    "period_missing": errors.PeriodMissing(date="2025-12-31"),
    "code_invalid": raised(ensure_child_code, "1002", "100301"),
    "account_in_use": errors.AccountInUse(account="1002"),
    "account_exists": errors.AccountExists(account="100201"),
    "transition": raised(voucher_action_target, VoucherStatus.POSTED, VoucherAction.VOID, voucher="2026-01 #1"),
    "batch": raised(check_voucher, BAD_VOUCHER, FACTS, {}),
    "malformed": raised(check_voucher, (VoucherLine("1002", D("1.00"), Z),), FACTS, {}),
    "unbalanced": raised(check_voucher, (VoucherLine("1002", D("100.00"), Z), VoucherLine("1002", Z, D("99.99"))),
                         FACTS, {}),
    "same_user": errors.SameUserAudit(voucher="#1", user="admin"),
    "generated": errors.VoucherGenerated(voucher="#1"),
    "opening_unbalanced": errors.OpeningUnbalanced(debit=D("1000.00"), credit=D("0"), difference=D("1000.00")),
    "opening_locked": errors.OpeningLocked(),
    "user_exists": errors.UserExists(username="clerk"),
    "role_unknown": errors.RoleUnknown(role="boss"),
    "book_exists": errors.BookExists(),
    "book_missing": errors.BookMissing(),
    "duplicate": errors.DuplicateCode(entity="partner", code="C001"),
    "partner_unknown": errors.PartnerUnknown(partner="C9"),
    # InvalidInput with the params each call site in src passes.
    "too_long": invalid(field="lines[3].memo", reason="input.too_long", max=200),
    "choice": invalid(field="kind", reason="input.choice", value="vendor", choices="supplier, customer, both"),
    "password": invalid(field="password", reason="input.password_short", min=8),
    "range": invalid(field="limit", reason="input.range", value=0, min=1, max=10_000),
    "cursor": invalid(field="cursor", reason="input.cursor", value="zzz"),
    "date_order": invalid(field="date_from", reason="input.date_order", value="2026-02-01"),
    "date_format": invalid(field="date", reason="input.date_format", value="2026-02-30"),
    "negative": invalid(field="credit_limit", reason="input.negative", value="-1"),
    "rate": invalid(field="tax_rate", reason="input.rate_range", value="13"),
    "min_max": invalid(field="max_qty", reason="input.min_above_max", value="1"),
    "top_level": invalid(field="code", reason="account.top_level_fixed", value="1002"),
    "no_year": invalid(field="year", reason="period.no_fiscal_year", value=2030),
    "number_order": invalid(field="no", reason="voucher.number_out_of_order", value="#5", expected="#1",
                            period="2026-01"),
    "line_amount": invalid(field="lines[1]", reason="input.line_amount", value="1002-100"),
    "ref_invalid": invalid(field="voucher", reason="cli.voucher_ref_invalid", value="x"),
    "not_json": invalid(field="", reason="input.not_json", detail="Expecting value"),
    "not_object": invalid(field="", reason="input.not_object"),
    "unsupported": invalid(field="type", reason="input.unsupported_record", value="purchase_receipt"),
    "unknown_record": invalid(field="type", reason="input.unknown_record", value="sale"),
    "expect_string": invalid(field="lines[1].debit", reason="input.expect_string", detail="x", value="12.5", max=""),
    "unknown_field": invalid(field="lines[2].bogus", reason="input.unknown_field", detail="x", value="1", max=""),
    "import": errors.ImportFailed([
        errors.RecordError(3, invalid(field="lines[1].debit", reason="input.not_decimal", value="12.3.4")),
        errors.RecordError(7, errors.BatchInvalid([errors.AccountUnknown(account="9999", line=1),
                                                   errors.PartnerRequired(account="1122", line=2)])),
    ]),
}


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("name", sorted(REPRESENTATIVE))
def test_describe_fills_every_placeholder(name, lang):
    text = describe(REPRESENTATIVE[name], lang)
    assert text.strip()
    assert "{" not in text and "}" not in text, text
    assert "Decimal(" not in text
    # A message code left untranslated would show as the dotted code itself. (Not "voucher.":
    # permission names such as voucher.create are shown as they are, on purpose.)
    assert not re.search(r"\b(input|account|field|status|entity|period|opening|import)\.[a-z_]+", text), text


@pytest.mark.parametrize("name", sorted(REPRESENTATIVE))
def test_describe_speaks_the_language_asked(name):
    error = REPRESENTATIVE[name]
    assert CJK.search(describe(error, "zh_CN")), describe(error, "zh_CN")
    # The voucher word 记 is data, and the English help for a voucher reference quotes it.
    assert not CJK.search(describe(error, "en").replace("记", "")), describe(error, "en")


def test_batch_lists_every_problem_with_its_line():
    lines = describe(REPRESENTATIVE["batch"], "zh_CN").split("\n")
    assert len(lines) == len(REPRESENTATIVE["batch"].errors) == 10
    assert lines[0].startswith("第 1 条分录：")
    assert "第 8 行 贷方" in lines[7]


@pytest.mark.parametrize(
    ("field", "zh", "en"),
    [
        ("lines[2].debit", ["第 2 行", "借方"], ["line 2", "debit"]),
        ("lines[3].credit", ["第 3 行", "贷方"], ["line 3", "credit"]),
        ("lines[1].account", ["第 1 行", "科目"], ["line 1", "account"]),
        ("period", ["会计期间"], ["period"]),
    ],
)
def test_describe_names_the_field(field, zh, en):
    error = errors.InvalidInput(field=field, reason="input.not_decimal", value="abc")
    zh_text, en_text = describe(error, "zh_CN"), describe(error, "en")
    for part in zh:
        assert part in zh_text, zh_text
    for part in en:
        assert part.lower() in en_text.lower(), en_text
    assert "abc" in zh_text and "lines[" not in zh_text


def test_unbalanced_message():
    text = describe(REPRESENTATIVE["unbalanced"], "zh_CN")
    assert "借贷不平衡" in text
    assert "100.00" in text and "99.99" in text and "0.01" in text


def test_transition_statuses_are_words():
    assert "已过账" in describe(REPRESENTATIVE["transition"], "zh_CN")
    assert "posted" in describe(REPRESENTATIVE["transition"], "en")


def test_record_errors_carry_file_line_numbers():
    text = describe(REPRESENTATIVE["import"], "zh_CN").split("\n")
    assert text[0].startswith("文件第 3 行")
    assert [ln[:7] for ln in text[1:]] == ["文件第 7 行"] * 2


@pytest.mark.parametrize(
    ("given", "expected"),
    [(None, "zh_CN"), ("", "zh_CN"), ("zh", "zh_CN"), ("zh-CN", "zh_CN"), ("zh_CN.UTF-8", "zh_CN"), ("en", "en"),
     ("en_US.UTF-8", "en"), ("EN-gb", "en"), ("fr", "zh_CN")],
)
def test_normalise(given, expected):
    assert normalise(given) == expected


def test_language_from_environment(monkeypatch):
    monkeypatch.setenv("JXC_LANG", "en_US")
    assert current_language() == "en"
    assert current_language("zh") == "zh_CN"
    monkeypatch.delenv("JXC_LANG")
    assert current_language() == "zh_CN"


def test_unknown_code_falls_back_to_the_code():
    assert t("no.such.message", "en") == "no.such.message"


def test_no_chinese_string_literals_in_source():
    """Chinese lives only in catalogs and data files (STYLE 2.6); comments and docstrings may explain terms."""
    found = []
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                      and node.body and isinstance(node.body[0], ast.Expr)}
        found += [f"{path.relative_to(SRC)}:{node.lineno}" for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str)
                  and id(node) not in docstrings and CJK.search(node.value)]
    assert not found
