"""Operator commands: `python -m imaging_billing.cli serve|migrate|create-operator-token|sweep|
backup|export-ledger|import-lots|reconcile`."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import getpass
import logging
import os
import secrets
import sys
from pathlib import Path
from typing import Any, TextIO

from . import cli_tasks, demo, logs
from .config import Settings
from .security import KeyBox
from .services import access, institution_tokens, people
from .services.clock import configured
from .services.principals import Role
from .services.sweep import run_sweep
from .store.db import Database
from .store.migrate import upgrade

CREDENTIALS = "demo-credentials.json"
CALLBACK_SECRET = "payment-callback-secret"
SERVER_SECRET = "server-secret"
# Everything serve leaves on disk holds secrets: the operator's alone (owner rw only).
PRIVATE_UMASK = 0o077


def _sqlite_file(url: str) -> Path | None:
    if url.startswith("sqlite") and ":///" in url:
        return Path(url.split(":///", 1)[1])
    return None


def _ensure_sqlite_dir(url: str) -> None:
    path = _sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def protect_local_state(settings: Settings) -> None:
    """var/ 0700; its files and the SQLite files (-wal, -shm too) 0600, made so or not."""
    var = settings.var_dir
    var.mkdir(mode=0o700, parents=True, exist_ok=True)
    var.chmod(0o700)
    files = [path for path in var.iterdir() if path.is_file()]
    database = _sqlite_file(settings.database_url)
    if database is not None:
        files += [Path(f"{database}{suffix}") for suffix in ("", "-wal", "-shm")]
    for path in files:
        if path.is_file():
            path.chmod(0o600)


def migrate(settings: Settings) -> None:
    """Migrations, then the sealing of institution keys stored in the clear (it needs the
    server secret, which migrations never see)."""
    _ensure_sqlite_dir(settings.database_url)
    upgrade(settings.database_url)
    asyncio.run(_seal_legacy(settings))


async def _seal_legacy(settings: Settings) -> None:
    assert settings.server_secret
    db = Database(settings.database_url)
    try:
        await institution_tokens.seal_legacy(db, KeyBox(settings.server_secret))
    finally:
        await db.dispose()


async def _first_start(settings: Settings) -> dict[str, str] | None:
    assert settings.server_secret
    db = Database(settings.database_url)
    try:
        if not await demo.is_empty(db):
            return None
        return await demo.load(
            db, configured(settings.clock_offset_file).now(), KeyBox(settings.server_secret)
        )
    finally:
        await db.dispose()


def server_secret(settings: Settings, path: Path | None = None) -> Settings:
    """Without SERVER_SECRET, a secret is made once in var/ (0600 from its first byte) and
    read from there on every start. Losing it locks every gateway out until its token is
    rotated, so it belongs in the backups, apart from the database's."""
    if settings.server_secret:
        return settings
    path = path or settings.var_dir / SERVER_SECRET
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32))
    return dataclasses.replace(settings, server_secret=path.read_text().strip())


def _callback_secret(settings: Settings) -> Settings:
    """Without PAYMENT_CALLBACK_SECRET, a local secret is made once and kept in var/."""
    if settings.payment_callback_secret:
        return settings
    path = settings.var_dir / CALLBACK_SECRET
    if not path.is_file():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(secrets.token_urlsafe(32))
    return dataclasses.replace(settings, payment_callback_secret=path.read_text())


def _banner(
    settings: Settings, first_credentials: dict[str, str] | None, secret_file: Path | None
) -> str:
    """Where things are; the demo secrets only on the start that made them."""
    url = f"http://{settings.host}:{settings.port}"
    credentials = settings.var_dir / CREDENTIALS
    lines = [
        f"Console:  {url}/",
        f"GraphiQL: {url}/graphql",
        f"Payment callback: {url}/payments/callback",
    ]
    if secret_file is not None:
        lines[-1] += f" (secret in {secret_file})"
    if first_credentials is not None:
        lines.append(f"Demo credentials, shown this once (kept in {credentials}):")
        lines += [f"  {k}: {v}" for k, v in first_credentials.items()]
    elif credentials.is_file():
        lines.append(f"Demo credentials: in {credentials} (readable by this user only)")
    return "\n".join(lines)


def serve(settings: Settings) -> None:
    import uvicorn

    from .api.http import MAX_BODY
    from .app import create_app

    _check_workers(settings)
    os.umask(PRIVATE_UMASK)
    protect_local_state(settings)
    secret_file = None if settings.payment_callback_secret else settings.var_dir / CALLBACK_SECRET
    settings = _callback_secret(settings)
    migrate(settings)
    first = asyncio.run(_first_start(settings)) if settings.demo_data else None
    if first is not None:
        demo.save(settings.var_dir / CREDENTIALS, first)
    protect_local_state(settings)  # the SQLite files migrate has just made
    print(_banner(settings, first, secret_file), flush=True)  # noqa: T201 - the operator reads this
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": "info",
        # Our root handler formats uvicorn's lines too; one request line comes from
        # api/observe.py (with the request id and principal), so no access log.
        "log_config": None,
        "access_log": False,
        # Without FORWARDED_ALLOW_IPS no X-Forwarded-For is believed, from loopback
        # either (uvicorn's default trusts 127.0.0.1): the socket's address is the client.
        "proxy_headers": settings.forwarded_allow_ips is not None,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        # A WebSocket frame is read whole and JSON-decoded before the query limits see
        # it: no larger than an HTTP body (uvicorn's default is 16 MiB); closed 1009.
        "ws_max_size": MAX_BODY,
    }
    if settings.workers > 1:
        # Each worker process builds its app from the environment: hand it the secrets
        # and paths settled here.
        os.environ.update(_worker_env(settings))
        uvicorn.run(
            "imaging_billing.app:create_app", factory=True, workers=settings.workers, **options
        )
    else:
        uvicorn.run(create_app(settings), **options)


def _worker_env(settings: Settings) -> dict[str, str]:
    assert settings.server_secret
    assert settings.payment_callback_secret
    return {
        "DATABASE_URL": settings.database_url,
        "VAR_DIR": str(settings.var_dir),
        "SERVER_SECRET": settings.server_secret,
        "PAYMENT_CALLBACK_SECRET": settings.payment_callback_secret,
    }


def _check_workers(settings: Settings) -> None:
    """Several processes on one SQLite file would wait for each other's write lock on
    their event loops (store/db.py): only PostgreSQL is tested with several."""
    if settings.workers > 1 and _sqlite_file(settings.database_url) is not None:
        raise SystemExit(
            f"WORKERS={settings.workers} needs PostgreSQL (DATABASE_URL=postgresql+asyncpg://…); "
            "on SQLite the server runs one process"
        )


async def _create_token(settings: Settings, name: str) -> str:
    db = Database(settings.database_url)
    try:
        return await people.create_operator_token(
            db, name=name, now=configured(settings.clock_offset_file).now()
        )
    finally:
        await db.dispose()


async def _create_operator(settings: Settings, email: str, name: str, password: str) -> str:
    db = Database(settings.database_url)
    try:
        row = await access.create_user(
            db,
            email=email,
            name=name,
            role=Role.OPERATOR,
            account_id=None,
            password=password,
            actor="cli",
            now=configured(settings.clock_offset_file).now(),
        )
        return f"operator {row.email} created"
    finally:
        await db.dispose()


async def _sweep(settings: Settings) -> str:
    # On PostgreSQL the servers' live consoles are told of the accounts swept.
    db = Database(settings.database_url, announce=True)
    try:
        return repr(await run_sweep(db, configured(settings.clock_offset_file).now()))
    finally:
        await db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="imaging-billing")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="migrate, load demo data on first start, serve")
    sub.add_parser("migrate", help="apply database migrations")
    token = sub.add_parser("create-operator-token", help="issue an operator API token")
    token.add_argument("--name", required=True)
    operator = sub.add_parser("create-operator", help="create a platform operator who logs in")
    operator.add_argument("--email", required=True)
    operator.add_argument("--name", required=True)
    sub.add_parser("sweep", help="forfeit expired lots and send due notices")
    _task_parsers(sub)
    args = parser.parse_args(argv)
    os.umask(PRIVATE_UMASK)  # databases and secrets any command makes are private
    settings = server_secret(Settings.from_env())
    if args.command == "serve":  # JSON lines for a log shipper, from the first line on
        logs.configure(settings.log_format)
    else:
        logging.basicConfig(level=logging.INFO)
    if args.command == "serve":
        serve(settings)
    elif args.command == "migrate":
        migrate(settings)
    elif args.command == "create-operator-token":
        migrate(settings)
        print(asyncio.run(_create_token(settings, args.name)))  # noqa: T201
    elif args.command == "create-operator":
        migrate(settings)
        password = getpass.getpass("Password (12+ characters, not only spaces, not the e-mail): ")
        print(asyncio.run(_create_operator(settings, args.email, args.name, password)))  # noqa: T201
    elif args.command == "sweep":
        print(asyncio.run(_sweep(settings)))  # noqa: T201
    else:
        return _task(settings, args)
    return 0


def _task_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = sub.add_parser("backup", help="copy the SQLite database while it serves")
    backup.add_argument("path", type=Path)
    export = sub.add_parser("export-ledger", help="an account's ledger as CSV (stdout)")
    export.add_argument("--account", required=True, help="account number or API ID")
    export.add_argument("--since", help="YYYY-MM-DD (Asia/Shanghai) or ISO time with offset")
    export.add_argument("--until", help="as --since; excluded")
    export.add_argument("--csv", action="store_true", required=True, help="CSV (the format)")
    export.add_argument("--lang", choices=("zh-CN", "en"), default="zh-CN")
    export.add_argument("--output", type=Path, help="a file instead of stdout")
    lots = sub.add_parser("import-lots", help="offline lot purchases from a CSV, all or none")
    lots.add_argument("file", type=Path)
    check = sub.add_parser("reconcile", help="R-GEN-7 for every account; exit 1 on a discrepancy")
    check.add_argument("--all", action="store_true", required=True)


def _task(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "backup":
        return cli_tasks.backup(settings, args.path)
    if args.command == "import-lots":
        return cli_tasks.run(cli_tasks.import_lots(settings, args.file))
    if args.command == "reconcile":
        return cli_tasks.run(cli_tasks.reconcile_all(settings))
    assert args.command == "export-ledger"
    if args.output is None:
        return cli_tasks.run(_export(settings, args, sys.stdout))
    with args.output.open("w", encoding="utf-8", newline="") as out:
        return cli_tasks.run(_export(settings, args, out))


async def _export(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    return await cli_tasks.export_ledger(
        settings, args.account, args.since, args.until, args.lang, out
    )


if __name__ == "__main__":
    sys.exit(main())
