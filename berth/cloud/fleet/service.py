"""The fleet API's rules: keys, organisations and their sites, forwarding with waits,
idempotency, the shared rate limit, and what a site's answer becomes.

A call is scoped to a location the caller's organisation has bound to a gateway site (another
organisation's location is a 404). It is recorded as a request (its id is the one the gateway
executes once), sent over the broker by the process's link, and waited for: reads 5 s, writes
10 s, hardware 15 s unless ``Prefer`` says otherwise; past that the caller gets 202 and polls
``/fleet/v1/requests/{id}``. A site that is offline is refused at once (503 SITE_OFFLINE): a
request is never queued for a site that cannot hear it, so no door opens late.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from berth.cloud.context import CloudContext
from berth.cloud.fleet import repository as repo
from berth.cloud.locations.repository import location
from berth.cloud.partners import repository as partners_repo
from berth.cloud.tower_sync.schemas import EventBatch
from berth.cloud.tower_sync.service import TowerSyncService
from berth.cloud.towers.service import tower_row
from berth.contracts.cloud import EventBatchResult
from berth.domain.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    TooManyAttempts,
    Unauthenticated,
    Unavailable,
)
from berth.fleet import protocol as p
from berth.kit.threads import run_blocking

KEY_PREFIX = "bfk"  # keys read bfk_<prefix>_<secret>
_KEY = re.compile(r"^bfk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_WAIT = re.compile(r"(?:^|[,;\s])wait=(\d{1,6})(?:$|[,;\s])")
POLL = 0.25  # seconds between database checks while waiting on another process's request


@dataclass(frozen=True)
class FleetPolicy:
    """Waits, the per-key limit, a request's lifetime (from ``Settings.fleet``)."""

    read_wait: float
    write_wait: float
    hardware_wait: float
    max_wait: float
    per_minute: int
    request_ttl: float
    retry_offline: int  # Retry-After for SITE_OFFLINE: about one keep-alive

    def wait_for(self, kind: p.Kind, prefer: str | None) -> float:
        """How long to wait for the answer: ``Prefer: respond-async`` 0, ``wait=N`` at most
        ``max_wait``, else the kind's default."""
        if prefer:
            if "respond-async" in prefer.lower():
                return 0.0
            found = _WAIT.search(prefer.lower())
            if found:
                return min(float(found.group(1)), self.max_wait)
        return {"read": self.read_wait, "write": self.write_wait,
                "hardware": self.hardware_wait}[kind]


@dataclass(frozen=True)
class Caller:
    key_id: int
    organisation_id: int


@dataclass(frozen=True)
class RateState:
    limit: int
    remaining: int
    reset: int  # seconds until the window ends

    def headers(self) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining),
                "X-RateLimit-Reset": str(self.reset)}


class RateLimited(TooManyAttempts):
    def __init__(self, state: RateState) -> None:
        super().__init__("RATE_LIMITED", f"More than {state.limit} requests this minute",
                         retry_after=max(1, state.reset))
        self.state = state


@dataclass(frozen=True)
class Answered:
    """The site answered: ``response`` as it sent it."""

    request_id: str
    response: p.Response


@dataclass(frozen=True)
class Accepted:
    """Still running: poll ``/fleet/v1/requests/{request_id}``."""

    request_id: str


@dataclass(frozen=True)
class SiteView:
    site_id: str
    organisation: str
    location_id: int
    online: bool
    presence_at: str | None


class Transport(Protocol):
    """What the service needs of this process's broker link (``link.py``)."""

    connected: asyncio.Event

    async def send(self, site_id: str, request_id: str, payload: bytes, ttl: float) -> None: ...

    def waiter(self, request_id: str) -> asyncio.Future[p.Response]: ...

    def release(self, request_id: str) -> None: ...


def _site_view(row: Any) -> SiteView:
    at = row["presence_at"]
    return SiteView(row["site_id"], row["organisation"], row["location_id"], bool(row["online"]),
                    at.isoformat() if at else None)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def fingerprint(location_id: int, request: p.Request) -> str:
    """What an Idempotency-Key stands for: the same key must come with the same call."""
    data = [location_id, request.op, request.params, request.query, request.body]
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


class FleetService:
    def __init__(self, ctx: CloudContext, policy: FleetPolicy,
                 tower_sync: TowerSyncService) -> None:
        self.ctx = ctx
        self.policy = policy
        self.tower_sync = tower_sync
        self.link: Transport | None = None

    # --- operators (the `berth fleet` CLI) --------------------------------------------------

    def create_organisation(self, name: str) -> str:
        """A new organisation and its first API key (shown once, stored only as a hash)."""
        try:
            with self.ctx.write() as conn:
                org_id = repo.insert_organisation(conn, name, self.ctx.clock())
                return self._new_key(conn, org_id)
        except IntegrityError:
            raise Conflict("ORGANISATION_EXISTS", f"Organisation {name!r} exists") from None

    def create_key(self, organisation: str) -> str:
        with self.ctx.write() as conn:
            return self._new_key(conn, self._organisation_id(conn, organisation))

    def _new_key(self, conn: Any, org_id: int) -> str:
        prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        repo.insert_key(conn, org_id, prefix, _hash(secret), self.ctx.clock())
        return f"{KEY_PREFIX}_{prefix}_{secret}"

    @staticmethod
    def _organisation_id(conn: Any, name: str) -> int:
        row = repo.organisation_by_name(conn, name)
        if row is None:
            raise NotFound("ORGANISATION_NOT_FOUND", f"No organisation {name!r}")
        return int(row["id"])

    def bind_site(self, organisation: str, location_id: int, site_id: str) -> None:
        """Bind a location to one gateway site (its broker user name)."""
        try:
            p.check_site_id(site_id)
        except p.ProtocolError as exc:
            raise InvalidInput("INVALID_SITE_ID", str(exc)) from None
        try:
            with self.ctx.write() as conn:
                org_id = self._organisation_id(conn, organisation)
                if location(conn, location_id) is None:
                    raise NotFound("LOCATION_NOT_FOUND", f"No location {location_id}")
                repo.insert_site(conn, site_id, org_id, location_id, self.ctx.clock())
        except IntegrityError:
            raise Conflict("SITE_ALREADY_BOUND",
                           "That site or location is bound already") from None

    def bind_tower(self, site_id: str, tower_id: str, partner: str | None = None) -> str:
        """The site's gateway serves this tower: its cloud link calls over the broker are
        taken for this tower only, under ``partner``'s access to it (the tower's only partner
        when none is named). Returns the partner's name."""
        tower_id = tower_id.lower()
        with self.ctx.write() as conn:
            if repo.site(conn, site_id) is None:
                raise NotFound("SITE_NOT_FOUND", f"No site {site_id} is bound")
            tower_row(conn, tower_id)
            names = partners_repo.names_of_tower(conn, tower_id)
            if partner is None:
                if len(names) != 1:
                    raise InvalidInput("PARTNER_REQUIRED", f"Tower {tower_id} is assigned to "
                                       f"{', '.join(names) or 'no partner'}: name one")
                partner = names[0]
            elif partner not in names:
                raise InvalidInput("PARTNER_NOT_ASSIGNED",
                                   f"Tower {tower_id} is not assigned to partner {partner!r}")
            row = partners_repo.partner_by_name(conn, partner)
            assert row is not None  # a name of the tower's partners
            other = repo.tower_site(conn, tower_id)
            if other is not None and other != site_id:
                raise Conflict("TOWER_ALREADY_BOUND", f"Tower {tower_id} is bound to site "
                               f"{other}")
            repo.bind_tower(conn, site_id, tower_id, int(row["id"]), self.ctx.clock())
        return partner

    def tower_call(self, site_id: str, call: p.TowerCall) -> p.TowerReply:
        """A tower's sync call that came over the broker from ``site_id``: the HTTP sync's own
        rules (``TowerSyncService``), for the tower bound to that site only, under the partner
        the binding names. Refusals come back with the code the HTTP sync would give."""
        with self.ctx.db.read() as conn:
            bound = repo.site_tower(conn, site_id)
        if bound is None or bound["tower_id"] != call.tower_id.lower():
            return p.TowerReply(call.id, code="TOWER_NOT_BOUND",
                                detail=f"Site {site_id} is not bound to tower {call.tower_id}")
        partner_id, tower_id = int(bound["partner_id"]), str(bound["tower_id"])
        try:
            if call.call == "commands":
                listed = self.tower_sync.pending_commands(partner_id, tower_id, call.after)
                return p.TowerReply(call.id, body=listed.model_dump(mode="json"))
            batch = EventBatch.model_validate({"events": call.events})
            events = [e.model_dump(exclude_unset=True) for e in batch.events]
            results = self.tower_sync.ingest_events(partner_id, tower_id, events)
            return p.TowerReply(call.id, body=EventBatchResult(results=results)
                                .model_dump(mode="json"))
        except ValidationError as exc:
            return p.TowerReply(call.id, code="INVALID_EVENTS",
                                detail=str(exc.errors(include_url=False)[:3]))
        except DomainError as exc:
            return p.TowerReply(call.id, code=exc.code, detail=str(exc))

    def list_sites(self, organisation: str | None = None) -> list[SiteView]:
        with self.ctx.db.read() as conn:
            org_id = self._organisation_id(conn, organisation) if organisation else None
            return [_site_view(r) for r in repo.sites(conn, org_id)]

    # --- callers ----------------------------------------------------------------------------

    def authenticate(self, key: str | None) -> Caller:
        found = _KEY.fullmatch(key or "")
        if found is None:
            raise Unauthenticated("UNAUTHORIZED",
                                  "Missing or invalid API key: send X-API-Key or Bearer")
        with self.ctx.db.read() as conn:
            row = repo.key_by_prefix(conn, found.group(1))
        if row is None or not hmac.compare_digest(row["secret_hash"], _hash(found.group(2))):
            raise Unauthenticated("UNAUTHORIZED", "Missing or invalid API key")
        return Caller(int(row["id"]), int(row["organisation_id"]))

    def count(self, caller: Caller) -> RateState:
        """One more request of this key this minute; RateLimited past the limit."""
        now = self.ctx.clock().timestamp()
        window = int(now // 60)
        with self.ctx.db.write() as conn:
            used = repo.count_request(conn, caller.key_id, window)
        limit = self.policy.per_minute
        state = RateState(limit, max(0, limit - used), max(1, int((window + 1) * 60 - now)))
        if used > limit:
            raise RateLimited(state)
        return state

    def sites_of(self, caller: Caller) -> list[SiteView]:
        with self.ctx.db.read() as conn:
            return [_site_view(r) for r in repo.sites(conn, caller.organisation_id)]

    # --- forwarding -------------------------------------------------------------------------

    async def call(self, caller: Caller, location_id: int, op: str, *,
                   params: dict[str, str] | None = None, query: dict[str, str] | None = None,
                   body: Any = None, idempotency_key: str | None = None,
                   prefer: str | None = None) -> Answered | Accepted:
        operation = p.OPERATIONS[op]
        if operation.mutating and not idempotency_key:
            raise InvalidInput("IDEMPOTENCY_KEY_REQUIRED",
                               "Send an Idempotency-Key header with every mutating call")
        request = p.Request(uuid.uuid4().hex, op, params or {}, query or {}, body)
        key = idempotency_key if operation.mutating else None
        try:
            begun = await run_blocking(self._begin, caller, location_id, request, key)
        except IntegrityError:  # the same key at the same moment: the other call's request
            begun = await run_blocking(self._begin, caller, location_id, request, key)
        wait = self.policy.wait_for(operation.kind, prefer)
        if isinstance(begun, Answered):
            return begun
        request_id, site_id, fresh = begun
        link = self.link
        assert link is not None  # _begin refuses without one
        waiter = link.waiter(request_id)
        if fresh:
            await link.send(site_id, request_id, request.encode(), self.policy.request_ttl)
        try:
            return await self._wait(request_id, waiter, wait)
        finally:
            link.release(request_id)

    def _begin(self, caller: Caller, location_id: int, request: p.Request,
               key: str | None) -> Answered | tuple[str, str, bool]:
        """Record the request (or find the one its key already stands for); refuse an unknown
        location, an offline site, or a key reused for another call."""
        now = self.ctx.clock()
        fp = fingerprint(location_id, request) if key else None
        with self.ctx.write() as conn:
            site = repo.site_at(conn, caller.organisation_id, location_id)
            if site is None:
                raise NotFound("LOCATION_NOT_FOUND", f"No location {location_id}")
            if key is not None:
                seen = repo.request_by_key(conn, caller.organisation_id, key)
                if seen is not None:
                    if seen["fingerprint"] != fp:
                        raise Conflict("IDEMPOTENCY_KEY_REUSED",
                                       "This Idempotency-Key came with a different call")
                    answered = self._answered(seen)
                    return answered or (seen["id"], site["site_id"], False)
            if self.link is None or not self.link.connected.is_set():
                raise Unavailable("FLEET_UNAVAILABLE", "The fleet API cannot reach the broker",
                                  retry_after=5)
            if not site["online"]:
                raise Unavailable("SITE_OFFLINE", f"Site {site['site_id']} is offline; nothing "
                                  "was sent to it", retry_after=self.policy.retry_offline)
            repo.insert_request(conn, {
                "id": request.id, "organisation_id": caller.organisation_id,
                "site_id": site["site_id"], "location_id": location_id, "operation": request.op,
                "payload": request.encode().decode(), "idempotency_key": key,
                "fingerprint": fp, "state": "pending", "created_at": now,
                "expires_at": now + timedelta(seconds=self.policy.request_ttl)})
        return request.id, site["site_id"], True

    @staticmethod
    def _answered(row: Any) -> Answered | None:
        if row["state"] == "pending" or row["response"] is None:
            return None
        return Answered(row["id"], p.decode_response(row["response"].encode()))

    async def _wait(self, request_id: str, waiter: asyncio.Future[p.Response],
                    wait: float) -> Answered | Accepted:
        """The answer within ``wait`` seconds: from this process's link, or (a request another
        process sent) from the database."""
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            try:
                response = await asyncio.wait_for(asyncio.shield(waiter), min(left, POLL))
                return Answered(request_id, response)
            except TimeoutError:
                stored = await run_blocking(self._stored, request_id)
                if stored is not None:
                    return stored
        return Accepted(request_id)

    def _stored(self, request_id: str) -> Answered | None:
        with self.ctx.db.read() as conn:
            row = repo.request(conn, request_id)
        return self._answered(row) if row is not None else None

    def request_view(self, caller: Caller, request_id: str) -> dict[str, Any]:
        """A request of the caller's organisation (404 otherwise); an unanswered one past its
        lifetime is failed here (the site never answered; it may not execute it any more)."""
        with self.ctx.write() as conn:
            row = repo.request(conn, request_id)
            if row is None or row["organisation_id"] != caller.organisation_id:
                raise NotFound("REQUEST_NOT_FOUND", f"No request {request_id}")
            if row["state"] == "pending" and row["expires_at"] <= self.ctx.clock():
                answer = p.Response(request_id, "refused", detail="SITE_NO_ANSWER: the site did "
                                    "not answer within the request's lifetime")
                repo.answer_request(conn, request_id, row["site_id"], "failed",
                                    answer.encode().decode(), self.ctx.clock())
                row = repo.request(conn, request_id)
        assert row is not None
        response = (p.decode_response(row["response"].encode())
                    if row["response"] else None)
        return {"id": row["id"], "state": row["state"], "operation": row["operation"],
                "locationId": row["location_id"], "createdAt": row["created_at"].isoformat(),
                "outcome": response.outcome if response else None,
                "status": response.status if response else None,
                "body": response.body if response else None,
                "detail": response.detail if response else None}

    # --- what the link hears ----------------------------------------------------------------

    def record_answer(self, site_id: str, response: p.Response) -> bool:
        """Store a site's first answer to one of its own requests; False for anything else (a
        repeat, or a site answering another site's request id: never taken)."""
        state = "done" if response.outcome == "done" else "failed"
        with self.ctx.write() as conn:
            return repo.answer_request(conn, response.id, site_id, state,
                                       response.encode().decode(), self.ctx.clock())

    def record_presence(self, presence: p.Presence) -> None:
        with self.ctx.write() as conn:
            repo.set_presence(conn, presence.site_id, presence.online, self.ctx.clock())
