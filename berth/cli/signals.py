"""SIGINT and SIGTERM as one clean stop for the commands that own child processes."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stop(Exception):
    """A SIGINT (Ctrl-C) or SIGTERM (`kill`, a service manager) asked the command to stop."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def stop_signals() -> Iterator[None]:
    """Raise ``Stop`` at the first SIGINT/SIGTERM and ignore later ones, so that the clean-up
    (stopping children, removing temp dirs) runs to its end; restore the handlers afterwards."""
    def handler(signum: int, _frame: FrameType | None) -> None:
        for sig in SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        raise Stop(signum)

    previous = {sig: signal.signal(sig, handler) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
