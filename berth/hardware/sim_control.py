"""The person at a simulated locker: close a door, jam it, put an item in, take it out.

A gateway that runs ``sim://NAME`` buses (``berth gateway serve``, so ``make run`` too) listens
for these actions on a unix socket in its data dir, ``sim-NAME.sock`` (``sim-NAME-dip.sock`` for
a DIP bus), mode 0600: only the gateway's own user may act. ``berth hw sim ...`` is the client.

One JSON object per line each way::

    -> {"action": "close", "board": 0, "lock": 5}
    <- {"ok": true, "doors": [{"board": 0, "lock": 5, "open": false, "jammed": false,
                               "item": false}], "autoClose": {"0": 3.0},
        "counters": {"0": {"requests": 12, "dropped": 0, "unlocks": 1}}}
    <- {"ok": false, "error": "no board 7 on this bus (boards 0-15)"}
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import socket
import stat
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from berth.hardware.simulator import SimBoard, SimDoor, SimulatedBus

#: Door actions: what the person does to one door.
DOOR_ACTIONS: dict[str, Callable[[SimDoor], None]] = {
    "close": lambda door: door.close(),  # pushes the door shut
    "force": lambda door: door.force_open(),  # prises it open: the gateway sees a forced door
    "jam": lambda door: setattr(door, "jammed", True),  # the next unlock leaves it shut
    "unjam": lambda door: setattr(door, "jammed", False),
    "put": lambda door: door.put_item(),
    "take": lambda door: door.take_item(),
}
ACTIONS = (*DOOR_ACTIONS, "autoclose", "status")
MAX_PATH = 100  # sun_path holds 108 bytes on Linux, fewer elsewhere


class ControlError(ValueError):
    """A request the simulator cannot act on; its message goes back to the client."""


def socket_path(directory: Path, bus: str, protocol: str = "kerong") -> Path:
    """Where a gateway's simulator for ``sim://BUS`` listens (``bus`` with or without sim://)."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", bus.removeprefix("sim://"))
    suffix = "" if protocol == "kerong" else f"-{protocol}"
    return directory / f"sim-{name}{suffix}.sock"


def _door_view(board: SimBoard, door: SimDoor) -> dict[str, Any]:
    return {"board": board.address, "lock": door.channel, "open": door.is_open,
            "jammed": door.jammed, "item": door.item_present}


def _boards(sim: SimulatedBus, board: int | None) -> list[SimBoard]:
    if board is None:
        return list(sim.boards.values())
    if board not in sim.boards:
        raise ControlError(f"no board {board} on this bus "
                           f"(boards {min(sim.boards)}-{max(sim.boards)})")
    return [sim.boards[board]]


def _door(board: SimBoard, lock: Any) -> SimDoor:
    if not isinstance(lock, int) or lock not in board.doors:
        raise ControlError(f"board {board.address} has locks 1-{board.channels}, not {lock!r}")
    return board.doors[lock]


def _auto_close(sim: SimulatedBus, boards: list[SimBoard], seconds: Any) -> None:
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int | float)
                                or seconds < 0):
        raise ControlError("autoclose takes seconds >= 0, or null for off")
    for board in boards:
        board.close_after = None if seconds is None else float(seconds)
        if seconds is None:  # doors open now stay open too
            for door in board.doors.values():
                door.cancel_auto_close()


def act(sim: SimulatedBus, request: dict[str, Any]) -> dict[str, Any]:
    """Apply one request on the simulator's loop; the answer shows the doors it touched."""
    action = request.get("action")
    if action not in ACTIONS:
        raise ControlError(f"unknown action {action!r} (one of {', '.join(ACTIONS)})")
    board_no = request.get("board")
    if board_no is not None and not isinstance(board_no, int):
        raise ControlError(f"board must be an integer, not {board_no!r}")
    boards = _boards(sim, board_no)
    doors: list[dict[str, Any]] = []
    if action in DOOR_ACTIONS:
        if board_no is None:
            raise ControlError(f"{action} needs a board and a lock")
        door = _door(boards[0], request.get("lock"))
        DOOR_ACTIONS[action](door)
        doors.append(_door_view(boards[0], door))
    elif action == "autoclose":
        _auto_close(sim, boards, request.get("seconds"))
    else:  # status
        lock = request.get("lock")
        for board in boards:
            chosen = [_door(board, lock)] if lock is not None else board.doors.values()
            doors += [_door_view(board, d) for d in chosen]
    return {"ok": True, "doors": doors,
            "autoClose": {str(b.address): b.close_after for b in boards},
            "counters": {str(b.address): b.counters() for b in boards}}


async def _client(sim: SimulatedBus, reader: asyncio.StreamReader,
                  writer: asyncio.StreamWriter) -> None:
    try:
        while line := await reader.readline():
            try:
                request = json.loads(line)
                if not isinstance(request, dict):
                    raise ControlError("send one JSON object per line")
                answer = act(sim, request)
            except (ControlError, ValueError) as exc:
                answer = {"ok": False, "error": str(exc)}
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def serving(sim: SimulatedBus, path: Path) -> AsyncIterator[Path]:
    """Listen on ``path`` (0600) while the simulator runs; remove the socket afterwards."""
    if len(os.fsencode(path)) > MAX_PATH:
        raise ValueError(f"{path}: too long for a unix socket; use a shorter data dir")
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(path.lstat().st_mode):  # left by a gateway that was killed
            path.unlink()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        os.fchmod(listener.fileno(), 0o600)  # Linux: the bound file takes this mode
        listener.bind(str(path))
        os.chmod(path, 0o600)
    except OSError:
        listener.close()
        raise
    server = await asyncio.start_unix_server(lambda r, w: _client(sim, r, w), sock=listener)
    try:
        yield path
    finally:
        server.close()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def request(path: Path, message: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
    """Send one request to a simulator's control socket and return its answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall(json.dumps(message).encode() + b"\n")
        with s.makefile("rb") as answer:
            return json.loads(answer.readline())  # type: ignore[no-any-return]
