"""Kerong KR-CU16 / CU12 protocol: ``STX ADDR CMD [DATA] ETX SUM`` at 19200 8N1.

ADDR carries the board (high nibble) and, for single-lock commands, the lock index (low nibble,
lock number - 1). SUM is the low byte of the sum of every preceding byte, STX and ETX included.
The frame has no length field: each command has a fixed data length, and a decoder only accepts the
commands of one direction (requests on the board side, replies on the driver side), which is what
keeps a corrupted frame from being read as another one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from berth.hardware.protocols.codec import Codec, LineSettings
from berth.hardware.protocols.framing import (
    ChecksumError,
    EtxError,
    FieldError,
    HeaderError,
    Incomplete,
    StreamDecoder,
    UnknownCommandError,
    decode_exactly,
)

STX = 0x02
ETX = 0x03
BUS_ADDR = 0xF0

STATUS = 0x30
UNLOCK = 0x31
BUS_STATUS = 0x32
UNLOCK_ALL = 0x33
PULSE_TIME = 0x37
STATUS_REPLY = 0x35
BUS_STATUS_REPLY = 0x36
PULSE_TIME_REPLY = 0x38

MAX_BOARDS = 16
MAX_LOCKS = 16

#: Data bytes of each command, by direction.
REQUEST_DATA = {STATUS: 0, UNLOCK: 0, BUS_STATUS: 0, UNLOCK_ALL: 0, PULSE_TIME: 2}
REPLY_DATA = {STATUS_REPLY: 4, BUS_STATUS_REPLY: 4, PULSE_TIME_REPLY: 2}
ALL_DATA = REQUEST_DATA | REPLY_DATA


@dataclass(frozen=True)
class Frame:
    addr: int
    cmd: int
    data: bytes = b""

    @property
    def board(self) -> int:
        return self.addr >> 4

    @property
    def lock(self) -> int:
        """Lock number (1-based) of a single-lock command."""
        return (self.addr & 0x0F) + 1


@dataclass(frozen=True)
class LockStatus:
    """A board's status reply: hook bit 1 = closed and locked; IR bit 1 = item present."""

    board: int
    hooks: int  # bit 0 = lock 1 ... bit 15 = lock 16
    items: int

    def locked(self, lock: int) -> bool:
        return bool(self.hooks >> (lock - 1) & 1)

    def item_present(self, lock: int) -> bool:
        return bool(self.items >> (lock - 1) & 1)


def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def encode(frame: Frame) -> bytes:
    _validate(frame)
    body = bytes([STX, frame.addr, frame.cmd, *frame.data, ETX])
    return body + bytes([checksum(body)])


def _board_addr(board: int) -> int:
    if not 0 <= board < MAX_BOARDS:
        raise ValueError(f"Kerong board address must be 0..15, got {board}")
    return board << 4


def status_request(board: int) -> Frame:
    return Frame(_board_addr(board), STATUS)


def unlock_request(board: int, lock: int) -> Frame:
    if not 1 <= lock <= MAX_LOCKS:
        raise ValueError(f"Kerong lock number must be 1..16, got {lock}")
    return Frame(_board_addr(board) | (lock - 1), UNLOCK)


def unlock_all_request(board: int) -> Frame:
    return Frame(_board_addr(board), UNLOCK_ALL)


def bus_status_request() -> Frame:
    return Frame(BUS_ADDR, BUS_STATUS)


def pulse_time_request(board: int, millis: int) -> Frame:
    """Set the unlock pulse; 2 data bytes, big-endian, in 10 ms units."""
    return Frame(_board_addr(board), PULSE_TIME, _pulse_bytes(millis))


def pulse_time_reply(board: int, millis: int) -> Frame:
    return Frame(_board_addr(board), PULSE_TIME_REPLY, _pulse_bytes(millis))


def _pulse_bytes(millis: int) -> bytes:
    units = millis // 10
    if not 0 <= units <= 0xFFFF:
        raise ValueError(f"pulse time out of range: {millis} ms")
    return units.to_bytes(2, "big")


def pulse_millis(frame: Frame) -> int:
    return int.from_bytes(frame.data, "big") * 10


def status_reply(board: int, hooks: int, items: int, *, bus: bool = False) -> Frame:
    """``02 ADDR 35 H1 H2 IR1 IR2 03 SUM`` (``36`` in answer to a bus-wide query)."""
    data = bytes([hooks & 0xFF, hooks >> 8 & 0xFF, items & 0xFF, items >> 8 & 0xFF])
    return Frame(_board_addr(board), BUS_STATUS_REPLY if bus else STATUS_REPLY, data)


def parse_status(frame: Frame) -> LockStatus:
    if frame.cmd not in (STATUS_REPLY, BUS_STATUS_REPLY):
        raise UnknownCommandError(f"not a status reply: command {frame.cmd:#04x}")
    h1, h2, ir1, ir2 = frame.data
    return LockStatus(frame.board, h1 | h2 << 8, ir1 | ir2 << 8)


def _validate(frame: Frame) -> None:
    expected = ALL_DATA.get(frame.cmd)
    if expected is None:
        raise UnknownCommandError(f"unknown Kerong command {frame.cmd:#04x}")
    if len(frame.data) != expected:
        raise FieldError(f"command {frame.cmd:#04x} carries {expected} data bytes")
    if not 0 <= frame.addr <= 0xFF:
        raise FieldError(f"address {frame.addr} is not a byte")
    if frame.cmd == BUS_STATUS:
        if frame.addr != BUS_ADDR:
            raise FieldError(f"bus status must go to address 0xF0, not {frame.addr:#04x}")
    elif frame.cmd != UNLOCK and frame.addr & 0x0F:
        raise FieldError(f"command {frame.cmd:#04x} addresses a board, not lock {frame.lock}")


def _parse(table: dict[int, int], buf: bytes, final: bool) -> tuple[Frame, int]:
    if not buf:
        raise Incomplete
    if buf[0] != STX:
        raise HeaderError(f"expected STX 0x02, got {buf[0]:#04x}")
    if len(buf) < 3:
        raise Incomplete
    cmd = buf[2]
    size = table.get(cmd)
    if size is None:
        raise UnknownCommandError(f"unknown Kerong command {cmd:#04x}")
    total = size + 5
    if len(buf) < total:
        raise Incomplete
    if buf[total - 2] != ETX:
        raise EtxError(f"expected ETX 0x03 at byte {total - 2}, got {buf[total - 2]:#04x}")
    if checksum(buf[: total - 1]) != buf[total - 1]:
        raise ChecksumError(
            f"checksum {buf[total - 1]:#04x} != computed {checksum(buf[: total - 1]):#04x}"
        )
    frame = Frame(buf[1], cmd, bytes(buf[3 : 3 + size]))
    _validate(frame)
    return frame, total


parse_request = partial(_parse, REQUEST_DATA)
parse_reply = partial(_parse, REPLY_DATA)
parse_any = partial(_parse, ALL_DATA)


def decode(raw: bytes) -> Frame:
    """Exactly one frame of either direction; raises the ``FrameError`` that says what is wrong."""
    return decode_exactly(parse_any, raw)


def request_decoder() -> StreamDecoder[Frame]:
    """What a board hears: requests only."""
    return StreamDecoder(parse_request, bytes([STX]))


def reply_decoder() -> StreamDecoder[Frame]:
    """What the driver hears: replies only."""
    return StreamDecoder(parse_reply, bytes([STX]))


CODEC: Codec[Frame] = Codec(encode, decode, request_decoder, lambda _request, _channels:
                            reply_decoder())
LINE = LineSettings(baud=19200)
