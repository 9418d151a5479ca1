"""The `berth cloud` commands and the key material they leave in the data dir."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from berth.cli.main import app
from berth.cloud.app import build_service
from berth.cloud.config import CloudConfig
from berth.cloud.keys import KeyRing
from berth.domain.tokens import TokenKind, verify
from berth.kit.settings import get_settings


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BERTH_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_seed_demo_json(env: Path) -> None:
    r = CliRunner().invoke(app, ["cloud", "seed", "--demo", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert set(out["partners"]) == {"demo", "other"}
    assert set(out["partners"]["demo"]) == {"client_id", "client_secret"}
    assert len(out["tower_id"]) == 16 and set(out["operator"]) == {"client_id", "client_secret"}
    # a second run reuses the world and hands out fresh credentials
    again = json.loads(CliRunner().invoke(app, ["cloud", "seed", "--demo", "--json"]).output)
    assert again["tower_id"] == out["tower_id"]
    assert again["partners"]["demo"]["client_id"] != out["partners"]["demo"]["client_id"]
    service = build_service(CloudConfig.from_settings(get_settings()))
    demo = service.partners.partner_id("demo")
    assert len(service.lockers.list_lockers(demo, out["tower_id"])) >= 12
    assert service.towers.list_towers(service.partners.partner_id("other")) == []


def test_partners_create_prints_credentials_once(env: Path) -> None:
    r = CliRunner().invoke(app, ["cloud", "partners", "create", "acme"])
    assert r.exit_code == 0, r.output
    creds = json.loads(r.output)
    assert creds["name"] == "acme" and creds["client_secret"]
    assert set(creds["scopes"]) == {"service_provider", "tower_access"}
    again = CliRunner().invoke(app, ["cloud", "partners", "create", "acme"])
    assert again.exit_code != 0


def test_key_files_are_private(env: Path) -> None:
    build_service(CloudConfig.from_settings(get_settings()))
    for name in ("cloud-jwt.secret", "cloud-vault.key", "cloud-keys/k1.pem"):
        assert stat.S_IMODE((env / name).stat().st_mode) == 0o600, name


def test_rotation_signs_with_the_new_key_and_keeps_old_tokens(env: Path) -> None:
    config = CloudConfig.from_settings(get_settings())
    service = build_service(config)
    creds = service.partners.create_partner("p")
    tower = service.towers.create_tower("t")
    from berth.cloud.lockers.schemas import LockerCreate

    lid = service.lockers.add_lockers(tower.id, [LockerCreate(name="1")])[0].id
    service.towers.assign_tower(tower.id, creds.partner_id or 0)
    old = service.tokens.issue_token(creds.partner_id or 0, tower.id, lid, TokenKind.DROPOFF, 600)
    r = CliRunner().invoke(app, ["cloud", "keys", "rotate"])
    assert "k2" in r.output
    service = build_service(config)
    new = service.tokens.issue_token(creds.partner_id or 0, tower.id, lid, TokenKind.DROPOFF, 600)
    assert (old.key_id, new.key_id) == ("k1", "k2")
    keys = KeyRing.load_or_create(env / "cloud-keys").public_keys()
    now = new.expires_at.timestamp() - 1
    for tok in (old, new):
        assert verify(tok.payload, tok.payload_auth, tower.id, now - 10, keys, 0).token_id
