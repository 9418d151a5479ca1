"""What a board protocol declares about its wire: its codec functions and its line settings.

Each protocol module (``kerong``, ``dip``) builds one ``Codec`` and one ``LineSettings`` from its
own functions; the protocol registry (``berth.hardware.registry``) hands them to the bus, the
simulator and the capture tests, so none of them names a protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from berth.hardware.protocols.framing import StreamDecoder

F = TypeVar("F")


@dataclass(frozen=True)
class LineSettings:
    """The serial line a board speaks: the defaults a bus URL's options override."""

    baud: int
    bytesize: int = 8
    parity: str = "N"  # pyserial's letters: N, E, O
    stopbits: int = 1
    gap: float = 0.005  # seconds of silence left between two frames
    silence: float = 0.025  # a frame without a length ends after this much silence

    @property
    def bits_per_byte(self) -> int:
        """Start bit, data bits, parity bit, stop bits: the wire time of one byte in bits."""
        return 1 + self.bytesize + (self.parity != "N") + self.stopbits


@dataclass(frozen=True)
class Codec(Generic[F]):
    """Encode and decode one protocol's frames.

    ``reply_decoder(request, channels)`` cuts the replies to ``request`` out of a byte stream;
    protocols whose reply length does not depend on the request or the board ignore both.
    """

    encode: Callable[[F], bytes]
    decode: Callable[[bytes], F]  # exactly one frame of either direction
    request_decoder: Callable[[], StreamDecoder[F]]
    reply_decoder: Callable[[F | None, int], StreamDecoder[F]]
