"""The interactive API docs, served from the installed package instead of a CDN.

An on-site gateway usually has no internet: FastAPI's default ``/docs`` and ``/redoc`` pages load
Swagger UI and ReDoc from a CDN and stay blank there. ``fastapi-offline`` ships those files;
both services mount them under ``DOCS_ASSETS`` and their pages point only there.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

DOCS_ASSETS = "/docs/assets"
# Swagger UI would otherwise ask validator.swagger.io about the document (a request to the
# internet from the browser and a broken badge offline).
SWAGGER_UI_PARAMETERS = {"validatorUrl": None}


def offline_docs_app(**kwargs: Any) -> FastAPI:
    """``FastAPI(**kwargs)`` whose /docs and /redoc pages load their assets from this server."""
    return FastAPIOffline(static_url=DOCS_ASSETS, swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
                          **kwargs)
