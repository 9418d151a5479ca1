"""The cloud's use cases, callable without HTTP (routers, CLI, seeding and tests share them).

Every locker change is one write transaction that locks the locker row (``FOR UPDATE`` on
PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises writers), applies any expiry that is
due (lazy expiry), asks the domain state machine for the arrow, and writes the result. A partner
only ever sees towers assigned to it: anything else is ``404``.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, RowMapping, delete, insert
from sqlalchemy.exc import IntegrityError

from berth.clock import Clock
from berth.cloud import auth, outbox, store
from berth.cloud import schemas as s
from berth.cloud.errors import BadRequest, Busy, Conflict, Forbidden, NotFound, Unauthorized
from berth.cloud.keys import KeyRing, Vault, raw_private, raw_public
from berth.cloud.tables import (
    clients,
    commands,
    events,
    locker_tokens,
    lockers,
    partners,
    reservations,
    tower_partners,
    towers,
)
from berth.domain.lifecycle import (
    Action,
    LockerState,
    TransitionRefused,
    due_expiry,
    effective_state,
    next_state,
)
from berth.domain.tokens import (
    TokenClaims,
    TokenKind,
    TokenRefused,
    sign_key_announcement,
    sign_token,
    verify_event,
)
from berth.storage import Database

LOCKER_TYPES = {1: "small", 2: "medium", 3: "large", 4: "xlarge"}
TYPE_IDS = {name: i for i, name in LOCKER_TYPES.items()}
CLOCK_SKEW = timedelta(seconds=60)  # tokens are valid from a minute before issue (tower clocks)

TOKEN_ACTIONS = {
    TokenKind.DROPOFF: Action.CREATE_DROPOFF_TOKEN,
    TokenKind.PICKUP: Action.CREATE_PICKUP_TOKEN,
    TokenKind.RELEASE: Action.RELEASE_LOCKER,
}
# Tower events that drive the state machine, and the token kind each must carry.
EVENT_ACTIONS = {
    "dropoff_token_used": (Action.DROPOFF_TOKEN_USED, TokenKind.DROPOFF),
    "pickup_token_used": (Action.PICKUP_TOKEN_USED, TokenKind.PICKUP),
    "release_token_set": (Action.RELEASE_TOKEN_SET, TokenKind.RELEASE),
}
COMMAND_APPLIED = "command_applied"
# What becomes of the active reservation when the locker leaves Reserved.
RESERVATION_ENDS = {
    Action.CANCEL_RESERVATION: "cancelled",
    Action.RESERVATION_EXPIRED: "expired",
    Action.CREATE_DROPOFF_TOKEN: "used",
}

_KEEP = object()  # "leave the locker's deadline as it is"


def locker_view(row: RowMapping, now: datetime) -> s.Locker:
    state = effective_state(LockerState(row["state"]), row["deadline"], now)
    return s.Locker(
        id=row["id"],
        name=row["name"],
        isLowLocker=row["is_low"],
        towerId=row["tower_id"],
        status=s.LockerStatus(id=int(state), name=state.label),
        type=s.LockerType(id=row["type_id"], name=LOCKER_TYPES[row["type_id"]]),
        accessMode=row["access_mode"],
        dimensions=s.Dimensions(
            width=row["width_mm"], height=row["height_mm"], depth=row["depth_mm"]
        ),
    )


def parse_status(value: str) -> LockerState:
    """A status filter by name (``available``) or id (``1``)."""
    try:
        return LockerState(int(value)) if value.isdigit() else LockerState[value.upper()]
    except (KeyError, ValueError) as exc:
        names = ", ".join(st.label for st in LockerState)
        raise BadRequest(
            "STATUS_UNKNOWN", f"Unknown locker status {value!r}; use {names}."
        ) from exc


@dataclass
class CloudService:
    db: Database
    clock: Clock
    keyring: KeyRing
    vault: Vault
    jwt_key: bytes
    access_token_ttl: int = 300
    hasher: auth.SecretHasher = field(default_factory=auth.SecretHasher)

    # ---- auth ------------------------------------------------------------------------------

    def issue_access_token(
        self, client_id: str, client_secret: str, scope: str | None
    ) -> s.TokenResponse:
        with self.db.read() as conn:
            row = store.client(conn, client_id)
        stored = row["secret_hash"] if row else None
        if not self.hasher.verify(client_secret, stored) or row is None or stored is None:
            raise Unauthorized("INVALID_CLIENT", "Unknown client or wrong secret.")
        if self.hasher.needs_rehash(stored):  # made with older, costlier parameters
            with contextlib.suppress(Busy):  # the login stands; the next one rehashes
                fresh = self.hasher.hash(client_secret)
                with outbox.transaction(self.db) as conn:
                    store.replace_secret_hash(conn, client_id, stored, fresh)
        allowed = row["scopes"].split()
        wanted = scope.split() if scope else allowed
        if not wanted or any(sc not in allowed for sc in wanted):
            raise BadRequest("INVALID_SCOPE", f"This client may ask for: {' '.join(allowed)}.")
        token = auth.issue_access_token(
            client_id, wanted, self.jwt_key, self.clock(), self.access_token_ttl
        )
        return s.TokenResponse(
            access_token=token, expires_in=self.access_token_ttl, scope=" ".join(wanted)
        )

    def authorize(self, bearer: str | None, scope: str | None) -> auth.Principal:
        """401 for a missing, forged, expired or unknown token; 403 for the wrong scope."""
        if not bearer:
            raise Unauthorized("NOT_AUTHENTICATED", "Send 'Authorization: Bearer <token>'.")
        claims = auth.decode_access_token(bearer, self.jwt_key, self.clock())
        with self.db.read() as conn:
            row = store.client(conn, str(claims["sub"]))
        if row is None:
            raise Unauthorized("TOKEN_INVALID", "The token's client no longer exists.")
        scopes = frozenset(str(claims["scope"]).split()) & frozenset(row["scopes"].split())
        if scope is not None and scope not in scopes:
            raise Forbidden("INSUFFICIENT_SCOPE", f"This endpoint needs the '{scope}' scope.")
        return auth.Principal(row["client_id"], row["partner_id"], scopes)

    def whoami(self, principal: auth.Principal) -> s.WhoAmI:
        name = None
        if principal.partner_id is not None:
            with self.db.read() as conn:
                row = store.partner(conn, principal.partner_id)
            name = row["name"] if row else None
        return s.WhoAmI(
            client_id=principal.client_id,
            partner_id=principal.partner_id,
            partner_name=name,
            scopes=sorted(principal.scopes),
        )

    # ---- partner reads ----------------------------------------------------------------------

    def list_towers(self, partner_id: int) -> list[s.Tower]:
        with self.db.read() as conn:
            return [s.Tower(**r) for r in store.partner_towers(conn, partner_id)]

    def get_tower(self, partner_id: int, tower_id: str) -> s.Tower:
        with self.db.read() as conn:
            self._visible_tower(conn, partner_id, tower_id)
            row = store.tower(conn, tower_id)
        assert row is not None
        return s.Tower(id=row["id"], name=row["name"], created_at=row["created_at"])

    def list_lockers(
        self, partner_id: int, tower_id: str, status: str | None = None
    ) -> list[s.Locker]:
        """All lockers of a tower (one query); an optional status filter by name or id."""
        wanted = parse_status(status) if status else None
        now = self.clock()
        with self.db.read() as conn:
            self._visible_tower(conn, partner_id, tower_id)
            rows = store.tower_lockers(conn, tower_id)
        views = [locker_view(r, now) for r in rows]
        return views if wanted is None else [v for v in views if v.status.id == wanted]

    def get_locker(self, partner_id: int, tower_id: str, locker_id: int) -> s.Locker:
        with self.db.read() as conn:
            row = self._visible_locker(conn, partner_id, tower_id, locker_id)
        return locker_view(row, self.clock())

    def assigned_lockers(self, partner_id: int) -> list[s.AssignedLocker]:
        now = self.clock()
        with self.db.read() as conn:
            rows = store.held_lockers(conn, partner_id)
        out = []
        for row in rows:
            view = locker_view(row, now)
            if LockerState(view.status.id) in (LockerState.AVAILABLE, LockerState.OUT_OF_SERVICE):
                continue  # its hold ran out; the next write will record that
            out.append(s.AssignedLocker(**view.model_dump(), heldUntil=row["deadline"]))
        return out

    def events(self, partner_id: int, after: int = 0, limit: int = 100) -> s.EventPage:
        """The partner's own outbox stream after ``after``, positions ascending."""
        with self.db.read() as conn:
            found = outbox.stream(conn, partner_id, after, limit)
        return s.EventPage(events=found, next_after=found[-1].position if found else after)

    # ---- partner writes ---------------------------------------------------------------------

    def create_reservation(
        self, partner_id: int, tower_id: str, locker_id: int, duration: int
    ) -> s.Reservation:
        now = self.clock()
        expires = now + timedelta(seconds=duration)
        rid = uuid.uuid4().hex
        try:
            with outbox.transaction(self.db) as conn:
                row = self._lock_locker(conn, partner_id, tower_id, locker_id, now)
                self._apply(conn, row, Action.CREATE_RESERVATION, now, partner_id, deadline=expires)
                store.insert_row(
                    conn,
                    reservations,
                    dict(
                        id=rid,
                        locker_id=locker_id,
                        partner_id=partner_id,
                        status="active",
                        created_at=now,
                        expires_at=expires,
                    ),
                )
                self._emit(conn, [partner_id], "reservation.created", row, now, {
                    "reservation_id": rid, "status": "active", "expires_at": expires.isoformat()})
        except IntegrityError as exc:  # the unique index: someone else's reservation won
            raise Conflict(
                "LOCKER_RESERVED_CANNOT_CREATE_RESERVATION", "The locker was reserved just now."
            ) from exc
        return s.Reservation(
            id=rid,
            locker_id=locker_id,
            tower_id=tower_id,
            status="active",
            created_at=now,
            expires_at=expires,
        )

    def cancel_reservation(
        self, partner_id: int, tower_id: str, locker_id: int, reservation_id: str
    ) -> s.Reservation:
        now = self.clock()
        with outbox.transaction(self.db) as conn:
            row = self._lock_locker(conn, partner_id, tower_id, locker_id, now)
            res = store.reservation(conn, reservation_id)
            if res is None or res["locker_id"] != locker_id or res["partner_id"] != partner_id:
                raise NotFound("RESERVATION_NOT_FOUND", "No such reservation on this locker.")
            if res["status"] != "active":
                raise Conflict(
                    f"RESERVATION_{res['status'].upper()}_CANNOT_CANCEL_RESERVATION",
                    f"The reservation is already {res['status']}.",
                )
            self._apply(conn, row, Action.CANCEL_RESERVATION, now, partner_id)
            res = store.reservation(conn, reservation_id)
        assert res is not None
        return self._reservation_view(res, tower_id)

    def issue_token(
        self,
        partner_id: int,
        tower_id: str,
        locker_id: int,
        kind: TokenKind,
        duration: int,
        client_info: str = "",
    ) -> s.LockerToken:
        """Drop-off or pick-up token; the arrow it takes is the guide's."""
        with outbox.transaction(self.db) as conn:
            return self._issue(conn, partner_id, tower_id, locker_id, kind, duration, client_info)

    def release_locker(
        self, partner_id: int, tower_id: str, locker_id: int, duration: int
    ) -> s.ReleaseLockerResult:
        """releaseLocker: Rented -> Declined; the release token is queued for the tower too."""
        with outbox.transaction(self.db) as conn:
            tok = self._issue(conn, partner_id, tower_id, locker_id, TokenKind.RELEASE, duration)
            cid = store.insert_row(
                conn,
                commands,
                dict(
                    tower_id=tok.tower_id,
                    kind="release_token",
                    locker_id=locker_id,
                    token_id=tok.token_id,
                    payload=tok.payload,
                    payload_auth=tok.payload_auth,
                    created_at=self.clock(),
                ),
            )
        return s.ReleaseLockerResult(**tok.model_dump(), command_id=cid)

    def _issue(
        self,
        conn: Connection,
        partner_id: int,
        tower_id: str,
        locker_id: int,
        kind: TokenKind,
        duration: int,
        client_info: str = "",
    ) -> s.LockerToken:
        now = self.clock()
        expires = now + timedelta(seconds=duration)
        row = self._lock_locker(conn, partner_id, tower_id, locker_id, now)
        state = LockerState(row["state"])
        deadline: Any = _KEEP
        if kind is TokenKind.DROPOFF and state is not LockerState.OCCUPIED:
            # Rented lasts until the latest unused drop-off token runs out.
            current = row["deadline"] if state is LockerState.RENTED else None
            deadline = max(expires, current) if current else expires
        elif kind is TokenKind.RELEASE:
            deadline = None  # Declined waits for the tower, not the clock
        self._apply(conn, row, TOKEN_ACTIONS[kind], now, partner_id, deadline=deadline)
        return self._sign_and_store(conn, row, partner_id, kind, now, expires, client_info)

    # ---- tower sync (SDK) ---------------------------------------------------------------------

    def ingest_events(
        self, partner_id: int, tower_id: str, batch: Sequence[dict[str, Any]]
    ) -> list[s.EventResult]:
        """Apply a batch of tower-signed events once each; replays are acknowledged only.

        The whole batch is checked first: one unsigned, forged or foreign event refuses the
        batch and nothing is applied.
        """
        with self.db.read() as conn:
            self._visible_tower(conn, partner_id, tower_id)
            trow = store.tower(conn, tower_id)
        assert trow is not None
        public = Ed25519PublicKey.from_public_bytes(trow["public_key"])
        checked = []
        for event in batch:
            if str(event.get("tower_id", "")).lower() != tower_id:
                raise BadRequest(
                    "EVENT_TOWER_MISMATCH", f"Event seq {event.get('seq')} names another tower."
                )
            try:
                checked.append(verify_event(event, public))
            except TokenRefused as exc:
                raise BadRequest(exc.code, f"Event seq {event.get('seq')}: {exc}") from exc
        return [self._ingest_one(tower_id, e) for e in checked]

    def pending_commands(self, partner_id: int, tower_id: str, after: int = 0) -> s.CommandList:
        with self.db.read() as conn:
            self._visible_tower(conn, partner_id, tower_id)
            rows = store.pending_commands(conn, tower_id, after)
        return s.CommandList(
            commands=[
                s.Command(**{k: r[k] for k in s.Command.model_fields})  # type: ignore[arg-type]
                for r in rows
            ]
        )

    # ---- operator ---------------------------------------------------------------------------

    def create_partner(self, name: str) -> s.ClientCredentials:
        now, creds = self.clock(), self._fresh_credentials()
        try:
            with outbox.transaction(self.db) as conn:
                pid = store.insert_row(conn, partners, dict(name=name, created_at=now))
                return self._new_client(conn, creds, pid, name, list(auth.PARTNER_SCOPES), now)
        except IntegrityError as exc:
            raise Conflict("PARTNER_EXISTS", f"A partner named {name!r} exists.") from exc

    def create_operator(self, name: str = "operator") -> s.ClientCredentials:
        creds = self._fresh_credentials()
        with outbox.transaction(self.db) as conn:
            return self._new_client(conn, creds, None, name, [auth.OPERATOR], self.clock())

    def create_client(self, partner_name: str) -> s.ClientCredentials:
        """Another client (fresh credentials) for an existing partner."""
        pid, creds = self.partner_id(partner_name), self._fresh_credentials()
        with outbox.transaction(self.db) as conn:
            return self._new_client(
                conn, creds, pid, partner_name, list(auth.PARTNER_SCOPES), self.clock()
            )

    def list_partners(self) -> list[s.Partner]:
        with self.db.read() as conn:
            return [s.Partner(id=r["id"], name=r["name"]) for r in store.all_partners(conn)]

    def partner_id(self, name: str) -> int:
        with self.db.read() as conn:
            row = store.partner_by_name(conn, name)
        if row is None:
            raise NotFound("PARTNER_NOT_FOUND", f"No partner named {name!r}.")
        return int(row["id"])

    def create_tower(self, name: str, tower_id: str | None = None) -> s.Tower:
        tid = (tower_id or secrets.token_hex(8)).lower()
        key = Ed25519PrivateKey.generate()
        now = self.clock()
        try:
            with outbox.transaction(self.db) as conn:
                store.insert_row(
                    conn,
                    towers,
                    dict(
                        id=tid,
                        name=name,
                        public_key=raw_public(key.public_key()),
                        private_key_sealed=self.vault.seal(raw_private(key), tid.encode()),
                        created_at=now,
                    ),
                )
        except IntegrityError as exc:
            raise Conflict("TOWER_EXISTS", f"Tower {tid} exists.") from exc
        return s.Tower(id=tid, name=name, created_at=now)

    def announce_keys(self) -> int:
        """Queue the cloud's public keys for every tower, signed by the key before the newest.

        Towers trust that key already, so a rotation reaches them through the normal command
        relay; returns how many towers were told.
        """
        keys = list(self.keyring.keys.values())
        signer = keys[-2] if len(keys) > 1 else keys[-1]
        now = self.clock()
        issued = int(now.timestamp())
        public = self.keyring.public_keys()
        with outbox.transaction(self.db) as conn:
            towers_ = store.all_towers(conn)
            for tower in towers_:
                payload, auth_hex = sign_key_announcement(tower["id"], public, issued, signer)
                store.insert_row(conn, commands, dict(
                    tower_id=tower["id"], kind="cloud_keys", locker_id=None, token_id=None,
                    payload=payload, payload_auth=auth_hex, created_at=now))
        return len(towers_)

    def all_towers(self) -> list[s.Tower]:
        with self.db.read() as conn:
            return [s.Tower(**r) for r in store.all_towers(conn)]

    def add_lockers(self, tower_id: str, specs: Iterable[s.LockerCreate]) -> list[s.Locker]:
        now = self.clock()
        with outbox.transaction(self.db) as conn:
            self._tower_row(conn, tower_id)
            for spec in specs:
                conn.execute(insert(lockers).values(**self.locker_values(tower_id, spec, now)))
            rows = store.tower_lockers(conn, tower_id)
        return [locker_view(r, now) for r in rows]

    @staticmethod
    def locker_values(tower_id: str, spec: s.LockerCreate, now: datetime) -> dict[str, Any]:
        """A new locker's row (also used by bulk loaders such as the fleet bench)."""
        return dict(
            tower_id=tower_id,
            name=spec.name,
            type_id=TYPE_IDS[spec.type],
            is_low=spec.isLowLocker,
            access_mode=spec.accessMode,
            width_mm=spec.dimensions.width,
            height_mm=spec.dimensions.height,
            depth_mm=spec.dimensions.depth,
            state=int(LockerState.AVAILABLE),
            holder_partner_id=None,
            deadline=None,
            generation=0,
            updated_at=now,
        )

    def assign_tower(self, tower_id: str, partner_id: int, assigned: bool = True) -> None:
        with outbox.transaction(self.db) as conn:
            self._tower_row(conn, tower_id)
            if store.partner(conn, partner_id) is None:
                raise NotFound("PARTNER_NOT_FOUND", f"No partner {partner_id}.")
            conn.execute(
                delete(tower_partners).where(
                    tower_partners.c.tower_id == tower_id,
                    tower_partners.c.partner_id == partner_id,
                )
            )
            if assigned:
                conn.execute(
                    insert(tower_partners).values(tower_id=tower_id, partner_id=partner_id)
                )

    def set_out_of_service(self, tower_id: str, locker_id: int, out: bool) -> s.Locker:
        now = self.clock()
        action = Action.SET_OUT_OF_SERVICE if out else Action.CLEAR_OUT_OF_SERVICE
        with outbox.transaction(self.db) as conn:
            self._tower_row(conn, tower_id)
            row = self._lock_locker(conn, None, tower_id, locker_id, now)
            self._apply(conn, row, action, now, None)
            row = store.locker(conn, locker_id)
        assert row is not None
        return locker_view(row, now)

    def provisioning(self, tower_id: str) -> s.TowerProvisioning:
        """The tower's own private key and the cloud's public keys: for installers only."""
        with self.db.read() as conn:
            row = self._tower_row(conn, tower_id)
            gens = {r["id"]: r["generation"] for r in store.tower_lockers(conn, tower_id)}
        private = self.vault.open(row["private_key_sealed"], tower_id.encode())
        return s.TowerProvisioning(
            tower_id=tower_id,
            tower_private_key=private.hex(),
            tower_public_key=row["public_key"].hex(),
            cloud_public_keys=self.keyring.public_keys_hex(),
            generations=gens,
        )

    # ---- expiry -------------------------------------------------------------------------------

    def sweep(self, limit: int = 500) -> int:
        """Expire reservations and unused drop-off tokens that have run out; returns how many."""
        now = self.clock()
        with self.db.read() as conn:
            due = store.due_locker_ids(conn, now, limit)
        for locker_id in due:
            with outbox.transaction(self.db) as conn:
                row = store.locker(conn, locker_id, for_update=True)
                if row is not None:
                    self._expire_if_due(conn, row, now)
        return len(due)

    # ---- internals ----------------------------------------------------------------------------

    def _visible_tower(self, conn: Connection, partner_id: int | None, tower_id: str) -> None:
        if partner_id is None or not store.tower_assigned(conn, partner_id, tower_id.lower()):
            raise NotFound("TOWER_NOT_FOUND", f"No tower {tower_id} for you.")

    def _tower_row(self, conn: Connection, tower_id: str) -> RowMapping:
        row = store.tower(conn, tower_id)
        if row is None:
            raise NotFound("TOWER_NOT_FOUND", f"No tower {tower_id}.")
        return row

    def _visible_locker(
        self, conn: Connection, partner_id: int, tower_id: str, locker_id: int
    ) -> RowMapping:
        self._visible_tower(conn, partner_id, tower_id)
        row = store.locker(conn, locker_id, tower_id)
        if row is None:
            raise NotFound("LOCKER_NOT_FOUND", f"No locker {locker_id} in tower {tower_id}.")
        return row

    def _lock_locker(
        self,
        conn: Connection,
        partner_id: int | None,
        tower_id: str,
        locker_id: int,
        now: datetime,
    ) -> RowMapping:
        """Lock the locker row for this transaction and bring it up to date with the clock."""
        if partner_id is not None:
            self._visible_tower(conn, partner_id, tower_id)
        row = store.locker(conn, locker_id, tower_id, for_update=True)
        if row is None:
            raise NotFound("LOCKER_NOT_FOUND", f"No locker {locker_id} in tower {tower_id}.")
        return self._expire_if_due(conn, row, now)

    def _expire_if_due(self, conn: Connection, row: RowMapping, now: datetime) -> RowMapping:
        action = due_expiry(LockerState(row["state"]), row["deadline"], now)
        if action is None:
            return row
        self._apply(conn, row, action, now, None)
        fresh = store.locker(conn, row["id"])
        assert fresh is not None
        return fresh

    def _apply(
        self,
        conn: Connection,
        row: RowMapping,
        action: Action,
        now: datetime,
        requester: int | None,
        *,
        deadline: Any = None,
    ) -> LockerState:
        """One arrow of the state machine, written; a refusal becomes a 409 with its code."""
        try:
            outcome = next_state(
                LockerState(row["state"]),
                action,
                requester=requester,
                holder=row["holder_partner_id"],
            )
        except TransitionRefused as exc:
            raise Conflict(exc.code, str(exc)) from exc
        holder = row["holder_partner_id"]
        if outcome.release_holder:
            holder = None
        elif requester is not None:
            holder = requester
        values: dict[str, Any] = dict(
            state=int(outcome.state), holder_partner_id=holder, updated_at=now
        )
        if deadline is not _KEEP:
            values["deadline"] = None if outcome.release_holder else deadline
        if outcome.bump_generation:
            values["generation"] = row["generation"] + 1
        store.update_locker(conn, row["id"], values)
        told = self._told(conn, row, holder)
        self._emit(conn, told, "locker.state_changed", row, now, {
            "from": LockerState(row["state"]).label, "to": outcome.state.label,
            "action": str(action), "generation": values.get("generation", row["generation"])})
        if row["state"] == LockerState.RESERVED and outcome.state is not LockerState.RESERVED:
            active = store.active_reservation(conn, row["id"])
            if active is not None:
                status = RESERVATION_ENDS[action]
                store.set_reservation_status(conn, active["id"], status)
                self._emit(conn, [active["partner_id"]], f"reservation.{status}", row, now,
                           {"reservation_id": active["id"], "status": status})
        return outcome.state

    @staticmethod
    def _told(conn: Connection, row: RowMapping, holder_after: int | None) -> list[int]:
        """Who hears of a locker's change: its holder (after, else before the change), else
        every partner the tower is assigned to."""
        holder = holder_after if holder_after is not None else row["holder_partner_id"]
        return [holder] if holder is not None else outbox.tower_partner_ids(conn, row["tower_id"])

    @staticmethod
    def _emit(conn: Connection, partner_ids: Sequence[int], type_: str, row: RowMapping,
              now: datetime, data: dict[str, Any]) -> None:
        """One outbox event about the locker ``row``, in the change's transaction."""
        outbox.emit(conn, partner_ids, type_, row["tower_id"], row["id"], now, data)

    def _sign_and_store(
        self,
        conn: Connection,
        row: RowMapping,
        partner_id: int,
        kind: TokenKind,
        now: datetime,
        expires: datetime,
        client_info: str,
    ) -> s.LockerToken:
        key = self.keyring.current
        claims = TokenClaims(
            tower_id=row["tower_id"],
            locker_id=row["id"],
            kind=kind,
            token_id=uuid.uuid4().hex,
            not_before=int((now - CLOCK_SKEW).timestamp()),
            expires=int(expires.timestamp()),
            key_id=key.key_id,
            generation=row["generation"],
        )
        signed = sign_token(claims, key)
        nbf = now - CLOCK_SKEW
        store.insert_row(
            conn,
            locker_tokens,
            dict(
                id=claims.token_id,
                locker_id=row["id"],
                partner_id=partner_id,
                kind=int(kind),
                client_info=client_info,
                generation=claims.generation,
                key_id=key.key_id,
                not_before=nbf,
                expires_at=expires,
                payload=signed.payload,
                payload_auth=signed.payload_auth,
            ),
        )
        self._emit(conn, [partner_id], "token.issued", row, now, {  # never the payload_auth
            "token_id": claims.token_id, "kind": kind.label, "key_id": key.key_id,
            "generation": claims.generation, "not_before": nbf.isoformat(),
            "expires_at": expires.isoformat()})
        return s.LockerToken(
            payload=signed.payload,
            payload_auth=signed.payload_auth,
            token_id=claims.token_id,
            kind=kind.label,
            locker_id=row["id"],
            tower_id=row["tower_id"],
            not_before=nbf,  # type: ignore[arg-type]
            expires_at=expires,
            key_id=key.key_id,
            generation=claims.generation,
        )

    def _ingest_one(self, tower_id: str, event: dict[str, Any]) -> s.EventResult:
        seq = int(event["seq"])
        now = self.clock()
        try:
            with outbox.transaction(self.db) as conn:
                if store.event_seen(conn, tower_id, seq):
                    return s.EventResult(seq=seq, outcome="duplicate")
                outcome, code = self._event_effect(conn, tower_id, event, now)
                if outcome == "applied":
                    self._emit_applied(conn, tower_id, event, now)
                store.insert_row(
                    conn,
                    events,
                    dict(
                        tower_id=tower_id,
                        seq=seq,
                        type=str(event["type"]),
                        locker_id=event.get("locker_id"),
                        token_id=event.get("token_id"),
                        timestamp=int(event["timestamp"]),
                        body=json.dumps(event, sort_keys=True),
                        outcome=code or outcome,
                        received_at=now,
                    ),
                )
        except IntegrityError:  # a concurrent relay of the same event committed first
            return s.EventResult(seq=seq, outcome="duplicate")
        return s.EventResult(seq=seq, outcome=outcome, code=code)  # type: ignore[arg-type]

    def _emit_applied(
        self, conn: Connection, tower_id: str, event: dict[str, Any], now: datetime
    ) -> None:
        """``tower.event_applied`` for the locker's holder (else the tower's partners)."""
        tok = store.token(conn, str(event.get("token_id"))) if event.get("token_id") else None
        locker_id = tok["locker_id"] if tok is not None else event.get("locker_id")
        row = store.locker(conn, locker_id, tower_id) if isinstance(locker_id, int) else None
        holder = row["holder_partner_id"] if row is not None else None
        told = [holder] if holder is not None else outbox.tower_partner_ids(conn, tower_id)
        data = {k: event[k] for k in ("seq", "type", "token_id", "command_id", "timestamp")
                if k in event}
        outbox.emit(conn, told, "tower.event_applied", tower_id,
                    row["id"] if row is not None else None, now, data)

    def _event_effect(
        self, conn: Connection, tower_id: str, event: dict[str, Any], now: datetime
    ) -> tuple[str, str | None]:
        """What one new event does; facts the diagram cannot apply are recorded as ignored."""
        kind = event["type"]
        if kind == COMMAND_APPLIED:
            cid = event.get("command_id")
            if not isinstance(cid, int):
                return "ignored", "COMMAND_NOT_FOUND"
            # The tower logs ``release_token_set`` before ``command_applied``, and that event
            # already closed the command (by its token): the acknowledgement is still good.
            store.mark_command_applied(conn, tower_id, now, command_id=cid)
            if store.command_exists(conn, tower_id, cid):
                return "applied", None
            return "ignored", "COMMAND_NOT_FOUND"
        if kind not in EVENT_ACTIONS:
            return "recorded", None  # boot, door forced, errors...: kept for audit
        action, token_kind = EVENT_ACTIONS[kind]
        tok = store.token(conn, str(event.get("token_id")))
        if tok is None or tok["kind"] != token_kind:
            return "ignored", "TOKEN_NOT_FOUND"
        row = store.locker(conn, tok["locker_id"], tower_id, for_update=True)
        if row is None or event.get("locker_id") not in (None, row["id"]):
            return "ignored", "LOCKER_NOT_FOUND"
        if tok["used_at"] is not None and token_kind is not TokenKind.DROPOFF:
            return "ignored", "TOKEN_ALREADY_USED"
        try:
            self._apply(conn, row, action, now, None, deadline=None)
        except Conflict as exc:
            return "ignored", exc.code
        store.mark_token_used(conn, tok["id"], now)
        if token_kind is TokenKind.RELEASE:
            store.mark_command_applied(conn, tower_id, now, token_id=tok["id"])
        elif row["state"] == LockerState.DECLINED:
            # The item went in after all: a release still queued must never reach the tower.
            store.mark_command_applied(conn, tower_id, now, locker_id=row["id"])
        return "applied", None

    def _fresh_credentials(self) -> tuple[str, str, str]:
        """A new client id, secret and the secret's hash, made before any write transaction
        begins: waiting for a hashing slot must never hold the database's write lock."""
        client_id, secret = auth.new_client_credentials()
        return client_id, secret, self.hasher.hash(secret)

    def _new_client(
        self,
        conn: Connection,
        creds: tuple[str, str, str],
        partner_id: int | None,
        name: str,
        scopes: list[str],
        now: datetime,
    ) -> s.ClientCredentials:
        client_id, secret, secret_hash = creds
        store.insert_row(
            conn,
            clients,
            dict(
                client_id=client_id,
                partner_id=partner_id,
                secret_hash=secret_hash,
                scopes=" ".join(scopes),
                created_at=now,
            ),
        )
        return s.ClientCredentials(
            partner_id=partner_id,
            name=name,
            client_id=client_id,
            client_secret=secret,
            scopes=scopes,
        )

    @staticmethod
    def _reservation_view(row: RowMapping, tower_id: str) -> s.Reservation:
        return s.Reservation(
            id=row["id"],
            locker_id=row["locker_id"],
            tower_id=tower_id,
            status=row["status"],
            created_at=row["created_at"],
            expires_at=row["expires_at"],
        )
