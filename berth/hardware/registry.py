"""The board protocols Berth speaks, each registered once with everything that depends on it.

A ``BoardProtocol`` holds a protocol's codec and line settings (``protocols/``), its controller
(``boards.py``), its simulated boards' responder (``boardsim/``) and where a simulated line puts
its boards. The controller factory, the simulator, discovery, the site check and ``berth hw`` look
protocols up here by name; adding one is one ``register(...)`` call and no other file learns its
name. ``simulated`` (the in-process ``SimulatedController``, no wire) is known beside them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from berth.hardware.boards import DipController, KerongController
from berth.hardware.boardsim import dip as dip_boards
from berth.hardware.boardsim import kerong as kerong_boards
from berth.hardware.boardsim.model import Respond
from berth.hardware.bus import BusRegistry
from berth.hardware.driver import LockController
from berth.hardware.protocols import dip, kerong
from berth.hardware.protocols.codec import Codec, LineSettings
from berth.hardware.spec import ControllerSpec

#: The in-process simulated controller's protocol name (no codec, no line).
SIMULATED = "simulated"

__all__ = ["SIMULATED", "BoardProtocol", "UnknownProtocol", "get", "known", "names", "register"]


@dataclass(frozen=True)
class BoardProtocol:
    """One wire protocol of lock boards and what speaks it on either side of the line."""

    name: str
    title: str  # what the docs and ``berth hw`` call it
    codec: Codec[Any]
    line: LineSettings
    controller: Callable[[ControllerSpec, str, BusRegistry], LockController]  # spec, URL, buses
    respond: Respond  # the simulated boards' answers
    first_address: int  # a simulated line's first board
    line_boards: int  # how many boards a simulated ``sim://`` line holds
    sized_replies: bool = False  # reply length follows the channel count: one count per line


class UnknownProtocol(ValueError):
    """A protocol name nothing registered; the message lists the known ones."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown lock-controller protocol {name!r} "
                         f"(known: {', '.join(known())})")


_protocols: dict[str, BoardProtocol] = {}


def register(protocol: BoardProtocol) -> BoardProtocol:
    if protocol.name in _protocols or protocol.name == SIMULATED:
        raise ValueError(f"protocol {protocol.name!r} is already registered")
    _protocols[protocol.name] = protocol
    return protocol


def get(name: str) -> BoardProtocol:
    """The registered protocol ``name``; ``UnknownProtocol`` otherwise (also for simulated)."""
    try:
        return _protocols[name]
    except KeyError:
        raise UnknownProtocol(name) from None


def names() -> list[str]:
    """The wire protocols, in registration order."""
    return list(_protocols)


def known() -> list[str]:
    """Every protocol a site file may name: ``simulated`` and the wire protocols."""
    return [SIMULATED, *_protocols]


register(BoardProtocol(
    "kerong", "Kerong KR-CU16 / CU12", kerong.CODEC, kerong.LINE, KerongController.from_spec,
    kerong_boards.respond, first_address=0, line_boards=kerong.MAX_BOARDS,
))
register(BoardProtocol(
    "dip", "generic DIP-addressed board", dip.CODEC, dip.LINE, DipController.from_spec,
    dip_boards.respond, first_address=1, line_boards=16, sized_replies=True,
))
