"""``berth cloud towers provision``: a tower mirroring a gateway, keys the gateway can load."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from berth.cli.main import app
from berth.cloud.app import build_service
from berth.cloud.config import CloudConfig
from berth.gateway.site import DEMO_SITE, load_site
from berth.tower.identity import TowerIdentity
from tests.gateway.conftest import API_KEY, ServerProcess

runner = CliRunner()


def cloud_with_partner(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cloud.db'}"
    service = build_service(CloudConfig(db_url=url, data_dir=tmp_path))
    service.create_partner("acme")
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
