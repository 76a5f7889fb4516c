"""Settings from the environment, read in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_VAR = ROOT / "var"
DEFAULT_DB = DEFAULT_VAR / "imaging-billing.sqlite3"
LOOPBACK_HOSTS = frozenset({"localhost", "::1"})


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=lambda: f"sqlite+aiosqlite:///{DEFAULT_DB}")
    host: str = "127.0.0.1"
    port: int = 8000
    console_dir: Path = ROOT / "frontend" / "dist"
    # How far an institution's signed timestamp may be from the server clock.
    signature_window_seconds: int = 300
    # Background expiry sweep / notice scan period; 0 turns it off (tests drive it).
    sweep_interval_seconds: float = 60.0
    # Group commit: how many uploads one ingest transaction may take at most.
    ingest_batch_limit: int = 2_000
    demo_data: bool = True
    # Shared with the payment provider; the callback answers 503 until one is set.
    payment_callback_secret: str | None = None
    # Seals institution signing keys; kept outside the database (cli.py makes one in
    # var/server-secret when unset). Every instance sharing a database needs the same one.
    server_secret: str | None = None
    # Audit records are kept this long (never less than 180 days).
    audit_retention_days: int = 400
    # The served process's garbage collector, set at start-up (see runtime.py).
    tune_gc: bool = True
    # Where `serve` keeps its local state (SQLite file, secrets, demo credentials); 0700.
    var_dir: Path = DEFAULT_VAR
    # Proxies whose X-Forwarded-For / -Proto are believed (uvicorn's list syntax, "*" for
    # any). Unset: no proxy headers at all, the client address is the socket's.
    forwarded_allow_ips: str | None = None
    # Session cookies carry `Secure` when set, and whenever the host is not loopback.
    secure_cookies: bool = False
    # Query cost budgets (api/cost.py) scaled: capacity and refill rate multiplied.
    query_budget_scale: float = 1.0
    # Webhook endpoints may point to loopback, private and link-local addresses (tests, a
    # receiver on the same machine); refused otherwise.
    webhook_allow_private: bool = False
    # How often the webhook worker looks for due deliveries; 0 turns it off (tests drive it).
    webhook_interval_seconds: float = 1.0
    # How long a claimed delivery stays with the instance that claimed it: longer than a
    # send can take (10 s); after it, another instance sends it (one that died mid-send).
    webhook_lease_seconds: float = 120.0
    # Deliveries one instance claims per round.
    webhook_batch: int = 50
    # Notices by e-mail: `smtp://user:pass@host:port` (STARTTLS when offered) or
    # `smtps://…`. Unset: each mail is written as an .eml file to `mail_outbox_dir`
    # (default var/outbox) instead.
    smtp_url: str | None = None
    mail_outbox_dir: Path | None = None
    mail_from: str = "Imaging Billing <billing@localhost>"
    # How often the mail worker looks for due mails; 0 turns it off (tests drive it).
    mail_interval_seconds: float = 1.0
    # /metrics from anywhere for a bearer of this token; unset: loopback clients only.
    metrics_token: str | None = None
    # "json" or "text"; unset: JSON unless stderr is a terminal (logs.py).
    log_format: str | None = None
    # PostgreSQL connections per process: kept open (`db_pool_size`) and opened beyond
    # them at peaks, closed again on return (`db_max_overflow`). Several instances:
    # (size + overflow) x processes must stay under the server's max_connections.
    db_pool_size: int = 10
    # `serve`: server processes (uvicorn workers) on the one port; PostgreSQL only.
    workers: int = 1
    db_max_overflow: int = 5
    # Ping a pooled connection before each use (a round trip per transaction); off, a
    # connection the server dropped fails one transaction and the pool renews them.
    db_pool_pre_ping: bool = False
    # Tests only: a file holding seconds to add to the system clock, read by every
    # process given it, so tests can move the time of live servers (0 when absent).
    clock_offset_file: Path | None = None

    @property
    def outbox_dir(self) -> Path:
        return self.mail_outbox_dir or self.var_dir / "outbox"

    @property
    def cookies_secure(self) -> bool:
        return self.secure_cookies or not is_loopback(self.host)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        base = cls()
        var_dir = Path(env.get("VAR_DIR") or base.var_dir)
        return cls(
            database_url=env.get("DATABASE_URL")
            or f"sqlite+aiosqlite:///{var_dir / DEFAULT_DB.name}",
            var_dir=var_dir,
            forwarded_allow_ips=env.get("FORWARDED_ALLOW_IPS", "").strip() or None,
            secure_cookies=env.get("SECURE_COOKIES", "0") in ("1", "true", "yes"),
            query_budget_scale=float(env.get("QUERY_BUDGET_SCALE", base.query_budget_scale)),
            host=env.get("HOST", base.host),
            port=int(env.get("PORT", base.port)),
            console_dir=Path(env.get("CONSOLE_DIR", str(base.console_dir))),
            signature_window_seconds=int(
                env.get("SIGNATURE_WINDOW_SECONDS", base.signature_window_seconds)
            ),
            sweep_interval_seconds=float(
                env.get("SWEEP_INTERVAL_SECONDS", base.sweep_interval_seconds)
            ),
            demo_data=env.get("DEMO_DATA", "1") not in ("0", "false", "no"),
            payment_callback_secret=env.get("PAYMENT_CALLBACK_SECRET") or None,
            server_secret=env.get("SERVER_SECRET") or None,
            audit_retention_days=int(env.get("AUDIT_RETENTION_DAYS", base.audit_retention_days)),
            webhook_allow_private=env.get("WEBHOOK_ALLOW_PRIVATE", "0") in ("1", "true", "yes"),
            webhook_interval_seconds=float(
                env.get("WEBHOOK_INTERVAL_SECONDS", base.webhook_interval_seconds)
            ),
            webhook_lease_seconds=float(
                env.get("WEBHOOK_LEASE_SECONDS", base.webhook_lease_seconds)
            ),
            webhook_batch=int(env.get("WEBHOOK_BATCH", base.webhook_batch)),
            smtp_url=env.get("SMTP_URL") or None,
            mail_outbox_dir=Path(env["MAIL_OUTBOX_DIR"]) if env.get("MAIL_OUTBOX_DIR") else None,
            mail_from=env.get("MAIL_FROM") or base.mail_from,
            mail_interval_seconds=float(
                env.get("MAIL_INTERVAL_SECONDS", base.mail_interval_seconds)
            ),
            metrics_token=env.get("METRICS_TOKEN") or None,
            log_format=env.get("LOG_FORMAT") or None,
            db_pool_size=int(env.get("DB_POOL_SIZE", base.db_pool_size)),
            workers=int(env.get("WORKERS") or base.workers),
            db_max_overflow=int(env.get("DB_MAX_OVERFLOW", base.db_max_overflow)),
            db_pool_pre_ping=env.get("DB_POOL_PRE_PING", "0") in ("1", "true", "yes"),
            clock_offset_file=(
                Path(env["CLOCK_OFFSET_FILE"]) if env.get("CLOCK_OFFSET_FILE") else None
            ),
        )
