"""GET /health: no credentials, checks the database for real."""

from __future__ import annotations

from fastapi import APIRouter, Response

from berth.gateway.routers.deps import Service
from berth.gateway.schemas import Health

router = APIRouter(tags=["Health & Status"])


@router.get("/health", response_model=Health, responses={503: {"model": Health}},
            summary="Health check")
def health(service: Service, response: Response) -> Health:
    result = service.health()
    if result.database != "ok":
        response.status_code = 503
    return result
