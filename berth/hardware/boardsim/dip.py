"""How simulated DIP-addressed boards answer a request frame (pure: frame in, replies out)."""

from __future__ import annotations

from collections.abc import Mapping

from berth.hardware.boardsim.model import Reply, SimBoard
from berth.hardware.protocols import dip


def respond(boards: Mapping[int, SimBoard], frame: dip.Frame) -> list[Reply]:
    """Every request is echoed with a status; a query-all gets the feedback bits."""
    board = boards.get(frame.board)
    if board is None or not board.hears():
        return []
    if frame.channel > board.channels:
        return []
    if frame.header == dip.OPEN:
        targets = board.doors.values() if frame.channel == 0 else [board.door(frame.channel)]
        for door in targets:
            door.fire()
        board.unlocked()
        on = frame.channel == 0 or board.feedback(frame.channel)
        return [board.seal(dip.encode(dip.single_reply(frame, on)))]
    if frame.channel == 0:
        reply = dip.query_all_reply(board.address, board.feedback_bits(), board.channels)
        return [board.seal(dip.encode(reply))]
    return [board.seal(dip.encode(dip.single_reply(frame, board.feedback(frame.channel))))]
