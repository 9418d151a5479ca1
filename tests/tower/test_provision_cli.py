"""``berth cloud towers provision``: a tower mirroring a gateway, keys the gateway can load."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from berth.cli.main import app
from berth.cloud.app import build_service, create_app
from berth.gateway.site import DEMO_SITE, load_site
from berth.tower.identity import TowerIdentity
from tests.gateway.conftest import API_KEY, ServerProcess
from tests.support.configs import cloud_config
from tests.support.waiting import wait_healthy

runner = CliRunner()


def cloud_with_partner(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cloud.db'}"
    service = build_service(cloud_config(db_url=url, data_dir=tmp_path))
    service.partners.create_partner("acme")
    service.db.dispose()
    return url


def test_provision_from_a_site_file(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("BERTH_DATA_DIR", str(tmp_path))
    db = cloud_with_partner(tmp_path)
    out = tmp_path / "keys"
    result = runner.invoke(app, ["cloud", "towers", "provision", "--site",
                                 str(DEMO_SITE), "--partner", "acme",
                                 "--out", str(out), "--db", db, "--cloud-url", "http://c"])
    assert result.exit_code == 0, result.output
    identity = TowerIdentity.load(out)
    assert sorted(g for g, _ in identity.lockers.values()) == \
        [lk.id for lk in load_site().lockers]
    assert identity.cloud is not None and identity.cloud.url == "http://c"
    assert (out / "tower.key").stat().st_mode & 0o777 == 0o600


def test_provision_from_a_running_gateway(tmp_path: Path, sqlite_url: str, monkeypatch,  # type: ignore[no-untyped-def]
                                          free_port: Callable[[], int]) -> None:
    monkeypatch.setenv("BERTH_DATA_DIR", str(tmp_path))
    server = ServerProcess(sqlite_url, free_port(), tmp_path)
    try:
        server.wait_ready()
        db = cloud_with_partner(tmp_path)
        out = tmp_path / "keys"
        result = runner.invoke(app, ["cloud", "towers", "provision", "--gateway", server.url,
                                     "--gateway-key", API_KEY, "--partner", "acme",
                                     "--out", str(out), "--db", db])
        assert result.exit_code == 0, result.output
        assert len(TowerIdentity.load(out).lockers) == 36
    finally:
        server.stop()


def test_provision_needs_a_partner(tmp_path: Path) -> None:
    result = runner.invoke(app, ["cloud", "towers", "provision", "--site", "x.yaml",
                                 "--db", f"sqlite:///{tmp_path / 'c.db'}"])
    assert result.exit_code == 2 and "--partner" in result.output


def _provision_offline(tmp_path: Path, db: str, out: Path) -> TowerIdentity:
    result = runner.invoke(app, ["cloud", "towers", "provision", "--site", str(DEMO_SITE),
                                 "--partner", "acme", "--out", str(out), "--db", db])
    assert result.exit_code == 0, result.output
    identity = TowerIdentity.load(out)
    assert identity.cloud is None
    return identity


def _private_hex(identity: TowerIdentity) -> str:
    return identity.private_key.private_bytes_raw().hex()


def test_provision_of_an_existing_tower_writes_files_and_prints_no_key(  # type: ignore[no-untyped-def]
        tmp_path: Path, monkeypatch) -> None:
    """`provision TOWER_ID` writes 0600 key files where asked, honours --cloud-url, and never
    prints the private key (a terminal ends up in logs and screenshots)."""
    monkeypatch.setenv("BERTH_DATA_DIR", str(tmp_path))
    db = cloud_with_partner(tmp_path)
    first = _provision_offline(tmp_path, db, tmp_path / "first")
    out = tmp_path / "again"
    result = runner.invoke(app, ["cloud", "towers", "provision", first.tower_id,
                                 "--out", str(out), "--cloud-url", "http://cloud:9", "--db", db])
    assert result.exit_code == 0, result.output
    assert "PRIVATE KEY" not in result.output
    assert _private_hex(first) not in result.output.replace("\n", "")
    again = TowerIdentity.load(out)
    assert again.tower_id == first.tower_id
    assert _private_hex(again) == _private_hex(first)
    assert again.lockers == first.lockers
    assert again.cloud is not None and again.cloud.url == "http://cloud:9"
    for name in ("tower.key", "tower.json"):
        assert (out / name).stat().st_mode & 0o777 == 0o600


def test_provision_of_an_unknown_tower_is_a_clear_error(tmp_path: Path) -> None:
    db = cloud_with_partner(tmp_path)
    result = runner.invoke(app, ["cloud", "towers", "provision", "feedfeedfeedfeed",
                                 "--out", str(tmp_path / "k"), "--db", db])
    assert result.exit_code == 2
    assert "feedfeedfeedfeed" in result.output and "Traceback" not in result.output


def test_an_offline_tower_is_linked_to_its_cloud(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The gateway refuses --cloud for offline keys and names the way out; `towers link` adds a
    working tower_access client to the same keys."""
    monkeypatch.setenv("BERTH_DATA_DIR", str(tmp_path))
    db = cloud_with_partner(tmp_path)
    keys = tmp_path / "keys"
    offline = _provision_offline(tmp_path, db, keys)

    refused = runner.invoke(app, ["gateway", "serve", "--tower-keys", str(keys),
                                  "--cloud", "http://cloud:9"])
    assert refused.exit_code == 2
    assert "berth cloud towers link" in refused.output.replace("\n", "")

    linked = runner.invoke(app, ["cloud", "towers", "link", offline.tower_id, "--out",
                                 str(keys), "--cloud-url", "http://cloud:9", "--db", db])
    assert linked.exit_code == 0, linked.output
    identity = TowerIdentity.load(keys)
    assert _private_hex(identity) == _private_hex(offline)
    assert identity.lockers == offline.lockers
    assert identity.cloud is not None and identity.cloud.url == "http://cloud:9"
    assert (keys / "tower.json").stat().st_mode & 0o777 == 0o600

    with TestClient(create_app(cloud_config(db_url=db, data_dir=tmp_path))) as cloud:
        token = cloud.post("/oauth/token", data={
            "grant_type": "client_credentials", "scope": "tower_access",
            "client_id": identity.cloud.client_id,
            "client_secret": identity.cloud.client_secret})
        assert token.status_code == 200, token.text
        commands = cloud.get(f"/sdk/v1/towers/{identity.tower_id}/commands", headers={
            "Authorization": f"Bearer {token.json()['access_token']}"})
        assert commands.status_code == 200, commands.text


def test_link_refuses_keys_of_another_tower(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("BERTH_DATA_DIR", str(tmp_path))
    db = cloud_with_partner(tmp_path)
    first = _provision_offline(tmp_path, db, tmp_path / "a")
    _provision_offline(tmp_path, db, tmp_path / "b")
    result = runner.invoke(app, ["cloud", "towers", "link", first.tower_id, "--out",
                                 str(tmp_path / "b"), "--cloud-url", "http://c", "--db", db])
    assert result.exit_code == 2 and "not " + first.tower_id in result.output


def _serve(keys: Path, db: str, port: int, data_dir: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {"BERTH_GATEWAY_API_KEY": API_KEY, "BERTH_DATA_DIR": str(data_dir)}
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "berth"), "gateway", "serve", "--port", str(port),
         "--db", db, "--no-mdns", "--tower-keys", str(keys)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_a_database_that_served_one_tower_refuses_another(  # type: ignore[no-untyped-def]
        tmp_path: Path, monkeypatch, free_port: Callable[[], int]) -> None:
    """Re-provisioning onto the same gateway database: a clear refusal, not an IntegrityError."""
    monkeypatch.setenv("BERTH_DATA_DIR", str(tmp_path))
    db = cloud_with_partner(tmp_path)
    first = _provision_offline(tmp_path, db, tmp_path / "a")
    second = _provision_offline(tmp_path, db, tmp_path / "b")
    gateway_db = f"sqlite:///{tmp_path / 'gateway.db'}"
    port = free_port()
    server = _serve(tmp_path / "a", gateway_db, port, tmp_path)
    try:
        wait_healthy(server, f"http://127.0.0.1:{port}",
                     lambda: server.stdout.read() if server.stdout else "")
    finally:
        server.terminate()
        server.wait(30)

    other = _serve(tmp_path / "b", gateway_db, free_port(), tmp_path)
    output, _ = other.communicate(timeout=60)
    text = output.decode()
    assert other.returncode == 2, text
    assert "Traceback" not in text and "IntegrityError" not in text
    assert first.tower_id in text and second.tower_id in text
    assert "fresh database" in text.replace("\n", " ")
