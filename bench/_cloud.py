"""What the cloud benchmarks share: a real cloud server (SQLite or a throwaway PostgreSQL), a
seeded fleet, and wrk runs parsed into rates and latency percentiles.

wrk (Debian package ``wrk``) is the load generator: it costs far less CPU than a Python client,
which matters when server and load share two cores. Without it the benchmarks say so and stop.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from berth.cloud.app import build_service
from berth.cloud.config import CloudConfig
from berth.cloud.lockers.schemas import LockerCreate
from berth.kit.settings import Settings

CONNECTIONS = 32
THREADS = 2


def require_wrk() -> str | None:
    """wrk's path, or None after saying how to install it."""
    found = shutil.which("wrk")
    if found is None:
        print("SKIPPED: wrk is not installed (apt-get install -y wrk); this benchmark needs it")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def database(engine: str, root: Path) -> Iterator[str | None]:
    """A database URL for ``engine`` ("sqlite" or "postgres"); None when PostgreSQL is missing."""
    if engine == "sqlite":
        yield f"sqlite:///{root / 'cloud.db'}"
        return
    sys.path.insert(0, str(Path(__file__).parent.parent))
    from tests.conftest import PostgresCluster  # the test suite's throwaway cluster

    try:
        cluster = PostgresCluster()
    except (FileNotFoundError, subprocess.CalledProcessError) as exc:
        print(f"SKIPPED PostgreSQL: {exc}")
        yield None
        return
    try:
        yield cluster.create_database()
    finally:
        cluster.stop()


@dataclass
class Fleet:
    client_id: str
    client_secret: str
    lockers: list[tuple[str, int]]  # (tower id, locker id) of the partner, all available


def seed(url: str, data: Path, towers: int, per_tower: int) -> Fleet:
    """A partner owning ``towers`` towers of ``per_tower`` lockers each."""
    service = build_service(CloudConfig.from_settings(Settings(data_dir=data), db_url=url,
                                                      sweep_interval=0))
    creds = service.partners.create_partner("bench")
    pid = creds.partner_id or 0
    found = []
    specs = [LockerCreate(name=str(n + 1)) for n in range(per_tower)]
    for i in range(towers):
        tower = service.towers.create_tower(f"t{i}")
        service.towers.assign_tower(tower.id, pid)
        found.extend((tower.id, lk.id) for lk in service.lockers.add_lockers(tower.id, specs))
    service.db.dispose()
    return Fleet(creds.client_id, creds.client_secret, found)


@dataclass
class Server:
    base: str  # http://127.0.0.1:PORT
    pid: int  # for CPU figures and profilers


@contextlib.contextmanager
def cloud_server(url: str, data: Path, env: dict[str, str] | None = None) -> Iterator[Server]:
    """``berth cloud serve`` (one uvicorn process) on ``url``."""
    port = free_port()
    berth = str(Path(sys.executable).parent / "berth")
    proc = subprocess.Popen(
        [berth, "cloud", "serve", "--port", str(port), "--db", url],
        env=os.environ | {"BERTH_DATA_DIR": str(data), "BERTH_CLOUD_SWEEP_INTERVAL": "0"}
        | (env or {}),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("cloud did not start")
        yield Server(base, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:  # requests still held (long-polls): stop it now
            proc.kill()
            proc.wait(10)


def access_token(base: str, fleet: Fleet, scope: str = "service_provider") -> str:
    r = httpx.post(base + "/oauth/token", data={
        "grant_type": "client_credentials", "client_id": fleet.client_id,
        "client_secret": fleet.client_secret, "scope": scope})
    r.raise_for_status()
    return str(r.json()["access_token"])


@dataclass
class WrkResult:
    rate: float  # successful (2xx) answers per second
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx answers and socket errors
    requests: int

    def line(self, label: str, baseline: WrkResult | None = None) -> str:
        ratio = f"  ratio {self.rate / baseline.rate:5.3f}" if baseline else ""
        bad = f"  (not counted: {self.errors} of {self.requests} non-2xx)" if self.errors else ""
        return (f"  {label:34s} {self.rate:8.0f} req/s  p50 {self.p50_ms:7.1f} ms  "
                f"p99 {self.p99_ms:7.1f} ms{ratio}{bad}")


_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    return float(m.group(1)) * _UNIT[m.group(2)] if m else float("nan")


def wrk(base: str, path: str, seconds: float = 3.0, script: str | None = None,
        connections: int = CONNECTIONS) -> WrkResult:
    """One wrk run; ``script`` is Lua (setup/request) written to a temporary file."""
    cmd = ["wrk", "-t", str(min(THREADS, connections)), "-c", str(connections),
           "-d", f"{max(1, round(seconds))}s", "--latency"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        if script:
            lua.write(script)
            lua.flush()
            cmd += ["-s", lua.name]
        out = subprocess.run([*cmd, base + path], capture_output=True, text=True,
                             timeout=seconds + 60).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE)
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                              r"timeout (\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    ok = rate * (requests - errors) / requests if requests else 0.0
    return WrkResult(ok, _ms(p50.group(1)) if p50 else float("nan"),
                     _ms(p99.group(1)) if p99 else float("nan"), errors, requests)


def lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rotating_posts(requests: list[tuple[str, str]], headers: dict[str, str]) -> str:
    """A wrk script POSTing each (path, body) in turn, the threads taking disjoint ones (after
    the last it starts again)."""
    items = ",".join(f"{{{lua_string(p)}, {lua_string(b)}}}" for p, b in requests)
    hdrs = "".join(f"wrk.headers[{lua_string(k)}] = {lua_string(v)}\n"
                   for k, v in headers.items())
    return f"""
items = {{{items}}}
wrk.method = "POST"
{hdrs}
local n = 0
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  n = tid
end
function request()
  local item = items[(n % #items) + 1]
  n = n + {THREADS}
  return wrk.format(nil, item[1], nil, item[2])
end
"""


def header_script(headers: dict[str, str], method: str = "GET", body: str | None = None) -> str:
    lines = [f"wrk.method = {lua_string(method)}"]
    if body is not None:
        lines.append(f"wrk.body = {lua_string(body)}")
    lines += [f"wrk.headers[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items()]
    return "\n".join(lines) + "\n"
