"""`import_records`: the JSON Lines interchange format (shared/INTERCHANGE.md), all or nothing,
every problem reported with its file line number; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jxc.db.models import (
    AuditLog,
    OpeningBalance,
    Partner,
    Product,
    Voucher,
    VoucherLine,
    VoucherSequence,
    Warehouse,
)
from jxc.domain.errors import (
    AccountUnknown,
    BatchInvalid,
    DuplicateCode,
    ImportFailed,
    InvalidInput,
    OpeningUnbalanced,
    PartnerRequired,
    PermissionDenied,
    RecordError,
    UnbalancedVoucher,
)
from jxc.i18n import describe
from jxc.services import importer, reports, users
from tests.conftest import make_book

D = Decimal
TABLES = (Warehouse, Partner, Product, OpeningBalance, Voucher, VoucherLine, VoucherSequence, AuditLog)


def rec(**fields: object) -> str:
    return json.dumps(fields, ensure_ascii=False)


def vrec(day: str, *lines: tuple[str, str, str], no: str | None = None, partner: dict[int, str] | None = None) -> str:
    """A voucher record; lines are (account, debit, credit)."""
    out = []
    for i, (account, debit, credit) in enumerate(lines):
        line: dict[str, str] = {"account": account, "debit": debit, "credit": credit}
        if partner and i in partner:
            line["partner"] = partner[i]
        out.append(line)
    fields: dict[str, object] = {"type": "voucher", "date": day, "memo": "imported", "lines": out}
    if no is not None:
        fields["no"] = no
    return json.dumps(fields, ensure_ascii=False)


GOOD = [
    rec(type="warehouse", code="WH01", name="主仓"),
    rec(type="partner", code="S001", name="华东电子", kind="supplier"),
    rec(type="partner", code="C001", name="星海商贸", kind="customer", credit_limit="50000.00"),
    rec(type="product", code="P001", name="无线鼠标", unit="个", category="外设", costing_method="moving_average",
        tax_rate="0.13", barcode="6901234567892", batch_tracked=False, shelf_life_days=None, min_qty="10",
        max_qty="500"),
    rec(type="opening_balance", account="1002", debit="200000.00", credit="0"),
    rec(type="opening_balance", account="1122", partner="C001", debit="3000.00", credit="0"),
    rec(type="opening_balance", account="3001", debit="0", credit="203000.00"),
    vrec("2026-01-05", ("1122", "113.00", "0"), ("5001", "0", "100.00"), ("22210101", "0", "13.00"),
         partner={0: "C001"}),
    vrec("2026-01-06", ("1002", "1,234.50", "0"), ("1122", "0", "1234.5"), partner={1: "C001"}),
]
GOOD_COUNTS = {"warehouse": 1, "partner": 2, "product": 1, "opening_balance": 3, "voucher": 2}


def counts(db: Session) -> dict[str, int]:
    with db.begin():
        return {m.__tablename__: db.scalar(select(func.count()).select_from(m)) for m in TABLES}


def failure(db: Session, lines: list[str], admin, *, audit: bool = False) -> list[RecordError]:  # type: ignore[no-untyped-def]
    """Import a file that must fail; check nothing at all was written and return the RecordErrors."""
    before = counts(db)
    with pytest.raises(ImportFailed) as err:
        importer.import_records(db, lines, actor=admin, audit=audit)
    assert counts(db) == before
    assert all(isinstance(e, RecordError) for e in err.value.errors)
    assert err.value.params["count"] == len(err.value.errors)
    return err.value.errors


def problem(error: RecordError) -> tuple[int, type, object]:
    """(line, kind, detail): detail is the field+reason of an InvalidInput, or the inner kinds of a batch."""
    inner = error.error
    if isinstance(inner, InvalidInput):
        return error.params["line"], InvalidInput, (inner.params["field"], inner.params["reason"])
    if isinstance(inner, BatchInvalid):
        return error.params["line"], BatchInvalid, [type(e) for e in inner.errors]
    return error.params["line"], type(inner), None


# --- a valid file ----------------------------------------------------------------------

def test_valid_file_imports_everything(db, admin):
    before = counts(db)
    result = importer.import_records(db, GOOD, actor=admin)
    assert result == GOOD_COUNTS
    after = counts(db)
    assert after["warehouse"] - before["warehouse"] == 1
    assert after["partner"] - before["partner"] == 2
    assert after["product"] - before["product"] == 1
    assert after["opening_balance"] - before["opening_balance"] == 3
    assert after["voucher"] - before["voucher"] == 2
    assert after["voucher_line"] - before["voucher_line"] == 5
    with db.begin():
        assert set(db.scalars(select(Voucher.status))) == {"draft"}
        partner = db.execute(select(Partner).where(Partner.code == "C001")).scalar_one()
        assert partner.credit_limit == D("50000.00") and partner.kind == "customer"
        product = db.execute(select(Product).where(Product.code == "P001")).scalar_one()
        assert (product.tax_rate, product.min_qty, product.max_qty) == (D("0.13"), D("10"), D("500"))
        amounts = sorted(db.scalars(select(VoucherLine.debit).where(VoucherLine.debit != 0)))
        assert amounts == [D("113.00"), D("1234.50")]  # "1,234.50" keeps its value
    # Drafts are not in the ledger; the opening balances are.
    tb = reports.trial_balance(db, "2026-01", actor=admin)
    assert tb.totals["debit"] == 0 and tb.totals["opening_debit"] == D("203000.00") and tb.balanced


def test_audit_posts_each_voucher(db, admin):
    seq_before = counts(db)["audit_log"]
    assert importer.import_records(db, GOOD, actor=admin, audit=True) == GOOD_COUNTS
    with db.begin():
        ids = {str(i) for i in db.scalars(select(Voucher.id))}
        assert set(db.scalars(select(Voucher.status))) == {"posted"}
        assert set(db.scalars(select(Voucher.posted_by))) == {admin.id}
        logged = set(db.scalars(select(AuditLog.entity_id).where(AuditLog.seq > seq_before,
                                                                 AuditLog.entity == "voucher")))
    assert logged == ids  # every imported voucher is in the audit log
    tb = reports.trial_balance(db, "2026-01", actor=admin)
    rows = {r.account: r for r in tb.rows}
    assert rows["1122"].debit == D("113.00") and rows["1122"].credit == D("1234.50")
    assert rows["1002"].closing_debit == D("201234.50")
    assert rows["5001"].credit == D("100.00")
    assert tb.totals["debit"] == tb.totals["credit"] == D("1347.50")
    assert tb.balanced


def test_audit_refuses_unbalanced_openings_with_the_voucher_line(db, admin):
    lines = [GOOD[4], vrec("2026-01-05", ("1002", "1.00", "0"), ("5001", "0", "1.00"))]
    errors = failure(db, lines, admin, audit=True)
    assert [problem(e)[:2] for e in errors] == [(2, OpeningUnbalanced)]


def test_blank_lines_are_skipped_but_keep_the_numbering(db, admin):
    lines = ["", GOOD[0], "   ", rec(type="warehouse", code="WH01", name="dup")]
    errors = failure(db, lines, admin)
    assert [problem(e) for e in errors] == [(4, DuplicateCode, None)]
    assert importer.import_records(db, ["", GOOD[0], ""], actor=admin) == {"warehouse": 1}


def test_records_may_use_what_earlier_lines_created(db, admin):
    lines = [rec(type="partner", code="C777", name="新客户", kind="customer"),
             vrec("2026-01-05", ("1122", "5.00", "0"), ("5001", "0", "5.00"), partner={0: "C777"})]
    assert importer.import_records(db, lines, actor=admin, audit=True) == {"partner": 1, "voucher": 1}


# --- one bad line ----------------------------------------------------------------------

BAD = {
    "malformed decimal": (vrec("2026-01-05", ("1002", "12.3.4", "0"), ("5001", "0", "12.34")),
                          (InvalidInput, ("lines[1].debit", "input.not_decimal"))),
    "unknown field": (rec(type="warehouse", code="WH09", name="x", colour="red"),
                      (InvalidInput, ("colour", "input.unknown_field"))),
    "unknown line field": (json.dumps({"type": "voucher", "date": "2026-01-05", "lines": [
        {"account": "1002", "debit": "1", "bogus": "1"}, {"account": "5001", "credit": "1"}]}),
        (InvalidInput, ("lines[1].bogus", "input.unknown_field"))),
    "JSON number amount": (json.dumps({"type": "voucher", "date": "2026-01-05", "lines": [
        {"account": "1002", "debit": 12.5}, {"account": "5001", "credit": "12.50"}]}),
        (InvalidInput, ("lines[1].debit", "input.expect_string"))),
    "JSON number opening": (json.dumps({"type": "opening_balance", "account": "1002", "debit": 100}),
                            (InvalidInput, ("debit", "input.expect_string"))),
    "invoice JSON number": (json.dumps({"type": "purchase_invoice", "no": "FP-202601-0001", "date": "2026-01-03",
                                        "partner": "S001", "invoice_kind": "special",
                                        "lines": [{"product": "P001", "qty": 1, "price": "1", "tax_rate": "0"}]}),
                            (InvalidInput, ("lines[1].qty", "input.expect_string"))),
    "unknown type": (rec(type="sale", code="x"), (InvalidInput, ("type", "input.unknown_record"))),
    "missing type": (rec(code="x"), (InvalidInput, ("type", "input.unknown_record"))),
    "not JSON": ('{"type": "warehouse", "code": "WH09",', (InvalidInput, ("", "input.not_json"))),
    "not an object": ('["warehouse", "WH09"]', (InvalidInput, ("", "input.not_object"))),
    "bad date": (vrec("2026-02-30", ("1002", "1", "0"), ("5001", "0", "1")),
                 (InvalidInput, ("date", "input.date_format"))),
    "missing field": (rec(type="partner", code="C009", name="x"), (InvalidInput, ("kind", "input.required"))),
    "too many places": (rec(type="opening_balance", account="1001", debit="1.001"),
                        (InvalidInput, ("debit", "input.too_many_places"))),
    "bad choice": (rec(type="partner", code="C009", name="x", kind="vendor"), (InvalidInput, ("kind", "input.choice"))),
    "unknown account": (vrec("2026-01-05", ("9999", "1", "0"), ("5001", "0", "1")), (BatchInvalid, [AccountUnknown])),
    "unbalanced voucher": (vrec("2026-01-05", ("1002", "100.00", "0"), ("5001", "0", "99.99")),
                           (BatchInvalid, [UnbalancedVoucher])),
    "duplicate partner in file": (rec(type="partner", code="S001", name="again", kind="supplier"),
                                  (DuplicateCode, None)),
    "voucher number gap": (vrec("2026-01-05", ("1002", "1", "0"), ("5001", "0", "1"), no="记-0005"),
                           (InvalidInput, ("no", "voucher.number_out_of_order"))),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_one_bad_line_fails_the_whole_file(db, admin, case):
    bad, expected = BAD[case]
    lines = [*GOOD[:4], bad, *GOOD[4:]]  # the bad record is file line 5
    errors = failure(db, lines, admin)
    assert [problem(e) for e in errors] == [(5, *expected)]
    text = describe(errors[0], "zh_CN")
    assert text.startswith("文件第 5 行") and "{" not in text


def test_every_rule_problem_is_reported_in_one_pass(db, admin):
    lines = [
        GOOD[1],
        rec(type="partner", code="S001", name="dup", kind="supplier"),  # 2: duplicate within the file
        vrec("2026-01-05", ("9999", "1", "0"), ("5001", "0", "1")),  # 3: unknown account
        vrec("2026-01-05", ("1002", "2", "0"), ("5001", "0", "1")),  # 4: unbalanced
        GOOD[0],
        vrec("2026-01-05", ("1122", "1", "0"), ("5001", "0", "1")),  # 6: partner missing
        vrec("2026-01-05", ("1002", "1", "0"), ("5001", "0", "1"), no="记-0002"),  # 7: would leave a gap
    ]
    errors = failure(db, lines, admin)
    assert [problem(e) for e in errors] == [
        (2, DuplicateCode, None),
        (3, BatchInvalid, [AccountUnknown]),
        (4, BatchInvalid, [UnbalancedVoucher]),
        (6, BatchInvalid, [PartnerRequired]),
        (7, InvalidInput, ("no", "voucher.number_out_of_order")),
    ]


def test_every_parse_problem_is_reported_in_one_pass(db, admin):
    lines = [GOOD[0], BAD["malformed decimal"][0], BAD["unknown field"][0], GOOD[1], BAD["JSON number amount"][0],
             BAD["invoice JSON number"][0]]
    errors = failure(db, lines, admin)
    assert [e.params["line"] for e in errors] == [2, 3, 5, 6]


def test_parse_and_rule_problems_are_reported_together(db, admin):
    """INTERCHANGE.md: the whole file is validated first and every problem printed, so the file is
    fixed in one pass (STYLE 2.6). A malformed line must not hide an unknown account elsewhere."""
    kinds = ["malformed decimal", "unknown field", "JSON number amount", "unknown account", "unbalanced voucher",
             "duplicate partner in file", "invoice JSON number"]
    lines = [GOOD[0], GOOD[1], *(BAD[k][0] for k in kinds)]
    errors = failure(db, lines, admin)
    assert [problem(e) for e in errors] == [(n, *BAD[k][1]) for n, k in enumerate(kinds, start=3)]


def test_voucher_numbers_in_order_keep_their_numbers(db, admin):
    lines = [vrec("2026-01-05", ("1002", "1", "0"), ("5001", "0", "1"), no="记-0001"),
             vrec("2026-01-06", ("1002", "2", "0"), ("5001", "0", "2"), no="2"),
             vrec("2026-02-01", ("1002", "3", "0"), ("5001", "0", "3"), no="记-0001")]
    assert importer.import_records(db, lines, actor=admin) == {"voucher": 3}
    with db.begin():
        numbers = sorted((str(d), n) for d, n in db.execute(select(Voucher.voucher_date, Voucher.number)))
    assert numbers == [("2026-01-05", 1), ("2026-01-06", 2), ("2026-02-01", 1)]


def test_a_repeated_voucher_number_is_refused(db, admin):
    lines = [vrec("2026-01-05", ("1002", "1", "0"), ("5001", "0", "1"), no="记-0001"),
             vrec("2026-01-06", ("1002", "2", "0"), ("5001", "0", "2"), no="记-0001")]
    errors = failure(db, lines, admin)
    assert [problem(e) for e in errors] == [(2, InvalidInput, ("no", "voucher.number_out_of_order"))]
    assert errors[0].error.params["expected"] == "记-0002"


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (rec(type="partner", code="C009", name="x", kind="customer", credit_limit="1.001"), "credit_limit"),
        (rec(type="partner", code="C009", name="x", kind="customer", credit_limit="100000000000000000"),
         "credit_limit"),
        (rec(type="product", code="P009", name="x", unit="个", tax_rate="0.123456"), "tax_rate"),
        (rec(type="product", code="P009", name="x", unit="个", tax_rate="0.13", min_qty="0.00001"), "min_qty"),
    ],
    ids=["credit_limit places", "credit_limit size", "tax_rate places", "min_qty places"],
)
def test_master_data_the_columns_cannot_hold_is_a_record_error(db, admin, bad, field):
    """A value finer or larger than its column must come back as a RecordError for its line,
    never as a database exception (which the CLI turns into an internal error, exit 70)."""
    errors = failure(db, [GOOD[0], bad], admin)
    assert [(e.params["line"], type(e.error)) for e in errors] == [(2, InvalidInput)]
    assert errors[0].error.params["field"] == field


def test_import_needs_the_permissions_of_what_it_writes(db, admin):
    users.add_user(db, "viewer", "viewer-pass", roles=["auditor"], actor=admin)
    viewer = users.load_actor(db, "viewer")
    db.rollback()
    before = counts(db)
    with pytest.raises(PermissionDenied) as err:
        importer.import_records(db, GOOD, actor=viewer)
    assert err.value.params["permission"] in {"masterdata.edit", "opening.edit", "voucher.create"}
    assert counts(db) == before
    users.add_user(db, "clerk", "clerk-pass", roles=["accountant"], actor=admin)
    clerk = users.load_actor(db, "clerk")
    db.rollback()
    cash = vrec("2026-01-05", ("1002", "1.00", "0"), ("5001", "0", "1.00"))
    assert importer.import_records(db, [cash], actor=clerk, audit=True) == {"voucher": 1}


def test_nothing_is_committed_on_a_real_database(backend_name, fresh_url):
    """The same all-or-nothing with real commits rather than the test savepoints."""
    engine = make_book(fresh_url)
    try:
        with Session(engine) as db:
            admin = users.load_actor(db, "admin")
            db.rollback()
            before = counts(db)
            with pytest.raises(ImportFailed):
                importer.import_records(db, [*GOOD, BAD["unknown account"][0]], actor=admin, audit=True)
            assert counts(db) == before
            assert importer.import_records(db, GOOD, actor=admin, audit=True) == GOOD_COUNTS
        with Session(engine) as db:
            assert counts(db)["voucher"] == before["voucher"] + 2
    finally:
        engine.dispose()
