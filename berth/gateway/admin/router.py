"""GET /admin: a server-rendered page to see and act on the site, logged in with the API key.

The session cookie is HttpOnly, SameSite=strict and signed (it never holds the key); every form
carries a token bound to the session, so a forged cross-site POST fails twice over.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from berth.contracts.gateway import REASON_CODE_PATTERN, UpdateLockerRequest
from berth.domain.errors import Forbidden, Unauthenticated
from berth.gateway.auth import SESSION_COOKIE, SESSION_TTL, ApiKeyAuth
from berth.gateway.lockers.service import LockerService
from berth.gateway.system.schemas import LogFilter
from berth.gateway.system.service import SystemService
from berth.gateway.transactions.service import TransactionService
from berth.gateway.web import IdPath, domain, errors
from berth.kit.ratelimit import address
from berth.kit.threads import run_blocking

router = APIRouter(prefix="/admin", tags=["Health & Status"])
HTML = {"content": {"text/html": {"schema": {"type": "string"}}}}
REDIRECT = {303: {"description": "Back to the admin page (with a notice)"}}
# The admin routes check their own session: no API-key 401/429 from the middleware.
FORM_ERRORS = {**REDIRECT, **errors(401, 403, 404, auth=False)}
Lockers = Annotated[LockerService, Depends(domain("lockers"))]
Transactions = Annotated[TransactionService, Depends(domain("transactions"))]
SystemInfo = Annotated[SystemService, Depends(domain("system"))]


def json_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Error bodies stay JSON on the HTML pages (a model would take the page's media type)."""
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    return {status: {"description": entry["description"], "content": ref}
            for status, entry in errors(*statuses, auth=False).items()}
templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))


def _auth(request: Request) -> ApiKeyAuth:
    return request.app.state.auth


def _session(request: Request) -> str | None:
    value = request.cookies.get(SESSION_COOKIE)
    return value if _auth(request).session_valid(value, time.time()) else None


def _check_form(request: Request, token: str) -> None:
    session = _session(request)
    if session is None:
        raise Unauthenticated("UNAUTHORIZED", "Log in to the admin page first")
    if not _auth(request).form_token_valid(session, token):
        raise Forbidden("FORBIDDEN", "Invalid form token; reload the admin page")


def _back(notice: str | None = None) -> RedirectResponse:
    return RedirectResponse("/admin" + (f"?{urlencode({'notice': notice})}" if notice else ""),
                            303)


@router.get("", response_class=HTMLResponse, summary="Admin interface",
            responses=json_errors())
def admin_page(request: Request, lockers: Lockers, transactions: Transactions,
               system: SystemInfo, notice: str | None = None) -> Response:
    session = _session(request)
    if session is None:
        return templates.TemplateResponse(request, "login.html", {"error": None})
    rows, _ = lockers.list_page()
    held, open_count = transactions.list_page(limit=200)
    logs, _ = system.logs(LogFilter(limit=50))
    info = system.system()
    return templates.TemplateResponse(request, "admin.html", {
        "site": info.site_name, "lockers": rows, "transactions": held,
        "open_count": open_count, "controllers": info.controllers,
        "devices": info.devices, "logs": logs, "notice": notice[:200] if notice else None,
        "form_token": _auth(request).form_token(session), "reason_pattern": REASON_CODE_PATTERN,
    })


@router.post("/login", response_class=HTMLResponse, summary="Admin login",
             responses={**json_errors(), **REDIRECT,
                        401: {"description": "Wrong API key: the login page", **HTML},
                        429: {"description": "Too many failed logins from this address: the "
                              "login page, with Retry-After", **HTML}})
def login(request: Request, api_key: Annotated[str, Form(max_length=500)] = "") -> Response:
    """Failed logins are counted per address: past the budget, 429 with Retry-After."""
    auth, limiter = _auth(request), request.app.state.limiter
    peer = address(request.client)
    wait = limiter.retry_after(admin=peer)
    if wait is not None:
        return templates.TemplateResponse(
            request, "login.html", {"error": f"Too many failed logins; try again in {wait} s"},
            status_code=429, headers={"Retry-After": str(wait)})
    if not auth.valid(api_key):
        limiter.failed(admin=peer)
        return templates.TemplateResponse(request, "login.html",
                                          {"error": "Wrong API key"}, status_code=401)
    response = _back()
    response.set_cookie(SESSION_COOKIE, auth.new_session(time.time()), max_age=SESSION_TTL,
                        httponly=True, samesite="strict", path="/admin",
                        secure=request.url.scheme == "https")
    return response


@router.post("/logout", summary="Admin logout", status_code=303, responses=REDIRECT,
             response_class=RedirectResponse)
def logout() -> Response:
    response = _back()
    response.delete_cookie(SESSION_COOKIE, path="/admin")
    return response


@router.post("/lockers/{locker_id}/open", summary="Admin: open a locker", status_code=303,
             response_class=RedirectResponse, responses=FORM_ERRORS)
async def admin_open(request: Request, locker_id: IdPath, service: Lockers,
                     form_token: Annotated[str, Form()] = "") -> Response:
    _check_form(request, form_token)
    result = await service.open(locker_id, source="admin")
    return _back(f"Locker {locker_id}: {result.message}")


@router.post("/lockers/{locker_id}/service", summary="Admin: set or clear out of service",
             status_code=303, response_class=RedirectResponse, responses=FORM_ERRORS)
async def admin_service(request: Request, locker_id: IdPath, service: Lockers,
                        form_token: Annotated[str, Form()] = "",
                        out_of_service: Annotated[bool, Form()] = False,
                        reason_code: Annotated[str, Form(max_length=64)] = "",
                        reason: Annotated[str, Form(max_length=500)] = "") -> Response:
    _check_form(request, form_token)
    body = UpdateLockerRequest(out_of_service=out_of_service,
                               reason_code=reason_code.strip().upper() or None,
                               reason=reason.strip() or None)
    await run_blocking(service.update, locker_id, body)
    state = "out of service" if out_of_service else "back in service"
    return _back(f"Locker {locker_id} is {state}")
