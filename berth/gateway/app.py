"""The app factory: ``create_app(config)`` builds one gateway; its lifespan runs the hardware."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from berth import __version__
from berth.domain.errors import Unauthenticated
from berth.events import EventBus
from berth.gateway.admin import router as admin
from berth.gateway.admin import session as admin_session
from berth.gateway.auth import ApiKeyAuth, presented_key
from berth.gateway.catalog import router as catalog
from berth.gateway.config import GatewayConfig
from berth.gateway.controllers.service import ControllerService
from berth.gateway.errors import install_error_handlers, render, too_many
from berth.gateway.fleet.link import GatewayFleetLink
from berth.gateway.lockers import router as lockers
from berth.gateway.mdns import MdnsAdvertiser, build_service_info
from berth.gateway.metrics import GatewayMetrics
from berth.gateway.metrics import router as metrics_router
from berth.gateway.service import GatewayService
from berth.gateway.system import router as system
from berth.gateway.tower import router as tower_router
from berth.gateway.transactions import router as transactions
from berth.kit.background import background
from berth.kit.docs_assets import DOCS_ASSETS, offline_docs_app
from berth.kit.logs import RequestId
from berth.kit.metrics import RequestMetrics
from berth.kit.ratelimit import FailureLimiter, address
from berth.tower.attach import GatewayTower

log = logging.getLogger("berth.gateway")

# Paths that need no API key: health, the OpenAPI document and docs (with their assets); routers
# that check their own credentials: the admin page (login form and signed session) and the tower's
# phone interface (cloud-signed tokens, mounted by the tower part when the gateway is provisioned).
PUBLIC_PATHS = ("/health", "/health/live", "/openapi.json", "/docs", "/docs/oauth2-redirect",
                "/redoc")
PUBLIC_PREFIXES = ("/admin", "/tower", DOCS_ASSETS)


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or any(path == p or path.startswith(p + "/")
                                       for p in PUBLIC_PREFIXES)


class ApiKeyMiddleware:
    """Rejects unauthenticated requests before anything reads their body (401 first, always).

    Wrong keys are counted per address; past the budget the address gets 429 with Retry-After,
    whatever key it sends, until the window ends.
    """

    def __init__(self, app: ASGIApp, auth: ApiKeyAuth, limiter: FailureLimiter) -> None:
        self.app = app
        self.auth = auth
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        key = presented_key(Headers(scope=scope))
        peer = address(scope.get("client"))
        wait = self.limiter.retry_after(key=peer)
        if wait is not None:
            response = too_many(wait, "Too many wrong API keys from this address")
            await response(scope, receive, send)
            return
        if self.auth.valid(key):
            await self.app(scope, receive, send)
            return
        if key is not None:
            self.limiter.failed(key=peer)
        response = render(Unauthenticated(
            "UNAUTHORIZED", "Missing or invalid API key: send X-API-Key or Authorization: Bearer"),
            headers={"WWW-Authenticate": "Bearer"})
        await response(scope, receive, send)


def create_app(config: GatewayConfig) -> FastAPI:
    bus = EventBus()  # one per app: the service runs it, the tower and tests subscribe
    service = GatewayService(config, bus)
    auth = ApiKeyAuth(config.api_key)

    tower = (GatewayTower(service, config.tower, config.tower_sync, config.tower_keypad)
             if config.tower else None)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            async with contextlib.AsyncExitStack() as stack:
                if tower is not None:  # its cloud link rides the fleet link when there is one
                    await stack.enter_async_context(tower.running(
                        fleet, config.fleet.reply_wait if config.fleet else 0.0))
                if fleet is not None:
                    await stack.enter_async_context(background(fleet.run(), "fleet-link"))
                async with _advertised(config):
                    yield
        finally:
            await service.stop()

    app = offline_docs_app(
        title="Berth Gateway API", version=__version__, lifespan=lifespan,
        description="On-site API of a Berth locker installation: transactions, locker "
        "assignment, lockers and lock controllers. Send the API key as `X-API-Key`.",
    )
    app.state.service = service
    app.state.bus = bus
    app.state.auth = auth
    app.state.limiter = FailureLimiter(
        {"key": config.key_failures_per_address, "admin": config.admin_login_failures_per_address,
         "tower_open": config.tower_open_refusals_per_address},
        clock=lambda: config.clock().timestamp())
    app.state.tower = tower.service if tower else None
    app.state.gateway_tower = tower  # its sync and the way it last took (tests, operators)
    # the fleet link sends each request through this app: the Gateway API's own rules and shapes
    fleet = (GatewayFleetLink(app, config.fleet_site_id or "", config.fleet, config.api_key,
                              service.fleet_requests) if config.fleet else None)
    app.state.fleet = fleet
    install_error_handlers(app)
    app.state.metrics = metrics = GatewayMetrics(service)
    service.doors.on_opened = metrics.door_opened
    app.add_middleware(ApiKeyMiddleware, auth=auth, limiter=app.state.limiter)
    admin_session.install(app, config)  # signed console sessions (only /admin reads them)
    app.state.controllers = ControllerService(service)  # the console's controller management
    app.add_middleware(RequestMetrics, histogram=metrics.requests)
    app.add_middleware(RequestId)  # outermost: every answer, a 401 too, carries the id
    for router in (system.probes, admin.router, transactions.router, lockers.router,
                   catalog.locker_types, catalog.bank_types, system.router, tower_router.router,
                   metrics_router):
        app.include_router(router)
    return app


@asynccontextmanager
async def _advertised(config: GatewayConfig) -> AsyncIterator[None]:
    """Announce the gateway by mDNS while it runs, unless told not to."""
    advertiser = None
    if config.mdns:
        advertiser = MdnsAdvertiser(build_service_info(config.port, site=config.site.name))
        try:
            await advertiser.start()
        except Exception:  # no multicast here: the API still works
            log.exception("mDNS advertisement failed; continuing without it")
            advertiser = None
    try:
        yield
    finally:
        if advertiser is not None:
            await advertiser.aclose()
