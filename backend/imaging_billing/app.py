"""Starlette assembly: /graphql (GraphiQL in a browser), /healthz, the console at /."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route, WebSocketRoute

from . import runtime
from .api.context import Services
from .api.cost import Budgets
from .api.exports_http import ledger_export
from .api.http import GraphQLEndpoint
from .api.live import LiveEndpoint
from .api.observe import Observe
from .api.ops_http import exiting, ops_routes
from .api.payments_http import payment_callback
from .api.security_headers import SecurityHeaders
from .config import Settings
from .console import console_routes
from .security import KeyBox
from .services import retention
from .services.auth import Authenticator
from .services.budgets import SharedBuckets
from .services.clock import Clock, configured
from .services.group_commit import GroupCommit
from .services.mail_worker import MailWorker, mail_transport
from .services.rounds import keep_sending
from .services.sweep import run_sweep
from .services.webhook_worker import WebhookWorker
from .services.webhooks import UrlPolicy
from .store.db import Database
from .store.notify import PgChannel

log = logging.getLogger("imaging_billing")
sweep_log = logging.getLogger("imaging_billing.sweep")


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    if not settings.server_secret:
        raise RuntimeError(
            "SERVER_SECRET is not set: `imaging_billing.cli serve` keeps one in var/server-secret"
        )
    db = Database(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pre_ping=settings.db_pool_pre_ping,
    )
    clock = clock or configured(settings.clock_offset_file)
    keys = KeyBox(settings.server_secret)
    return Services(
        db=db,
        clock=clock,
        group_commit=GroupCommit(db, clock, settings.ingest_batch_limit),
        auth=Authenticator(db, settings.signature_window_seconds, keys, clock),
        keys=keys,
        secure_cookies=settings.cookies_secure,
        # One process on SQLite: buckets in memory; PostgreSQL: shared by every instance.
        budgets=Budgets(
            settings.query_budget_scale, shared=None if db.is_sqlite else SharedBuckets(db)
        ),
        webhook_policy=UrlPolicy(allow_private=settings.webhook_allow_private),
    )


def _missed(services: Services) -> Callable[[], None]:
    """Other instances' changes and revocations may have gone unheard (store/notify.py)."""

    def missed() -> None:
        services.changes.heard_all()
        services.auth.forget_all()

    return missed


async def _flush_refusals_forever(services: Services, every: float = 15.0) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await services.refusals.flush(services.clock.now())
        except Exception:
            log.exception("refused-request audit records not written; retrying")


async def _sweep_forever(
    services: Services, every: float, audit_days: int, stop: asyncio.Event
) -> None:
    """A round every period until `stop` is set; shutdown waits for the round in progress
    (cancelled mid-round, its connection could be left half-used; see rounds.py)."""

    async def sweep_round() -> int:
        report = await run_sweep(services.db, services.clock.now())
        if not report.skipped:
            await retention.prune(services.db, services.clock.now(), audit_days)
        return 0

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), every)
    await keep_sending(sweep_round, 1, every, sweep_log, stop)


def create_app(settings: Settings | None = None, services: Services | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    services = services or build_services(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if settings.tune_gc:
            runtime.tune_gc()
        # Set on shutdown: the workers finish the round they are in, then return.
        stopping = asyncio.Event()
        sweeper = None
        if settings.sweep_interval_seconds > 0:
            sweeper = asyncio.create_task(
                _sweep_forever(
                    services,
                    settings.sweep_interval_seconds,
                    settings.audit_retention_days,
                    stopping,
                )
            )
        flusher = asyncio.create_task(_flush_refusals_forever(services))
        # Webhook deliveries are sent here, beside the requests, never inside one.
        worker = WebhookWorker(
            services.db,
            services.clock,
            services.keys,
            policy=services.webhook_policy,
            lease=timedelta(seconds=settings.webhook_lease_seconds),
            batch=settings.webhook_batch,
        )
        sender = None
        if settings.webhook_interval_seconds > 0:
            sender = asyncio.create_task(
                worker.run_forever(settings.webhook_interval_seconds, stopping)
            )
        # Notices by e-mail, beside the webhooks (SMTP, or .eml files without SMTP_URL).
        mailer = None
        if settings.mail_interval_seconds > 0:
            transport = mail_transport(settings.smtp_url, settings.outbox_dir)
            postman = MailWorker(services.db, services.clock, transport, sender=settings.mail_from)
            mailer = asyncio.create_task(
                postman.run_forever(settings.mail_interval_seconds, stopping)
            )
        # Several instances on one PostgreSQL database tell each other of account changes
        # and of revoked institution tokens.
        relay = None
        if not services.db.is_sqlite:
            channel = PgChannel(
                services.db.url,
                services.changes.heard,
                services.auth.forget,
                missed=_missed(services),
            )
            await channel.open()
            relay = asyncio.create_task(services.changes.relay_forever(channel, stopping))
        try:
            yield
        finally:
            if relay is not None:
                stopping.set()
                services.changes.stop()
                with contextlib.suppress(Exception):
                    await relay
                await channel.close()
            stopping.set()
            for task in (sweeper, mailer, sender):
                if task is not None:
                    with contextlib.suppress(Exception):
                        await task
            await worker.close()
            flusher.cancel()
            with contextlib.suppress(Exception):
                await services.refusals.flush(services.clock.now(), everything=True)
            await services.group_commit.close()
            await services.db.dispose()
            exiting()

    graphql = GraphQLEndpoint(services, settings.console_dir / "graphiql.html")
    callback = payment_callback(
        services, settings.payment_callback_secret, settings.signature_window_seconds
    )
    routes: list[Route | Mount | WebSocketRoute] = [
        *ops_routes(services, settings.metrics_token),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", LiveEndpoint(services)),
        Route("/payments/callback", callback, methods=["POST"]),
        Route("/exports/ledger.csv", ledger_export(services), methods=["GET"]),
    ]
    routes += console_routes(settings.console_dir)
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(Observe), Middleware(SecurityHeaders)],
    )
    app.state.services = services
    return app
