"""The Cloud API app factory: ``create_app(CloudConfig) -> FastAPI``.

Builds the service (database, migrations, keys from the data dir), mounts the routers, turns
our errors into ``{"detail": {"code", "message"}}`` and runs the expiry sweeper and the outbox
dispatcher in the lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from berth.background import background
from berth.cloud.auth import SecretHasher
from berth.cloud.config import CloudConfig
from berth.cloud.dispatch import Dispatcher
from berth.cloud.errors import CloudError, install_validation_handler
from berth.cloud.keys import KeyRing, Vault, load_or_create_secret
from berth.cloud.routers import (
    admin,
    auth,
    events,
    health,
    locker_tokens,
    reservations,
    sdk,
    towers,
    users,
)
from berth.cloud.service import CloudService
from berth.docs_assets import offline_docs_app
from berth.ratelimit import FailureLimiter
from berth.storage import Database, migrate

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger("berth.cloud")


def build_service(config: CloudConfig) -> CloudService:
    """The service without HTTP: what the CLI, seeding and later end-to-end tests use."""
    db = Database(config.db_url)
    if config.migrate:
        migrate.upgrade(db, MIGRATIONS)
    data = Path(config.data_dir)
    jwt_key = (
        config.jwt_secret.encode()
        if config.jwt_secret
        else load_or_create_secret(data / "cloud-jwt.secret", 32)
    )
    return CloudService(
        db=db,
        clock=config.clock,
        keyring=KeyRing.load_or_create(data / "cloud-keys"),
        vault=Vault.load_or_create(data / "cloud-vault.key"),
        jwt_key=jwt_key,
        access_token_ttl=config.access_token_ttl,
        hasher=SecretHasher(config.hash_concurrency, config.hash_queue, config.hash_wait),
    )


async def _sweep_forever(service: CloudService, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await run_in_threadpool(service.sweep)
        except Exception:  # keep sweeping; reads and writes check expiry anyway
            log.exception("expiry sweep failed")


async def _dispatch_forever(dispatcher: Dispatcher, interval: float) -> None:
    """Drain the outbox; poll again after ``interval`` once it is empty (or failing)."""
    while True:
        try:
            busy = await run_in_threadpool(dispatcher.run_once) >= dispatcher.batch
        except Exception:  # the database may be away; the events wait in the outbox
            log.exception("outbox dispatch failed")
            busy = False
        if not busy:
            await asyncio.sleep(interval)


def dispatch_task(
    config: CloudConfig, dispatcher: Dispatcher
) -> Coroutine[Any, Any, None] | None:
    """The dispatcher's loop, or None when dispatching is off or nothing consumes: events then
    wait undispatched, so a consumer configured later still receives the backlog."""
    if config.outbox_dispatch_interval <= 0 or not config.outbox_consumers:
        return None
    return _dispatch_forever(dispatcher, config.outbox_dispatch_interval)


def create_app(config: CloudConfig, service: CloudService | None = None) -> FastAPI:
    service = service or build_service(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        dispatcher = app.state.dispatcher = Dispatcher(
            service.db, config.outbox_consumers, clock=config.clock, lease=config.outbox_lease)
        sweeper = (_sweep_forever(service, config.sweep_interval)
                   if config.sweep_interval > 0 else None)
        dispatching = dispatch_task(config, dispatcher)
        try:
            async with (background(sweeper, "berth-cloud-sweeper"),
                        background(dispatching, "berth-cloud-outbox")):
                yield
        finally:
            service.db.dispose()

    app = offline_docs_app(
        title="Berth Cloud API",
        version="1",
        description="Towers, lockers, reservations and signed locker tokens for partners.",
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.login_limiter = FailureLimiter(
        {"client": config.login_failures_per_client,
         "address": config.login_failures_per_address},
        clock=lambda: config.clock().timestamp(),
    )

    @app.exception_handler(CloudError)
    async def cloud_error(_: Request, exc: CloudError) -> JSONResponse:
        headers = exc.headers or ({"WWW-Authenticate": "Bearer"} if exc.status == 401 else None)
        return JSONResponse(
            {"detail": {"code": exc.code, "message": exc.message}},
            status_code=exc.status,
            headers=headers,
        )

    install_validation_handler(app)
    for module in (health, auth, towers, reservations, locker_tokens, users, sdk, events, admin):
        app.include_router(module.router)
    return app
