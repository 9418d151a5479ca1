"""How long tests wait for a condition: generous, because the machine may be busy.

Tests poll for the condition they need and stop as soon as it holds, so a generous bound costs
nothing when things work; it only decides how long a broken run hangs before it fails.
"""

from __future__ import annotations

BOUND = 120.0  # seconds for a condition (a door closing, an event arriving, a server answering)
SERVER_START = 180.0  # seconds for a server process to answer (imports, migrations, hashing)
HTTP_TIMEOUT = 300.0  # seconds for one request under a deliberate flood of requests
