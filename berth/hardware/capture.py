"""Byte captures of a board: what the host wrote, what the board answered, step by step.

A capture is a plain text file (``tests/hardware/captures/<protocol>/<scenario>.txt``)::

    # Kerong KR-CU16, board 0: open lock 5 and read the doors back
    protocol kerong
    address 0
    channels 16
    source simulator
    fault jam channel=3

    step unlock 5 -> ok
    > 02 04 31 03 3a
    > 02 00 30 03 35
    < 02 00 35 ef ff 00 00 03 28
    = Frame(addr=00, cmd=35, data=ef ff 00 00)

``step ACTION -> OUTCOME`` is one controller call and what it returned, ``>`` the bytes the host
wrote, ``<`` the bytes the board answered to them (several ``<`` lines join up), ``=`` the frames
the codec reads in those bytes; ``#`` lines are comments. ``record`` writes one through the real
transport, from a real board or from the simulator; ``ReplayTransport`` serves one back to a
controller. docs/hardware.md says how to contribute one.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from berth.hardware import registry
from berth.hardware.bus import BusRegistry
from berth.hardware.driver import CommunicationError, DoorState, HardwareFault, LockController
from berth.hardware.simulator import SimulatedBus
from berth.hardware.spec import ControllerSpec
from berth.hardware.transports import Transport

ACTIONS = ("unlock N", "unlock_all", "read_doors", "read_door N", "read_status",
           "set_pulse_time MS")


class CaptureError(ValueError):
    """A capture file that cannot be read; the message names the line."""


@dataclass
class Exchange:
    """Bytes the host wrote and the bytes the board answered before the next write."""

    host: bytes
    board: bytes = b""
    frames: list[str] = field(default_factory=list)  # ``describe`` of each frame in ``board``


@dataclass
class Step:
    action: str
    outcome: str = ""
    exchanges: list[Exchange] = field(default_factory=list)


@dataclass
class Capture:
    protocol: str
    address: int
    channels: int
    open_is_high: bool = True
    source: str = "simulator"
    faults: list[str] = field(default_factory=list)  # ``NAME [channel=N] [value=V]``
    notes: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)

    def spec(self, url: str) -> ControllerSpec:
        return ControllerSpec(f"{self.protocol}-{self.address}", self.protocol, url,
                              self.address, self.channels, self.open_is_high)

    def fault_args(self) -> list[tuple[str, int | None, float | None]]:
        """Each fault as ``(name, channel, value)``, what ``SimBoard.inject`` takes."""
        parsed = []
        for fault in self.faults:
            name, *options = fault.split()
            kv = dict(o.split("=", 1) for o in options)
            parsed.append((name, int(kv["channel"]) if "channel" in kv else None,
                           float(kv["value"]) if "value" in kv else None))
        return parsed

    @property
    def host_bytes(self) -> list[bytes]:
        return [ex.host for step in self.steps for ex in step.exchanges]


def _hex(data: bytes) -> str:
    return data.hex(" ")


def dumps(capture: Capture) -> str:
    lines = [f"# {note}" if note else "#" for note in capture.notes]
    lines += [f"protocol {capture.protocol}", f"address {capture.address}",
              f"channels {capture.channels}"]
    if not capture.open_is_high:
        lines.append("open_is_high false")
    lines.append(f"source {capture.source}")
    lines += [f"fault {fault}" for fault in capture.faults]
    for step in capture.steps:
        lines += ["", f"step {step.action} -> {step.outcome}"]
        for ex in step.exchanges:
            lines.append(f"> {_hex(ex.host)}")
            if ex.board:
                lines.append(f"< {_hex(ex.board)}")
            lines += [f"= {frame}" for frame in ex.frames]
    return "\n".join(lines) + "\n"


def loads(text: str) -> Capture:
    header: dict[str, str] = {}
    notes: list[str] = []
    faults: list[str] = []
    steps: list[Step] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or (line.startswith("#") and steps):
            continue
        key, _, rest = line.partition(" ")
        try:
            if key == "#":
                notes.append(rest)
            elif line.startswith("#"):
                notes.append(line[1:].strip())
            elif key == "step":
                action, arrow, outcome = rest.partition(" -> ")
                if not arrow:
                    raise CaptureError("a step reads: step ACTION -> OUTCOME")
                steps.append(Step(action.strip(), outcome.strip()))
            elif key == ">":
                steps[-1].exchanges.append(Exchange(bytes.fromhex(rest)))
            elif key == "<":
                steps[-1].exchanges[-1].board += bytes.fromhex(rest)
            elif key == "=":
                steps[-1].exchanges[-1].frames.append(rest)
            elif key == "fault":
                faults.append(rest)
            elif key in ("protocol", "address", "channels", "open_is_high", "source"):
                header[key] = rest
            else:
                raise CaptureError(f"unknown line {key!r}")
        except IndexError:
            raise CaptureError(f"line {number}: bytes before a step or a '>' line") from None
        except ValueError as exc:
            raise CaptureError(f"line {number}: {exc}") from None
    missing = {"protocol", "address", "channels"} - set(header)
    if missing:
        raise CaptureError(f"missing {', '.join(sorted(missing))}")
    return Capture(header["protocol"], int(header["address"]), int(header["channels"]),
                   header.get("open_is_high", "true") == "true",
                   header.get("source", "simulator"), faults, notes, steps)


# -- running steps ---------------------------------------------------------------------------

async def perform(controller: LockController, action: str) -> str:
    """Run one capture action on ``controller``; what it returned, as the capture writes it."""
    name, *args = action.split()
    numbers = [int(a) for a in args]
    try:
        if name in ("unlock", "unlock_all", "set_pulse_time"):
            method = controller.unlock if name == "unlock" else getattr(controller, name)
            result = await method(*numbers)
            return "ok" if result is None else str(result)
        if name == "read_doors":
            doors = await controller.read_doors()
            opened = [str(ch) for ch, state in doors.items() if state is DoorState.OPEN]
            return "open " + (",".join(opened) or "none")
        if name == "read_door":
            return str((await controller.read_door(*numbers)).value)
        if name == "read_status":
            status = await controller.read_status()  # type: ignore[attr-defined]
            return f"hooks {status.hooks:04x} items {status.items:04x}"
    except CommunicationError as exc:
        return f"error {type(exc).__name__}"
    except HardwareFault as exc:
        return f"fault {exc.code}"
    except AttributeError:
        raise CaptureError(f"{action!r}: this board has no such command") from None
    raise CaptureError(f"unknown action {action!r} (one of {', '.join(ACTIONS)})")


def _frames(capture: Capture, exchange: Exchange) -> list[str]:
    """The frames the protocol's reply decoder reads in the board's answer to ``exchange``."""
    codec = registry.get(capture.protocol).codec
    try:
        request = codec.decode(exchange.host)
    except ValueError:
        request = None
    decoder = codec.reply_decoder(request, capture.channels)
    return [describe(f) for f in [*decoder.feed(exchange.board), *decoder.end_of_frame()]]


def describe(frame: Any) -> str:
    """A decoded frame in hex, field by field: ``Frame(addr=00, cmd=35, data=ef ff 00 00)``."""
    parts = []
    for f in dataclasses.fields(frame):
        value = getattr(frame, f.name)
        parts.append(f"{f.name}={value:02x}" if isinstance(value, int) else
                     f"{f.name}={value.hex(' ')}" if isinstance(value, bytes) else
                     f"{f.name}={value!r}")
    return f"{type(frame).__name__}({', '.join(parts)})"


async def record(capture: Capture, url: str, actions: list[str],
                 buses: BusRegistry | None = None) -> Capture:
    """Run ``actions`` on the board ``capture`` describes at ``url``, tapping its transport."""
    protocol = registry.get(capture.protocol)
    controller = protocol.controller(capture.spec(url), url, buses or BusRegistry())
    await controller.start()
    try:
        transport: Transport = controller.bus.transport  # type: ignore[attr-defined]
        for action in actions:
            step = Step(action)
            capture.steps.append(step)

            def tap(direction: str, data: bytes, step: Step = step) -> None:
                if direction == ">":
                    step.exchanges.append(Exchange(data))
                elif step.exchanges:  # bytes before our first write are not an answer
                    step.exchanges[-1].board += data

            transport.tap = tap
            step.outcome = await perform(controller, action)
            transport.tap = None
            for ex in step.exchanges:
                ex.frames = _frames(capture, ex)
    finally:
        await controller.aclose()
    return capture


async def record_simulated(capture: Capture, actions: list[str], timeout: float = 2.0
                           ) -> Capture:
    """``record`` against our simulator: one board at the capture's address, its faults set,
    doors that stay open, on a real pseudo-terminal."""
    async with SimulatedBus.start(protocol=capture.protocol, first_address=capture.address,
                                  channels=capture.channels, close_after=None,
                                  open_is_high=capture.open_is_high) as sim:
        for name, channel, value in capture.fault_args():
            sim.inject(name, capture.address, channel, value)
        return await record(capture, f"{sim.url}&timeout={timeout:g}", actions)


# -- replaying -------------------------------------------------------------------------------

class _ReplayWriter:
    """The write side of a replayed line: answers each expected write with its recorded reply."""

    def __init__(self, replay: ReplayTransport, reader: asyncio.StreamReader) -> None:
        self._replay = replay
        self._reader = reader

    def write(self, data: bytes) -> None:
        self._replay.written.append(data)
        expected = self._replay.expected
        if expected and expected[0].host == data:
            reply = expected.popleft().board
            if reply:
                self._reader.feed_data(reply)
        else:  # off the record: the board stays silent
            expected.clear()

    async def drain(self) -> None:
        await asyncio.sleep(0)

    def close(self) -> None:
        self._reader.feed_eof()


class ReplayTransport(Transport):
    """A line whose board is a capture: each write that matches the next recorded host bytes
    gets the recorded answer; after a write off the record, nothing answers any more."""

    def __init__(self, url: str, capture: Capture) -> None:
        super().__init__(url)
        self.expected: deque[Exchange] = deque(
            ex for step in capture.steps for ex in step.exchanges)
        self.written: list[bytes] = []

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader = asyncio.StreamReader()
        return reader, _ReplayWriter(self, reader)  # type: ignore[return-value]


@contextlib.asynccontextmanager
async def replaying(capture: Capture, timeout: float = 1.0
                    ) -> AsyncIterator[tuple[LockController, ReplayTransport]]:
    """A started controller for the capture's board whose line replays the capture."""
    transports: list[ReplayTransport] = []

    def opener(url: str, _line: Any) -> Transport:
        transports.append(ReplayTransport(url, capture))
        return transports[-1]

    url = f"tcp://replay:1?timeout={timeout:g}"
    controller = registry.get(capture.protocol).controller(capture.spec(url), url,
                                                           BusRegistry(opener))
    await controller.start()
    try:
        yield controller, transports[0]
    finally:
        await controller.aclose()
