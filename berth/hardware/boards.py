"""``LockController``s for real boards: Kerong KR-CU16/CU12 and the generic DIP-addressed board.

Each controller is one board address on a bus URL; controllers naming the same line share one
``Bus`` (see bus.py). A request that gets no valid answer raises ``CommunicationError`` and marks
the board offline; the next answered request marks it online again.
"""

from __future__ import annotations

from typing import Any, ClassVar

from berth.hardware.bus import Bus, BusRegistry, Priority, buses
from berth.hardware.driver import (
    CommunicationError,
    DoorState,
    HardwareFault,
    LockController,
    NotDelivered,
)
from berth.hardware.protocols import dip, kerong
from berth.hardware.protocols.codec import LineSettings
from berth.hardware.protocols.framing import StreamDecoder
from berth.hardware.spec import ControllerSpec


def _named(controller_id: str, exc: CommunicationError) -> CommunicationError:
    """The same kind of error (delivered or not matters to the open rule), naming the board."""
    kind = NotDelivered if isinstance(exc, NotDelivered) else CommunicationError
    return kind(f"{controller_id}: {exc}")


class BoardController(LockController):
    """What both boards share: the bus lease, channel checks, the online flag and counters."""

    LINE: ClassVar[LineSettings]  # the line the board speaks, unless the URL says otherwise

    def __init__(
        self,
        controller_id: str,
        url: str,
        address: int,
        channels: int,
        registry: BusRegistry = buses,
    ) -> None:
        super().__init__(controller_id, channels)
        self.url = url
        self.address = address
        self._registry = registry
        self._bus: Bus | None = None
        self._counted: Bus | None = None  # the last bus, whose counters outlive the lease
        self._online = True

    @property
    def online(self) -> bool:
        return self._online

    @property
    def bus(self) -> Bus:
        if self._bus is None:
            raise NotDelivered(f"{self.controller_id}: controller not started")
        return self._bus

    async def start(self) -> None:
        if self._bus is None:
            self._bus = self._counted = await self._registry.acquire(self.url, self.LINE)

    def counters(self) -> dict[str, int]:
        """The counters of this board's line (boards on one line share them); ``{}`` before
        the first start."""
        return self._counted.counters() if self._counted is not None else {}

    async def aclose(self) -> None:
        if self._bus is not None:
            self._bus = None
            await self._registry.release(self.url)

    def _check_channel(self, channel: int) -> None:
        if not 1 <= channel <= self.channels:
            raise HardwareFault(
                "NO_SUCH_CHANNEL",
                f"{self.controller_id} has channels 1..{self.channels}, not {channel}",
            )

    async def _send(self, payload: bytes) -> None:
        try:
            await self.bus.send(payload)
        except CommunicationError as exc:
            self._online = False
            raise _named(self.controller_id, exc) from exc

    async def _ask(
        self, payload: bytes, decoder: StreamDecoder[Any], accept: Any, priority: Priority
    ) -> Any:
        try:
            reply = await self.bus.request(payload, decoder, accept, priority=priority)
        except CommunicationError as exc:
            self._online = False
            raise _named(self.controller_id, exc) from exc
        self._online = True
        return reply


class KerongController(BoardController):
    """A Kerong CU board: unlock has no reply, so each unlock is followed by a status read.

    That read proves the board heard us; when it gets no answer the unlock may still have fired,
    so the open rule reads the door instead of firing again.
    """

    LINE = kerong.LINE

    @classmethod
    def from_spec(cls, spec: ControllerSpec, url: str, registry: BusRegistry
                  ) -> KerongController:
        return cls(spec.controller_id, url, spec.address, spec.channels, registry)

    def __init__(self, controller_id: str, url: str, address: int = 0, channels: int = 16,
                 registry: BusRegistry = buses) -> None:
        if not 0 <= address < kerong.MAX_BOARDS or not 1 <= channels <= kerong.MAX_LOCKS:
            raise ValueError("Kerong boards have addresses 0..15 and at most 16 locks")
        super().__init__(controller_id, url, address, channels, registry)

    async def read_status(self, priority: Priority = Priority.POLL) -> kerong.LockStatus:
        """Hook and item-present bits of every lock (one ``0x30`` -> ``0x35`` exchange)."""
        reply = await self._ask(
            kerong.encode(kerong.status_request(self.address)),
            kerong.reply_decoder(),
            lambda f: f.cmd == kerong.STATUS_REPLY and f.addr == self.address << 4,
            priority,
        )
        return kerong.parse_status(reply)

    async def unlock(self, channel: int) -> None:
        self._check_channel(channel)
        await self._send(kerong.encode(kerong.unlock_request(self.address, channel)))
        await self.read_status(Priority.UNLOCK)

    async def unlock_all(self) -> None:
        """The board's own unlock-all (fires every solenoid at once; the gateway staggers)."""
        await self._send(kerong.encode(kerong.unlock_all_request(self.address)))
        await self.read_status(Priority.UNLOCK)

    async def set_pulse_time(self, millis: int) -> int:
        """Set the unlock pulse; returns what the board reports back, in ms."""
        reply = await self._ask(
            kerong.encode(kerong.pulse_time_request(self.address, millis)),
            kerong.reply_decoder(),
            lambda f: f.cmd == kerong.PULSE_TIME_REPLY and f.addr == self.address << 4,
            Priority.POLL,
        )
        return kerong.pulse_millis(reply)

    async def read_doors(self) -> dict[int, DoorState]:
        status = await self.read_status()
        return {
            ch: DoorState.CLOSED if status.locked(ch) else DoorState.OPEN
            for ch in range(1, self.channels + 1)
        }


class DipController(BoardController):
    """A DIP-addressed board; ``open_is_high`` says whether feedback ``11``/bit 1 means open."""

    LINE = dip.LINE

    @classmethod
    def from_spec(cls, spec: ControllerSpec, url: str, registry: BusRegistry) -> DipController:
        return cls(spec.controller_id, url, spec.address, spec.channels, spec.open_is_high,
                   registry)

    def __init__(self, controller_id: str, url: str, address: int = 1, channels: int = 16,
                 open_is_high: bool = True, registry: BusRegistry = buses) -> None:
        if not 0 <= address <= 0xFF or not 1 <= channels <= 32:
            raise ValueError("DIP boards have addresses 0..255 and at most 32 channels")
        super().__init__(controller_id, url, address, channels, registry)
        self.open_is_high = open_is_high

    def _state(self, high: bool) -> DoorState:
        return DoorState.OPEN if high == self.open_is_high else DoorState.CLOSED

    async def _single(self, request: dip.Frame, priority: Priority) -> dip.Frame:
        return await self._ask(
            dip.encode(request),
            dip.reply_decoder(request, self.channels),
            lambda f: f.board == request.board and f.channel == request.channel,
            priority,
        )

    async def unlock(self, channel: int) -> None:
        self._check_channel(channel)
        await self._single(dip.open_request(self.address, channel), Priority.UNLOCK)

    async def unlock_all(self) -> None:
        """The board's own open-all (every solenoid at once; the gateway staggers singles)."""
        await self._single(dip.open_all_request(self.address), Priority.UNLOCK)

    async def read_door(self, channel: int) -> DoorState:
        self._check_channel(channel)
        reply = await self._single(dip.query_request(self.address, channel), Priority.POLL)
        return self._state(reply.status == dip.ON)

    async def read_doors(self) -> dict[int, DoorState]:
        request = dip.query_all_request(self.address)
        reply = await self._ask(
            dip.encode(request),
            dip.reply_decoder(request, self.channels),
            lambda f: f.board == self.address,
            Priority.POLL,
        )
        bits = dip.feedback_bits(reply)
        return {ch: self._state(bool(bits >> (ch - 1) & 1)) for ch in range(1, self.channels + 1)}


async def kerong_bus_status(url: str, registry: BusRegistry = buses, quiet: float = 0.1
                            ) -> dict[int, kerong.LockStatus]:
    """Ask every Kerong board on the line at once (``02 F0 32 03 27``); status by address."""
    bus = await registry.acquire(url, kerong.LINE)
    try:
        frames = await bus.collect(
            kerong.encode(kerong.bus_status_request()),
            kerong.reply_decoder(),
            lambda f: f.cmd == kerong.BUS_STATUS_REPLY,
            quiet=quiet,
        )
    finally:
        await registry.release(url)
    return {f.board: kerong.parse_status(f) for f in frames}
