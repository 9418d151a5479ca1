"""Health probes, no credentials: ``GET /health`` (readiness) and ``GET /health/live`` (liveness).

``/health`` keeps the seed's contract and checks the database for real (503 when it does not
answer); ``/health/live`` (:mod:`berth.health`) only says the process answers. The cloud
answers the same pair.
"""

from __future__ import annotations

from fastapi import Response

from berth.gateway.routers.deps import Service
from berth.gateway.schemas import Health
from berth.health import health_router

router = health_router("Health & Status")


@router.get("/health", response_model=Health, responses={503: {"model": Health}},
            summary="Health check")
def health(service: Service, response: Response) -> Health:
    result = service.health()
    if result.database != "ok":
        response.status_code = 503
    return result
