"""The liveness probe both services answer the same way: ``GET /health/live``.

It says only that the process serves requests, touching no database or hardware, so an
orchestrator does not restart a service because its database is briefly away (readiness,
``GET /health``, is each service's own and checks the database).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


def health_router(tag: str) -> APIRouter:
    """A router with ``GET /health/live``; each service adds its readiness ``GET /health``."""
    router = APIRouter(tags=[tag])

    @router.get("/health/live", response_model=Liveness, summary="Liveness check")
    async def live() -> Liveness:
        """200 while the process serves requests; touches nothing else."""
        return Liveness()

    return router
