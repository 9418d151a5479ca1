"""`berth hw ...`: scan for controllers, open a lock, read a board, watch doors, run a simulator."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from berth.hardware.driver import CommunicationError, DoorState, HardwareFault, LockController

app = typer.Typer(help="hw commands", no_args_is_help=True)
console = Console(soft_wrap=True)
T = TypeVar("T")

PROTOCOL = typer.Option("kerong", "--protocol", "-p",
                        help="Board protocol (registered: kerong, dip; `berth hw protocols`).")
CHANNELS = typer.Option(16, "--channels", "-c", help="Locks per board.")
OPEN_LOW = typer.Option(False, "--open-low",
                        help="DIP boards: feedback 00 / bit 0 means the door is open.")


def _run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


def _addresses(text: str) -> list[int]:
    """``0-15`` or ``1,3,5`` (or a mix) -> addresses."""
    result: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        low, _, high = part.partition("-")
        result.extend(range(int(low), int(high or low) + 1))
    return result


def _pair(text: str, what: str) -> tuple[int, float]:
    board, sep, value = text.partition(":")
    if not sep:
        raise typer.BadParameter(f"expected BOARD:{what}, got {text!r}")
    return int(board), float(value)


def _check_protocol(protocol: str) -> None:
    """A usage error naming the registered board protocols, for a name none registered."""
    from berth.hardware import registry

    if protocol not in registry.names():
        raise typer.BadParameter(f"unknown board protocol {protocol!r} "
                                 f"(one of {', '.join(registry.names())})")


@asynccontextmanager
async def _started(url: str, protocol: str, board: int, channels: int, open_low: bool
                   ) -> AsyncIterator[LockController]:
    """A started controller for one board, closed again on the way out."""
    from berth.hardware.factory import ControllerSpec, build_controller

    _check_protocol(protocol)
    controller = build_controller(ControllerSpec(f"{protocol}-{board}", protocol, url, board,
                                                 channels, open_is_high=not open_low))
    await controller.start()
    try:
        yield controller
    finally:
        await controller.aclose()


def _counters(controller: LockController) -> str:
    """One line of the board's link counters (shared by the boards on its line)."""
    counts = controller.counters()
    return "link counters: " + (", ".join(f"{k} {v}" for k, v in counts.items()) or "none")


def _door_cell(state: DoorState) -> str:
    return {DoorState.OPEN: "[bold red]open[/]", DoorState.CLOSED: "[green]closed[/]"}.get(
        state, "[yellow]unknown[/]")


@app.command()
def scan(
    timeout: float = typer.Option(2.0, help="Seconds to listen for mDNS announcements."),
    url: str | None = typer.Option(None, help="Also probe board addresses on this bus URL."),
    protocol: str = PROTOCOL,
    addresses: str = typer.Option("0-15", help="Addresses to probe on --url (e.g. 0-15, 1,2)."),
    channels: int = CHANNELS,
    probe_timeout: float = typer.Option(0.2, help="Per-address reply timeout on --url."),
) -> None:
    """List mDNS-announced TCP controllers and, with --url, which bus addresses answer."""
    from berth.hardware.discovery import scan_bus, scan_mdns

    found = _run(scan_mdns(timeout))
    table = Table("name", "url", "protocol", "boards", "channels", title="mDNS controllers")
    for item in found:
        table.add_row(item.name, item.url, item.protocol, item.boards, str(item.channels))
    console.print(table if found else "No controllers announced on the LAN.")
    if url:
        from berth.cli.progress import progress

        wanted = _addresses(addresses)
        with progress(f"Probing {url}", len(wanted)) as step:
            answered = _run(scan_bus(url, protocol, wanted, channels, probe_timeout,
                                     lambda at, found: step(f"address {at}: "
                                                            f"{'answers' if found else 'silent'}")))
        listed = ", ".join(map(str, answered)) or "none"
        console.print(f"{url}: {protocol} boards answering at addresses: {listed}")


@app.command("open")
def open_command(
    url: str = typer.Argument(..., help="Bus URL: serial:///dev/ttyUSB0?baud=19200 or tcp://h:p"),
    board: int = typer.Argument(..., help="Board address on the bus."),
    lock: int = typer.Argument(..., help="Lock number (1-based)."),
    protocol: str = PROTOCOL,
    channels: int = CHANNELS,
    open_low: bool = OPEN_LOW,
) -> None:
    """Fire one lock under the open rule and report whether the door opened."""
    from berth.hardware.opening import OpenPolicy, open_door
    from berth.kit.settings import get_settings

    policy = OpenPolicy.from_settings(get_settings())

    async def go() -> Any:
        async with _started(url, protocol, board, channels, open_low) as controller:
            return await open_door(controller, lock, policy)

    outcome = _run(go())
    if outcome.success:
        console.print(f"[green]opened[/] board {board} lock {lock} "
                      f"(attempt {outcome.attempts})")
        return
    console.print(f"[red]{outcome.reason_code}[/]: {outcome.message}")
    raise typer.Exit(1)


@app.command()
def status(
    url: str = typer.Argument(..., help="Bus URL."),
    board: int = typer.Argument(..., help="Board address on the bus."),
    protocol: str = PROTOCOL,
    channels: int = CHANNELS,
    open_low: bool = OPEN_LOW,
) -> None:
    """Print the door state (and item-present bits on Kerong boards) of every lock, and the
    line's counters."""
    from berth.hardware.boards import KerongController

    counted: list[str] = []

    async def go() -> tuple[dict[int, DoorState], Any]:
        async with _started(url, protocol, board, channels, open_low) as controller:
            try:
                if isinstance(controller, KerongController):
                    st = await controller.read_status()
                    doors = {ch: DoorState.CLOSED if st.locked(ch) else DoorState.OPEN
                             for ch in range(1, channels + 1)}
                    return doors, st
                return await controller.read_doors(), None
            finally:
                counted.append(_counters(controller))

    try:
        doors, kerong_status = _run(go())
    except (CommunicationError, HardwareFault) as exc:
        console.print(f"[red]board {board} did not answer[/]: {exc}")
        console.print(*counted)
        raise typer.Exit(1) from exc
    table = Table("lock", "door", *(["item"] if kerong_status else []),
                  title=f"{protocol} board {board} at {url}")
    for ch, state in doors.items():
        item = ["yes" if kerong_status.item_present(ch) else "-"] if kerong_status else []
        table.add_row(str(ch), _door_cell(state), *item)
    console.print(table)
    console.print(*counted)


def _watch_table(url: str, rows: dict[int, dict[int, DoorState] | str], channels: int,
                 caption: str | None = None) -> Table:
    table = Table("board", *(str(ch) for ch in range(1, channels + 1)), title=f"doors on {url}",
                  caption=caption)
    for board, doors in rows.items():
        if isinstance(doors, str):
            table.add_row(str(board), f"[yellow]{doors}[/]")
        else:
            cells = ["[bold red]O[/]" if doors.get(ch) is DoorState.OPEN else "[green]-[/]"
                     for ch in range(1, channels + 1)]
            table.add_row(str(board), *cells)
    return table


@app.command()
def watch(
    url: str = typer.Argument(..., help="Bus URL."),
    protocol: str = PROTOCOL,
    boards: str = typer.Option("0", help="Board addresses to watch (e.g. 0-2 or 1,3)."),
    channels: int = CHANNELS,
    open_low: bool = OPEN_LOW,
    interval: float = typer.Option(0.5, help="Seconds between polls."),
    polls: int = typer.Option(0, help="Stop after this many polls (0 = until Ctrl-C)."),
) -> None:
    """A live table of door states (O = open), polled every --interval seconds, with the
    line's counters (requests, timeouts, malformed replies...) under it."""

    async def go() -> None:
        rows: dict[int, dict[int, DoorState] | str] = {}
        async with contextlib.AsyncExitStack() as stack:
            controllers = [
                await stack.enter_async_context(_started(url, protocol, b, channels, open_low))
                for b in _addresses(boards)
            ]
            with Live(_watch_table(url, rows, channels), console=console,
                      auto_refresh=False) as live:
                done = 0
                while not polls or done < polls:
                    for address, c in zip(_addresses(boards), controllers, strict=True):
                        try:
                            rows[address] = await c.read_doors()
                        except CommunicationError:
                            rows[address] = "not answering"
                    live.update(_watch_table(url, rows, channels, _counters(controllers[0])),
                                refresh=True)
                    done += 1
                    await asyncio.sleep(interval)
            console.print()
            console.print(_counters(controllers[0]))

    with contextlib.suppress(KeyboardInterrupt):
        _run(go())


@app.command()
def simulate(
    protocol: str = PROTOCOL,
    boards: int = typer.Option(1, "--boards", "-n", help="Number of boards on the bus."),
    channels: int = CHANNELS,
    serial: bool = typer.Option(True, "--serial", help="Serve a pseudo-terminal (default)."),
    tcp: int | None = typer.Option(None, "--tcp", help="Serve this TCP port instead (0 = free)."),
    host: str = typer.Option("127.0.0.1", help="Interface for --tcp."),
    advertise: bool = typer.Option(True, "--advertise/--no-advertise",
                                   help="Announce a --tcp simulator by mDNS."),
    close_after: float = typer.Option(5.0, help="Seconds until an opened door closes (<0: never)."),
    open_low: bool = OPEN_LOW,
    baud: int | None = typer.Option(None, help="Pace replies at this wire speed."),
    silent: list[int] = typer.Option([], help="Board that never answers (repeatable)."),
    slow: list[str] = typer.Option([], help="BOARD:SECONDS reply delay (repeatable)."),
    corrupt: list[str] = typer.Option([], help="BOARD:N replies with a bad checksum."),
    stuck_busy: list[int] = typer.Option([], help="Board that drops the frame after an unlock."),
    jam: list[str] = typer.Option([], help="BOARD:LOCK whose door stays shut when unlocked."),
    force_open: list[str] = typer.Option([], help="BOARD:LOCK door forced open at start."),
    duration: float = typer.Option(0, help="Stop after this many seconds (0 = until Ctrl-C)."),
) -> None:
    """Run simulated boards speaking the exact protocol bytes on a pty or a TCP port."""
    from berth.hardware.simulator import Fault, SimulatedBus

    faults: list[tuple[Fault, int, int | None, float | None]] = []
    faults += [(Fault.SILENT, b, None, None) for b in silent]
    faults += [(Fault.STUCK_BUSY, b, None, None) for b in stuck_busy]
    faults += [(Fault.SLOW, b, None, v) for b, v in (_pair(s, "SECONDS") for s in slow)]
    faults += [(Fault.CORRUPT, b, None, v) for b, v in (_pair(s, "N") for s in corrupt)]
    faults += [(Fault.JAM, b, int(v), None) for b, v in (_pair(s, "LOCK") for s in jam)]
    faults += [(Fault.FORCE_OPEN, b, int(v), None)
               for b, v in (_pair(s, "LOCK") for s in force_open)]

    async def go() -> None:
        async with SimulatedBus.start(
            protocol=protocol, boards=boards, channels=channels,
            transport="tcp" if tcp is not None else "pty", port=tcp or 0, host=host,
            close_after=None if close_after < 0 else close_after, open_is_high=not open_low,
            baud=baud, advertise=advertise and tcp is not None,
        ) as sim:
            for fault, board, channel, value in faults:
                sim.inject(fault, board, channel, value)
            addresses = ", ".join(map(str, sim.boards))
            print(f"URL {sim.url}", flush=True)
            console.print(f"{protocol} simulator: {boards} board(s) at addresses {addresses}, "
                          f"{channels} locks each. Ctrl-C to stop.")
            await asyncio.sleep(duration if duration > 0 else sys.maxsize / 1e9)

    try:
        _run(go())
    except KeyboardInterrupt:
        pass
    except (ValueError, KeyError) as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc


@app.command()
def protocols() -> None:
    """The registered board protocols: their line settings and simulated board addresses."""
    from berth.hardware import registry

    table = Table("protocol", "board", "line", "simulated boards", title="board protocols")
    for name in registry.names():
        p = registry.get(name)
        line = f"{p.line.baud} {p.line.bytesize}{p.line.parity}{p.line.stopbits}"
        first = p.first_address
        table.add_row(name, p.title, line, f"{first}-{first + p.line_boards - 1}")
    console.print(table)


@app.command()
def record(
    out: Path = typer.Argument(..., help="Capture file to write, e.g. "
                               "tests/hardware/captures/kerong/open-and-read.txt."),
    step: list[str] = typer.Option(..., "--step", "-s", help="An action, in order (repeatable): "
                                   "unlock N, unlock_all, read_doors, read_door N, read_status, "
                                   "set_pulse_time MS."),
    url: str | None = typer.Option(None, help="A real board's bus URL; default: our simulator."),
    board: int | None = typer.Option(None, "--board", "-b",
                                     help="Board address (default: the protocol's first)."),
    protocol: str = PROTOCOL,
    channels: int = CHANNELS,
    open_low: bool = OPEN_LOW,
    fault: list[str] = typer.Option([], help="Simulator only: a fault on the board, e.g. "
                                    "'corrupt value=1', 'jam channel=3' (repeatable)."),
    note: list[str] = typer.Option([], help="A comment line for the file's head (repeatable)."),
    source: str | None = typer.Option(None, help="Where the bytes came from (default: "
                                      "simulator, or 'hardware' with --url): board model, "
                                      "firmware."),
    timeout: float = typer.Option(2.0, help="Seconds to wait for each reply."),
) -> None:
    """Record a byte capture: run the steps on a board and write every byte each way."""
    from berth.hardware import capture, registry

    _check_protocol(protocol)
    if url and fault:
        raise typer.BadParameter("--fault sets up the simulator; a real board has its own")
    address = registry.get(protocol).first_address if board is None else board
    head = capture.Capture(protocol, address, channels, not open_low,
                           source or ("hardware" if url else "simulator"), fault, note)
    try:
        if url:
            sep = "&" if "?" in url else "?"
            recorded = _run(capture.record(head, f"{url}{sep}timeout={timeout:g}", step))
        else:
            recorded = _run(capture.record_simulated(head, step, timeout))
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(capture.dumps(recorded), encoding="utf-8")
    for done in recorded.steps:
        console.print(f"{done.action} -> {done.outcome}")
    console.print(f"wrote {out}")


sim_app = typer.Typer(help="Act as the person at a simulated locker of a running gateway's "
                      "sim:// bus (doors, items, auto-close).", no_args_is_help=True)
app.add_typer(sim_app, name="sim")

BUS = typer.Option("demo", "--bus", help="The sim:// bus name in the site file (sim://NAME).")
BOARD = typer.Option(..., "--board", "-b", help="Board address on the bus.")
LOCK = typer.Option(..., "--lock", "-l", help="Lock (channel) on the board, from 1.")
DATA_DIR = typer.Option(None, "--data-dir", help="The gateway's data dir (BERTH_DATA_DIR).")


def _sim_request(bus: str, protocol: str, data_dir: Path | None,
                 message: dict[str, Any]) -> dict[str, Any]:
    """One request to the control socket of a running gateway's simulated bus."""
    from berth.hardware.sim_control import request, socket_path
    from berth.kit.settings import Settings

    path = socket_path(data_dir or Settings().data_dir, bus, protocol)
    try:
        answer = request(path, message)
    except OSError as exc:
        console.print(f"[red]No simulator controls at {path} ({exc.strerror or exc}): is a "
                      f"gateway with sim://{bus.removeprefix('sim://')} running "
                      "(`berth gateway serve`, `make run`) with this BERTH_DATA_DIR?[/red]")
        raise typer.Exit(1) from None
    if not answer.get("ok"):
        console.print(f"[red]{answer.get('error')}[/red]")
        raise typer.Exit(2)
    return answer


def _print_doors(answer: dict[str, Any]) -> None:
    for door in answer["doors"]:
        state = "[bold red]open[/]" if door["open"] else "[green]closed[/]"
        extra = (" jammed" if door["jammed"] else "") + (" item" if door["item"] else "")
        console.print(f"board {door['board']} lock {door['lock']}: {state}{extra}")


def _door_command(action: str, doc: str) -> None:
    def command(board: int = BOARD, lock: int = LOCK, bus: str = BUS,
                protocol: str = PROTOCOL, data_dir: Path | None = DATA_DIR) -> None:
        _print_doors(_sim_request(bus, protocol, data_dir,
                                  {"action": action, "board": board, "lock": lock}))

    command.__doc__ = doc
    sim_app.command(action)(command)


for _action, _doc in (
    ("close", "Push the door shut (the gateway sees it closed)."),
    ("force", "Prise the door open with no unlock (the gateway sees a forced door)."),
    ("jam", "Jam the door: the next unlock leaves it shut."),
    ("unjam", "Free a jammed door."),
    ("put", "Put an item in (the item sensor sees it)."),
    ("take", "Take the item out."),
):
    _door_command(_action, _doc)


@sim_app.command("autoclose")
def sim_autoclose(
    setting: str = typer.Argument(..., help="off, or seconds until an opened door closes."),
    board: int | None = typer.Option(None, "--board", "-b", help="One board (default: all)."),
    bus: str = BUS,
    protocol: str = PROTOCOL,
    data_dir: Path | None = DATA_DIR,
) -> None:
    """Turn the doors' closing by themselves off (they stay open until `close`), or set it."""
    try:
        seconds = None if setting.lower() == "off" else float(setting)
    except ValueError:
        raise typer.BadParameter(f"off or seconds, not {setting!r}") from None
    answer = _sim_request(bus, protocol, data_dir,
                          {"action": "autoclose", "board": board, "seconds": seconds})
    for address, after in answer["autoClose"].items():
        console.print(f"board {address}: " + ("doors stay open until closed" if after is None
                                               else f"doors close {after:g} s after opening"))


@sim_app.command("status")
def sim_status(
    board: int = BOARD,
    lock: int | None = typer.Option(None, "--lock", "-l", help="One lock (default: all)."),
    bus: str = BUS,
    protocol: str = PROTOCOL,
    data_dir: Path | None = DATA_DIR,
) -> None:
    """Doors, jams and items of a simulated board, as the simulator holds them, and what the
    board has heard (requests, frames it dropped, unlocks)."""
    answer = _sim_request(bus, protocol, data_dir,
                          {"action": "status", "board": board, "lock": lock})
    _print_doors(answer)
    for address, counts in answer["counters"].items():
        console.print(f"board {address} heard: " + ", ".join(f"{k} {v}"
                                                             for k, v in counts.items()))
