"""``run_blocking``: the one hand-off of blocking work to a worker thread."""

from __future__ import annotations

import asyncio
import threading

import anyio.to_thread
import pytest

from berth.kit.threads import OwnLane, run_blocking


def _describe(a: int, b: int = 0, *, label: str = "") -> tuple[str, int, str]:
    return threading.current_thread().name, a - b, label


def test_positional_and_keyword_arguments_reach_the_function_in_another_thread() -> None:
    loop_thread = threading.current_thread().name
    name, diff, label = asyncio.run(run_blocking(_describe, 7, b=2, label="x"))
    assert (diff, label) == (5, "x")
    assert name != loop_thread  # the event loop's thread stays free


def test_the_function_s_exception_reaches_the_awaiting_caller() -> None:
    class Refused(Exception):
        pass

    def refuse(reason: str) -> None:
        raise Refused(reason)

    with pytest.raises(Refused, match="door jammed"):
        asyncio.run(run_blocking(refuse, reason="door jammed"))


def test_the_loop_keeps_running_while_the_work_blocks() -> None:
    """A blocking call waits in its thread; coroutines on the loop go on meanwhile."""
    release = threading.Event()

    async def scenario() -> list[str]:
        seen: list[str] = []
        work = asyncio.ensure_future(run_blocking(release.wait, 60))
        await asyncio.sleep(0)
        seen.append("loop ran")  # reached while release.wait() still blocks its thread
        release.set()
        assert await work is True
        seen.append("work done")
        return seen

    assert asyncio.run(scenario()) == ["loop ran", "work done"]


def test_an_own_lane_runs_while_the_shared_pool_is_full() -> None:
    """A background poll on its own lane never queues behind request work."""
    async def scenario() -> int:
        anyio.to_thread.current_default_thread_limiter().total_tokens = 1
        release = threading.Event()
        busy = asyncio.create_task(run_blocking(release.wait))  # the only shared thread
        await asyncio.sleep(0)
        try:
            return await asyncio.wait_for(OwnLane().run(lambda: 42), 60)
        finally:
            release.set()
            await busy

    assert asyncio.run(scenario()) == 42
