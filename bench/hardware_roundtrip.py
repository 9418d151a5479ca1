"""Lock-bus speed over a real pty: unlock-and-confirm round trips, and a staggered open-all.

The boards are the byte-level simulator in a background thread (its own event loop), the driver is
the production Kerong controller, bus and serial transport. A pty carries bytes as fast as the
kernel copies them, so the simulator also paces its replies at 19200 baud (10 bits a byte) to
stand in for the RS-485 wire; both figures are printed beside the wire-time limit for the same
frames, measured in the same run.

Open-all staggers single unlocks ``STAGGER`` seconds apart (0.25 s, the gateway's default; set
``BERTH_BENCH_STAGGER`` to shorten it) over a 48-door bank (3 boards x 16 locks on one bus).
"""

from __future__ import annotations

import asyncio
import os
import time

from berth.hardware.boards import KerongController
from berth.hardware.bus import BusConfig
from berth.hardware.opening import OpenPolicy, open_door
from berth.hardware.protocols import kerong
from berth.hardware.simulator import BITS_PER_BYTE, SimulatedBus

BAUD = 19200
ROUND_TRIPS = 150
STAGGER = float(os.environ.get("BERTH_BENCH_STAGGER", "0.25"))
POLICY = OpenPolicy(attempt_timeout=5.0, attempts=3, retry_gap=0.1, confirm_timeout=2.0,
                    confirm_poll=0.0)


def round_trip_bytes() -> int:
    """Unlock (no reply), the driver's status read after it, the open rule's confirming read."""
    unlock = len(kerong.encode(kerong.unlock_request(0, 1)))
    status = len(kerong.encode(kerong.status_request(0)))
    reply = len(kerong.encode(kerong.status_reply(0, 0, 0)))
    return unlock + 2 * (status + reply)


async def _round_trips(url: str, count: int) -> float:
    controller = KerongController("bench", url, 0, 16)
    await controller.start()
    try:
        await controller.read_doors()  # connect and warm up
        start = time.perf_counter()
        for i in range(count):
            outcome = await open_door(controller, i % 16 + 1, POLICY)
            assert outcome.success and outcome.attempts == 1, outcome
        return count / (time.perf_counter() - start)
    finally:
        await controller.aclose()


def measure_round_trips(baud: int | None) -> float:
    with SimulatedBus.in_thread(protocol="kerong", boards=1, transport="pty",
                                close_after=None, baud=baud) as runner:
        url = f"{runner.url.split('?')[0]}?baud={BAUD}"
        return asyncio.run(_round_trips(url, ROUND_TRIPS))


async def _open_all(url: str, boards: int) -> tuple[float, int]:
    controllers = [KerongController(f"bank-{b}", url, b, 16) for b in range(boards)]
    for c in controllers:
        await c.start()
    try:
        await asyncio.gather(*(c.read_doors() for c in controllers))
        start = time.perf_counter()
        tasks = []
        for c in controllers:
            for lock in range(1, 17):
                if tasks:
                    await asyncio.sleep(STAGGER)
                tasks.append(asyncio.create_task(open_door(c, lock, POLICY)))
        outcomes = await asyncio.gather(*tasks)
        return time.perf_counter() - start, sum(o.success for o in outcomes)
    finally:
        for c in controllers:
            await c.aclose()


def measure_open_all() -> tuple[float, int]:
    with SimulatedBus.in_thread(protocol="kerong", boards=3, transport="pty",
                                close_after=None, baud=BAUD) as runner:
        return asyncio.run(_open_all(runner.url, 3))


def main() -> None:
    size = round_trip_bytes()
    wire = size * BITS_PER_BYTE / BAUD
    gaps = 3 * BusConfig().gap  # the bus leaves a gap before each of the 3 requests
    print(f"unlock-and-confirm round trip = {size} bytes on the wire "
          f"({size * BITS_PER_BYTE / BAUD * 1000:.1f} ms at {BAUD} baud)")
    print(f"  wire-time limit               {1 / wire:8.1f} round trips/s")
    print(f"  wire + 3 x {BusConfig().gap * 1000:.0f} ms frame gaps       "
          f"{1 / (wire + gaps):8.1f} round trips/s")
    paced = measure_round_trips(BAUD)
    print(f"  measured, pty paced at {BAUD}  {paced:8.1f} round trips/s "
          f"= {paced * wire:.2f} x wire limit, {paced * (wire + gaps):.2f} x wire+gaps")
    raw = measure_round_trips(None)
    print(f"  measured, pty unpaced         {raw:8.1f} round trips/s "
          f"= {raw * wire:.2f} x wire limit, {raw * gaps:.2f} x the frame-gap-only limit "
          f"{1 / gaps:.1f}/s (what is left is driver + simulator overhead)")
    elapsed, opened = measure_open_all()
    floor = 47 * STAGGER  # 48 unlocks, 47 gaps between them
    print(f"open-all, 48-door bank (3 boards x 16, one bus, paced), stagger {STAGGER:g} s:")
    print(f"  {opened}/48 opened in {elapsed:.2f} s; 48 x stagger = {48 * STAGGER:.2f} s, "
          f"47 gaps = {floor:.2f} s; ratio to 48 x stagger {elapsed / (48 * STAGGER):.3f}")


if __name__ == "__main__":
    main()
