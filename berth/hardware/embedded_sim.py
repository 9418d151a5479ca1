"""``sim://NAME`` bus URLs: boards simulated in-process, reached through the real serial stack.

A site (the built-in demo site, ``make run``) can name a bus ``sim://demo`` instead of a serial
device. The first controller on that bus starts a byte-level simulator for it on a
pseudo-terminal, in a background thread with its own event loop; every controller on the bus then
talks to it through pyserial and the real protocol codecs, exactly as to hardware.
"""

from __future__ import annotations

import threading
from pathlib import Path

from berth.hardware import registry
from berth.hardware.sim_control import serving, socket_path
from berth.hardware.simulator import Service, SimulatedBus, SimulatorThread

SCHEME = "sim://"

_buses: dict[str, tuple[SimulatorThread, int]] = {}
_lock = threading.Lock()
_control_dir: Path | None = None


def serve_controls(directory: Path | None) -> None:
    """Have buses started from now on take person-at-the-locker actions on a unix socket in
    ``directory`` (``berth hw sim``); ``berth gateway serve`` turns this on for its data dir."""
    global _control_dir
    _control_dir = directory


def is_simulated(url: str | None) -> bool:
    return bool(url) and str(url).startswith(SCHEME)


def resolve(url: str, protocol: str, channels: int, close_after: float | None) -> str:
    """The serial URL of the simulator behind ``url``, started on first use."""
    if not is_simulated(url):
        return url
    key = f"{url}#{protocol}"
    with _lock:
        running = _buses.get(key)
        if running is None:
            spec = registry.get(protocol)
            thread = SimulatedBus.in_thread(protocol=protocol, boards=spec.line_boards,
                                            channels=channels, transport="pty",
                                            close_after=close_after,
                                            serve=_controls(url, protocol))
            running = _buses[key] = (thread, channels)
        thread, sim_channels = running
    if registry.get(protocol).sized_replies and channels != sim_channels:
        raise ValueError(f"{url}: every {protocol} board on one simulated bus needs the same "
                         f"channel count ({sim_channels}, not {channels})")
    return thread.url


def _controls(url: str, protocol: str) -> Service | None:
    """The person-at-the-locker socket for this bus, when ``serve_controls`` turned them on."""
    if _control_dir is None:
        return None
    path = socket_path(_control_dir, url, protocol)
    return lambda sim: serving(sim, path)


def simulator(url: str, protocol: str) -> SimulatorThread | None:
    """The running simulator behind a ``sim://`` URL, for tests and fault injection."""
    running = _buses.get(f"{url}#{protocol}")
    return running[0] if running else None


def stop_all() -> None:
    with _lock:
        for thread, _ in _buses.values():
            thread.stop()
        _buses.clear()
