"""``GET /metrics`` (Prometheus text) for operators: an access token with scope ``operator``.

Prometheus fetches one itself with its ``oauth2`` scrape setting (client credentials against
``/oauth/token``, scope ``operator``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from berth.cloud.deps import Operator
from berth.cloud.errors import responses
from berth.kit.metrics import exposition

router = APIRouter(tags=["operator"])
TEXT = {"content": {"text/plain": {"schema": {"type": "string"}}},
        "description": "Prometheus text exposition format"}


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: TEXT, **responses(401, 403, 503)})
def metrics(request: Request, _: Operator) -> Response:
    return exposition(request.app.state.metrics.registry)
