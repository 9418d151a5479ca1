"""``GET /metrics`` of the gateway (Prometheus text), behind the API key like every route.

A scraper sends the key as ``Authorization: Bearer`` (Prometheus' ``authorization`` scrape
setting). What is counted as it happens: request latency by route template, door openings
(latency and outcome). What is read at each scrape: controllers online, open transactions.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from berth.gateway.service import GatewayService
from berth.gateway.web import API_KEY, errors
from berth.kit.metrics import exposition, request_histogram
from berth.kit.threads import run_blocking

DOOR_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 40.0, 60.0)
TEXT = {"content": {"text/plain": {"schema": {"type": "string"}}},
        "description": "Prometheus text exposition format"}


class _SiteState(Collector):
    """Gauges read from the running gateway at each scrape (never stale)."""

    def __init__(self, service: GatewayService) -> None:
        self.service = service

    def collect(self) -> Iterator[GaugeMetricFamily]:
        online = GaugeMetricFamily("berth_gateway_controller_online",
                                   "1 while the door watcher's polls of the controller succeed.",
                                   labels=["controller"])
        for controller in self.service.system.list_controllers():
            online.add_metric([controller.controller_id], 1.0 if controller.online else 0.0)
        yield online
        _, count = self.service.transactions.list_page(limit=1)
        yield GaugeMetricFamily("berth_gateway_open_transactions",
                                "Transactions holding a locker now.", value=count)


class GatewayMetrics:
    """The app's registry (``app.state.metrics``) and what the gateway records into it."""

    def __init__(self, service: GatewayService) -> None:
        self.registry = CollectorRegistry()
        self.requests = request_histogram(self.registry, "berth_gateway")
        self.door_open = Histogram(
            "berth_gateway_door_open_seconds",
            "Time to open a door by the open rule, by outcome (opened or the reason code).",
            ["outcome"], buckets=DOOR_BUCKETS, registry=self.registry)
        self.registry.register(_SiteState(service))

    def door_opened(self, reason_code: str | None, seconds: float) -> None:
        self.door_open.labels(reason_code or "OPENED").observe(seconds)


router = APIRouter(tags=["Health & Status"])


@router.get("/metrics", summary="Prometheus metrics", dependencies=API_KEY,
            response_class=Response, responses={200: TEXT, **errors()})
async def metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.metrics.registry
    return await run_blocking(exposition, registry)  # the scrape reads the database
