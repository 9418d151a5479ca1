"""Long commands report each step to a Rich bar on a terminal, and stay quiet and parseable
when piped (``--json`` prints only JSON)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from berth.cli.main import app
from berth.cli.progress import progress
from berth.cloud.app import build_service
from berth.cloud.seed import SEED_STEPS, seed_demo
from berth.hardware.discovery import scan_bus
from berth.hardware.simulator import SimulatedBus
from tests.hardware.sim_helpers import run
from tests.support.configs import cloud_config


def test_a_terminal_sees_the_bar_and_a_pipe_sees_nothing() -> None:
    screen = io.StringIO()
    with progress("Seeding", 2, Console(file=screen, force_terminal=True, width=80)) as step:
        step("operator")
        step("partners")
    assert "Seeding" in screen.getvalue()
    piped = io.StringIO()
    with progress("Seeding", 2, Console(file=piped, force_terminal=False)) as step:
        step("operator")
    assert piped.getvalue() == ""


def test_seeding_reports_every_step(sqlite_url: str, tmp_path: Path) -> None:
    done: list[str] = []
    seed_demo(build_service(cloud_config(sqlite_url, tmp_path)), done.append)
    assert len(done) == SEED_STEPS
    assert done[0] == "operator" and "location Hauptbahnhof" in done


def test_seed_json_stays_parseable(sqlite_url: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["cloud", "seed", "--demo", "--json", "--db", sqlite_url],
                                env={"BERTH_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.stdout)) >= {"partners", "operator", "tower_id"}


def test_a_bus_scan_reports_each_address() -> None:
    heard: list[tuple[int, bool]] = []

    async def scenario() -> None:
        async with SimulatedBus.start(protocol="kerong", boards=2, first_address=1) as sim:
            found = await scan_bus(sim.url, "kerong", range(4), timeout=0.05,
                                   probed=lambda at, ok: heard.append((at, ok)))
            assert found == [1, 2]

    run(scenario())
    assert heard == [(0, False), (1, True), (2, True), (3, False)]
