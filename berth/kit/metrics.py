"""Prometheus numbers both services share: request latency by route template, and ``/metrics``.

Each app has its own ``CollectorRegistry`` (``app.state.metrics``), so several apps in one
process (tests, ``berth up``) never mix their numbers. Latency is labelled by the route's
template (``/lockers/{locker_id}``), never the raw path, so the series stay few.
"""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "(unmatched)"  # a path no route answers: one series, whatever was asked


def request_histogram(registry: CollectorRegistry, prefix: str) -> Histogram:
    return Histogram(f"{prefix}_http_request_duration_seconds",
                     "Time to answer an HTTP request, by method, route template and status.",
                     ["method", "route", "status"], registry=registry)


class RequestMetrics:
    """ASGI middleware timing every HTTP request into ``histogram`` (streams: until headers)."""

    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answered = False

        async def timed_send(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start" and not answered:
                answered = True
                self._observe(scope, message["status"], started)
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            if not answered:  # failed before answering: the server's 500
                self._observe(scope, 500, started)

    def _observe(self, scope: Scope, status: int, started: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path_format", None) or getattr(route, "path", None)
        self.histogram.labels(scope["method"], template or UNMATCHED, str(status)).observe(
            time.perf_counter() - started)


def exposition(registry: CollectorRegistry) -> Response:
    """The registry in Prometheus' text format (what a scraper reads)."""
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
