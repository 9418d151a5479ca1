"""Generic DIP-addressed board codec: the reference's byte examples, errors, properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from berth.hardware.protocols import dip
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
        (dip.open_request(1, 1), "8A 01 01 11 9B"),
        (dip.query_request(1, 1), "80 01 01 33 B3"),
        (dip.query_all_request(1), "80 01 00 33 B2"),
        (dip.single_reply(dip.query_request(1, 1), True), "80 01 01 11 91"),
        (dip.single_reply(dip.query_request(1, 1), False), "80 01 01 00 80"),
        (dip.open_all_request(1), "8A 01 00 11 9A"),
    ],
)
def test_reference_examples_encode_and_decode(frame: dip.Frame, wire: str) -> None:
    raw = bytes.fromhex(wire)
    assert dip.encode(frame) == raw
    assert dip.decode(raw) == frame


def test_query_all_reply_length_follows_channel_count_and_bit_order() -> None:
    # 32 channels: 80 BB S1 S2 S3 S4 33 BCC, S4 = channels 1-8
    reply = dip.query_all_reply(1, (1 << 0) | (1 << 31), 32)
    raw = dip.encode(reply)
    assert raw[:7] == bytes.fromhex("80 01 80 00 00 01 33") and len(raw) == 8
    assert raw[-1] == 0x80 ^ 0x01 ^ 0x80 ^ 0x01 ^ 0x33
    assert dip.reply_length(dip.query_all_request(1), 32) == 8
    assert dip.reply_length(dip.query_all_request(1), 8) == 5
    assert dip.reply_length(dip.query_all_request(1), 24) == 7
    assert dip.reply_length(dip.open_request(1, 3), 24) == 5
    decoded = dip.reply_decoder(dip.query_all_request(1), 32).feed(raw)
    assert dip.feedback_bits(decoded[0]) == (1 << 0) | (1 << 31)


def test_an_open_reply_echoes_the_request_with_a_status_byte() -> None:
    request = dip.open_request(1, 1)
    decoder = dip.reply_decoder(request, 16)
    assert decoder.feed(bytes.fromhex("8A 01 01 11 9B")) == [dip.single_reply(request, True)]
    assert decoder.feed(bytes.fromhex("8A 01 01 00 8A")) == [dip.single_reply(request, False)]


@pytest.mark.parametrize(
    ("wire", "error"),
    [
        ("8A 01 01 11 9C", ChecksumError),
        ("8A 01 01", LengthError),
        ("81 01 01 11 91", HeaderError),
    ],
)
def test_malformed_frames_raise_a_specific_error(wire: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        dip.decode(bytes.fromhex(wire))


@pytest.mark.parametrize(
    ("parse", "wire", "error"),
    [
        (dip.parse_request, "8A 01 01 33 B9", UnknownCommandError),
        (dip.parse_request, "80 01 01 11 91", UnknownCommandError),
        (lambda b, f: dip.parse_reply(dip.query_request(1, 1), 16, b, f), "80 01 01 22 A2",
         FieldError),
        (lambda b, f: dip.parse_reply(dip.query_all_request(1), 16, b, f), "80 01 00 00 44 C5",
         EtxError),
        (lambda b, f: dip.parse_reply(dip.query_request(1, 1), 16, b, f), "8A 01 01 11 9B",
         HeaderError),
    ],
)
def test_directional_parsers_reject_unknown_commands_and_bad_trailers(parse, wire, error) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error):
        parse(bytes.fromhex(wire), True)


def test_without_a_request_a_reply_ends_on_silence() -> None:
    decoder = dip.reply_decoder(None, 0)
    raw = dip.encode(dip.query_all_reply(7, 0b101, 24))
    assert decoder.feed(raw) == []
    assert decoder.end_of_frame() == [dip.decode(raw)]


boards = st.integers(1, 99)
channels = st.integers(0, 32)
requests = st.one_of(st.builds(dip.open_request, boards, channels),
                     st.builds(dip.query_request, boards, channels))
bank = st.sampled_from([8, 16, 24, 32])


@given(st.one_of(requests, st.builds(dip.single_reply, requests, st.booleans()),
                 st.builds(dip.query_all_reply, boards, st.integers(0, 2**32 - 1), st.just(32))))
def test_decode_encode_round_trip(frame: dip.Frame) -> None:
    assert dip.decode(dip.encode(frame)) == frame


@settings(max_examples=500)
@given(requests, st.integers(0, 4), st.integers(0, 255))
def test_a_corrupted_request_is_detected(frame: dip.Frame, index: int, value: int) -> None:
    raw = bytearray(dip.encode(frame))
    if raw[index] == value:
        return
    raw[index] = value
    decoder = dip.request_decoder()
    assert decoder.feed(bytes(raw)) + decoder.end_of_frame() == []


@settings(max_examples=500)
@given(requests, bank, st.integers(0, 2**32 - 1), st.booleans(), st.integers(0, 7),
       st.integers(0, 255))
def test_a_corrupted_reply_is_detected(request: dip.Frame, size: int, bits: int, on: bool,
                                       index: int, value: int) -> None:
    if request.is_query_all:
        reply = dip.query_all_reply(request.board, bits % (1 << size), size)
    else:
        reply = dip.single_reply(request, on)
    raw = bytearray(dip.encode(reply))
    assert dip.reply_decoder(request, size).feed(bytes(raw)) == [reply]
    index %= len(raw)
    if raw[index] == value:
        return
    raw[index] = value
    decoder = dip.reply_decoder(request, size)
    assert decoder.feed(bytes(raw)) + decoder.end_of_frame() == []


@given(st.binary(max_size=30), requests)
def test_decoder_resynchronises_after_garbage_and_silence(garbage: bytes, frame: dip.Frame) -> None:
    decoder = dip.request_decoder()
    decoder.feed(garbage)
    decoder.end_of_frame()
    assert decoder.feed(dip.encode(frame)) == [frame]


@given(st.binary(max_size=30).filter(lambda b: not set(b) & set(dip.HEADERS)), requests)
def test_garbage_before_a_frame_is_skipped(garbage: bytes, frame: dip.Frame) -> None:
    assert dip.request_decoder().feed(garbage + dip.encode(frame)) == [frame]


def test_documented_examples() -> None:
    wire = dip.encode(dip.query_all_reply(1, (1 << 0) | (1 << 31), 32))
    assert wire == bytes.fromhex("80 01 80 00 00 01 33 33")
    assert dip.encode(dip.single_reply(dip.open_request(1, 1), False)) == bytes.fromhex(
        "8A 01 01 00 8A")
