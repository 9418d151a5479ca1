"""Tower sync as the phone SDK relays it: signed tower events up, queued commands down.

Each tower event is applied once (per ``seq``); the events that drive the state machine must
carry a token of the matching kind. Facts the diagram cannot apply are recorded as ignored, with
a code saying why.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from berth.cloud.context import CloudContext
from berth.cloud.events import outbox
from berth.cloud.lockers import lifecycle
from berth.cloud.lockers import repository as lockers_repo
from berth.cloud.tokens import repository as tokens_repo
from berth.cloud.tower_sync import outcomes
from berth.cloud.tower_sync import repository as repo
from berth.cloud.towers import repository as towers_repo
from berth.cloud.towers.service import tower_row, visible_tower
from berth.contracts.cloud import Command, CommandList, EventResult
from berth.domain.errors import InvalidInput
from berth.domain.lifecycle import Action, LockerState, TransitionRefused
from berth.domain.tokens import TokenKind, TokenRefused, sign_key_announcement, verify_event

# Tower events that drive the state machine, and the token kind each must carry.
EVENT_ACTIONS = {
    "dropoff_token_used": (Action.DROPOFF_TOKEN_USED, TokenKind.DROPOFF),
    "pickup_token_used": (Action.PICKUP_TOKEN_USED, TokenKind.PICKUP),
    "release_token_set": (Action.RELEASE_TOKEN_SET, TokenKind.RELEASE),
}
COMMAND_APPLIED = "command_applied"


@dataclass
class TowerSyncService:
    ctx: CloudContext

    def ingest_events(
        self, partner_id: int, tower_id: str, batch: Sequence[dict[str, Any]]
    ) -> list[EventResult]:
        """Apply a batch of tower-signed events once each; replays are acknowledged only.

        The whole batch is checked first: one unsigned, forged or foreign event refuses the
        batch and nothing is applied.
        """
        with self.ctx.db.read() as conn:
            visible_tower(conn, partner_id, tower_id)
            trow = tower_row(conn, tower_id)
        public = Ed25519PublicKey.from_public_bytes(trow["public_key"])
        checked = []
        for event in batch:
            if str(event.get("tower_id", "")).lower() != tower_id:
                raise InvalidInput(
                    "EVENT_TOWER_MISMATCH", f"Event seq {event.get('seq')} names another tower."
                )
            try:
                checked.append(verify_event(event, public))
            except TokenRefused as exc:
                raise InvalidInput(exc.code, f"Event seq {event.get('seq')}: {exc}") from exc
        try:
            return self._ingest_checked(tower_id, checked)
        except IntegrityError:  # a relay the tower lock did not cover (none known): its events
            return self._ingest_checked(tower_id, checked)  # are seen now, so duplicates

    def pending_commands(self, partner_id: int, tower_id: str, after: int = 0) -> CommandList:
        with self.ctx.db.read() as conn:
            visible_tower(conn, partner_id, tower_id)
            rows = repo.pending_commands(conn, tower_id, after)
        outcomes.tower_seen(self.ctx, tower_id)
        return CommandList(commands=[
            Command(**{k: r[k] for k in Command.model_fields})  # type: ignore[arg-type]
            for r in rows
        ])

    def commands_after_id(self, floor: int) -> list[tuple[int, str]]:
        """Every command above id ``floor``, as ``(id, tower)``: what wakes long-polls."""
        with self.ctx.db.read() as conn:
            return repo.commands_after_id(conn, floor)

    def top_command_id(self) -> int:
        with self.ctx.db.read() as conn:
            return repo.top_command_id(conn)

    def announce_keys(self) -> int:
        """Queue the cloud's public keys for every tower, signed by the key before the newest.

        Towers trust that key already, so a rotation reaches them through the normal command
        relay; returns how many towers were told.
        """
        keys = list(self.ctx.keyring.keys.values())
        signer = keys[-2] if len(keys) > 1 else keys[-1]
        now = self.ctx.clock()
        issued = int(now.timestamp())
        public = self.ctx.keyring.public_keys()
        with self.ctx.write() as conn:
            towers_ = towers_repo.all_towers(conn)
            for tower in towers_:
                payload, auth_hex = sign_key_announcement(tower["id"], public, issued, signer)
                repo.insert_command(conn, tower["id"], "cloud_keys", None, None, payload,
                                    auth_hex, now)
        return len(towers_)

    def _ingest_checked(
        self, tower_id: str, checked: Sequence[dict[str, Any]]
    ) -> list[EventResult]:
        """The whole batch in one transaction, under the tower's row lock on PostgreSQL (SQLite's
        BEGIN IMMEDIATE serialises writers), so two relays of the same events never both apply
        one; the unique ``(tower, seq)`` index stays the last word."""
        now = self.ctx.clock()
        results: list[EventResult] = []
        with self.ctx.write() as conn:
            towers_repo.lock_tower(conn, tower_id)
            outcomes.tower_seen(self.ctx, tower_id, conn)
            seen = repo.seen_seqs(conn, tower_id, [int(e["seq"]) for e in checked])
            rows = []
            for event in checked:
                seq = int(event["seq"])
                if seq in seen:
                    results.append(EventResult(seq=seq, outcome="duplicate"))
                    continue
                seen.add(seq)
                outcome, code = self._event_effect(conn, tower_id, event, now)
                outcomes.emit_for_event(conn, tower_id, event, now)
                if outcome == "applied":
                    self._emit_applied(conn, tower_id, event, now)
                rows.append(dict(
                    tower_id=tower_id, seq=seq, type=str(event["type"]),
                    locker_id=event.get("locker_id"), token_id=event.get("token_id"),
                    timestamp=int(event["timestamp"]), body=json.dumps(event, sort_keys=True),
                    outcome=code or outcome, received_at=now))
                results.append(EventResult(seq=seq, outcome=outcome, code=code))  # type: ignore[arg-type]
            repo.insert_events(conn, rows)
        return results

    def _emit_applied(
        self, conn: Connection, tower_id: str, event: dict[str, Any], now: datetime
    ) -> None:
        """``tower.event_applied`` for the locker's holder (else the tower's partners)."""
        tok = (tokens_repo.token(conn, str(event.get("token_id")))
               if event.get("token_id") else None)
        locker_id = tok["locker_id"] if tok is not None else event.get("locker_id")
        row = (lockers_repo.locker(conn, locker_id, tower_id)
               if isinstance(locker_id, int) else None)
        holder = row["holder_partner_id"] if row is not None else None
        told = [holder] if holder is not None else towers_repo.tower_partner_ids(conn, tower_id)
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
            repo.mark_command_applied(conn, tower_id, now, command_id=cid)
            if repo.command_exists(conn, tower_id, cid):
                return "applied", None
            return "ignored", "COMMAND_NOT_FOUND"
        if kind not in EVENT_ACTIONS:
            return "recorded", None  # boot, door forced, errors...: kept for audit
        action, token_kind = EVENT_ACTIONS[kind]
        tok = tokens_repo.token(conn, str(event.get("token_id")))
        if tok is None or tok["kind"] != token_kind:
            return "ignored", "TOKEN_NOT_FOUND"
        row = lockers_repo.locker(conn, tok["locker_id"], tower_id, for_update=True)
        if row is None or event.get("locker_id") not in (None, row["id"]):
            return "ignored", "LOCKER_NOT_FOUND"
        if tok["used_at"] is not None and token_kind is not TokenKind.DROPOFF:
            return "ignored", "TOKEN_ALREADY_USED"
        try:
            lifecycle.apply(conn, row, action, now, None, deadline=None)
        except TransitionRefused as exc:
            return "ignored", exc.code
        tokens_repo.mark_token_used(conn, tok["id"], now)
        if token_kind in (TokenKind.RELEASE, TokenKind.PICKUP):
            # the release token's command; a pick-up's keypad code, if it never reached the tower
            repo.mark_command_applied(conn, tower_id, now, token_id=tok["id"])
        elif row["state"] == LockerState.DECLINED:
            # The item went in after all: a release still queued must never reach the tower.
            repo.mark_command_applied(conn, tower_id, now, locker_id=row["id"])
        return "applied", None
