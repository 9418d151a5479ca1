"""Kerong KR-CU16/CU12 codec: the reference's byte examples, malformed frames, properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from berth.hardware.protocols import kerong
from berth.hardware.protocols.framing import (
    ChecksumError,
    EtxError,
    FieldError,
    HeaderError,
    LengthError,
    UnknownCommandError,
)


@pytest.mark.parametrize(
    ("frame", "wire"),
    [
        (kerong.status_request(0), "02 00 30 03 35"),
        (kerong.unlock_request(0, 1), "02 00 31 03 36"),
        (kerong.unlock_request(1, 5), "02 14 31 03 4A"),
        (kerong.bus_status_request(), "02 F0 32 03 27"),
    ],
)
def test_reference_examples_encode_and_decode(frame: kerong.Frame, wire: str) -> None:
    raw = bytes.fromhex(wire)
    assert kerong.encode(frame) == raw
    assert kerong.decode(raw) == frame


def test_address_nibbles_carry_board_and_lock() -> None:
    frame = kerong.decode(bytes.fromhex("02 14 31 03 4A"))
    assert (frame.board, frame.lock) == (1, 5)


def test_status_reply_hook_and_ir_bits() -> None:
    # board 2: locks 1 and 9 open (hook 0), item in lock 3 and lock 16
    hooks = 0xFFFF & ~(1 << 0) & ~(1 << 8)
    raw = kerong.encode(kerong.status_reply(2, hooks, (1 << 2) | (1 << 15)))
    assert raw[:3] == bytes([0x02, 0x20, 0x35]) and raw[3:7] == bytes([0xFE, 0xFE, 0x04, 0x80])
    assert raw[-1] == sum(raw[:-1]) & 0xFF
    status = kerong.parse_status(kerong.decode(raw))
    assert not status.locked(1) and not status.locked(9) and status.locked(2)
    assert status.item_present(3) and status.item_present(16) and not status.item_present(1)


def test_pulse_time_round_trip_in_10ms_units() -> None:
    raw = kerong.encode(kerong.pulse_time_request(3, 500))
    assert raw == bytes([0x02, 0x30, 0x37, 0x00, 0x32, 0x03, (0x02 + 0x30 + 0x37 + 0x32 + 0x03)])
    assert kerong.pulse_millis(kerong.decode(raw)) == 500
    assert kerong.decode(kerong.encode(kerong.pulse_time_reply(3, 500))).cmd == 0x38


@pytest.mark.parametrize(
    ("wire", "error"),
    [
        ("02 00 30 03 36", ChecksumError),
        ("02 00 30 04 39", EtxError),
        ("02 00 3A 03 3F", UnknownCommandError),
        ("02 00 30 03", LengthError),
        ("02 00 30 03 35 00", LengthError),
        ("05 00 30 03 38", HeaderError),
        ("02 05 30 03 3A", FieldError),  # a board command with a lock nibble
        ("02 00 32 03 37", FieldError),  # bus status not sent to 0xF0
    ],
)
def test_malformed_frames_raise_a_specific_error(wire: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        kerong.decode(bytes.fromhex(wire))


def test_stream_decoder_resynchronises_on_garbage_and_split_frames() -> None:
    decoder = kerong.reply_decoder()
    reply = kerong.encode(kerong.status_reply(1, 0xFFFF, 0))
    assert decoder.feed(b"\xff\x02\x99" + reply[:4]) == []
    assert decoder.feed(reply[4:] + b"\x00\x02\x10\x35") == [kerong.decode(reply)]
    assert decoder.errors  # the bogus 02 99 start was reported, not raised
    assert decoder.end_of_frame() == [] and not decoder.pending


def test_directional_decoders_only_accept_their_direction() -> None:
    request = kerong.encode(kerong.status_request(0))
    reply = kerong.encode(kerong.status_reply(0, 0, 0))
    assert kerong.reply_decoder().feed(request) == []
    assert kerong.request_decoder().feed(reply) == []


boards = st.integers(0, 15)
locks = st.integers(1, 16)
words = st.integers(0, 0xFFFF)
requests = st.one_of(
    st.builds(kerong.status_request, boards),
    st.builds(kerong.unlock_request, boards, locks),
    st.builds(kerong.unlock_all_request, boards),
    st.just(kerong.bus_status_request()),
    st.builds(kerong.pulse_time_request, boards, st.integers(0, 65535).map(lambda u: u * 10)),
)
replies = st.one_of(
    st.builds(kerong.status_reply, boards, words, words, bus=st.booleans()),
    st.builds(kerong.pulse_time_reply, boards, st.integers(0, 65535).map(lambda u: u * 10)),
)


@given(st.one_of(requests, replies))
def test_decode_encode_round_trip(frame: kerong.Frame) -> None:
    assert kerong.decode(kerong.encode(frame)) == frame


def _corrupted_is_never_another_frame(frame: kerong.Frame, decoder, index: int, value: int) -> None:  # type: ignore[no-untyped-def]
    raw = bytearray(kerong.encode(frame))
    index %= len(raw)
    if raw[index] == value:
        return
    raw[index] = value
    seen = decoder.feed(bytes(raw)) + decoder.end_of_frame()
    assert seen == [], f"{bytes(raw).hex(' ')} read as {seen}"


@settings(max_examples=500)
@given(requests, st.integers(0, 20), st.integers(0, 255))
def test_a_corrupted_request_is_detected(frame: kerong.Frame, index: int, value: int) -> None:
    _corrupted_is_never_another_frame(frame, kerong.request_decoder(), index, value)


@settings(max_examples=500)
@given(replies, st.integers(0, 20), st.integers(0, 255))
def test_a_corrupted_reply_is_detected(frame: kerong.Frame, index: int, value: int) -> None:
    _corrupted_is_never_another_frame(frame, kerong.reply_decoder(), index, value)


@given(st.binary(max_size=30).filter(lambda b: kerong.STX not in b), replies)
def test_garbage_before_a_frame_is_skipped(garbage: bytes, frame: kerong.Frame) -> None:
    assert kerong.reply_decoder().feed(garbage + kerong.encode(frame)) == [frame]


@given(st.binary(max_size=30), replies)
def test_decoder_resynchronises_after_any_garbage_and_silence(
    garbage: bytes, frame: kerong.Frame
) -> None:
    decoder = kerong.reply_decoder()
    decoder.feed(garbage)
    decoder.end_of_frame()
    assert decoder.feed(kerong.encode(frame)) == [frame]


@pytest.mark.parametrize(
    ("frame", "wire"),
    [
        (kerong.unlock_all_request(0), "02 00 33 03 38"),
        (kerong.pulse_time_request(3, 500), "02 30 37 00 32 03 9E"),
        (kerong.status_reply(2, 0xFEFE, 0x8004), "02 20 35 FE FE 04 80 03 DA"),
    ],
)
def test_documented_examples(frame: kerong.Frame, wire: str) -> None:
    assert kerong.encode(frame) == bytes.fromhex(wire)
