"""The local stack: cloud + gateway (provisioned as a demo partner's tower) + simulated boards.

``berth up`` runs it in the foreground; ``berth demo`` and the end-to-end tests start it in the
background. Each service runs in its own process, as in production; the boards are byte-level
simulators behind a pty inside the gateway process (the demo site's ``sim://`` buses).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import httpx

from berth.kit.secret_files import write_private
from berth.kit.settings import Settings

STACK_FILE = "stack.json"
TOWER_DIR = "tower"
# How long a service may take to answer after its start: a busy small machine needs minutes
# (imports, migrations); a service that dies is noticed at once, not after this.
START_TIMEOUT = 180.0
# A running service answers within this even when busy; a stopped one refuses at once.
PROBE_TIMEOUT = 10.0


@dataclass(frozen=True)
class StackInfo:
    """What a client needs to use a running stack; written to ``data_dir/stack.json`` (0600)."""

    cloud_url: str
    gateway_url: str
    tower_id: str
    client_id: str
    client_secret: str
    gateway_api_key: str
    operator_client_id: str
    operator_client_secret: str
    # with `berth up --fleet`: the broker, an organisation's key, its location bound to the site
    broker_url: str | None = None
    fleet_api_key: str | None = None
    fleet_location_id: int | None = None

    def save(self, path: Path) -> None:
        write_private(path, json.dumps(asdict(self), indent=2), replace=True)

    @classmethod
    def load(cls, path: Path) -> StackInfo:
        return cls(**json.loads(path.read_text()))


def prepare(settings: Settings, cloud_url: str, gateway_url: str) -> StackInfo:
    """Seed the demo partner and provision the demo site as its tower (once), in-process."""
    from berth.cloud.app import build_service
    from berth.cloud.config import CloudConfig
    from berth.cloud.provision import provision_tower
    from berth.cloud.seed import seed_demo, site_location
    from berth.gateway.auth import resolve_api_key
    from berth.gateway.site import load_site, site_lockers
    from berth.tower.identity import IDENTITY_FILE, TowerIdentity

    service = build_service(CloudConfig.from_settings(settings))
    try:
        world = seed_demo(service)
        keys = settings.data_dir / TOWER_DIR
        if (keys / IDENTITY_FILE).exists():
            identity = TowerIdentity.load(keys)
        else:
            identity = provision_tower(service, "demo", "Berth demo site",
                                       site_lockers(load_site(settings.gateway.site_file)),
                                       cloud_url=cloud_url)
            identity.save(keys)
        service.locations.place_tower(site_location(service), identity.tower_id)
    finally:
        service.db.dispose()
    api_key, _ = resolve_api_key(settings.gateway.api_key, settings.data_dir)
    demo, operator = world["partners"]["demo"], world["operator"]
    return StackInfo(cloud_url, gateway_url, identity.tower_id, demo["client_id"],
                     demo["client_secret"], api_key, operator["client_id"],
                     operator["client_secret"])


FLEET_DIR = "fleet"  # the broker's files and both ends' broker credentials
FLEET_ORGANISATION = "demo-org"
FLEET_SITE = "demo-site"


@dataclass(frozen=True)
class FleetStack:
    """The fleet part of a stack: where the broker listens and the files it and both ends use."""

    root: Path
    port: int

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def cloud_credentials(self) -> Path:
        return self.root / "cloud-broker.json"

    @property
    def gateway_credentials(self) -> Path:
        return self.root / "gateway-broker.json"

    def env(self) -> dict[str, str]:
        return {"BERTH_FLEET_BROKER_URL": self.url, "BERTH_FLEET_SITE_ID": FLEET_SITE,
                "BERTH_FLEET_CREDENTIALS_FILE": str(self.gateway_credentials),
                "BERTH_FLEET_CLOUD_CREDENTIALS_FILE": str(self.cloud_credentials)}


def prepare_fleet(settings: Settings, fleet: FleetStack,
                  tower_id: str | None = None) -> tuple[str, int]:
    """The broker's files, an organisation with a fresh key, a location bound to the demo site
    (once; later starts reuse them and hand out a new key), and the site bound to the demo
    tower its gateway serves (so its cloud link rides the broker). Returns (API key, location
    id)."""
    import secrets

    from berth.cloud.app import build_service
    from berth.cloud.config import CloudConfig
    from berth.cloud.locations.schemas import LocationCreate
    from berth.domain.errors import NotFound
    from berth.fleet.broker import BrokerFiles
    from berth.fleet.client import Credentials
    from berth.fleet.protocol import CLOUD_USER

    files = BrokerFiles(fleet.root / "broker")
    files.write(fleet.port)
    for path, user in ((fleet.cloud_credentials, CLOUD_USER),
                       (fleet.gateway_credentials, FLEET_SITE)):
        if not path.exists():
            password = secrets.token_urlsafe(24)
            files.add_user(user, password)
            Credentials(user, password).save(path)
    service = build_service(CloudConfig.from_settings(settings))
    try:
        try:
            key = service.fleet.create_key(FLEET_ORGANISATION)
        except NotFound:
            key = service.fleet.create_organisation(FLEET_ORGANISATION)
        bound = [s for s in service.fleet.list_sites(FLEET_ORGANISATION)
                 if s.site_id == FLEET_SITE]
        if bound:
            location_id = bound[0].location_id
        else:
            location_id = service.locations.create_location(LocationCreate(
                name="Berth demo site (fleet)", latitude=52.52, longitude=13.405,
                timezone="Europe/Berlin")).id
            service.fleet.bind_site(FLEET_ORGANISATION, location_id, FLEET_SITE)
        if tower_id is not None:
            service.fleet.bind_tower(FLEET_SITE, tower_id)
    finally:
        service.db.dispose()
    return key, location_id


class Stack:
    """Starts and stops the service processes of a local stack (and its broker, with fleet)."""

    def __init__(self, settings: Settings, host: str = "127.0.0.1", cloud_port: int | None = None,
                 gateway_port: int | None = None, quiet: bool = False,
                 broker_port: int | None = None) -> None:
        """Ports left out come from ``settings`` (``BERTH_CLOUD_PORT``, ``BERTH_GATEWAY_PORT``);
        a ``broker_port`` adds the fleet: a Mosquitto broker and both services' links to it."""
        self.settings = settings
        self.fleet = (FleetStack(settings.data_dir.resolve() / FLEET_DIR, broker_port)
                      if broker_port is not None else None)
        self.broker: subprocess.Popen[bytes] | None = None
        self.host = host
        self.cloud_port = settings.cloud.port if cloud_port is None else cloud_port
        self.gateway_port = settings.gateway.port if gateway_port is None else gateway_port
        self.quiet = quiet
        self.cloud_url = f"http://{host}:{self.cloud_port}"
        self.gateway_url = f"http://{host}:{self.gateway_port}"
        self.info: StackInfo | None = None
        self.cloud: subprocess.Popen[bytes] | None = None
        self.gateway: subprocess.Popen[bytes] | None = None

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["BERTH_DATA_DIR"] = str(self.settings.data_dir.resolve())
        env["BERTH_MDNS"] = "false"
        env.setdefault("BERTH_CLOUD_WEBHOOKS_ALLOW_PRIVATE", "true")  # receivers on this machine
        if self.fleet is not None:
            env.update(self.fleet.env())
        return env

    def _spawn(self, *args: str) -> subprocess.Popen[bytes]:
        """A service process in its own session, so a terminal's Ctrl-C reaches only us (we stop
        the services in order and exit 0), and bound to die with us even if we are killed."""
        berth = str(Path(sys.executable).parent / "berth")
        options: dict[str, object] = dict(env=self._env(), start_new_session=True,
                                          preexec_fn=die_with_parent())
        if not self.quiet:  # the services print to our terminal
            return subprocess.Popen([berth, *args], **options)  # type: ignore[call-overload]
        with (self.settings.data_dir / f"{args[0]}.log").open("ab") as log:
            return subprocess.Popen([berth, *args], stdout=log,  # type: ignore[call-overload]
                                    stderr=subprocess.STDOUT, **options)

    def start(self, timeout: float = START_TIMEOUT) -> StackInfo:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        info = prepare(self.settings, self.cloud_url, self.gateway_url)
        if self.fleet is not None:
            key, location_id = prepare_fleet(self.settings, self.fleet, info.tower_id)
            info = replace(info, broker_url=self.fleet.url, fleet_api_key=key,
                           fleet_location_id=location_id)
            self.start_broker(timeout)
        self.info = info
        info.save(self.settings.data_dir / STACK_FILE)
        self.start_cloud(timeout)
        self.gateway = self._spawn(
            "gateway", "serve", "--host", self.host, "--port", str(self.gateway_port),
            "--tower-keys", str(self.settings.data_dir / TOWER_DIR), "--cloud", self.cloud_url,
            "--no-mdns")
        _wait_ready(self.gateway_url + "/health", self.gateway, timeout)
        return info

    def start_broker(self, timeout: float = START_TIMEOUT) -> None:
        """Mosquitto on the fleet's files, in its own session, dying with us."""
        from berth.fleet.broker import BrokerFiles

        assert self.fleet is not None
        files = BrokerFiles(self.fleet.root / "broker")
        self.broker = subprocess.Popen(files.command(), stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, start_new_session=True,
                                       preexec_fn=die_with_parent())
        deadline = time.monotonic() + timeout
        while not _listening(self.fleet.port):
            if self.broker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the broker did not start: see {files.log}")
            time.sleep(0.05)

    def start_cloud(self, timeout: float = START_TIMEOUT) -> None:
        self.cloud = self._spawn("cloud", "serve", "--host", self.host,
                                 "--port", str(self.cloud_port))
        _wait_ready(self.cloud_url + "/openapi.json", self.cloud, timeout)

    def stop_cloud(self) -> None:
        _stop(self.cloud)
        self.cloud = None

    def stop(self) -> None:
        _stop(self.gateway)
        _stop(self.cloud)
        _stop(self.broker)
        self.gateway = self.cloud = self.broker = None

    def alive(self) -> bool:
        procs = (self.cloud, self.gateway) + ((self.broker,) if self.fleet else ())
        return all(p is not None and p.poll() is None for p in procs)

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def busy_port(host: str, ports: Iterable[int]) -> int | None:
    """The first of ``ports`` that a server cannot listen on at ``host`` (bound as uvicorn binds,
    with SO_REUSEADDR, so a port in TIME_WAIT counts as free)."""
    for port in ports:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
            except OSError:
                return port
    return None


PR_SET_PDEATHSIG = 1


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the kernel send the child SIGTERM when we die (Linux), even by
    SIGKILL, so no service outlives the command that started it."""
    libc_name = ctypes.util.find_library("c") if sys.platform.startswith("linux") else None
    if libc_name is None:
        return None
    libc = ctypes.CDLL(libc_name, use_errno=True)
    parent = os.getpid()

    def arm() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # we died before the line above took effect
            os._exit(1)

    return arm


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)  # any answer: the server is up (health may say degraded)
            return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} not ready after {timeout} s")


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def running(info: StackInfo) -> bool:
    """Whether both services of a stack answer."""
    try:
        httpx.get(info.cloud_url + "/openapi.json", timeout=PROBE_TIMEOUT)
        httpx.get(info.gateway_url + "/health", timeout=PROBE_TIMEOUT)
    except httpx.HTTPError:
        return False
    return True
