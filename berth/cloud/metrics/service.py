"""The cloud's Prometheus registry: request latency as it happens, the backlogs at each scrape.

The scrape reads the database (one read transaction): outbox lag and queued events, each
tower's time since its last event and its pending commands, webhook deliveries by status.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from berth.cloud.metrics import repository
from berth.cloud.services import CloudServices
from berth.kit.metrics import request_histogram


@dataclass(eq=False)  # a registry keys its collectors by identity
class _Backlogs(Collector):
    services: CloudServices  # read at each scrape, never at build (the app may be a stand-in)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        ctx = self.services.ctx
        now = ctx.clock()
        with ctx.db.read() as conn:
            queued, oldest = repository.outbox_backlog(conn)
            towers = repository.tower_sync(conn)
            deliveries = repository.deliveries_by_status(conn)
        yield GaugeMetricFamily("berth_cloud_outbox_queued_events",
                                "Outbox events not yet dispatched.", value=queued)
        yield GaugeMetricFamily(
            "berth_cloud_outbox_lag_seconds",
            "Age of the oldest undispatched outbox event (0 when none waits).",
            value=(now - oldest).total_seconds() if oldest else 0.0)
        age = GaugeMetricFamily("berth_cloud_tower_last_event_age_seconds",
                                "Seconds since the tower's last event reached the cloud.",
                                labels=["tower"])
        pending = GaugeMetricFamily("berth_cloud_tower_commands_pending",
                                    "Commands queued for the tower that it has not applied.",
                                    labels=["tower"])
        for tower_id, last, count in towers:
            if last is not None:
                age.add_metric([tower_id], (now - last).total_seconds())
            pending.add_metric([tower_id], float(count))
        yield age
        yield pending
        by_status = GaugeMetricFamily("berth_cloud_webhook_deliveries",
                                      "Webhook deliveries by status (pending, succeeded...).",
                                      labels=["status"])
        for status, count in deliveries:
            by_status.add_metric([status], float(count))
        yield by_status


class CloudMetrics:
    """``app.state.metrics``: one registry per app."""

    def __init__(self, services: CloudServices) -> None:
        self.registry = CollectorRegistry()
        self.requests = request_histogram(self.registry, "berth_cloud")
        self.registry.register(_Backlogs(services))
