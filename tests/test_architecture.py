"""The layers hold at run time too: importing a lower layer loads nothing above it.

``make test`` checks the same with import-linter (static, docs/architecture.md); these run the
real imports in a fresh interpreter, so a cycle hidden behind a lazy import shows up as well.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def loaded_by(*modules: str) -> set[str]:
    """Every module a fresh interpreter has loaded after importing ``modules``."""
    code = (f"import importlib, json, sys\nfor m in {list(modules)!r}: importlib.import_module(m)\n"
            "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout))


def under(loaded: set[str], *prefixes: str) -> set[str]:
    return {m for m in loaded if any(m == p or m.startswith(p + ".") for p in prefixes)}


TOWER_MODULES = tuple(f"berth.tower.{p.stem}" for p in
                      (Path(__file__).parents[1] / "berth" / "tower").glob("*.py")
                      if p.stem != "__init__")
IO_LIBRARIES = ("sqlalchemy", "fastapi", "starlette", "httpx", "serial", "zeroconf", "asyncio")


@pytest.mark.parametrize("module", ["berth.domain.matching", "berth.domain.lifecycle",
                                    "berth.domain.tokens", "berth.hardware.protocols.kerong",
                                    "berth.hardware.protocols.dip",
                                    "berth.hardware.boardsim.kerong",
                                    "berth.hardware.boardsim.dip"])
def test_domain_and_codecs_load_no_io_library(module: str) -> None:
    assert under(loaded_by(module), *IO_LIBRARIES) == set()


def test_the_tower_does_not_load_the_gateway() -> None:
    """The tower knows its gateway only through ``tower/ports.py`` (the app factory wires it)."""
    loaded = loaded_by(*TOWER_MODULES)
    assert under(loaded, "berth.gateway", "berth.sdk.gateway") == set()  # wire schemas: contracts
    assert under(loaded, "berth.cloud", "berth.cli") == set()


def test_the_sdk_loads_no_server_and_no_tower() -> None:
    loaded = loaded_by("berth.sdk.cloud", "berth.sdk.gateway")
    assert under(loaded, "berth.tower", "fastapi", "sqlalchemy", "berth.storage",
                 "berth.gateway.service", "berth.cloud") == set()


def test_the_simulator_does_not_load_what_starts_it() -> None:
    loaded = loaded_by("berth.hardware.simulator")
    assert under(loaded, "berth.hardware.factory", "berth.hardware.embedded_sim",
                 "berth.hardware.sim_control", "berth.hardware.discovery") == set()
