"""How long tests wait for a condition: generous, because the machine may be busy.

Tests poll for the condition they need and stop as soon as it holds, so a generous bound costs
nothing when things work; it only decides how long a broken run hangs before it fails.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Any

import httpx

BOUND = 120.0  # seconds for a condition (a door closing, an event arriving, a server answering)
SERVER_START = 180.0  # seconds for a server process to answer (imports, migrations, hashing)
HTTP_TIMEOUT = 300.0  # seconds for one request under a deliberate flood of requests


def wait_until(condition: Callable[[], object], what: str = "condition not met",
               bound: float = BOUND, every: float = 0.05) -> None:
    """Poll ``condition`` until it holds; fail with ``what`` only after ``bound`` seconds."""
    deadline = time.monotonic() + bound
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} (waited {bound:.0f} s)")
        time.sleep(every)


def wait_healthy(proc: subprocess.Popen[Any], base_url: str,
                 output: Callable[[], str] = lambda: "") -> None:
    """Wait until a started server answers ``/health``; fail at once if the process exits."""
    def answers() -> bool:
        assert proc.poll() is None, f"the server exited: {output()}"
        try:
            return httpx.get(f"{base_url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(answers, f"{base_url} never answered /health", SERVER_START, every=0.1)
