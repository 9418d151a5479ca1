"""What both board protocols share: the malformed-frame errors and a resynchronising stream decoder.

Neither protocol escapes its start bytes, so a decoder that meets garbage can only resynchronise by
trying the next start byte; a protocol's ``parse`` decides whether the bytes there form a frame.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

F = TypeVar("F")


class FrameError(ValueError):
    """Bytes that cannot be a frame of the protocol (base of every malformed-frame error)."""


class HeaderError(FrameError):
    """The frame does not start with the protocol's start byte."""


class ChecksumError(FrameError):
    """The checksum byte does not match the frame's bytes."""


class LengthError(FrameError):
    """The frame is shorter or longer than its command allows."""


class EtxError(FrameError):
    """The byte that must close the frame (ETX, or the query-all trailer) is wrong."""


class UnknownCommandError(FrameError):
    """The command byte is not one the protocol defines in this direction."""


class FieldError(FrameError):
    """A field holds a value its command does not allow (e.g. a lock index on a board command)."""


class Incomplete(Exception):
    """More bytes are needed before a frame can be judged."""


Parse = Callable[[bytes, bool], tuple[F, int]]


class StreamDecoder(Generic[F]):
    """Cuts a byte stream into frames, skipping garbage and malformed frames.

    ``parse(buffer, final)`` reads one frame at the start of ``buffer`` and returns it with its
    length, raises ``Incomplete`` when it needs more bytes, or a ``FrameError``. ``final`` is true
    once the line has gone silent, so a protocol without a length field may end the frame there.
    Malformed frames are kept in ``errors`` for diagnostics; nothing is ever raised from ``feed``.
    """

    def __init__(self, parse: Parse[F], start_bytes: bytes) -> None:
        self._parse = parse
        self._starts = frozenset(start_bytes)
        self._buffer = bytearray()
        self.errors: list[FrameError] = []
        self.discarded = 0

    @property
    def pending(self) -> bool:
        """Whether bytes are waiting for the rest of their frame."""
        return bool(self._buffer)

    def feed(self, data: bytes) -> list[F]:
        self._buffer += data
        return self._drain(final=False)

    def end_of_frame(self) -> list[F]:
        """The line went silent: finish what can be finished and drop the rest."""
        frames = self._drain(final=True)
        if self._buffer:
            self.discarded += len(self._buffer)
            self._buffer.clear()
        return frames

    def _drain(self, final: bool) -> list[F]:
        frames: list[F] = []
        while self._buffer:
            start = next((i for i, b in enumerate(self._buffer) if b in self._starts), None)
            if start is None:
                self.discarded += len(self._buffer)
                self._buffer.clear()
                break
            if start:
                self.discarded += start
                del self._buffer[:start]
            try:
                frame, size = self._parse(bytes(self._buffer), final)
            except Incomplete:
                if not final:
                    break
                self.errors.append(LengthError(f"truncated frame {self._buffer.hex(' ')}"))
                self._skip_one()
                continue
            except FrameError as exc:
                self.errors.append(exc)
                self._skip_one()
                continue
            frames.append(frame)
            del self._buffer[:size]
        return frames

    def _skip_one(self) -> None:
        self.discarded += 1
        del self._buffer[:1]


def decode_exactly(parse: Parse[F], raw: bytes) -> F:
    """Decode ``raw`` as exactly one frame, raising the ``FrameError`` that says what is wrong."""
    try:
        frame, size = parse(bytes(raw), True)
    except Incomplete as exc:
        raise LengthError(f"frame too short: {bytes(raw).hex(' ')}") from exc
    if size != len(raw):
        raise LengthError(f"{len(raw) - size} trailing byte(s) after the frame")
    return frame
