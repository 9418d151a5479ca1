"""Named outcomes from what a tower reports, and whether the tower is there at all.

:func:`emit_for_event` maps one newly applied or recorded tower event to the partner event a
carrier acts on (``tower.event_applied`` stays beside it): a forced door, a door that stayed
shut on an open (jammed), a token refused with the verifier's code, the keypad locked after
too many wrong codes. :func:`tower_seen` marks a
sync (``tower.back`` after an offline spell) and :func:`sweep_offline`, run by the cloud's
sweeper, counts a tower silent for ``tower_offline_after`` seconds offline (``tower.offline``),
once per spell: the spell is kept in ``tower_liveness``, so a restart repeats nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from berth.cloud.context import CloudContext
from berth.cloud.events import outbox
from berth.cloud.lockers import repository as lockers_repo
from berth.cloud.tokens import repository as tokens_repo
from berth.cloud.towers import repository as towers_repo
from berth.domain.tokens import TokenKind

JAMMED = "DOOR_DID_NOT_OPEN"  # the open rule's code for an unlock the door never followed
KEYPAD_LOCKED = ("locked_until", "lockout_seconds", "lockouts", "failures")
SEEN_EVERY = 10  # a sync is written at most once per this fraction of the offline threshold


def _named(event: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(partner event type, its data) for a tower event a carrier acts on, else None."""
    kind = event["type"]
    base = {"seq": event["seq"], "tower_timestamp": event["timestamp"]}
    if kind == "door_forced":
        return "locker.door_forced", base
    if kind == "open_failed" and event.get("code") == JAMMED:
        return "locker.door_jammed", {**base, "code": JAMMED, "reason": event.get("reason"),
                                      "token_id": event.get("token_id")}
    if kind == "keypad_locked":  # no token, no locker: every partner of the tower hears it
        return "tower.keypad_locked", {"seq": event["seq"], "timestamp": event["timestamp"],
                                       **{f: event[f] for f in KEYPAD_LOCKED if f in event}}
    if kind == "open_refused":
        return "token.refused", {**base, "code": event.get("code"),
                                 "reason": event.get("reason"),
                                 "token_id": event.get("token_id")}
    return None


def emit_for_event(conn: Connection, tower_id: str, event: dict[str, Any],
                   now: datetime) -> None:
    """The named outcome of one new tower event, for who should know: the partner that issued
    its token, else the locker's holder, else the tower's partners."""
    named = _named(event)
    if named is None:
        return
    type_, data = named
    token = (tokens_repo.token(conn, str(event["token_id"]))
             if event.get("token_id") else None)
    locker_id = token["locker_id"] if token is not None else event.get("locker_id")
    locker = (lockers_repo.locker(conn, locker_id, tower_id)
              if isinstance(locker_id, int) else None)
    if token is not None:
        told = [token["partner_id"]]
        data["token_kind"] = TokenKind(token["kind"]).label
    elif locker is not None and locker["holder_partner_id"] is not None:
        told = [locker["holder_partner_id"]]
    else:
        told = towers_repo.tower_partner_ids(conn, tower_id)
    outbox.emit(conn, told, type_, tower_id, locker["id"] if locker is not None else None,
                now, data)


def tower_seen(ctx: CloudContext, tower_id: str, conn: Connection | None = None) -> None:
    """A sync from the tower: written when it comes back, or when the last one written is older
    than a tenth of the threshold (most syncs cost one primary-key read). ``conn``: the sync's
    own write transaction (an events push), so the batch stays one commit."""
    if ctx.tower_offline_after <= 0:
        return
    now = ctx.clock()
    if conn is not None:
        _record_seen(ctx, conn, tower_id, now)
        return
    with ctx.db.read() as reading:
        if _fresh(ctx, towers_repo.liveness(reading, tower_id), now):
            return
    with ctx.write() as writing:
        _record_seen(ctx, writing, tower_id, now)


def _fresh(ctx: CloudContext, live: Any, now: datetime) -> bool:
    fresh = timedelta(seconds=ctx.tower_offline_after / SEEN_EVERY)
    return live is not None and live["offline_since"] is None and \
        now - live["last_seen_at"] < fresh


def _record_seen(ctx: CloudContext, conn: Connection, tower_id: str, now: datetime) -> None:
    live = towers_repo.liveness(conn, tower_id, for_update=True)
    if _fresh(ctx, live, now):
        return
    towers_repo.record_seen(conn, tower_id, now)
    if live is not None and live["offline_since"] is not None:
        outbox.emit(conn, towers_repo.tower_partner_ids(conn, tower_id), "tower.back",
                    tower_id, None, now, {
                        "offline_since": live["offline_since"].isoformat(),
                        "last_seen_at": live["last_seen_at"].isoformat()})


def sweep_offline(ctx: CloudContext, limit: int = 500) -> int:
    """Count towers silent for the threshold offline (``tower.offline`` once); how many."""
    if ctx.tower_offline_after <= 0:
        return 0
    now = ctx.clock()
    cutoff = now - timedelta(seconds=ctx.tower_offline_after)
    with ctx.db.read() as conn:
        silent = towers_repo.silent_tower_ids(conn, cutoff, limit)
    counted = 0
    for tower_id in silent:
        with ctx.write() as conn:
            live = towers_repo.liveness(conn, tower_id, for_update=True)
            if live is None or live["offline_since"] is not None or live["last_seen_at"] > cutoff:
                continue  # it synced (or was counted) since the list was read
            towers_repo.mark_offline(conn, tower_id, now)
            outbox.emit(conn, towers_repo.tower_partner_ids(conn, tower_id), "tower.offline",
                        tower_id, None, now, {
                            "last_seen_at": live["last_seen_at"].isoformat(),
                            "offline_after": ctx.tower_offline_after})
            counted += 1
    return counted
