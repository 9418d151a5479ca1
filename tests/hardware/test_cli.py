"""`berth hw`: a simulator in its own process, driven by the other commands over real TCP."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from berth.cli.main import app

runner = CliRunner()


@pytest.fixture
def sim_process() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", "from berth.cli.main import app; app()", "hw", "simulate",
         "--protocol", "dip", "--boards", "2", "--channels", "8", "--tcp", "0",
         "--no-advertise", "--close-after", "-1", "--jam", "2:5", "--force-open", "1:3",
         "--duration", "600"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("URL "), line
        # a reply on a busy machine may take seconds; only the silent board 9 waits this out
        yield line.split()[1] + "?timeout=5"
    finally:
        proc.terminate()
        proc.wait(10)


def hw(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["hw", *args])
    return result.exit_code, result.output


def test_open_status_watch_and_scan_against_a_simulator_process(sim_process: str) -> None:
    url = sim_process
    code, out = hw("status", url, "1", "--protocol", "dip", "--channels", "8")
    assert code == 0 and "open" in out.split("│ 3")[1].split("\n")[0]
    code, out = hw("open", url, "1", "2", "--protocol", "dip", "--channels", "8")
    assert code == 0 and "opened board 1 lock 2" in out
    code, out = hw("open", url, "2", "5", "--protocol", "dip", "--channels", "8")
    assert code == 1 and "DOOR_DID_NOT_OPEN" in out
    code, out = hw("watch", url, "--protocol", "dip", "--boards", "1-2", "--channels", "8",
                   "--polls", "1", "--interval", "0")
    assert code == 0 and "│ 1 " in out and "│ 2 " in out
    code, out = hw("scan", "--timeout", "0.1", "--url", url, "--protocol", "dip",
                   "--addresses", "0-3", "--channels", "8", "--probe-timeout", "2")
    assert code == 0 and "answering at addresses: 1, 2" in out


def test_status_of_a_board_that_does_not_answer_exits_non_zero(sim_process: str) -> None:
    silent = sim_process.replace("timeout=5", "timeout=0.5")  # board 9 never answers anyway
    code, out = hw("status", silent, "9", "--protocol", "dip", "--channels", "8")
    assert code == 1 and "did not answer" in out


def test_bad_fault_flag_is_a_usage_error() -> None:
    code, out = hw("simulate", "--slow", "1", "--duration", "0.1")
    assert code != 0 and "BOARD:SECONDS" in out
