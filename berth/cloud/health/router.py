"""Health probes for load balancers and orchestrators: no credentials, nothing but up or down.

``GET /health/live`` (liveness, :mod:`berth.kit.health`) and ``GET /health`` (readiness): whether
the database answers, 503 when it does not. The gateway answers the same pair.
"""

from __future__ import annotations

from typing import Literal

from fastapi import Response
from pydantic import BaseModel

from berth.cloud.deps import AllServices
from berth.kit.health import health_router

router = health_router("health")


class Readiness(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unavailable"]


@router.get("/health", response_model=Readiness, responses={503: {"model": Readiness}},
            summary="Readiness check")
def ready(services: AllServices, response: Response) -> Readiness:
    """200 when the database answers a query, 503 when it does not."""
    if services.ping():
        return Readiness(status="ok", database="ok")
    response.status_code = 503
    return Readiness(status="degraded", database="unavailable")
