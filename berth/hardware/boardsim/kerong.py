"""How simulated Kerong CU boards answer a request frame (pure: frame in, replies out)."""

from __future__ import annotations

from collections.abc import Mapping

from berth.hardware.boardsim.model import Reply, SimBoard
from berth.hardware.protocols import kerong


def respond(boards: Mapping[int, SimBoard], frame: kerong.Frame) -> list[Reply]:
    """Status and pulse-time requests get a reply; unlocks fire and answer nothing."""
    if frame.cmd == kerong.BUS_STATUS:
        return [
            b.seal(kerong.encode(kerong.status_reply(b.address, b.hooks(), b.items(), bus=True)))
            for b in boards.values()
            if b.hears()
        ]
    board = boards.get(frame.board)
    if board is None or not board.hears():
        return []
    if frame.cmd == kerong.STATUS:
        return [board.seal(kerong.encode(kerong.status_reply(board.address, board.hooks(),
                                                             board.items())))]
    if frame.cmd == kerong.UNLOCK:
        if frame.lock <= board.channels:
            board.door(frame.lock).fire()
            board.unlocked()
        return []
    if frame.cmd == kerong.UNLOCK_ALL:
        for door in board.doors.values():
            door.fire()
        board.unlocked()
        return []
    board.pulse_millis = kerong.pulse_millis(frame)
    return [board.seal(kerong.encode(kerong.pulse_time_reply(board.address,
                                                             board.pulse_millis)))]
