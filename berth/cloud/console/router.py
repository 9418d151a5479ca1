"""``/console``: the fleet console, server-rendered pages for the cloud's operators.

An operator logs in with an operator client's id and secret (verified by the auth service;
failures counted by the same limiter as ``/oauth/token``: past the budget, 429 with
Retry-After) into a signed-cookie session (``session.py``); every form carries its CSRF token.
Pages without a session redirect to the login page. Every asset comes from this package.
The pages are HTML for people, not an API: they stay out of the OpenAPI document.
"""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from berth.cloud.auth.credentials import Principal
from berth.cloud.console import plot, session
from berth.cloud.console.service import STATES
from berth.cloud.deps import Auth, Console, Partners
from berth.contracts.cloud import MAX_ID
from berth.domain.errors import Conflict, Forbidden, NotFound, Unauthenticated
from berth.kit.ratelimit import FailureLimiter, address

router = APIRouter(prefix="/console", include_in_schema=False)
templates = Jinja2Templates(directory=str(FilePath(__file__).with_name("templates")))
STATIC = FilePath(__file__).with_name("static")
ASSETS = {"console.css": "text/css"}
FormToken = Annotated[str, Form(max_length=200)]
LOGIN = "/console/login"


def operator(request: Request, auth: Auth) -> Principal:
    """The session's operator; no session (or its client gone): to the login page."""
    client_id = session.client_id(request)
    if client_id is not None:
        try:
            return auth.operator(client_id)
        except (Unauthenticated, Forbidden):
            session.end(request)
    raise HTTPException(303, "Log in to the console first.", headers={"Location": LOGIN})


Operator = Annotated[Principal, Depends(operator)]


def posted(request: Request, who: Operator, form_token: FormToken = "") -> Principal:
    """An operator's form: the session's CSRF token must come with it (403 otherwise)."""
    session.check_csrf(request, form_token)
    return who


Posted = Annotated[Principal, Depends(posted)]


def _page(request: Request, name: str, status: int = 200,
          headers: dict[str, str] | None = None, **context: Any) -> Response:
    return templates.TemplateResponse(request, name, {
        "who": session.client_id(request), "form_token": session.csrf_token(request),
        "notice": (request.query_params.get("notice") or "")[:200] or None, **context},
        status_code=status, headers=headers)


def _back(to: str, notice: str) -> RedirectResponse:
    return RedirectResponse(f"{to}?{urlencode({'notice': notice})}", 303)


@router.get("/static/{name}")
async def asset(name: str) -> Response:
    if name not in ASSETS:
        raise NotFound("NOT_FOUND", "No such asset.")
    return FileResponse(STATIC / name, media_type=ASSETS[name],
                        headers={"Cache-Control": "max-age=300"})


# ---- logging in --------------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request) -> Response:
    return _page(request, "login.html")


@router.post("/login")
def login(request: Request, auth: Auth, form_token: FormToken = "",
          client_id: Annotated[str, Form(max_length=200)] = "",
          client_secret: Annotated[str, Form(max_length=500)] = "") -> Response:
    session.check_csrf(request, form_token)
    limiter: FailureLimiter = request.app.state.login_limiter
    peer = address(request.client)
    wait = limiter.retry_after(client=client_id, address=peer)
    if wait is not None:
        return _page(request, "login.html", 429, {"Retry-After": str(wait)},
                     error=f"Too many failed logins; try again in {wait} s.")
    try:
        who = auth.operator_login(client_id, client_secret)
    except (Unauthenticated, Forbidden) as exc:
        limiter.failed(client=client_id, address=peer)
        refused = isinstance(exc, Forbidden)
        return _page(request, "login.html", 403 if refused else 401,
                     error="This is not an operator client." if refused
                     else "Wrong client id or secret.")
    session.start(request, who.client_id)
    return RedirectResponse("/console", 303)


@router.post("/logout")
def logout(request: Request, _: Posted) -> Response:
    session.end(request)
    return RedirectResponse(LOGIN, 303)


# ---- the fleet ---------------------------------------------------------------------------


@router.get("")
def fleet(request: Request, console: Console, _: Operator) -> Response:
    """Lockers by state across the fleet and each tower's sync health."""
    return _page(request, "fleet.html", lockers=console.lockers(), towers=console.towers(),
                 states=STATES)


@router.get("/lockers")
def lockers(request: Request, console: Console, _: Operator,
            state: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    chosen = state if state in STATES else None
    return _page(request, "lockers.html", lockers=console.lockers(chosen), state=chosen,
                 states=STATES)


@router.get("/towers")
def towers(request: Request, console: Console, _: Operator) -> Response:
    """Towers with where they stand, and the locations drawn from their coordinates."""
    found = console.towers()
    places = console.locations()
    count = {loc.name: sum(t.location == loc.name for t in found) for loc in places}
    points = plot.plot([(loc.latitude, loc.longitude, loc.name, count[loc.name])
                        for loc in places])
    return _page(request, "towers.html", towers=found, locations=places, points=points,
                 width=plot.WIDTH, height=plot.HEIGHT)


# ---- partners and clients ----------------------------------------------------------------


@router.get("/partners")
def partners_page(request: Request, console: Console, _: Operator) -> Response:
    return _page(request, "partners.html", partners=console.partners_and_clients())


@router.post("/partners")
def create_partner(request: Request, console: Console, partners: Partners, _: Posted,
                   name: Annotated[str, Form(min_length=1, max_length=100)]) -> Response:
    """A partner and its first client; the page shows the secret this once."""
    try:
        created = partners.create_partner(name.strip())
    except Conflict as exc:
        return _page(request, "partners.html", 409, partners=console.partners_and_clients(),
                     error=exc.message)
    return _page(request, "partners.html", 201, partners=console.partners_and_clients(),
                 created=created)


@router.post("/partners/{partner_id}/clients")
def create_client(request: Request, console: Console, _: Posted,
                  partner_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> Response:
    created = console.new_client(partner_id)
    return _page(request, "partners.html", 201, partners=console.partners_and_clients(),
                 created=created)


@router.post("/clients/{client_id}/revoke")
def revoke_client(console: Console, _: Posted,
                  client_id: Annotated[str, Path(max_length=64)]) -> Response:
    console.revoke_client(client_id)
    return _back("/console/partners", f"Client {client_id} revoked")


# ---- webhooks and a parcel's life --------------------------------------------------------


@router.get("/webhooks")
def webhooks(request: Request, console: Console, _: Operator) -> Response:
    return _page(request, "webhooks.html", endpoints=console.endpoints())


@router.post("/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver")
def redeliver(console: Console, _: Posted, endpoint_id: Annotated[str, Path(max_length=32)],
              delivery_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> Response:
    console.redeliver(endpoint_id, delivery_id)
    return _back("/console/webhooks", f"Delivery {delivery_id} queued again")


@router.get("/parcel")
def parcel(request: Request, console: Console, _: Operator,
           q: Annotated[str, Query(max_length=64)] = "") -> Response:
    """A parcel's whole life, found by locker id, reservation id or token id."""
    if not q.strip():
        return _page(request, "parcel.html", life=None, q="")
    try:
        life = console.parcel(q)
    except NotFound as exc:
        return _page(request, "parcel.html", 404, life=None, q=q, error=exc.message)
    return _page(request, "parcel.html", life=life, q=q)
