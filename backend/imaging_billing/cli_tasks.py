"""The operator's long commands (cli.py): backup, ledger export, bulk lot import and
reconciliation of every account. Progress bars and reports go to stderr, so what a
command writes to stdout (a CSV) can be piped; each returns the exit status."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime, time
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.engine import make_url

from .api import ids
from .config import Settings
from .domain.clock import SHANGHAI
from .domain.errors import RuleViolation
from .services import exports, lot_import, reconcile
from .services.clock import configured
from .services.principals import Principal, Role
from .store.db import Database

CLI_OPERATOR = Principal(Role.OPERATOR, 0, "command line", kind="cli")
# Pages per step of the online backup. Measured with a writer inserting all along (20,000
# rows, 100-page steps): from one held snapshot 51 steps, 0.25 s, the copy exactly the
# snapshot; without it the backup started over on every write: 41,305 steps, 38.7 s.
BACKUP_STEP = 100
err = Console(stderr=True)


def _bar(description: str, *, counted: bool = True) -> Progress:
    columns = [TextColumn(description), BarColumn(), TimeElapsedColumn()]
    if counted:
        columns.insert(2, MofNCompleteColumn())
    return Progress(*columns, console=err, transient=False)


def backup(settings: Settings, target: Path) -> int:
    """SQLite: the online backup API from one read snapshot, so the copy is the database
    at one moment while uploads go on (WAL lets writers continue past a reader).
    PostgreSQL: pg_dump is the tool; the command is printed."""
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        plain = url.set(drivername="postgresql").render_as_string(hide_password=True)
        err.print("PostgreSQL: back up with pg_dump (a consistent snapshot, uploads go on):")
        print(f"pg_dump --format=custom --file={target} '{plain}'")  # noqa: T201
        return 0
    assert url.database
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(url.database, isolation_level=None)
    copy = sqlite3.connect(partial)
    try:
        # One read transaction for the whole copy: every step reads the same snapshot,
        # so writers never make the backup start over, and it holds one moment.
        source.execute("BEGIN")
        source.execute("SELECT count(*) FROM sqlite_master").fetchone()
        with _bar("backup (pages)") as bar:
            task = bar.add_task("copy", total=None)

            def step(_: int, remaining: int, total: int) -> None:
                bar.update(task, total=total, completed=total - remaining)

            source.backup(copy, pages=BACKUP_STEP, progress=step)
        source.execute("ROLLBACK")
        verdict = copy.execute("PRAGMA quick_check").fetchone()[0]
    finally:
        copy.close()
        source.close()
    if verdict != "ok":
        err.print(f"[red]the copy does not check out: {verdict}[/red]")
        return 1
    partial.chmod(0o600)
    partial.replace(target)
    err.print(f"backup written to {target} (restore: stop the server, copy it over the database)")
    return 0


def _moment(text: str, field: str) -> datetime:
    """A date is its Asia/Shanghai midnight (R-GEN-6); a time must carry its offset."""
    try:
        if len(text) == 10:
            return datetime.combine(datetime.fromisoformat(text).date(), time(), SHANGHAI)
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise RuleViolation("EXPORT_ARGUMENT", field, params={"name": field}) from error
    if moment.tzinfo is None:
        raise RuleViolation("R_GEN_6_NAIVE_TIME", field)
    return moment


def account_pk(text: str) -> int:
    """An account's number, or its API ID."""
    if text.isascii() and text.isdigit():
        return int(text)
    return ids.decode(text, "Account", missing="ACCOUNT_NOT_FOUND", field="account")


async def export_ledger(
    settings: Settings,
    account: str,
    since: str | None,
    until: str | None,
    lang: str,
    out: TextIO,
) -> int:
    export = exports.LedgerExport(
        account_id=account_pk(account),
        since=_moment(since, "since") if since else None,
        until=_moment(until, "until") if until else None,
        lang=lang,
    )
    db = Database(settings.database_url)
    try:
        chunks = await exports.open_ledger_export(db, CLI_OPERATOR, export)
        with _bar("ledger rows", counted=False) as bar:
            task = bar.add_task("rows", total=None)
            async for chunk in chunks:
                out.write(chunk)
                bar.advance(task, chunk.count("\r\n"))
        out.flush()
    finally:
        await db.dispose()
    return 0


def _refusals(refusals: list[lot_import.Refusal]) -> int:
    """One line per refused row (greppable in a file of thousands), then the verdict."""
    for r in refusals:
        err.print(f"row {r.row}: {r.code} ({r.field or '-'}) {r.message}", markup=False)
    err.print(f"[red]{len(refusals)} rows refused: nothing was imported[/red]")
    return 1


async def import_lots(settings: Settings, path: Path) -> int:
    with path.open(encoding="utf-8-sig", newline="") as lines:
        rows, refused = lot_import.read_rows(lines)
    if refused:
        return _refusals(refused)
    # On PostgreSQL the servers' live consoles are told of the accounts credited.
    db = Database(settings.database_url, announce=True)
    try:
        with _bar("lots credited") as bar:
            task = bar.add_task("lots", total=len(rows))
            result = await lot_import.import_lots(
                db,
                CLI_OPERATOR,
                rows,
                configured(settings.clock_offset_file).now(),
                progress=lambda done: bar.update(task, completed=done),
            )
    finally:
        await db.dispose()
    if isinstance(result, list):
        return _refusals(result)
    err.print(
        f"{len(result.credited)} lots credited in one transaction; "
        f"{result.settled} exams in arrears settled by them"
    )
    for row, lot in result.credited:
        print(f"row {row}: lot {lot}")  # noqa: T201
    return 0


async def reconcile_all(settings: Settings) -> int:
    db = Database(settings.database_url)
    try:
        with _bar("accounts reconciled") as bar:
            task = bar.add_task("accounts", total=None)
            found = await reconcile.reconcile_every_account(
                db, lambda done, total: bar.update(task, completed=done, total=total)
            )
    finally:
        await db.dispose()
    if not found:
        err.print("every account reconciles with its ledger (R-GEN-7)")
        return 0
    for account_id, discrepancies in sorted(found.items()):
        for d in discrepancies:
            err.print(
                f"account {account_id}: {d.subject} {d.check}: "
                f"expected {d.expected}, actual {d.actual}",
                markup=False,
            )
    err.print(f"[red]{len(found)} accounts do not reconcile with their ledger[/red]")
    return 1


def run(coroutine: object) -> int:
    """asyncio.run for a task's coroutine, a refusal printed as its code and message."""
    try:
        return int(asyncio.run(coroutine))  # type: ignore[arg-type]
    except RuleViolation as refusal:
        err.print(f"[red]{refusal.code}[/red] ({refusal.field or '-'}): {refusal.message_en}")
        return 2
