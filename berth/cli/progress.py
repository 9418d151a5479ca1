"""Rich progress bars for long commands, on stderr and only on a terminal.

Output stays parseable: stdout never carries a bar (``--json`` prints only JSON), and piped or
captured runs show no bar at all. The work reports each step it finishes through the callable
it is given, so the loops stay in the services and the CLI only draws.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

Step = Callable[[str], None]


@contextmanager
def progress(description: str, total: int | None, console: Console | None = None
             ) -> Iterator[Step]:
    """A bar of ``total`` steps; the callable advances it by one and names what was done."""
    console = console or Console(stderr=True)
    if not console.is_terminal:
        yield lambda _done: None
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                  transient=True) as bar:
        task = bar.add_task(description, total=total)

        def step(done: str) -> None:
            bar.update(task, advance=1, description=f"{description}: {done}")

        yield step
