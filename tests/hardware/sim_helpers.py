"""Shared helpers for driver tests: run a simulator and controllers with short timeouts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from berth.hardware.boards import BoardController
from berth.hardware.factory import build_controller
from berth.hardware.opening import OpenPolicy
from berth.hardware.simulator import SimulatedBus

T = TypeVar("T")
FAST = OpenPolicy(attempt_timeout=2.0, attempts=3, retry_gap=0.05, confirm_timeout=0.3,
                  confirm_poll=0.02)


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 30))  # type: ignore[arg-type]


def with_options(url: str, **options: float) -> str:
    query = "&".join(f"{k}={v}" for k, v in options.items())
    return f"{url}{'&' if '?' in url else '?'}{query}"


@asynccontextmanager
async def rig(
    protocol: str = "kerong", transport: str = "pty", boards: int = 1, timeout: float = 0.2,
    **sim_options: Any,
) -> AsyncIterator[tuple[SimulatedBus, list[BoardController]]]:
    """A simulator plus one started controller per board, with a short request timeout."""
    sim_options.setdefault("close_after", None)
    async with SimulatedBus.start(protocol=protocol, boards=boards, transport=transport,
                                  **sim_options) as sim:
        controllers: list[BoardController] = []
        for spec in sim.controller_specs():
            spec = spec.__class__(**{**spec.__dict__, "url": with_options(spec.url or "",
                                                                          timeout=timeout)})
            controller = build_controller(spec)
            assert isinstance(controller, BoardController)
            await controller.start()
            controllers.append(controller)
        try:
            yield sim, controllers
        finally:
            for controller in controllers:
                await controller.aclose()
