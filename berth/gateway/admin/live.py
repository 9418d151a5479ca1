"""``GET /admin/live``: the site's locker states as server-sent events, from the event bus.

Each stream opens with every locker's state (so a reconnect misses nothing), then sends a
locker's new state whenever the bus says something about it: a door, its flags, a transaction,
its controller. A stream ends by itself after ``STREAM_SECONDS`` and the browser's EventSource
reconnects (``retry``), so no stream outlives a server shutdown for long.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

from berth import events as ev
from berth.contracts.gateway import Locker
from berth.gateway.admin.board import LABELS, locker_state
from berth.gateway.lockers.service import LockerService
from berth.gateway.system.service import SystemService
from berth.kit.threads import run_blocking

STREAM_SECONDS = 25.0
KEEPALIVE = 10.0
HEARD = (ev.DoorEvent, ev.LockerFlagsChanged, ev.TransactionEvent, ev.ControllerEvent)


def _frame(locker: Locker, state: str) -> str:
    body = {"id": locker.locker_id, "state": state, "label": LABELS[state],
            "transaction": locker.transaction_id}
    return f"event: locker\ndata: {json.dumps(body)}\n\n"


async def stream(bus: ev.EventBus, lockers: LockerService, system: SystemService,
                 clock: Callable[[], float]) -> AsyncIterator[str]:
    queue: asyncio.Queue[ev.Event] = asyncio.Queue(maxsize=1000)
    sub = bus.subscribe(queue.put_nowait, *HEARD, name="admin-live", maxsize=1000)

    def states(ids: set[int] | None) -> list[str]:
        rows, _ = lockers.list_page(limit=1000)
        return [_frame(lk, locker_state(system, lk)) for lk in rows
                if ids is None or lk.locker_id in ids]

    try:
        yield f"retry: 500\n\n{''.join(await run_blocking(states, None))}"
        ends = clock() + STREAM_SECONDS
        while (left := ends - clock()) > 0:
            try:
                first = await asyncio.wait_for(queue.get(), min(left, KEEPALIVE))
            except TimeoutError:
                yield ": keepalive\n\n"
                continue
            heard = [first]
            while not queue.empty():
                heard.append(queue.get_nowait())
            ids = {e.locker_id for e in heard if getattr(e, "locker_id", None) is not None}
            everything = any(isinstance(e, ev.ControllerEvent) for e in heard)
            yield "".join(await run_blocking(states, None if everything else ids))
    finally:
        bus.unsubscribe(sub)
