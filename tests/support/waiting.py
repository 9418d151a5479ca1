"""How long tests wait for a condition: generous, because the machine may be busy.

Tests poll for the condition they need and stop as soon as it holds, so a generous bound costs
nothing when things work; it only decides how long a broken run hangs before it fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable

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
