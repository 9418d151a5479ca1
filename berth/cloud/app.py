"""The Cloud API app factory: ``create_app(CloudConfig) -> FastAPI``.

Builds the domain services (database, migrations, keys from the data dir), mounts each domain's
router, renders domain errors as ``{"detail": "text", "code": ...}`` and runs the event bus, the
expiry sweeper and the outbox dispatcher in the lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from berth.cloud.admin import router as admin
from berth.cloud.auth import router as auth
from berth.cloud.auth.credentials import SecretHasher, VerifiedSecrets
from berth.cloud.config import CloudConfig
from berth.cloud.console import router as console
from berth.cloud.console import session as console_session
from berth.cloud.context import CloudContext
from berth.cloud.errors import install_error_handlers
from berth.cloud.events import router as events
from berth.cloud.events.dispatch import Consumer, Dispatcher
from berth.cloud.fleet import router as fleet
from berth.cloud.fleet.link import CloudFleetLink
from berth.cloud.health import router as health
from berth.cloud.keys import KeyRing, Vault
from berth.cloud.locations import router as locations
from berth.cloud.lockers import router as lockers
from berth.cloud.metrics import router as metrics
from berth.cloud.metrics import service as metrics_service
from berth.cloud.reservations import router as reservations
from berth.cloud.services import CloudServices
from berth.cloud.tokens import router as tokens
from berth.cloud.tower_sync import router as tower_sync
from berth.cloud.tower_sync.wakeup import CommandWakeups
from berth.cloud.towers import router as towers
from berth.cloud.webhooks import router as webhooks
from berth.cloud.webhooks.delivery import DeliveryWorker, WebhookConsumer
from berth.kit.background import background
from berth.kit.docs_assets import offline_docs_app
from berth.kit.logs import RequestId
from berth.kit.metrics import RequestMetrics
from berth.kit.ratelimit import FailureLimiter
from berth.kit.secret_files import load_or_create_secret
from berth.kit.threads import WORKER_THREADS, run_blocking
from berth.storage import Database, migrate

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger("berth.cloud")


def build_service(config: CloudConfig) -> CloudServices:
    """The services without HTTP: what the CLI, seeding and end-to-end tests use."""
    db = Database(config.db_url, pool_size=WORKER_THREADS)  # a connection per worker thread
    if config.migrate:
        migrate.upgrade(db, MIGRATIONS)
    data = Path(config.data_dir)
    jwt_key = (
        config.jwt_secret.encode()
        if config.jwt_secret
        else load_or_create_secret(data / "cloud-jwt.secret", 32)
    )
    return CloudServices(CloudContext(
        db=db,
        clock=config.clock,
        keyring=KeyRing.load_or_create(data / "cloud-keys"),
        vault=Vault.load_or_create(data / "cloud-vault.key"),
        jwt_key=jwt_key,
        access_token_ttl=config.access_token_ttl,
        keypad_code_digits=config.keypad_code_digits,
        tower_offline_after=config.tower_offline_after,
        hasher=SecretHasher(config.hash_concurrency, config.hash_queue, config.hash_wait),
        verified=VerifiedSecrets(config.secret_cache_ttl),
    ), config.webhooks, config.fleet)


async def _sweep_forever(services: CloudServices, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await run_blocking(services.sweep)
        except Exception:  # keep sweeping; reads and writes check expiry anyway
            log.exception("expiry sweep failed")


async def _drain_forever(run_once: Callable[[], int], batch: int, interval: float,
                        what: str) -> None:
    """Call ``run_once`` (in a thread) while it finds a full batch of work; poll again after
    ``interval`` once it finds less, or fails (the database may be away: the work waits in it)."""
    while True:
        try:
            busy = await run_blocking(run_once) >= batch
        except Exception:
            log.exception("%s failed", what)
            busy = False
        if not busy:
            await asyncio.sleep(interval)


def dispatch_task(
    config: CloudConfig, dispatcher: Dispatcher
) -> Coroutine[Any, Any, None] | None:
    """The dispatcher's loop, or None when dispatching is off or nothing consumes (no consumer
    configured and webhooks off): events then wait undispatched, so a consumer configured later
    still receives the backlog."""
    webhooks_on = config.webhooks.delivery_interval > 0
    if config.outbox_dispatch_interval <= 0 or not (config.outbox_consumers or webhooks_on):
        return None
    return _drain_forever(dispatcher.run_once, dispatcher.batch,
                          config.outbox_dispatch_interval, "outbox dispatch")


def consumers(config: CloudConfig, services: CloudServices) -> list[Consumer]:
    """The configured consumers, and the webhooks' unless webhooks are off."""
    found = list(config.outbox_consumers)
    if config.webhooks.delivery_interval > 0:
        found.append(WebhookConsumer(services.webhooks))
    return found


def create_app(config: CloudConfig, services: CloudServices | None = None) -> FastAPI:
    services = services or build_service(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        dispatcher = app.state.dispatcher = Dispatcher(
            services.db, consumers(config, services), clock=config.clock,
            lease=config.outbox_lease)
        interval = config.webhooks.delivery_interval
        worker = DeliveryWorker(services.webhooks)
        delivering = (_drain_forever(worker.run_once, worker.batch, interval, "webhook delivery")
                      if interval > 0 else None)
        sweeper = (_sweep_forever(services, config.sweep_interval)
                   if config.sweep_interval > 0 else None)
        dispatching = dispatch_task(config, dispatcher)
        link = None
        if config.fleet_link is not None:  # this process's broker connection (/fleet/v1)
            link = app.state.fleet_link = CloudFleetLink(config.fleet_link, services.fleet)
            services.fleet.link = link
        wakeups = app.state.command_wakeups
        await services.bus.start()  # before anything can publish
        try:
            async with (background(sweeper, "berth-cloud-sweeper"),
                        background(dispatching, "berth-cloud-outbox"),
                        background(delivering, "berth-cloud-webhooks"),
                        background(link.run() if link else None, "berth-cloud-fleet"),
                        background(wakeups.run(), "berth-cloud-command-wakeups")):
                yield
        finally:
            await services.bus.stop()  # after the sweeper, before the database closes
            services.db.dispose()

    app = offline_docs_app(
        title="Berth Cloud API",
        version="1",
        description="Towers, lockers, reservations and signed locker tokens for partners.",
        lifespan=lifespan,
    )
    app.state.services = services
    # looked up at poll time: an app built only for its OpenAPI document has no tower_sync
    app.state.command_wakeups = CommandWakeups(
        lambda floor: services.tower_sync.commands_after_id(floor),
        lambda: services.tower_sync.top_command_id(), config.command_poll_interval)
    app.state.bus = services.bus  # CloudLockerStateChanged, after each commit (docs/cloud.md)
    app.state.login_limiter = FailureLimiter(
        {"client": config.login_failures_per_client,
         "address": config.login_failures_per_address,
         "fleet_key": config.login_failures_per_address},  # wrong fleet API keys per address
        clock=lambda: config.clock().timestamp(),
    )
    install_error_handlers(app)
    app.state.metrics = metrics_service.CloudMetrics(services)
    app.add_middleware(RequestMetrics, histogram=app.state.metrics.requests)
    app.add_middleware(RequestId)  # outermost: every answer carries its request id
    for module in (health, auth, towers, lockers, reservations, tokens, tower_sync, events,
                   webhooks, admin, locations, fleet, metrics):
        app.include_router(module.router)
    app.add_middleware(fleet.RateLimitHeaders)
    app.include_router(locations.admin_router)
    app.include_router(console.router)
    console_session.install(app, Path(config.data_dir))  # the console's signed cookie
    return app
