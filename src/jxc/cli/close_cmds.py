"""Month-end close commands: `jxc close`, `jxc reopen`, `jxc period lock`, `jxc period status`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from jxc.cli.main import Format, FormatOpt, H, _errors, app, ctx, period_app
from jxc.cli.output import amount, err, out, print_json, table
from jxc.domain.closing import CheckStatus
from jxc.domain.errors import CloseBlocked, CloseWarnings
from jxc.domain.periods import parse_period_label
from jxc.i18n import t
from jxc.services import closing

PeriodArg = Annotated[str, typer.Argument(help=H("help.opt_period"))]
ReasonOpt = Annotated[str, typer.Option("--reason", help=H("help.opt_reason"))]
_MARK = {CheckStatus.PASS: "[green]✓[/]", CheckStatus.WARN: "[yellow]![/]", CheckStatus.FAIL: "[red]✗[/]"}
SHOWN = 5  # offending items printed per check; --format json gives all the service lists


def _print_checklist(cl: closing.Checklist, lang: str) -> None:
    rows = []
    for item in cl.items:
        named = ", ".join(item.items[:SHOWN]) + (" …" if item.count > SHOWN else "")
        rows.append([_MARK[item.status], t(f"close.check.{item.code}", lang, **item.params),
                     t(f"close.status.{item.status.value}", lang), str(item.count) if item.count else "", named])
    table(t("title.close_checklist", lang, period=cl.period),
          [("col.mark", False), ("col.check", False), ("col.status", False), ("col.count", True),
           ("col.documents", False)], rows, lang)


@app.command("close", help=H("help.close"))
def close(period: PeriodArg,
          check: Annotated[bool, typer.Option("--check", help=H("help.opt_close_check"))] = False,
          yes: Annotated[bool, typer.Option("--yes", help=H("help.opt_close_yes"))] = False,
          fmt: FormatOpt = Format.table) -> None:
    """结账: print the checklist, then close the period (earliest open one) with a progress bar."""
    c = ctx()
    with _errors():
        db = c.session()
        actor = c.actor(db)
        if not check:
            year, month = parse_period_label(period)
            first_open = next((p.label for p in closing.period_closes(db, actor=actor) if p.status == "open"), None)
            db.rollback()
            if f"{year:04d}-{month:02d}" != first_open:  # say why at once, not after a checklist
                closing.close_period(db, period, actor=actor)
        cl = closing.close_checklist(db, period, actor=actor)
        db.rollback()
        if fmt is Format.json and check:
            print_json(cl)
            return
        if fmt is Format.table:
            _print_checklist(cl, c.lang)
        if check:
            if not cl.ok:
                raise typer.Exit(1)
            return
        if not cl.ok:
            raise CloseBlocked(period=cl.period, failed=", ".join(cl.failures), count=len(cl.failures))
        if cl.warnings and not yes and (fmt is Format.json or not sys.stdin.isatty() or not typer.confirm(
                t("cli.close_confirm_warnings", c.lang, count=len(cl.warnings)), default=False)):
            raise CloseWarnings(period=cl.period, warnings=", ".join(cl.warnings))
        with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=err,
                      transient=True, disable=fmt is Format.json) as bar:
            task = bar.add_task(t("close.step.start", c.lang), total=len(closing.STEPS))

            def step(code: str) -> None:
                bar.update(task, description=t(f"close.step.{code}", c.lang),
                           completed=closing.STEPS.index(code))

            done = closing.close_period(db, period, actor=actor, acknowledge_warnings=True, progress=step)
            bar.update(task, completed=len(closing.STEPS))
        if fmt is Format.json:
            print_json(done)
            return
        out.print(t("cli.closed", c.lang, period=done.period, profit=amount(done.profit, blank_zero=False),
                    vouchers=", ".join(done.vouchers) or "-", seal=done.seal[:16]))
        if done.next_year:
            out.print(t("cli.closed_year_end", c.lang, next=done.next_year))


@app.command("reopen", help=H("help.reopen"))
def reopen(period: PeriodArg, reason: ReasonOpt = "") -> None:
    """反结账: reopen the latest closed period; the reason is recorded in the audit log."""
    c = ctx()
    with _errors():
        db = c.session()
        done = closing.reopen_period(db, period, actor=c.actor(db), reason=reason)
        out.print(t("cli.reopened", c.lang, period=done.period, vouchers=", ".join(done.removed_vouchers) or "-"))
        if done.removed_year:
            out.print(t("cli.reopened_year", c.lang, year=done.removed_year))


@period_app.command("lock", help=H("help.period_lock"))
def period_lock(period: PeriodArg, reason: ReasonOpt = "") -> None:
    """Lock a closed period (and the closed ones before it) for good."""
    c = ctx()
    with _errors():
        db = c.session()
        locked = closing.lock_period(db, period, actor=c.actor(db), reason=reason)
        out.print(t("cli.locked", c.lang, periods=", ".join(locked) or "-"))


@period_app.command("status", help=H("help.period_status"))
def period_status(fmt: FormatOpt = Format.table) -> None:
    """Each period's status, and who closed it, when, with which seal and profit."""
    c = ctx()
    with _errors():
        db = c.session()
        found = closing.period_closes(db, actor=c.actor(db))
        if fmt is Format.json:
            print_json(found)
            return
        rows = [[p.label, t(f"period.status.{p.status}", c.lang), p.closed_at or "", p.closed_by or "",
                 amount(p.profit) if p.profit is not None else "", (p.seal or "")[:16]] for p in found]
        table(t("title.period_status", c.lang),
              [("col.period", False), ("col.status", False), ("col.closed_at", False), ("col.user", False),
               ("col.net_profit", True), ("col.seal", False)], rows, c.lang)
