"""The generic DIP-addressed lock board: ``HEADER BOARD ... BCC`` at 9600 8N1, BCC = XOR.

Requests are always 5 bytes: open ``8A BB CC 11`` and query ``80 BB CC 33`` (channel 1-based,
``00`` = every channel). Replies echo the request with a status byte ``11``/``00``, except the
query-all reply ``80 BB S1..Sn 33 BCC`` whose length follows the board's channel count (S1 holds the
highest channels, Sn channels 1-8). What ``11`` means (door open or closed) depends on the lock's
feedback wiring; the driver takes it as configuration, the codec only carries the bits.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial, reduce

from berth.hardware.protocols.codec import Codec, LineSettings
from berth.hardware.protocols.framing import (
    ChecksumError,
    EtxError,
    FieldError,
    HeaderError,
    Incomplete,
    LengthError,
    StreamDecoder,
    UnknownCommandError,
    decode_exactly,
)

OPEN = 0x8A
QUERY = 0x80
OPEN_CMD = 0x11
QUERY_CMD = 0x33
ON = 0x11
OFF = 0x00
ALL_CHANNELS = 0
HEADERS = bytes([OPEN, QUERY])
SINGLE_LENGTH = 5


@dataclass(frozen=True)
class Frame:
    """``header board body... bcc``: body is ``channel, cmd/status`` or ``S1..Sn, 33``."""

    header: int
    board: int
    body: bytes

    @property
    def channel(self) -> int:
        return self.body[0]

    @property
    def status(self) -> int:
        return self.body[-1]

    @property
    def is_query_all(self) -> bool:
        return self.header == QUERY and self.body == bytes([ALL_CHANNELS, QUERY_CMD])


def bcc(data: bytes) -> int:
    return reduce(lambda a, b: a ^ b, data, 0)


def encode(frame: Frame) -> bytes:
    if frame.header not in HEADERS:
        raise HeaderError(f"DIP header must be 0x8A or 0x80, not {frame.header:#04x}")
    if not 0 <= frame.board <= 0xFF or len(frame.body) < 2:
        raise FieldError("DIP frame needs a board byte and at least two body bytes")
    raw = bytes([frame.header, frame.board, *frame.body])
    return raw + bytes([bcc(raw)])


def bank_bytes(channels: int) -> int:
    """Status bytes in a query-all reply: one per 8 channels."""
    return max(1, (channels + 7) // 8)


def open_request(board: int, channel: int) -> Frame:
    return Frame(OPEN, board, bytes([channel, OPEN_CMD]))


def open_all_request(board: int) -> Frame:
    return open_request(board, ALL_CHANNELS)


def query_request(board: int, channel: int) -> Frame:
    return Frame(QUERY, board, bytes([channel, QUERY_CMD]))


def query_all_request(board: int) -> Frame:
    return query_request(board, ALL_CHANNELS)


def single_reply(request: Frame, on: bool) -> Frame:
    """The echo of an open or single query with the channel's feedback bit."""
    return Frame(request.header, request.board, bytes([request.channel, ON if on else OFF]))


def query_all_reply(board: int, bits: int, channels: int) -> Frame:
    """``80 BB S1..Sn 33``: ``bits`` bit 0 = channel 1."""
    return Frame(QUERY, board, bits.to_bytes(bank_bytes(channels), "big") + bytes([QUERY_CMD]))


def feedback_bits(frame: Frame) -> int:
    """The channel bits of a query-all reply (bit 0 = channel 1)."""
    return int.from_bytes(frame.body[:-1], "big")


def reply_length(request: Frame, channels: int) -> int:
    return bank_bytes(channels) + 4 if request.is_query_all else SINGLE_LENGTH


def _check_frame(buf: bytes, size: int) -> Frame:
    if bcc(buf[: size - 1]) != buf[size - 1]:
        raise ChecksumError(f"BCC {buf[size - 1]:#04x} != computed {bcc(buf[: size - 1]):#04x}")
    return Frame(buf[0], buf[1], bytes(buf[2 : size - 1]))


def _header(buf: bytes) -> None:
    if not buf:
        raise Incomplete
    if buf[0] not in HEADERS:
        raise HeaderError(f"DIP header must be 0x8A or 0x80, not {buf[0]:#04x}")


def parse_request(buf: bytes, final: bool) -> tuple[Frame, int]:
    """Requests: always 5 bytes, command ``11`` after ``8A`` and ``33`` after ``80``."""
    _header(buf)
    if len(buf) < SINGLE_LENGTH:
        raise Incomplete
    frame = _check_frame(buf, SINGLE_LENGTH)
    if frame.status != (OPEN_CMD if frame.header == OPEN else QUERY_CMD):
        raise UnknownCommandError(f"unknown DIP command {frame.status:#04x}")
    return frame, SINGLE_LENGTH


def parse_reply(request: Frame | None, channels: int, buf: bytes, final: bool) -> tuple[Frame, int]:
    """A reply to ``request``; without one, a frame ends when the line goes silent."""
    _header(buf)
    if request is not None:
        size = reply_length(request, channels)
    elif final:
        size = len(buf)
    else:
        raise Incomplete
    if len(buf) < size:
        raise Incomplete
    if size < SINGLE_LENGTH:
        raise LengthError(f"DIP frame of {size} bytes is shorter than 5")
    frame = _check_frame(buf, size)
    if request is not None and frame.header != request.header:
        raise HeaderError(f"reply header {frame.header:#04x} to a {request.header:#04x} request")
    if (request is not None and request.is_query_all) or size > SINGLE_LENGTH:
        if frame.status != QUERY_CMD:
            raise EtxError(f"query-all reply must end with 0x33, not {frame.status:#04x}")
    elif frame.status not in (ON, OFF):
        raise FieldError(f"DIP status byte must be 0x11 or 0x00, not {frame.status:#04x}")
    return frame, size


def _parse_any(buf: bytes, final: bool) -> tuple[Frame, int]:
    _header(buf)
    if len(buf) < SINGLE_LENGTH:
        raise Incomplete
    return _check_frame(buf, len(buf)), len(buf)


def decode(raw: bytes) -> Frame:
    """Exactly one frame of either direction, its length taken from ``raw``."""
    return decode_exactly(_parse_any, raw)


def request_decoder() -> StreamDecoder[Frame]:
    return StreamDecoder(parse_request, HEADERS)


def reply_decoder(request: Frame | None, channels: int) -> StreamDecoder[Frame]:
    """Replies to ``request`` on a board of ``channels`` channels (the length depends on both)."""
    return StreamDecoder(partial(parse_reply, request, channels), HEADERS)


CODEC: Codec[Frame] = Codec(encode, decode, request_decoder, reply_decoder)
LINE = LineSettings(baud=9600)
