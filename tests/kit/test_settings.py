"""One settings object, nested by part, the only source of defaults; configs built from it are
frozen; both forms of environment variable work."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from berth.cloud.config import CloudConfig
from berth.gateway.config import GatewayConfig
from berth.hardware.opening import OpenPolicy
from berth.kit.settings import CloudSettings, HardwareSettings, Settings, TowerSettings, flat_names
from berth.stack import Stack
from berth.tower.sync import SyncConfig
from tests.support.configs import IsolatedSettings, isolated_settings

README = Path(__file__).parents[2] / "README.md"
# config field -> where its value comes from in Settings
GATEWAY_FROM = {
    "open_all_gap": ("hardware", "open_all_gap"),
    "door_poll_interval": ("hardware", "door_poll_interval"),
    "mdns": ("gateway", "mdns"), "host": ("gateway", "host"), "port": ("gateway", "port"),
    "key_failures_per_address": ("gateway", "key_failures_per_address"),
    "admin_login_failures_per_address": ("gateway", "admin_login_failures_per_address"),
    "tower_open_refusals_per_address": ("tower", "open_refusals_per_address"),
}


def _setting(settings: Settings, part: str, name: str) -> object:
    return getattr(getattr(settings, part), name)


def _gateway(settings: Settings) -> GatewayConfig:
    return GatewayConfig.from_settings(settings, api_key="k")


def _no_default(cls: type, names: set[str]) -> set[str]:
    """Those of ``names`` that have a default of their own in dataclass ``cls``."""
    return {f.name for f in dataclasses.fields(cls) if f.name in names
            and (f.default is not dataclasses.MISSING
                 or f.default_factory is not dataclasses.MISSING)}


def test_configs_have_no_default_of_their_own_for_a_setting() -> None:
    assert _no_default(GatewayConfig, set(GATEWAY_FROM) | {"db_url", "site", "api_key",
                                                           "policy", "tower_sync"}) == set()
    assert _no_default(CloudConfig, set(CloudSettings.model_fields) | {"db_url"}) == set()
    assert _no_default(SyncConfig, {"interval", "batch", "max_backoff"}) == set()
    assert _no_default(OpenPolicy, {"attempt_timeout", "attempts", "retry_gap"}) == set()


def test_every_config_value_is_the_setting(tmp_path: Path) -> None:
    settings = isolated_settings(data_dir=tmp_path)
    gateway = _gateway(settings)
    for field, (part, name) in GATEWAY_FROM.items():
        assert getattr(gateway, field) == _setting(settings, part, name), field
    assert gateway.db_url == f"sqlite:///{tmp_path / 'gateway.db'}"
    hw, tower = settings.hardware, settings.tower
    assert gateway.policy == OpenPolicy(hw.open_attempt_timeout, hw.open_attempts,
                                        hw.open_retry_gap)
    assert gateway.tower_sync == SyncConfig(tower.sync_interval, tower.sync_batch,
                                            tower.sync_max_backoff, tower.sync_wait)
    cloud = CloudConfig.from_settings(settings)
    webhooks = {n for n in CloudSettings.model_fields if n.startswith("webhooks_")}
    for name in set(CloudSettings.model_fields) - {"database_url", "host", "port",
                                                  "outbox_jsonl"} - webhooks:
        assert getattr(cloud, name) == _setting(settings, "cloud", name), name
    for name in webhooks:  # grouped in the config's WebhookPolicy
        value = getattr(cloud.webhooks, name.removeprefix("webhooks_"))
        assert value == _setting(settings, "cloud", name), name
    assert (cloud.db_url, cloud.data_dir) == (f"sqlite:///{tmp_path / 'cloud.db'}", tmp_path)


def test_a_default_changed_in_settings_reaches_every_config(tmp_path: Path) -> None:
    class Changed(IsolatedSettings):
        hardware: HardwareSettings = HardwareSettings(open_attempts=9, door_poll_interval=0.2)
        tower: TowerSettings = TowerSettings(sync_interval=7.0, open_refusals_per_address="1/day")
        cloud: CloudSettings = CloudSettings(access_token_ttl=60, hash_queue=1)

    settings = Changed(data_dir=tmp_path)
    gateway = _gateway(settings)
    assert (gateway.policy.attempts, gateway.door_poll_interval) == (9, 0.2)
    assert (gateway.tower_sync.interval, gateway.tower_open_refusals_per_address) == (7.0,
                                                                                      "1/day")
    cloud = CloudConfig.from_settings(settings)
    assert (cloud.access_token_ttl, cloud.hash_queue) == (60, 1)


def test_overrides_replace_single_fields(tmp_path: Path) -> None:
    settings = isolated_settings(data_dir=tmp_path)
    assert _gateway(settings).mdns is True
    varied = GatewayConfig.from_settings(settings, api_key="k", mdns=False, port=9001)
    assert (varied.mdns, varied.port, varied.host) == (False, 9001, settings.gateway.host)
    assert CloudConfig.from_settings(settings, sweep_interval=0).sweep_interval == 0


def test_configs_and_settings_refuse_assignment(tmp_path: Path) -> None:
    settings = isolated_settings(data_dir=tmp_path)
    gateway = _gateway(settings)
    with pytest.raises(dataclasses.FrozenInstanceError):
        gateway.port = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        CloudConfig.from_settings(settings).sweep_interval = 0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        gateway.tower_sync.interval = 1  # type: ignore[misc]
    with pytest.raises(ValidationError):
        settings.gateway.port = 1  # type: ignore[misc]
    with pytest.raises(ValidationError):
        settings.data_dir = tmp_path  # type: ignore[misc]
    assert dataclasses.replace(gateway, port=1).port == 1  # a variant is a new config


def test_flat_environment_names_keep_working(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"BERTH_GATEWAY_PORT": "9100", "BERTH_DATABASE_URL": "sqlite:///g.db",
                        "BERTH_MDNS": "false", "BERTH_OPEN_ATTEMPTS": "5",
                        "BERTH_CLOUD_PORT": "9200", "BERTH_ACCESS_TOKEN_TTL": "60",
                        "BERTH_TOWER_SYNC_INTERVAL": "9", "BERTH_GATEWAY_API_KEY": "secret",
                        "BERTH_DATA_DIR": "/srv/berth"}.items():
        monkeypatch.setenv(name, value)
    st = Settings()
    assert (st.gateway.port, st.gateway.database_url, st.gateway.mdns) == (9100, "sqlite:///g.db",
                                                                           False)
    assert (st.hardware.open_attempts, st.cloud.port, st.cloud.access_token_ttl) == (5, 9200, 60)
    assert (st.tower.sync_interval, st.gateway.api_key) == (9.0, "secret")
    assert st.data_dir == Path("/srv/berth")


def test_nested_environment_names_work_and_win_over_flat_ones(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BERTH_GATEWAY__PORT", "9300")
    monkeypatch.setenv("BERTH_GATEWAY_PORT", "9301")
    monkeypatch.setenv("BERTH_TOWER__SYNC_BATCH", "5")  # a setting with no flat name
    monkeypatch.setenv("BERTH_HARDWARE__OPEN_RETRY_GAP", "0.5")
    st = Settings()
    assert (st.gateway.port, st.tower.sync_batch, st.hardware.open_retry_gap) == (9300, 5, 0.5)
    assert Settings(gateway={"port": 1}).gateway.port == 1  # arguments win over both


def test_a_bad_value_names_its_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BERTH_TOWER_OPEN_REFUSALS_PER_ADDRESS", "lots")
    with pytest.raises(ValidationError, match="open_refusals_per_address"):
        Settings()


def test_every_flat_name_is_documented() -> None:
    documented = set(re.findall(r"BERTH_[A-Z_]+[A-Z]", README.read_text()))
    names = {flat for _part, _name, flat in flat_names(Settings)}
    assert len(names) == len(flat_names(Settings))  # no flat name is used twice
    assert names - documented == set()


def test_a_stack_takes_its_ports_from_settings() -> None:
    stack = Stack(isolated_settings(cloud={"port": 8123}, gateway={"port": 8124}))
    assert (stack.cloud_url, stack.gateway_url) == ("http://127.0.0.1:8123",
                                                    "http://127.0.0.1:8124")
    assert Stack(isolated_settings(), cloud_port=1).cloud_port == 1
