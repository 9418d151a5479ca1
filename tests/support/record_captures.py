"""Re-record every simulator capture in tests/hardware/captures from its own head and steps.

    .venv/bin/python -m tests.support.record_captures

Run it after changing the simulator or a codec on purpose, and review the diff: a changed byte
is a changed wire behaviour. Captures from real boards (``source`` other than ``simulator``) are
never rewritten.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from berth.hardware import capture

CAPTURES = Path(__file__).resolve().parents[1] / "hardware" / "captures"


def rerecorded(path: Path) -> str:
    """What recording the file's steps against today's simulator writes."""
    old = capture.loads(path.read_text(encoding="utf-8"))
    head = dataclasses.replace(old, steps=[])
    return capture.dumps(asyncio.run(capture.record_simulated(
        head, [step.action for step in old.steps])))


def simulator_captures() -> list[Path]:
    return [p for p in sorted(CAPTURES.glob("*/*.txt"))
            if capture.loads(p.read_text(encoding="utf-8")).source == "simulator"]


def main() -> None:
    for path in simulator_captures():
        path.write_text(rerecorded(path), encoding="utf-8")
        print(f"recorded {path.relative_to(CAPTURES.parent)}")


if __name__ == "__main__":
    main()
