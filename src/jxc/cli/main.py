"""The `jxc` command. Each command resolves the database and the acting user, calls one
service, and prints; errors become one readable message, never a traceback."""

from __future__ import annotations

import getpass
import os
import sys
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from sqlalchemy import select
from sqlalchemy.orm import Session

from jxc.cli.output import amount, err, out, print_json, table
from jxc.db.models import Company, User, UserRole
from jxc.db.session import database_url, make_engine, session_factory
from jxc.domain.errors import ImportFailed, InvalidInput, JxcError, NotFound
from jxc.domain.numbers import parse_decimal
from jxc.domain.permissions import Actor
from jxc.domain.status import VoucherAction, VoucherStatus
from jxc.domain.voucher import VoucherLine
from jxc.i18n import current_language, describe, t
from jxc.services import accounts, books, checks, importer, opening, reports, users, vouchers
from jxc.services import demo as demo_books


def H(code: str) -> str:  # noqa: N802
    """Help text from the catalogs, in the language of JXC_LANG (help is built before options are read)."""
    return t(code, current_language())


app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
                  help=H("help.app"))
voucher_app = typer.Typer(no_args_is_help=True, help=H("help.voucher_app"))
report_app = typer.Typer(no_args_is_help=True, help=H("help.report_app"))
users_app = typer.Typer(no_args_is_help=True, help=H("help.users_app"))
account_app = typer.Typer(no_args_is_help=True, help=H("help.account_app"))
opening_app = typer.Typer(no_args_is_help=True, help=H("help.opening_app"))
settings_app = typer.Typer(no_args_is_help=True, help=H("help.settings_app"))
period_app = typer.Typer(no_args_is_help=True, help=H("help.period_app"))
db_app = typer.Typer(no_args_is_help=True, help=H("help.db_app"))
app.add_typer(voucher_app, name="voucher")
app.add_typer(report_app, name="report")
app.add_typer(users_app, name="users")
app.add_typer(account_app, name="account")
app.add_typer(opening_app, name="opening")
app.add_typer(settings_app, name="settings")
app.add_typer(period_app, name="period")
app.add_typer(db_app, name="db")


class Format(StrEnum):
    table = "table"
    json = "json"


@dataclass
class Ctx:
    db_url: str
    user: str | None
    lang: str
    lang_explicit: bool = False

    def session(self) -> Session:
        return session_factory(make_engine(self.db_url))()

    def actor(self, db: Session) -> Actor:
        """--user / JXC_USER, else the first administrator (the one `jxc init` created)."""
        name = self.user
        if not name:
            name = db.execute(select(User.username).join(UserRole, UserRole.user_id == User.id)
                              .where(UserRole.role_code == "admin").order_by(User.id)).scalars().first()
            if name is None:
                raise NotFound(entity="user", key="admin")
        actor = users.load_actor(db, name)
        if not self.lang_explicit:
            # --lang / JXC_LANG win; otherwise the user's language, then the book's.
            row = db.execute(select(User.language, Company.language).join(Company, Company.id == 1)
                             .where(User.id == actor.id)).one()
            self.lang = current_language(row[0] or row[1])
        db.rollback()  # end the read so the service can begin its own transaction
        return actor


STATE: dict[str, Ctx] = {}


def ctx() -> Ctx:
    return STATE["ctx"]


@app.callback()
def _global(
    db: Annotated[str | None, typer.Option("--db", help="Database URL (default: JXC_DATABASE_URL or ./jxc.db)")] = None,
    user: Annotated[str | None, typer.Option("--user", envvar="JXC_USER", help="Act as this user")] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="zh_CN (default) or en; or JXC_LANG")] = None,
) -> None:
    explicit = lang or os.environ.get("JXC_LANG")
    STATE["ctx"] = Ctx(database_url(db), user, current_language(explicit), bool(explicit))


@contextmanager
def _errors() -> Iterator[None]:
    """Turn service errors into one readable message (exit 2) and anything unexpected into an
    apology with an id whose traceback goes to the log file (exit 70)."""
    def lang() -> str:  # read late: the language may come from the book, known only once it is open
        return STATE["ctx"].lang if "ctx" in STATE else current_language()

    try:
        yield
    except ImportFailed as exc:
        err.print(t("import.failed", lang(), count=len(exc.errors)))
        err.print(describe(exc, lang()))
        raise typer.Exit(2) from None
    except JxcError as exc:
        err.print(describe(exc, lang()))
        raise typer.Exit(2) from None
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception:
        error_id = uuid.uuid4().hex[:8]
        log = Path(os.environ.get("JXC_LOG", Path.home() / ".jxc-error.log"))
        with log.open("a", encoding="utf-8") as fh:
            fh.write(f"--- {error_id}\n{traceback.format_exc()}\n")
        err.print(t("cli.internal_error", lang(), id=error_id, log=str(log)))
        raise typer.Exit(70) from None


# --- init & demo -----------------------------------------------------------------

@app.command(help=H("help.init"))
def init(
    company: Annotated[str, typer.Option(help=H("help.opt_company"))],
    start: Annotated[str, typer.Option(help=H("help.opt_start"))],
    admin: Annotated[str, typer.Option(help="administrator username")] = "admin",
    admin_password: Annotated[str | None, typer.Option(envvar="JXC_ADMIN_PASSWORD")] = None,
    distinct_auditor: Annotated[bool, typer.Option(help=H("help.opt_distinct_auditor"))] = False,
    language: Annotated[str, typer.Option(help="zh_CN or en")] = "zh_CN",
) -> None:
    """Create a set of books: schema, periods, chart of accounts, roles, administrator."""
    c = ctx()
    with _errors():
        if admin_password is None:
            if not sys.stdin.isatty():
                err.print(t("cli.password_needed", c.lang))
                raise typer.Exit(2)
            admin_password = getpass.getpass(t("cli.password_prompt", c.lang) + ": ")
        engine = make_engine(c.db_url)
        created = books.init_book(engine, books.BookSettings(company, start, admin, admin_password,
                                                             require_distinct_auditor=distinct_auditor,
                                                             language=language))
        out.print(t("cli.init_done", c.lang, company=company, periods=created.periods, accounts=created.accounts,
                    admin=admin, db=c.db_url))


DEMO_PASSWORD = demo_books.DEMO_PASSWORD


@app.command(help=H("help.demo"))
def demo(reset: Annotated[bool, typer.Option(help="delete an existing SQLite demo file first")] = False) -> None:
    """Create demo books: company, partners, products, opening balances, three months of business,
    the first two closed."""
    c = ctx()
    with _errors():
        from sqlalchemy.engine import make_url

        url = make_url(c.db_url)
        if reset and url.get_backend_name() == "sqlite" and url.database:
            for suffix in ("", "-wal", "-shm"):
                Path(url.database + suffix).unlink(missing_ok=True)
        engine = make_engine(c.db_url)
        names = demo_books.build_demo(engine)
        out.print(t("cli.demo_done", c.lang, db=c.db_url, users=", ".join(names),
                    password=DEMO_PASSWORD))


@app.command(help=H("help.serve"))
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
    workers: Annotated[int, typer.Option(help="worker processes")] = 1,
) -> None:
    """Run the web UI and the JSON API (OpenAPI at /api/docs) on the books of --db."""
    import uvicorn

    c = ctx()
    os.environ["JXC_DATABASE_URL"] = c.db_url  # the worker processes build their app from it
    out.print(t("cli.serve_url", c.lang, url=f"http://{host}:{port}/", docs=f"http://{host}:{port}/api/docs"))
    uvicorn.run("jxc.web.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level="warning")


# --- vouchers ----------------------------------------------------------------------

def _parse_line(spec: str, side: str, index: int) -> VoucherLine:
    """ACCOUNT[@PARTNER]=AMOUNT[:MEMO]"""
    head, sep, rest = spec.partition("=")
    amount_text, _, memo = rest.partition(":")
    account, _, partner = head.partition("@")
    value = parse_decimal(amount_text)
    if not sep or not account.strip():
        raise InvalidInput(field=f"lines[{index}]", reason="input.line_amount", value=spec)
    if value is None:
        raise InvalidInput(field=f"lines[{index}].{side}", reason="input.not_decimal", value=amount_text)
    zero = parse_decimal("0")
    assert zero is not None
    return VoucherLine(account.strip(), value if side == "debit" else zero, value if side == "credit" else zero,
                       partner.strip() or None, memo.strip())


def _voucher_id(db: Session, ref: str) -> int:
    if ref.isdigit():
        return int(ref)
    period, sep, label = ref.partition("/")
    if not sep:
        raise InvalidInput(field="voucher", reason="cli.voucher_ref_invalid", value=ref)
    found = vouchers.find_voucher_id(db, period, label)
    db.rollback()
    return found


@voucher_app.command("add", help=H("help.voucher_add"))
def voucher_add(
    voucher_date: Annotated[str, typer.Option("--date", help="YYYY-MM-DD")],
    debit: Annotated[list[str], typer.Option("--debit", "-d", help="ACCOUNT[@PARTNER]=AMOUNT[:MEMO]")],
    credit: Annotated[list[str], typer.Option("--credit", "-c", help="ACCOUNT[@PARTNER]=AMOUNT[:MEMO]")],
    memo: Annotated[str, typer.Option(help=H("help.opt_memo"))] = "",
    audit: Annotated[bool, typer.Option(help="also audit it")] = False,
    post: Annotated[bool, typer.Option(help="also audit and post it")] = False,
) -> None:
    """Enter a voucher, e.g. -d 1002=1000 -c 1122@C001=1000."""
    c = ctx()
    with _errors():
        try:
            day = date.fromisoformat(voucher_date)
        except ValueError:
            raise InvalidInput(field="date", reason="input.date_format", value=voucher_date) from None
        specs = [(s, "debit") for s in debit] + [(s, "credit") for s in credit]
        lines = tuple(_parse_line(s, side, i) for i, (s, side) in enumerate(specs, start=1))
        target = VoucherStatus.POSTED if post else VoucherStatus.AUDITED if audit else VoucherStatus.DRAFT
        db = c.session()
        ref = vouchers.create_voucher(db, vouchers.VoucherIn(day, lines, memo), actor=c.actor(db), advance_to=target)
        out.print(t("cli.voucher_saved", c.lang, period=ref.period, label=ref.label,
                    status=t(f"status.{ref.status}", c.lang)))


VoucherRefArg = Annotated[str | None, typer.Argument(help="voucher id, or YYYY-MM/WORD-0001")]
AllInPeriod = Annotated[str | None, typer.Option("--period", help="every voucher of this period (YYYY-MM) "
                                                 "that the step applies to")]


def _voucher_action(ref: str | None, period: str | None, action: VoucherAction) -> None:
    """One voucher by reference, or every voucher of a period it applies to (成批)."""
    c = ctx()
    with _errors():
        if ref is None and period is None:
            raise InvalidInput(field="voucher", reason="input.required")
        db = c.session()
        if ref is not None:
            voucher_id = _voucher_id(db, ref)
            done = vouchers.apply_action(db, voucher_id, action, actor=c.actor(db))
            out.print(t("cli.voucher_saved", c.lang, period=done.period, label=done.label,
                        status=t(f"status.{done.status}", c.lang)))
            return
        assert period is not None
        result = vouchers.apply_action_to_period(db, period, action, actor=c.actor(db))
        for label, exc in result.failed:
            err.print(f"{result.period} {label}: {describe(exc, c.lang)}")
        out.print(t("cli.batch_done", c.lang, done=len(result.done), failed=len(result.failed)))
    if result.failed:
        raise typer.Exit(2)


@voucher_app.command("audit", help=H("help.voucher_audit"))
def voucher_audit(ref: VoucherRefArg = None, period: AllInPeriod = None) -> None:
    """Audit a draft voucher."""
    _voucher_action(ref, period, VoucherAction.AUDIT)


@voucher_app.command("unaudit", help=H("help.voucher_unaudit"))
def voucher_unaudit(ref: VoucherRefArg = None, period: AllInPeriod = None) -> None:
    """Return an audited voucher to draft."""
    _voucher_action(ref, period, VoucherAction.UNAUDIT)


@voucher_app.command("post", help=H("help.voucher_post"))
def voucher_post(ref: VoucherRefArg = None, period: AllInPeriod = None) -> None:
    """Post an audited voucher to the ledger."""
    _voucher_action(ref, period, VoucherAction.POST)


@voucher_app.command("unpost", help=H("help.voucher_unpost"))
def voucher_unpost(ref: VoucherRefArg = None, period: AllInPeriod = None) -> None:
    """Take a posted voucher out of the ledger."""
    _voucher_action(ref, period, VoucherAction.UNPOST)


@voucher_app.command("void", help=H("help.voucher_void"))
def voucher_void(ref: VoucherRefArg = None, period: AllInPeriod = None) -> None:
    """Void a draft voucher (it keeps its number)."""
    _voucher_action(ref, period, VoucherAction.VOID)


@voucher_app.command("reverse", help=H("help.voucher_reverse"))
def voucher_reverse(ref: Annotated[str, typer.Argument(help="voucher id, or YYYY-MM/WORD-0001")],
                    day: Annotated[str, typer.Option("--date", help="YYYY-MM-DD, in an open period")]) -> None:
    """红字冲销: a draft red-letter copy of a posted voucher, dated in an open period."""
    c = ctx()
    with _errors():
        db = c.session()
        actor = c.actor(db)
        try:
            when = date.fromisoformat(day)
        except ValueError:
            raise InvalidInput(field="date", reason="input.date_format", value=day) from None
        done = vouchers.reverse_voucher(db, _voucher_id(db, ref), when, actor=actor)
        out.print(t("cli.voucher_saved", c.lang, period=done.period, label=done.label,
                    status=t(f"status.{done.status}", c.lang)))


@voucher_app.command("show", help=H("help.voucher_show"))
def voucher_show(ref: Annotated[str, typer.Argument(help="voucher id, or YYYY-MM/WORD-0001")],
                 fmt: Annotated[Format, typer.Option("--format")] = Format.table) -> None:
    """Show one voucher."""
    c = ctx()
    with _errors():
        db = c.session()
        voucher_id = _voucher_id(db, ref)
        v = vouchers.get_voucher(db, voucher_id, actor=c.actor(db))
        if fmt is Format.json:
            print_json(v)
            return
        title = f"{v.period} {v.label}  {v.voucher_date}  {t(f'status.{v.status}', c.lang)}  {v.memo}"
        rows = [[ln.memo or v.memo, f"{ln.account} {ln.account_name}", ln.partner or "", amount(ln.debit),
                 amount(ln.credit)] for ln in v.lines]
        table(title, [("col.memo", False), ("col.account", False), ("col.partner", False), ("col.debit", True),
                      ("col.credit", True)], rows, c.lang,
              footer=[t("col.total", c.lang), "", "", amount(v.total), amount(v.total)])


@voucher_app.command("list", help=H("help.voucher_list"))
def voucher_list(period: Annotated[str, typer.Option(help="YYYY-MM")],
                 status: Annotated[VoucherStatus | None, typer.Option(help="draft, audited, posted, void")] = None,
                 limit: Annotated[int, typer.Option(help="rows per page")] = 100,
                 after: Annotated[int | None, typer.Option(help="continue after this voucher number")] = None,
                 fmt: Annotated[Format, typer.Option("--format")] = Format.table) -> None:
    """List the vouchers of a period in number order."""
    c = ctx()
    with _errors():
        db = c.session()
        page = vouchers.list_vouchers(db, period, status=status, limit=limit, after_number=after, actor=c.actor(db))
        if fmt is Format.json:
            print_json(page)
            return
        rows = [[v.label, v.voucher_date.isoformat(), v.memo, amount(v.total), t(f"status.{v.status}", c.lang),
                 v.created_by] for v in page.vouchers]
        table(t("title.voucher_list", c.lang, period=page.period),
              [("col.voucher", False), ("col.date", False), ("col.memo", False), ("col.amount", True),
               ("col.status", False), ("col.created_by", False)], rows, c.lang)
        if page.next_cursor is not None:
            out.print(t("cli.more_vouchers", c.lang, after=page.next_cursor))


# --- import ----------------------------------------------------------------------------

@app.command("import", help=H("help.import_file"))
def import_file(
    file: Annotated[Path, typer.Argument(help="JSON Lines file (shared/INTERCHANGE.md)")],
    audit: Annotated[bool, typer.Option(help=H("help.opt_import_audit"))] = False,
) -> None:
    """Import master data, opening balances and vouchers; nothing is imported unless the whole file is valid."""
    c = ctx()
    with _errors():
        if not file.is_file():
            err.print(t("cli.file_missing", c.lang, file=str(file)))
            raise typer.Exit(2)
        lines = file.read_text(encoding="utf-8-sig").splitlines()
        db = c.session()
        actor = c.actor(db)
        if sys.stdout.isatty():
            with Progress(console=out, transient=True) as bar:
                task = bar.add_task(file.name, total=len(lines))
                counts = importer.import_records(db, lines, actor=actor, audit=audit,
                                                 progress=lambda done, total: bar.update(task, completed=done,
                                                                                         total=total))
        else:
            counts = importer.import_records(db, lines, actor=actor, audit=audit)
        summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        out.print(t("cli.import_done", c.lang, records=sum(counts.values()), summary=summary))


# --- reports -------------------------------------------------------------------------

FormatOpt = Annotated[Format, typer.Option("--format", help="table or json")]


@report_app.command("trial-balance", help=H("help.report_trial_balance"))
def report_trial_balance(
    period: Annotated[str, typer.Option(help="YYYY-MM")],
    fmt: FormatOpt = Format.table,
    all_accounts: Annotated[bool, typer.Option("--all", help="include zero rows")] = False,
) -> None:
    """Trial balance for one period."""
    c = ctx()
    with _errors():
        db = c.session()
        tb = reports.trial_balance(db, period, actor=c.actor(db), include_zero=all_accounts)
        if fmt is Format.json:
            print_json({"period": tb.period, "balanced": tb.balanced, "rows": [
                {"account": r.account, "name": r.name, "level": r.level, "opening_debit": r.opening_debit,
                 "opening_credit": r.opening_credit, "debit": r.debit, "credit": r.credit,
                 "closing_debit": r.closing_debit, "closing_credit": r.closing_credit} for r in tb.rows],
                "totals": tb.totals})
            return
        cols = [("col.account", False), ("col.name", False), ("col.opening_debit", True), ("col.opening_credit", True),
                ("col.debit", True), ("col.credit", True), ("col.closing_debit", True), ("col.closing_credit", True)]
        rows = [[r.account, "  " * (r.level - 1) + r.name, amount(r.opening_debit), amount(r.opening_credit),
                 amount(r.debit), amount(r.credit), amount(r.closing_debit), amount(r.closing_credit)] for r in tb.rows]
        tt = tb.totals
        footer = [t("col.total", c.lang), t("word.balanced" if tb.balanced else "word.unbalanced", c.lang)] + [
            amount(tt[k], blank_zero=False) for k in ("opening_debit", "opening_credit", "debit", "credit",
                                                      "closing_debit", "closing_credit")]
        table(t("title.trial_balance", c.lang, period=tb.period), cols, rows, c.lang, footer)


@report_app.command("general-ledger", help=H("help.report_general_ledger"))
def report_general_ledger(account: Annotated[str, typer.Option(help="account code")],
                          year: Annotated[int | None, typer.Option(help="fiscal year")] = None,
                          partner: Annotated[str | None, typer.Option(help="partner code")] = None,
                          fmt: FormatOpt = Format.table) -> None:
    """General ledger of an account by period."""
    c = ctx()
    with _errors():
        db = c.session()
        gl = reports.general_ledger(db, account, year=year, partner=partner, actor=c.actor(db))
        if fmt is Format.json:
            print_json(gl)
            return
        cols = [("col.period", False), ("col.direction", False), ("col.opening", True), ("col.debit", True),
                ("col.credit", True), ("col.ytd_debit", True), ("col.ytd_credit", True), ("col.direction", False),
                ("col.closing", True)]
        rows = [[r.period, t(f"dir.{r.opening_direction}", c.lang), amount(r.opening_balance), amount(r.debit),
                 amount(r.credit), amount(r.ytd_debit), amount(r.ytd_credit), t(f"dir.{r.closing_direction}", c.lang),
                 amount(r.closing_balance)] for r in gl.rows]
        table(t("title.general_ledger", c.lang, account=gl.account, name=gl.name), cols, rows, c.lang)


@report_app.command("detail-ledger", help=H("help.report_detail_ledger"))
def report_detail_ledger(account: Annotated[str, typer.Option(help="account code")],
                         date_from: Annotated[str, typer.Option("--from", help="YYYY-MM-DD")],
                         date_to: Annotated[str, typer.Option("--to", help="YYYY-MM-DD")],
                         partner: Annotated[str | None, typer.Option(help="partner code")] = None,
                         limit: Annotated[int, typer.Option(help="rows per page")] = 100,
                         cursor: Annotated[str | None, typer.Option(help="continue after this row")] = None,
                         fmt: FormatOpt = Format.table) -> None:
    """Detail ledger with running balance, one page at a time."""
    c = ctx()
    with _errors():
        days = []
        for field, text in (("date_from", date_from), ("date_to", date_to)):
            try:
                days.append(date.fromisoformat(text))
            except ValueError:
                raise InvalidInput(field=field, reason="input.date_format", value=text) from None
        db = c.session()
        dl = reports.detail_ledger(db, account, date_from=days[0], date_to=days[1], partner=partner, limit=limit,
                                   cursor=cursor, actor=c.actor(db))
        if fmt is Format.json:
            print_json(dl)
            return
        cols = [("col.date", False), ("col.voucher", False), ("col.memo", False), ("col.partner", False),
                ("col.debit", True), ("col.credit", True), ("col.direction", False), ("col.balance", True)]
        rows = [["", "", t("col.opening_row", c.lang), "", "", "", t(f"dir.{dl.opening_direction}", c.lang),
                 amount(dl.opening_balance, blank_zero=False)]] if not cursor else []
        rows += [[r.voucher_date.isoformat(), f"{r.period} {r.voucher}", r.memo, r.partner or "", amount(r.debit),
                  amount(r.credit), t(f"dir.{r.direction}", c.lang), amount(r.balance, blank_zero=False)]
                 for r in dl.rows]
        table(t("title.detail_ledger", c.lang, account=dl.account, name=dl.name, date_from=dl.date_from,
                date_to=dl.date_to), cols, rows, c.lang)
        if dl.next_cursor:
            out.print(t("cli.more_rows", c.lang, cursor=dl.next_cursor))


# --- verify ------------------------------------------------------------------------------

@app.command(help=H("help.verify"))
def verify(fmt: FormatOpt = Format.table) -> None:
    """Re-check every invariant of the books; exits 1 if any check fails."""
    c = ctx()
    with _errors():
        db = c.session()
        report = checks.verify(db, actor=c.actor(db))
        details = {ch.name: (t(ch.code, c.lang, items=ch.items, **ch.params) if ch.code else "")
                   for ch in report.checks}
        if fmt is Format.json:
            print_json({"ok": report.ok, "checks": [{"name": ch.name, "ok": ch.ok, "detail": details[ch.name]}
                                                    for ch in report.checks]})
        else:
            rows = [[t(f"check.{ch.name}", c.lang), t("word.ok" if ch.ok else "word.failed", c.lang),
                     details[ch.name]] for ch in report.checks]
            table("jxc verify", [("col.check", False), ("col.result", False), ("col.detail", False)], rows, c.lang)
            failed = sum(not ch.ok for ch in report.checks)
            out.print(t("cli.verify_ok", c.lang) if report.ok else t("cli.verify_failed", c.lang, count=failed))
    if not report.ok:
        raise typer.Exit(1)


# --- users, accounts, opening -------------------------------------------------------

@users_app.command("add", help=H("help.users_add"))
def users_add(username: str,
              role: Annotated[list[str], typer.Option("--role", help="admin, accountant, manager, purchasing, "
                                                      "sales, warehouse, auditor")],
              password: Annotated[str | None, typer.Option(envvar="JXC_NEW_PASSWORD")] = None,
              display_name: Annotated[str, typer.Option()] = "") -> None:
    """Add a user with one or more roles."""
    c = ctx()
    with _errors():
        if password is None:
            if not sys.stdin.isatty():
                err.print(t("cli.password_needed", c.lang))
                raise typer.Exit(2)
            password = getpass.getpass(f"{username}: ")
        db = c.session()
        info = users.add_user(db, username, password, roles=role, display_name=display_name, actor=c.actor(db))
        out.print(t("cli.user_added", c.lang, username=info.username, roles=", ".join(info.roles)))


@users_app.command("list", help=H("help.users_list"))
def users_list(fmt: FormatOpt = Format.table) -> None:
    """List users and their roles."""
    c = ctx()
    with _errors():
        db = c.session()
        found = users.list_users(db, actor=c.actor(db))
        if fmt is Format.json:
            print_json(found)
            return
        rows = [[u.username, ", ".join(t(f"role.{r}", c.lang) for r in u.roles),
                 t("word.yes" if u.active else "word.no", c.lang)] for u in found]
        table("users", [("col.username", False), ("col.roles", False), ("col.active", False)], rows, c.lang)


@users_app.command("grant", help=H("help.users_grant"))
def users_grant(username: str, role: str) -> None:
    """Give a user a role."""
    c = ctx()
    with _errors():
        db = c.session()
        users.grant_role(db, username, role, actor=c.actor(db))
        out.print(t("cli.granted", c.lang, username=username, role=role))


@users_app.command("revoke", help=H("help.users_revoke"))
def users_revoke(username: str, role: str) -> None:
    """Take a role from a user."""
    c = ctx()
    with _errors():
        db = c.session()
        users.revoke_role(db, username, role, actor=c.actor(db))


@account_app.command("add", help=H("help.account_add"))
def account_add(code: str, name: str,
                partner_aux: Annotated[bool | None, typer.Option("--partner-aux/--no-partner-aux")] = None) -> None:
    """Add a sub-account."""
    c = ctx()
    with _errors():
        db = c.session()
        accounts.add_account(db, code, name, partner_aux=partner_aux, actor=c.actor(db))


@account_app.command("list", help=H("help.account_list"))
def account_list(fmt: FormatOpt = Format.table) -> None:
    """List the chart of accounts."""
    c = ctx()
    with _errors():
        db = c.session()
        found = accounts.list_accounts(db, actor=c.actor(db))
        if fmt is Format.json:
            print_json(found)
            return
        rows = [[a.code, "  " * (a.level - 1) + a.name, t(f"dir.{a.direction}", c.lang),
                 t("word.yes" if a.active else "word.no", c.lang)] for a in found]
        table("accounts", [("col.account", False), ("col.name", False), ("col.direction", False),
                           ("col.active", False)], rows, c.lang)


@opening_app.command("set", help=H("help.opening_set"))
def opening_set(account: str,
                debit: Annotated[str, typer.Option()] = "0",
                credit: Annotated[str, typer.Option()] = "0",
                partner: Annotated[str | None, typer.Option()] = None) -> None:
    """Set the opening balance of a leaf account (and partner)."""
    c = ctx()
    with _errors():
        values = []
        for field, text in (("debit", debit), ("credit", credit)):
            value = parse_decimal(text)
            if value is None:
                raise InvalidInput(field=field, reason="input.not_decimal", value=text)
            values.append(value)
        db = c.session()
        opening.set_opening_balance(db, opening.OpeningIn(account, values[0], values[1], partner), actor=c.actor(db))


@opening_app.command("check", help=H("help.opening_check"))
def opening_check() -> None:
    """Check that opening debits equal opening credits."""
    c = ctx()
    with _errors():
        db = c.session()
        result = opening.check_opening(db, actor=c.actor(db))
        out.print(f"{t('col.debit', c.lang)} {amount(result.debit, blank_zero=False)}  "
                  f"{t('col.credit', c.lang)} {amount(result.credit, blank_zero=False)}  "
                  f"{t('word.balanced' if result.balanced else 'word.unbalanced', c.lang)}")
    if not result.balanced:
        raise typer.Exit(1)


@settings_app.command("show", help=H("help.settings_show"))
def settings_show(fmt: Annotated[Format, typer.Option("--format")] = Format.table) -> None:
    """Show the company settings."""
    c = ctx()
    with _errors():
        db = c.session()
        view = books.get_settings(db, actor=c.actor(db))
        if fmt is Format.json:
            print_json(view)
            return
        for key, value in vars_of(view).items():
            out.print(f"{t(f'setting.{key}', c.lang)}: {value}")


def vars_of(obj: object) -> dict[str, object]:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}  # type: ignore[arg-type]


@settings_app.command("set", help=H("help.settings_change"))
def settings_set(
    distinct_auditor: Annotated[bool | None, typer.Option("--distinct-auditor/--no-distinct-auditor")] = None,
    language: Annotated[str | None, typer.Option("--language", help="zh_CN or en")] = None,
    company: Annotated[str | None, typer.Option("--company")] = None,
    allow_negative_stock: Annotated[bool | None, typer.Option(
        "--allow-negative-stock/--no-allow-negative-stock", help=H("help.opt_allow_negative_stock"))] = None,
    order_tolerance: Annotated[str | None, typer.Option("--order-tolerance", help=H("help.opt_order_tolerance"))]
    = None,
    match_tolerance: Annotated[str | None, typer.Option("--match-tolerance", help=H("help.opt_match_tolerance"))]
    = None,
    credit_control: Annotated[str | None, typer.Option("--credit-control", help=H("help.opt_credit_control"))]
    = None,
    writeoff_account: Annotated[str | None, typer.Option("--writeoff-account", help=H("help.opt_writeoff_account"))]
    = None,
    writeoff_limit: Annotated[str | None, typer.Option("--writeoff-limit", help=H("help.opt_writeoff_limit"))]
    = None,
) -> None:
    """Change company settings."""
    c = ctx()
    with _errors():
        numbers = {}
        for name, text in (("order_tolerance", order_tolerance), ("match_tolerance", match_tolerance),
                           ("writeoff_limit", writeoff_limit)):
            if text is not None:
                value = parse_decimal(text)
                if value is None:
                    raise InvalidInput(field=name, reason="input.not_decimal", value=text)
                numbers[name] = value
        db = c.session()
        books.update_settings(db, actor=c.actor(db), require_distinct_auditor=distinct_auditor, language=language,
                              name=company, allow_negative_stock=allow_negative_stock,
                              order_tolerance=numbers.get("order_tolerance"),
                              match_tolerance=numbers.get("match_tolerance"), credit_control=credit_control,
                              writeoff_account=writeoff_account, writeoff_limit=numbers.get("writeoff_limit"))
        out.print(t("cli.settings_saved", c.lang))


@period_app.command("list", help=H("help.period_list"))
def period_list(fmt: Annotated[Format, typer.Option("--format")] = Format.table) -> None:
    """List the accounting periods and their status."""
    c = ctx()
    with _errors():
        db = c.session()
        found = books.list_periods(db, actor=c.actor(db))
        if fmt is Format.json:
            print_json(found)
            return
        rows = [[p.label, p.start_date.isoformat(), p.end_date.isoformat(), t(f"period.status.{p.status}", c.lang)]
                for p in found]
        table("periods", [("col.period", False), ("col.date", False), ("col.date", False), ("col.status", False)],
              rows, c.lang)


@period_app.command("add-year", help=H("help.period_add_year"))
def period_add_year() -> None:
    """Create the next fiscal year's twelve periods."""
    c = ctx()
    with _errors():
        db = c.session()
        added = books.open_next_fiscal_year(db, actor=c.actor(db))
        out.print(t("cli.year_added", c.lang, first=added[0].label, last=added[-1].label))


# The inventory commands (stock, cost, product, warehouse, partner, category, posting-rule and the
# stock reports) live in their own module, which registers them on `app` and `report_app` above;
# orders, invoices, receipts/payments and settlement (trade_cmds) the same way.
from jxc.cli import close_cmds, statement_cmds, stock_cmds, trade_cmds, tradereport_cmds  # noqa: E402, F401


@db_app.command("upgrade", help=H("help.db_upgrade"))
def db_upgrade() -> None:
    """Bring existing books to this version's schema (back up first)."""
    c = ctx()
    with _errors():
        done = books.upgrade_book(make_engine(c.db_url))
        key = "cli.db_upgraded" if done.before != done.after else "cli.db_current"
        out.print(t(key, c.lang, before=done.before or "", after=done.after))


def main() -> None:
    app()
