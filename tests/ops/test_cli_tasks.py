"""The operator's commands, run as `imaging-billing …` would run them (cli.main)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from imaging_billing import cli
from imaging_billing.services.clock import ManualClock

from ..conftest import SqliteTemplate
from ..factories import create_account, credit_lot
from ..support import SERVER_SECRET, START, make_services


@pytest.fixture
def database(sqlite_template: SqliteTemplate, monkeypatch: pytest.MonkeyPatch) -> Path:
    url = sqlite_template.fresh()
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SERVER_SECRET", SERVER_SECRET)
    return Path(url.removeprefix("sqlite+aiosqlite:///"))


def given_accounts(database: Path, count: int, lots: bool = False) -> list[int]:
    async def make() -> list[int]:
        services = make_services(f"sqlite+aiosqlite:///{database}", ManualClock(START))
        try:
            made = [await create_account(services, name=f"H{n}") for n in range(count)]
            for account in made if lots else ():
                await credit_lot(services, account)
            return made
        finally:
            await services.db.dispose()

    return asyncio.run(make())


def rows(database: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(database) as conn:
        return list(conn.execute(sql))


def test_import_lots_refuses_the_whole_file_for_one_bad_row(
    database: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given two accounts and a file whose second and fourth rows break the rules
    first, second = given_accounts(database, 2)
    csv = tmp_path / "lots.csv"
    csv.write_text(
        "account_id,mode,quantity,years,contract_ref\n"
        f"{first},VOLUME,10000,,CT-1\n"
        f"{second},VOLUME,15000,,CT-2\n"
        f"{second},ANNUAL,20000,3,CT-3\n"
        f"{first},YEARLY,10000,1,CT-4\n",
        encoding="utf-8",
    )
    # When it is imported
    status = cli.main(["import-lots", str(csv)])
    # Then nothing is written, and each refusal names its row and rule
    report = capsys.readouterr().err
    assert status == 1
    assert rows(database, "SELECT count(*) FROM exam_lot") == [(0,)]
    assert [line.split(" (")[0] for line in report.splitlines() if line.startswith("row ")] == [
        "row 3: R_EXAM_1_UNIT",
        "row 5: IMPORT_VALUE",
    ]


def test_import_lots_refuses_an_unknown_account_before_writing_any(
    database: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    [account] = given_accounts(database, 1)
    csv = tmp_path / "lots.csv"
    csv.write_text(
        f"account_id,mode,quantity\n{account},VOLUME,10000\n{account + 7},VOLUME,10000\n"
    )
    assert cli.main(["import-lots", str(csv)]) == 1
    assert "ACCOUNT_NOT_FOUND" in capsys.readouterr().err
    assert rows(database, "SELECT count(*) FROM exam_lot") == [(0,)]


def test_import_lots_credits_every_row_and_the_ledger_reconciles(
    database: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a file of three good rows (a BOM, as spreadsheets save it)
    first, second = given_accounts(database, 2)
    csv = tmp_path / "lots.csv"
    csv.write_text(
        "\ufeffaccount_id,mode,quantity,years,contract_ref\n"
        f"{first},VOLUME,10000,,CT-1\n"
        f"{second},ANNUAL,20000,3,CT-2\n"
        f"{first},VOLUME,30000,,\n",
        encoding="utf-8",
    )
    # When it is imported
    assert cli.main(["import-lots", str(csv)]) == 0
    # Then each row is a lot with its PURCHASE entry, by the command line's operator
    lots = rows(database, "SELECT account_id, quantity, storage_years, contract_ref FROM exam_lot")
    assert sorted(lots, key=str) == sorted(
        [(first, 10000, 15, "CT-1"), (second, 20000, 3, "CT-2"), (first, 30000, 15, None)], key=str
    )
    entries = rows(database, "SELECT type, quantity, actor FROM ledger_entry ORDER BY id")
    assert sorted(entries) == sorted(
        [("PURCHASE", q, "cli:0") for q in (10000, 20000, 30000)], key=str
    )
    assert "3 lots credited" in capsys.readouterr().err
    # And each is in the audit log as an operator's creditExamLot
    audited = rows(database, "SELECT operation, principal, account_id, result FROM audit_record")
    assert sorted(audited) == sorted(
        [("creditExamLot", "cli:0", a, "ok") for a in (first, second, first)]
    )
    # And every account reconciles
    assert cli.main(["reconcile", "--all"]) == 0


def test_reconcile_all_fails_on_a_discrepancy(
    database: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given three accounts with lots, one whose cached `used` no longer matches its ledger
    accounts = given_accounts(database, 3, lots=True)
    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE exam_lot SET used = 5 WHERE account_id = ?", (accounts[1],))
    # When every account is reconciled
    status = cli.main(["reconcile", "--all"])
    # Then the command fails, naming that account's lot
    report = capsys.readouterr().err
    assert status == 1
    assert f"account {accounts[1]}: " in report
    assert "used = exams covered: expected 0, actual 5" in report
    assert f"account {accounts[0]}: " not in report


def test_export_ledger_writes_the_account_s_csv_since_a_date(
    database: Path, tmp_path: Path
) -> None:
    # Given an account with a lot bought on 2026-03-01 (START)
    [account] = given_accounts(database, 1, lots=True)
    given = rows(database, "SELECT count(*) FROM ledger_entry")[0][0]
    out = tmp_path / "ledger.csv"
    # When its ledger since that day is exported, and since the next day
    argv = ["export-ledger", "--account", str(account), "--csv", "--lang", "en"]
    assert cli.main([*argv, "--since", "2026-03-01", "--output", str(out)]) == 0
    text = out.read_bytes().decode()
    assert cli.main([*argv, "--since", "2026-03-02", "--output", str(out)]) == 0
    later = out.read_bytes().decode()
    # Then the first holds every entry under the English header, the second none
    lines = text.removeprefix("\ufeff").split("\r\n")
    assert lines[0].startswith('Entry,"Time (China Standard Time, UTC+8)",Type')
    assert len([line for line in lines[1:] if line]) == given == 1
    assert ",Purchase,10000," in lines[1]
    assert later.removeprefix("\ufeff").split("\r\n")[1:] == [""]


def test_export_ledger_refuses_an_unknown_account(
    database: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["export-ledger", "--account", "999", "--csv"]) == 2
    assert "ACCOUNT_NOT_FOUND" in capsys.readouterr().err


def test_backup_of_postgres_prints_the_pg_dump_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://billing:pw@db.local:5432/billing")
    monkeypatch.setenv("SERVER_SECRET", SERVER_SECRET)
    assert cli.main(["backup", "/backups/billing.dump"]) == 0
    printed = capsys.readouterr().out
    assert printed.strip() == (
        "pg_dump --format=custom --file=/backups/billing.dump "
        "'postgresql://billing:***@db.local:5432/billing'"
    )


def test_the_sweep_runs_on_the_clock_the_servers_run_on(
    database: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a lot bought on 1 March 2026: it expires on 1 March 2027 (R-EXAM-2)
    (account,) = given_accounts(database, 1, lots=True)
    offset = tmp_path / "clock-offset"
    monkeypatch.setenv("CLOCK_OFFSET_FILE", str(offset))
    # When the sweep runs with the clock set a day after the purchase, nothing expired
    to_start = (START - datetime.now(UTC)).total_seconds()
    offset.write_text(str(to_start + 86_400))
    assert cli.main(["sweep"]) == 0
    assert rows(database, "SELECT swept_at FROM exam_lot") == [(None,)]
    # But when the servers' clock is moved past the expiry, the command line's moves too
    offset.write_text(str(to_start + 366 * 86_400))
    assert cli.main(["sweep"]) == 0
    swept = rows(database, "SELECT account_id, forfeited FROM exam_lot WHERE swept_at IS NOT NULL")
    assert swept == [(account, 10_000)]
