"""``/admin``: the site console, server-rendered pages for an operator on site (often a tablet).

Logged in with a key (``session.py``: the API key is an owner, the technician key a technician);
every form carries the session's CSRF token. The site page draws each bank as a column of its
lockers (``board.py``) and follows their states live over server-sent events (``live.py``).
Every asset comes from this package (``static/``): sites often have no internet.
"""

from __future__ import annotations

import shutil
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Header, Path, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.responses import StreamingResponse

from berth.contracts.gateway import MAX_ID, REASON_CODE_PATTERN, UpdateLockerRequest
from berth.contracts.gateway import LockController as ControllerView
from berth.domain.errors import NotFound
from berth.gateway.admin import live, session
from berth.gateway.admin.board import LABELS, draw, locker_state
from berth.gateway.admin.session import Role
from berth.gateway.catalog.service import CatalogService
from berth.gateway.controllers.schemas import ReplaceController
from berth.gateway.controllers.service import ControllerService
from berth.gateway.lockers.service import LockerService
from berth.gateway.system.schemas import LogFilter
from berth.gateway.system.service import SystemService
from berth.gateway.transactions.service import TransactionService
from berth.gateway.web import IdPath, domain, errors
from berth.kit.ratelimit import address
from berth.kit.threads import run_blocking

router = APIRouter(prefix="/admin", tags=["Health & Status"])
HTML = {"content": {"text/html": {"schema": {"type": "string"}}}}
REDIRECT = {303: {"description": "Back to the page (with a notice)"}}
# The admin routes check their own session: no API-key 401/429 from the middleware.
FORM_ERRORS = {**REDIRECT, **errors(401, 403, 404, auth=False)}
Lockers = Annotated[LockerService, Depends(domain("lockers"))]
Transactions = Annotated[TransactionService, Depends(domain("transactions"))]
SystemInfo = Annotated[SystemService, Depends(domain("system"))]
Catalog = Annotated[CatalogService, Depends(domain("catalog"))]
FormToken = Annotated[str, Form(max_length=200)]


async def _controllers(request: Request) -> ControllerService:
    service: ControllerService = request.app.state.controllers
    return service


Controllers = Annotated[ControllerService, Depends(_controllers)]
CsrfHeader = Annotated[str, Header(alias="X-CSRF-Token", max_length=200,
                                   description="The session's CSRF token (on every page)")]
STATIC = FilePath(__file__).with_name("static")
ASSETS = {"console.css": "text/css", "console.js": "text/javascript"}


def json_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Error bodies stay JSON on the HTML pages (a model would take the page's media type)."""
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    return {status: {"description": entry["description"], "content": ref}
            for status, entry in errors(*statuses, auth=False).items()}


templates = Jinja2Templates(directory=str(FilePath(__file__).with_name("templates")))


def _page(request: Request, name: str, **context: Any) -> Response:
    role = session.current(request)
    return templates.TemplateResponse(request, name, {
        "role": role.name.lower() if role else None, "form_token": session.csrf_token(request),
        "notice": (request.query_params.get("notice") or "")[:200] or None,
        "states": LABELS, **context})


def _login_page(request: Request, error: str | None = None, status: int = 200,
                headers: dict[str, str] | None = None) -> Response:
    return templates.TemplateResponse(request, "login.html", {"error": error},
                                      status_code=status, headers=headers)


def _back(to: str, notice: str | None = None) -> RedirectResponse:
    return RedirectResponse(to + (f"?{urlencode({'notice': notice})}" if notice else ""), 303)


@router.get("", response_class=HTMLResponse, summary="Admin: the site as it stands",
            responses=json_errors())
def site_page(request: Request, lockers: Lockers, catalog: Catalog,
              system: SystemInfo) -> Response:
    if session.current(request) is None:
        return _login_page(request)
    rows, _ = lockers.list_page()
    info = system.system()
    return _page(request, "site.html", site=info.site_name,
                 columns=draw(rows, catalog.locker_types(), system),
                 controllers=info.controllers)


@router.get("/live", summary="Admin: locker states as server-sent events",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                             "description": "locker events: {id, state, label, transaction}"},
                       **json_errors(401)})
async def live_states(request: Request, lockers: Lockers, system: SystemInfo) -> Response:
    session.require(request, Role.TECHNICIAN)
    clock = request.app.state.service.clock
    return StreamingResponse(
        live.stream(request.app.state.bus, lockers, system, lambda: clock().timestamp()),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.get("/lockers/{locker_id}", response_class=HTMLResponse, summary="Admin: one locker",
            responses=json_errors(401, 404))
def locker_page(request: Request, locker_id: IdPath, lockers: Lockers, system: SystemInfo,
                transactions: Transactions) -> Response:
    if session.current(request) is None:
        return _login_page(request)
    locker = lockers.get(locker_id)
    config = lockers.locker_config(locker_id)
    history, _ = system.logs(LogFilter(locker_id=locker_id, limit=50))
    held = None
    if locker.transaction_id is not None:
        held = transactions.get(locker.transaction_id)
    return _page(request, "locker.html", locker=locker, config=config, history=history,
                 held=held, state=locker_state(system, locker),
                 reason_pattern=REASON_CODE_PATTERN)


@router.get("/static/{name}", include_in_schema=False)
async def asset(name: str) -> Response:
    if name not in ASSETS:
        raise NotFound("NOT_FOUND", "No such asset")
    return FileResponse(STATIC / name, media_type=ASSETS[name],
                        headers={"Cache-Control": "max-age=300"})


@router.post("/login", response_class=HTMLResponse, summary="Admin login",
             responses={**json_errors(), **REDIRECT,
                        401: {"description": "Wrong key: the login page", **HTML},
                        429: {"description": "Too many failed logins from this address: the "
                              "login page, with Retry-After", **HTML}})
def login(request: Request, api_key: Annotated[str, Form(max_length=500)] = "") -> Response:
    """The API key logs in an owner, the technician key a technician; failures are counted
    per address: past the budget, 429 with Retry-After."""
    limiter = request.app.state.limiter
    peer = address(request.client)
    wait = limiter.retry_after(admin=peer)
    if wait is not None:
        return _login_page(request, f"Too many failed logins; try again in {wait} s", 429,
                           {"Retry-After": str(wait)})
    role = session.role_of_key(request, api_key)
    if role is None:
        limiter.failed(admin=peer)
        return _login_page(request, "Wrong key", 401)
    session.start(request, role)
    return _back("/admin")


@router.post("/logout", summary="Admin logout", status_code=303, responses=REDIRECT,
             response_class=RedirectResponse)
def logout(request: Request) -> Response:
    session.end(request)
    return _back("/admin")


@router.post("/lockers/{locker_id}/open", summary="Admin: open a locker", status_code=303,
             response_class=RedirectResponse, responses=FORM_ERRORS)
async def admin_open(request: Request, locker_id: IdPath, service: Lockers,
                     form_token: FormToken = "", back: Annotated[str, Form()] = "") -> Response:
    session.require(request, Role.TECHNICIAN, form_token)
    result = await service.open(locker_id, source="admin")
    return _back(_return_to(back, locker_id), f"Locker {locker_id}: {result.message}")


@router.post("/lockers/{locker_id}/service", summary="Admin: set or clear out of service",
             status_code=303, response_class=RedirectResponse, responses=FORM_ERRORS)
async def admin_service(request: Request, locker_id: IdPath, service: Lockers,
                        form_token: FormToken = "",
                        out_of_service: Annotated[bool, Form()] = False,
                        reason_code: Annotated[str, Form(max_length=64)] = "",
                        reason: Annotated[str, Form(max_length=500)] = "",
                        back: Annotated[str, Form()] = "") -> Response:
    session.require(request, Role.TECHNICIAN, form_token)
    body = UpdateLockerRequest(out_of_service=out_of_service,
                               reason_code=reason_code.strip().upper() or None,
                               reason=reason.strip() or None)
    await run_blocking(service.update, locker_id, body)
    state = "out of service" if out_of_service else "back in service"
    return _back(_return_to(back, locker_id), f"Locker {locker_id} is {state}")


def _return_to(back: str, locker_id: int) -> str:
    """Where a form sends the operator afterwards: the site page or the locker's own page."""
    return "/admin" if back == "site" else f"/admin/lockers/{locker_id}"


# --- lock controllers: pages, and the same as a JSON API under the session ----------------


@router.get("/controllers", response_class=HTMLResponse, summary="Admin: lock controllers",
            responses=json_errors())
def controllers_page(request: Request, controllers: Controllers) -> Response:
    if session.current(request) is None:
        return _login_page(request)
    rows = controllers.list()
    return _page(request, "controllers.html", controllers=rows,
                 counters={c.controller_id: controllers.counters(c.controller_id)
                           for c in rows})


@router.post("/controllers/{controller_id}/replace", summary="Admin: replace a failed controller",
             status_code=303, response_class=RedirectResponse, responses=FORM_ERRORS)
async def replace_form(request: Request, controller_id: Annotated[str, Path(max_length=64)],
                       controllers: Controllers, form_token: FormToken = "",
                       address: Annotated[int, Form(ge=0, le=255)] = 0,
                       url: Annotated[str, Form(max_length=256)] = "") -> Response:
    session.require(request, Role.OWNER, form_token)
    done = await controllers.replace(controller_id, address, url.strip() or None)
    state = "online" if done.online else "not answering yet"
    return _back("/admin/controllers", f"Controller {controller_id} now at address "
                 f"{done.address}: {state}")


@router.get("/api/controllers", response_model=list[ControllerView],
            summary="Admin API: lock controllers", responses=json_errors(401))
async def list_controllers(request: Request, controllers: Controllers) -> list[ControllerView]:
    session.require(request, Role.TECHNICIAN)
    return await run_blocking(controllers.list)


@router.post("/api/controllers/{controller_id}/replace", response_model=ControllerView,
             summary="Admin API: a new board takes over a failed controller's lockers",
             responses=json_errors(401, 403, 404, 409))
async def replace_controller(request: Request, controller_id: Annotated[str, Path(max_length=64)],
                             body: ReplaceController, controllers: Controllers,
                             csrf: CsrfHeader = "") -> ControllerView:
    """Owners only; the session's CSRF token comes as ``X-CSRF-Token``."""
    session.require(request, Role.OWNER, csrf)
    return await controllers.replace(controller_id, body.address, body.url)


# --- the system: version, uptime, database, disk, heartbeat devices --------------------------


@router.get("/system", response_class=HTMLResponse, summary="Admin: system and devices",
            responses=json_errors())
def system_page(request: Request, system: SystemInfo) -> Response:
    if session.current(request) is None:
        return _login_page(request)
    gateway = request.app.state.service
    info, health = system.system(), system.health()
    db_url: str = gateway.config.db_url
    folder = (FilePath(db_url.split("///", 1)[1]).parent if db_url.startswith("sqlite:///")
              else FilePath.cwd())
    disk = shutil.disk_usage(folder if folder.exists() else FilePath.cwd())
    now = gateway.clock()
    stale_after = gateway.config.heartbeat_stale_after
    devices = [(d, (now - d.last_seen).total_seconds() > stale_after) for d in info.devices]
    return _page(request, "system.html", info=info, health=health,
                 engine=db_url.split(":", 1)[0].split("+", 1)[0], disk=disk,
                 devices=devices, stale_after=stale_after)


# --- transactions and logs: search and filters ---------------------------------------------

TxStatus = Annotated[Literal["active", "released", "all"], Query()]
Text = Annotated[str, Query(max_length=128)]
LockerFilter = Annotated[int | None, Query(ge=1, le=MAX_ID)]
Level = Annotated[Literal["", "debug", "info", "warning", "error"], Query()]


@router.get("/transactions", response_class=HTMLResponse, summary="Admin: transactions",
            responses=json_errors())
def transactions_page(request: Request, transactions: Transactions, status: TxStatus = "active",
                      q: Text = "", locker: LockerFilter = None) -> Response:
    """Newest first; ``q`` finds one transaction by its id."""
    if session.current(request) is None:
        return _login_page(request)
    if q.strip():
        try:
            rows, total = [transactions.get(q.strip())], 1
        except NotFound:
            rows, total = [], 0
    else:
        rows, total = transactions.list_page(status=status, locker_id=locker, limit=200)
    return _page(request, "transactions.html", rows=rows, total=total, status=status, q=q,
                 locker=locker)


@router.get("/logs", response_class=HTMLResponse, summary="Admin: the log",
            responses=json_errors())
def logs_page(request: Request, system: SystemInfo, level: Level = "", locker: LockerFilter = None,
              transaction: Text = "") -> Response:
    if session.current(request) is None:
        return _login_page(request)
    rows, total = system.logs(LogFilter(level=level or None, locker_id=locker,
                                        transaction_id=transaction.strip() or None, limit=200))
    return _page(request, "logs.html", rows=rows, total=total, level=level, locker=locker,
                 transaction=transaction)
