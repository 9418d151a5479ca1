"""Recorded byte captures (tests/hardware/captures/<protocol>/<scenario>.txt) make the protocol
tests: the codec reads them, the controller replays them byte for byte, the simulated board
answers them, and the simulator's own captures are still what it records today."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from typer.testing import CliRunner

from berth.cli.main import app
from berth.hardware import capture, registry
from berth.hardware.boardsim.model import SimBoard
from berth.hardware.simulator import SimulatedBus
from tests.hardware.sim_helpers import run
from tests.support.record_captures import CAPTURES, rerecorded, simulator_captures

FILES = sorted(CAPTURES.glob("*/*.txt"))
IDS = [f"{p.parent.name}/{p.stem}" for p in FILES]


def load(path: Path) -> capture.Capture:
    return capture.loads(path.read_text(encoding="utf-8"))


def test_every_registered_protocol_has_captures() -> None:
    assert {p.parent.name for p in FILES} >= set(registry.names())
    for path in FILES:
        assert load(path).protocol == path.parent.name


def splits(data: bytes) -> list[list[bytes]]:
    """The reply whole, byte by byte, and cut once at every position."""
    return [[data], [data[i:i + 1] for i in range(len(data))],
            *([data[:i], data[i:]] for i in range(1, len(data)))]


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_the_codec_reads_every_reply_as_the_recorded_frames_however_it_is_cut(path: Path) -> None:
    recorded = load(path)
    codec = registry.get(recorded.protocol).codec
    replies = [ex for step in recorded.steps for ex in step.exchanges if ex.board]
    assert replies
    for ex in replies:
        request = codec.decode(ex.host)
        assert codec.encode(request) == ex.host
        for chunks in splits(ex.board):
            decoder = codec.reply_decoder(request, recorded.channels)
            frames = [f for chunk in chunks for f in decoder.feed(chunk)]
            frames += decoder.end_of_frame()
            assert [capture.describe(f) for f in frames] == ex.frames, (ex.host.hex(), chunks)
            for frame in frames:
                assert codec.encode(frame) in ex.board


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_the_controller_writes_exactly_the_recorded_bytes_and_gets_the_recorded_outcomes(
        path: Path) -> None:
    recorded = load(path)

    async def scenario() -> list[str]:
        async with capture.replaying(recorded) as (controller, line):
            outcomes = [await capture.perform(controller, s.action) for s in recorded.steps]
            assert line.written == recorded.host_bytes
            return outcomes

    assert run(scenario()) == [step.outcome for step in recorded.steps]


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_the_simulated_board_answers_the_recorded_requests_with_the_recorded_replies(
        path: Path) -> None:
    recorded = load(path)
    protocol = registry.get(recorded.protocol)
    board = SimBoard(recorded.address, recorded.channels, None, recorded.open_is_high)
    for name, channel, value in recorded.fault_args():
        board.inject(name, channel, value)
    boards = {board.address: board}
    for ex in [ex for step in recorded.steps for ex in step.exchanges]:
        frames = protocol.codec.request_decoder().feed(ex.host)
        assert frames, ex.host.hex(" ")
        answered = b"".join(raw for f in frames for _board, raw in protocol.respond(boards, f))
        assert answered == ex.board, ex.host.hex(" ")


@pytest.mark.parametrize("path", simulator_captures(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_the_simulators_captures_are_what_the_recorder_writes_today(path: Path) -> None:
    assert rerecorded(path) == path.read_text(encoding="utf-8")


def test_a_controller_that_writes_other_bytes_than_recorded_gets_no_answer() -> None:
    recorded = load(CAPTURES / "kerong" / "open-and-read.txt")
    first = recorded.steps[0].exchanges[0]
    other = dataclasses.replace(first, host=bytes.fromhex("02 05 31 03 3b"))  # lock 6, not 5
    recorded.steps[0].exchanges[0] = other

    async def scenario() -> str:
        async with capture.replaying(recorded, timeout=0.2) as (controller, line):
            outcome = await capture.perform(controller, recorded.steps[0].action)
            assert line.written[0] == first.host and line.written != recorded.host_bytes
            return outcome

    assert run(scenario()) == "error CommunicationError"


@pytest.mark.parametrize(("text", "message"), [
    ("protocol kerong\naddress 0\n", "missing channels"),
    ("protocol kerong\naddress 0\nchannels 16\n> 02 00 30 03 35\n", "line 4"),
    ("protocol kerong\naddress 0\nchannels 16\nstep read_doors\n", "step ACTION -> OUTCOME"),
    ("protocol kerong\naddress 0\nchannels 16\nstep read_doors -> ok\n> 0g\n", "line 5"),
    ("protocol kerong\nspeed 9\n", "unknown line 'speed'"),
])
def test_a_malformed_capture_file_is_refused_naming_the_problem(text: str, message: str) -> None:
    with pytest.raises(capture.CaptureError, match=message):
        capture.loads(text)


def test_the_recorder_refuses_an_unknown_action() -> None:
    head = capture.Capture("kerong", 0, 16)
    with pytest.raises(capture.CaptureError, match="unknown action 'wiggle'"):
        run(capture.record_simulated(head, ["wiggle"]))


def test_berth_hw_record_writes_the_committed_capture(tmp_path: Path) -> None:
    out = tmp_path / "jammed-door.txt"
    result = CliRunner().invoke(app, [
        "hw", "record", str(out), "--protocol", "kerong", "--fault", "jam channel=3",
        "--step", "unlock 3", "--step", "read_doors",
        "--note", "Kerong CU board 0: lock 3 fires but its door stays shut"])
    assert result.exit_code == 0, result.output
    assert "read_doors -> open none" in result.output
    assert out.read_text() == (CAPTURES / "kerong" / "jammed-door.txt").read_text()


def test_berth_hw_record_from_a_board_on_a_bus_url_marks_it_hardware(tmp_path: Path) -> None:
    out = tmp_path / "dip" / "bridge.txt"
    with SimulatedBus.in_thread(protocol="dip", transport="tcp", close_after=None) as board:
        result = CliRunner().invoke(app, [
            "hw", "record", str(out), "--url", board.url, "--protocol", "dip",
            "--step", "unlock 7", "--step", "read_doors", "--source", "DIP-16 test bridge"])
    assert result.exit_code == 0, result.output
    recorded = load(out)
    assert (recorded.source, recorded.address) == ("DIP-16 test bridge", 1)
    assert [s.outcome for s in recorded.steps] == ["ok", "open 7"]
    test_the_simulated_board_answers_the_recorded_requests_with_the_recorded_replies(out)
    result = CliRunner().invoke(app, ["hw", "record", str(out), "--url", board.url,
                                      "--fault", "jam channel=1", "--step", "read_doors"])
    assert result.exit_code == 2
