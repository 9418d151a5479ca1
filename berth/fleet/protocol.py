"""The fleet link's pure rules: topic names, the operation table, payloads, the broker ACL.

No I/O here: the gateway's link, the cloud's fleet API, the CLI that writes the broker's files
and the tests all take their topics and payloads from this one module (docs/fleet.md).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

ROOT = "berth/sites"
CLOUD_USER = "berth-cloud"  # the fleet API's broker user; no site may take this name
SITE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")

Kind = Literal["read", "write", "hardware"]
Outcome = Literal["done", "interrupted", "refused"]


class ProtocolError(ValueError):
    """A payload or name that does not follow the fleet protocol."""


def check_site_id(site_id: str) -> str:
    """A site id is its broker user name too, so the ACL's ``%u`` names its topics."""
    if not SITE_ID.fullmatch(site_id) or site_id == CLOUD_USER:
        raise ProtocolError(
            f"site id {site_id!r}: lower-case letters, digits and '-', 1-63 characters, "
            f"not {CLOUD_USER!r}")
    return site_id


def presence_topic(site_id: str) -> str:
    return f"{ROOT}/{site_id}/presence"


def requests_topic(site_id: str) -> str:
    return f"{ROOT}/{site_id}/requests"


def responses_topic(site_id: str, requester: str) -> str:
    """Where a site answers one requester (a fleet API process): under the site's own name."""
    return f"{ROOT}/{site_id}/responses/{requester}"


def responses_filter(requester: str) -> str:
    """What one fleet API process subscribes to: its answers from every site."""
    return f"{ROOT}/+/responses/{requester}"


PRESENCE_FILTER = f"{ROOT}/+/presence"


def tower_calls_topic(site_id: str) -> str:
    """Where a site's tower sends its cloud link calls (signed events up, a command fetch)."""
    return f"{ROOT}/{site_id}/tower/calls"


def tower_replies_topic(site_id: str) -> str:
    """Where the cloud answers them: under the site's own name, so only it reads them."""
    return f"{ROOT}/{site_id}/tower/replies"


# One fleet API process handles each call (a shared subscription): a call is answered once.
TOWER_CALLS_FILTER = f"$share/berth-tower/{ROOT}/+/tower/calls"


def site_of(topic: str) -> str | None:
    """The site a topic belongs to, or None when it is not a fleet topic."""
    parts = topic.split("/")
    if len(parts) < 4 or "/".join(parts[:2]) != ROOT:
        return None
    return parts[2] if SITE_ID.fullmatch(parts[2]) else None


def answerable(site_id: str, response_topic: str) -> bool:
    """A site answers only under its own responses (the broker's ACL refuses anything else)."""
    prefix = f"{ROOT}/{site_id}/responses/"
    rest = response_topic[len(prefix):]
    return response_topic.startswith(prefix) and bool(rest) and not set(rest) & {"/", "+", "#"}


def acl_text() -> str:
    """The broker's ACL: every site reads its requests and writes its presence and answers,
    under its own name only (``%u``), and its tower's cloud link calls and their replies;
    the fleet API reads and writes every site's topics."""
    return (
        "# Berth fleet ACL (berth/fleet/protocol.py): a site's user name is its site id.\n"
        f"pattern write {ROOT}/%u/presence\n"
        f"pattern read {ROOT}/%u/requests\n"
        f"pattern write {ROOT}/%u/responses/#\n"
        f"pattern write {ROOT}/%u/tower/calls\n"
        f"pattern read {ROOT}/%u/tower/replies\n"
        f"\nuser {CLOUD_USER}\n"
        f"topic readwrite {ROOT}/#\n"
    )


# --- operations ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """One Gateway API call a site answers over the link: its method, path and kind (the kind
    decides how long the fleet API waits and whether an offline site is refused at once)."""

    name: str
    method: str
    path: str  # a template: {transaction_id}, {locker_id}
    kind: Kind

    @property
    def mutating(self) -> bool:
        return self.method != "GET"


OPERATIONS: dict[str, Operation] = {op.name: op for op in (
    Operation("transactions.create", "POST", "/transactions", "write"),
    Operation("transactions.list", "GET", "/transactions", "read"),
    Operation("transactions.get", "GET", "/transactions/{transaction_id}", "read"),
    Operation("transactions.release", "DELETE", "/transactions/{transaction_id}", "write"),
    Operation("transactions.open", "POST", "/transactions/{transaction_id}/open", "hardware"),
    Operation("lockers.list", "GET", "/lockers", "read"),
    Operation("lockers.get", "GET", "/lockers/{locker_id}", "read"),
    Operation("lockers.patch", "PATCH", "/lockers/{locker_id}", "write"),
    Operation("lockers.open", "POST", "/lockers/{locker_id}/open", "hardware"),
    Operation("lockers.open_all", "POST", "/lockers/open-all", "hardware"),
    Operation("locker_types.list", "GET", "/locker-types", "read"),
    Operation("locker_types.get", "GET", "/locker-types/{locker_type_id}", "read"),
    Operation("bank_types.list", "GET", "/bank-types", "read"),
    Operation("bank_types.get", "GET", "/bank-types/{bank_type_id}", "read"),
    Operation("system.get", "GET", "/system", "read"),
)}

# Answer headers worth carrying back (paging totals); the rest stay on the site.
KEPT_HEADERS = ("x-total-count",)


@dataclass(frozen=True)
class Request:
    """One call to a site: ``id`` is the request id the site executes at most once."""

    id: str
    op: str
    params: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    body: Any = None

    def operation(self) -> Operation:
        try:
            return OPERATIONS[self.op]
        except KeyError:
            raise ProtocolError(f"unknown operation {self.op!r}") from None

    def path(self) -> str:
        """The Gateway API path, path parameters quoted (an id cannot climb out of its route)."""
        op = self.operation()
        try:
            return op.path.format(**{k: quote(str(v), safe="") for k, v in self.params.items()})
        except KeyError as missing:
            raise ProtocolError(f"{self.op}: missing path parameter {missing}") from None

    def encode(self) -> bytes:
        return _dump({"id": self.id, "op": self.op, "params": self.params, "query": self.query,
                      "body": self.body})


@dataclass(frozen=True)
class Response:
    """A site's answer: ``done`` carries the Gateway API's status and body; ``interrupted``
    says the site stopped while executing it (it is never executed again); ``refused`` says
    the site would not execute it (unknown operation, bad payload)."""

    id: str
    outcome: Outcome
    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    detail: str | None = None

    def encode(self) -> bytes:
        return _dump({"id": self.id, "outcome": self.outcome, "status": self.status,
                      "body": self.body, "headers": self.headers, "detail": self.detail})


def decode_request(payload: bytes) -> Request:
    data = _load(payload)
    rid, op = data.get("id"), data.get("op")
    if not isinstance(rid, str) or not rid or len(rid) > 64 or not isinstance(op, str):
        raise ProtocolError("a request needs a string id (at most 64 characters) and an op")
    params, query = data.get("params") or {}, data.get("query") or {}
    if not (_str_map(params) and _str_map(query)):
        raise ProtocolError("params and query are objects of strings")
    return Request(rid, op, params, query, data.get("body"))


def decode_response(payload: bytes) -> Response:
    data = _load(payload)
    outcome = data.get("outcome")
    if not isinstance(data.get("id"), str) or outcome not in ("done", "interrupted", "refused"):
        raise ProtocolError("a response needs an id and an outcome")
    status = data.get("status")
    headers = data.get("headers") or {}
    if (status is not None and not isinstance(status, int)) or not _str_map(headers):
        raise ProtocolError("status is an integer, headers an object of strings")
    return Response(data["id"], outcome, status, data.get("body"), headers, data.get("detail"))


@dataclass(frozen=True)
class Presence:
    """A site's retained presence message (its Last Will says ``offline``)."""

    site_id: str
    online: bool
    version: str | None = None

    def encode(self) -> bytes:
        return _dump({"site": self.site_id, "state": "online" if self.online else "offline",
                      "version": self.version})


def decode_presence(topic: str, payload: bytes) -> Presence:
    site = site_of(topic)
    if site is None or topic != presence_topic(site):
        raise ProtocolError(f"not a presence topic: {topic}")
    if not payload:  # a cleared retained message: nothing known, so not online
        return Presence(site, False)
    data = _load(payload)
    return Presence(site, data.get("state") == "online", data.get("version"))


# --- the tower's cloud link ----------------------------------------------------------------

TowerCallKind = Literal["events", "commands"]


@dataclass(frozen=True)
class TowerCall:
    """One tower sync call over the broker, as the HTTP sync makes it: ``events`` pushes a
    batch of the tower's signed events, ``commands`` fetches the commands after ``after``."""

    id: str
    call: TowerCallKind
    tower_id: str
    events: list[Any] = field(default_factory=list)
    after: int = 0

    def encode(self) -> bytes:
        return _dump({"id": self.id, "call": self.call, "tower_id": self.tower_id,
                      "events": self.events, "after": self.after})


@dataclass(frozen=True)
class TowerReply:
    """The cloud's answer to a ``TowerCall``: ``body`` is the HTTP sync's own answer body
    (``EventBatchResult`` or ``CommandList``), or ``code``/``detail`` say why it was refused."""

    id: str
    body: Any = None
    code: str | None = None
    detail: str | None = None

    def encode(self) -> bytes:
        return _dump({"id": self.id, "body": self.body, "code": self.code,
                      "detail": self.detail})


def decode_tower_call(payload: bytes) -> TowerCall:
    data = _load(payload)
    cid, call, tower_id = data.get("id"), data.get("call"), data.get("tower_id")
    events, after = data.get("events", []), data.get("after", 0)
    if not isinstance(cid, str) or not cid or len(cid) > 64 or call not in ("events",
                                                                            "commands"):
        raise ProtocolError("a tower call needs a string id and a call: events or commands")
    if not isinstance(tower_id, str) or not isinstance(events, list) or not (
            isinstance(after, int) and not isinstance(after, bool) and after >= 0):
        raise ProtocolError("a tower call names its tower; events is a list, after >= 0")
    return TowerCall(cid, call, tower_id, events, after)


def decode_tower_reply(payload: bytes) -> TowerReply:
    data = _load(payload)
    if not isinstance(data.get("id"), str):
        raise ProtocolError("a tower reply needs an id")
    code, detail = data.get("code"), data.get("detail")
    if code is not None and not isinstance(code, str):
        raise ProtocolError("a tower reply's code is a string")
    return TowerReply(data["id"], data.get("body"), code,
                      detail if isinstance(detail, str) else None)


def _str_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str)
                                           for k, v in value.items())


def _dump(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def _load(payload: bytes) -> dict[str, Any]:
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError("the payload is not JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError("the payload is not a JSON object")
    return data
