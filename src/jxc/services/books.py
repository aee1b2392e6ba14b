"""Creating a set of books (账套): schema, settings, periods, chart of accounts, roles, admin."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from importlib import resources

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from jxc.db import migrate
from jxc.db.models import Account, Company, FiscalYear, Period, PostingRule, StockBalance, TaxRate
from jxc.domain import permissions as perm
from jxc.domain.accounts import level_of, parent_code_of
from jxc.domain.errors import BookExists, BookMissing, InvalidInput
from jxc.domain.numbers import MAX_MONEY, money
from jxc.domain.periods import calendar_year_periods, parse_period_label
from jxc.domain.permissions import ALL, Actor, require
from jxc.domain.trade import CreditControl
from jxc.services.common import all_periods, append_audit, company, reading
from jxc.services.users import _new_user, seed_roles

CHARTS = {"small_2013": "coa_small_2013.csv"}
LANGUAGES = ("zh_CN", "en")


@dataclass(frozen=True, slots=True)
class BookSettings:
    company: str
    start: str  # "YYYY-MM": the first period of the books
    admin_username: str
    admin_password: str
    chart: str = "small_2013"
    require_distinct_auditor: bool = False
    language: str = "zh_CN"


def _data_rows(name: str) -> list[dict[str, str]]:
    text = resources.files("jxc.data").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def book_defaults() -> dict[str, str]:
    return {r["key"]: r["value"] for r in _data_rows("book_defaults.csv")}


def seed_chart(db: Session, chart: str) -> int:
    """Insert the chart's accounts, parents before children; returns how many."""
    rows = sorted(_data_rows(CHARTS[chart]), key=lambda r: (len(r["code"]), r["code"]))
    ids: dict[str, int] = {}
    codes = {r["code"] for r in rows}
    for r in rows:
        parent = parent_code_of(r["code"])
        acct = Account(
            code=r["code"], name=r["name"], parent_id=ids[parent] if parent else None,
            level=level_of(r["code"]), category=r["category"], direction=r["direction"],
            is_leaf=not any(c != r["code"] and c.startswith(r["code"]) for c in codes),
            active=True, partner_aux=r["partner_aux"] == "1",
        )
        db.add(acct)
        db.flush()
        ids[acct.code] = acct.id
    return len(rows)


def seed_posting_rules(db: Session) -> None:
    """The default account of each stock document type (DOMAIN.md §2), for any category."""
    ids = dict(db.execute(select(Account.code, Account.id)).all())
    db.add_all(PostingRule(doc_type=r["doc_type"], category="", inventory_account_id=ids[r["inventory"]],
                           counter_account_id=ids[r["counter"]]) for r in _data_rows("posting_rules.csv"))
    db.flush()


_TAX_RATES = (("0.13", "13%"), ("0.09", "9%"), ("0.06", "6%"), ("0.05", "5% simplified"), ("0.03", "3% simplified"),
              ("0.01", "1% simplified"), ("0", "0% / exempt"))


def seed_trade_settings(db: Session, start: date) -> None:
    """The VAT rates in force (DOMAIN.md §6.1; valid from the 2019 rate cut) and the account
    small settlement differences are written off to (财务费用—现金折扣)."""
    db.add_all(TaxRate(rate=Decimal(r), label=label, valid_from=min(start, date(2019, 4, 1)), valid_to=None)
               for r, label in _TAX_RATES)
    db.flush()
    company = db.get(Company, 1)
    assert company is not None
    company.writeoff_account_id = db.execute(select(Account.id).where(Account.code == "560303")).scalar()


def add_fiscal_year(db: Session, year: int, first_month: int = 1) -> FiscalYear:
    """Fiscal year `year` with its periods from `first_month` to December."""
    spans = calendar_year_periods(year, first_month)
    fy = FiscalYear(year=year, start_date=spans[0].start_date, end_date=spans[-1].end_date)
    db.add(fy)
    db.flush()
    db.add_all(Period(fiscal_year_id=fy.id, year=s.year, month=s.month, start_date=s.start_date,
                      end_date=s.end_date, status="open") for s in spans)
    db.flush()
    return fy


@dataclass(frozen=True, slots=True)
class BookCreated:
    periods: int
    accounts: int


def init_book(engine: Engine, settings: BookSettings) -> BookCreated:
    """Create the schema (Alembic) and a new set of books in one transaction.

    The fiscal year is the calendar year: periods from `start` to December (and, for a book
    started after January, all of the next year). Raises BookExists if the
    database already holds books, InvalidInput for a bad setting.
    """
    year, month = parse_period_label(settings.start, field="start")
    if settings.chart not in CHARTS:
        raise InvalidInput(field="chart", reason="input.choice", value=settings.chart,
                           choices=", ".join(CHARTS))
    if settings.language not in LANGUAGES:
        raise InvalidInput(field="language", reason="input.choice", value=settings.language,
                           choices=", ".join(LANGUAGES))
    if not settings.company.strip():
        raise InvalidInput(field="company", reason="input.required")
    migrate.upgrade(engine)
    with Session(engine) as db, db.begin():
        if db.execute(select(Company.id)).first():
            raise BookExists()
        fy = add_fiscal_year(db, year, month)
        periods = 13 - month
        if month > 1:  # a book started during the year can date documents a full twelve months ahead
            add_fiscal_year(db, year + 1)
            periods += 12
        db.add(Company(id=1, name=settings.company.strip(), currency="CNY", chart=settings.chart,
                       amount_places=2, unit_cost_places=6, price_places=4, qty_places=4,
                       require_distinct_auditor=settings.require_distinct_auditor,
                       language=settings.language, voucher_word=book_defaults()["voucher_word"],
                       start_date=fy.start_date, opening_locked=False))
        count = seed_chart(db, settings.chart)
        seed_posting_rules(db)
        seed_trade_settings(db, fy.start_date)
        seed_roles(db)
        admin = _new_user(db, settings.admin_username, settings.admin_password, "", ["admin"])
        append_audit(db, Actor(admin.id, admin.username, frozenset({ALL})), "book.init", "company", 1,
                     {"company": settings.company, "start": settings.start, "accounts": count})
    return BookCreated(periods=periods, accounts=count)


@dataclass(frozen=True, slots=True)
class CompanyView:
    name: str
    currency: str
    chart: str
    amount_places: int
    unit_cost_places: int
    price_places: int
    qty_places: int
    require_distinct_auditor: bool
    language: str
    start_date: date
    opening_locked: bool
    allow_negative_stock: bool
    order_tolerance: Decimal
    match_tolerance: Decimal
    credit_control: str
    writeoff_account: str | None
    writeoff_limit: Decimal


def _view(db: Session, c: Company) -> CompanyView:
    writeoff = db.execute(select(Account.code).where(Account.id == c.writeoff_account_id)).scalar() \
        if c.writeoff_account_id else None
    return CompanyView(c.name, c.currency, c.chart, c.amount_places, c.unit_cost_places, c.price_places,
                       c.qty_places, c.require_distinct_auditor, c.language, c.start_date, c.opening_locked,
                       c.allow_negative_stock, c.order_tolerance, c.match_tolerance, c.credit_control, writeoff,
                       c.writeoff_limit)


def get_settings(db: Session, *, actor: Actor) -> CompanyView:
    """The company settings of these books."""
    require(actor, perm.MASTERDATA_READ)
    with reading(db):
        return _view(db, company(db))


def update_settings(db: Session, *, actor: Actor, require_distinct_auditor: bool | None = None,
                    language: str | None = None, name: str | None = None,
                    allow_negative_stock: bool | None = None, order_tolerance: Decimal | None = None,
                    match_tolerance: Decimal | None = None, credit_control: str | None = None,
                    writeoff_account: str | None = None, writeoff_limit: Decimal | None = None) -> CompanyView:
    """Change the settings a user may change after set-up; each change is in the audit log.
    Negative stock can be forbidden again only while no balance is below zero. Tolerances
    are fractions (0.05 = 5%); credit_control is off, warn or block; the write-off account
    takes small settlement differences up to writeoff_limit.
    Raises InvalidInput for an unknown language, an empty name, or negative stock on hand."""
    require(actor, perm.SETTINGS_EDIT)
    for field_name, rate in (("order_tolerance", order_tolerance), ("match_tolerance", match_tolerance)):
        if rate is not None and not (0 <= rate <= 1 and rate == rate.quantize(Decimal("0.0001"))):
            raise InvalidInput(field=field_name, reason="input.fraction_range", value=str(rate))
    if credit_control is not None and credit_control not in {c.value for c in CreditControl}:
        raise InvalidInput(field="credit_control", reason="input.choice", value=credit_control,
                           choices=", ".join(c.value for c in CreditControl))
    if writeoff_limit is not None and (writeoff_limit < 0 or writeoff_limit != money(writeoff_limit)
                                       or writeoff_limit > MAX_MONEY):
        raise InvalidInput(field="writeoff_limit", reason="input.invalid_value", value=str(writeoff_limit))
    if language is not None and language not in LANGUAGES:
        raise InvalidInput(field="language", reason="input.choice", value=language, choices=", ".join(LANGUAGES))
    if name is not None and not name.strip():
        raise InvalidInput(field="company", reason="input.required")
    with db.begin():
        c = db.execute(select(Company).where(Company.id == 1).with_for_update()).scalar_one()
        if allow_negative_stock is False and c.allow_negative_stock and db.execute(
                select(StockBalance.product_id).where(StockBalance.qty < 0).limit(1)).first():
            raise InvalidInput(field="allow_negative_stock", reason="stock.negative_exists")
        writeoff_id = None
        if writeoff_account is not None:
            acct = db.execute(select(Account).where(Account.code == writeoff_account)).scalar_one_or_none()
            if acct is None or not acct.is_leaf or not acct.active:
                raise InvalidInput(field="writeoff_account", reason="account.not_leaf", account=writeoff_account)
            writeoff_id = acct.id
        changed: dict[str, list[object]] = {}
        for key, value in (("require_distinct_auditor", require_distinct_auditor), ("language", language),
                           ("name", name.strip() if name else None), ("allow_negative_stock", allow_negative_stock),
                           ("order_tolerance", order_tolerance), ("match_tolerance", match_tolerance),
                           ("credit_control", credit_control), ("writeoff_account_id", writeoff_id),
                           ("writeoff_limit", writeoff_limit)):
            if value is not None and getattr(c, key) != value:
                changed[key] = [str(getattr(c, key)), str(value)]
                setattr(c, key, value)
        db.flush()
        if changed:
            append_audit(db, actor, "settings.update", "company", 1, changed)
        return _view(db, c)


@dataclass(frozen=True, slots=True)
class PeriodInfo:
    label: str
    start_date: date
    end_date: date
    status: str


def list_periods(db: Session, *, actor: Actor) -> list[PeriodInfo]:
    require(actor, perm.LEDGER_READ)
    with reading(db):
        return [PeriodInfo(p.label, p.start_date, p.end_date, p.status) for p in all_periods(db)]


def open_next_fiscal_year(db: Session, *, actor: Actor) -> list[PeriodInfo]:
    """Create the twelve periods that follow the last existing one, so documents can be dated
    there before the year-end close. Idempotence is not attempted: each call adds one year."""
    require(actor, perm.PERIOD_CLOSE)
    with db.begin():
        last = db.execute(select(Period).order_by(Period.start_date.desc()).limit(1).with_for_update()
                          ).scalar_one()
        nxt = last.end_date + timedelta(days=1)
        fy = add_fiscal_year(db, nxt.year, nxt.month)
        spans = calendar_year_periods(nxt.year, nxt.month)
        append_audit(db, actor, "fiscal_year.add", "fiscal_year", fy.year,
                     {"from": spans[0].label, "to": spans[-1].label})
        return [PeriodInfo(s.label, s.start_date, s.end_date, "open") for s in spans]


@dataclass(frozen=True, slots=True)
class Upgraded:
    before: str | None
    after: str


def upgrade_book(engine: Engine) -> Upgraded:
    """Bring an existing set of books to the schema this version of JXC ships (Alembic
    migrations, in one transaction), and record it in the audit log. An operator's step, like
    init: it runs before anyone can log in to the new schema. Back up first.
    Raises BookMissing for a database without books."""
    before = migrate.current_revision(engine)
    if before is None:
        raise BookMissing()
    migrate.upgrade(engine)
    after = migrate.head_revision()
    if after != before:
        with Session(engine) as db, db.begin():
            append_audit(db, None, "book.upgrade", "schema", after, {"from": before, "to": after},
                         username="system")
    return Upgraded(before, after)
