"""One settings object for the whole platform, nested by part, read from BERTH_* variables.

``Settings`` is the only place a default lives: ``GatewayConfig``, ``CloudConfig``, the tower's
``SyncConfig`` and the open rule are built from it (``from_settings(settings, **overrides)``)
and never edited afterwards. Each part is a sub-model (``settings.gateway.port``). Every value
can be set in the nested form ``BERTH_GATEWAY__PORT`` and, for the names deployments already
use, in the documented flat form ``BERTH_GATEWAY_PORT`` (named next to each field below); when
both are set, the nested one wins.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from limits import parse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)


def setting(default: Any, flat: str | None = None, description: str | None = None,
            **constraints: Any) -> Any:
    """A field with its default and, if deployments know one, its flat variable name."""
    extra: dict[str, Any] | None = {"flat_env": flat} if flat else None
    return Field(default, description=description, json_schema_extra=extra, **constraints)


def _rate(value: str) -> str:
    """A rate string of the `limits` package ("10/minute"); ValueError names a bad one."""
    parse(value)
    return value


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class GatewaySettings(_Part):
    """The on-site Gateway API."""

    database_url: str | None = setting(None, "BERTH_DATABASE_URL",
                                       "Gateway DB; SQLite in data_dir by default.")
    api_key: str | None = setting(None, "BERTH_GATEWAY_API_KEY",
                                  "Gateway API key; generated when unset.")
    technician_key: str | None = setting(
        None, "BERTH_GATEWAY_TECHNICIAN_KEY",
        "Logs in to /admin as a technician (doors, service state); unset: owners only.",
        min_length=12)
    heartbeat_stale_after: float = setting(
        300.0, "BERTH_GATEWAY_HEARTBEAT_STALE_AFTER",
        "Seconds without a heartbeat before the console marks a device stale.", gt=0)
    host: str = setting("127.0.0.1", "BERTH_GATEWAY_HOST")
    port: int = setting(8080, "BERTH_GATEWAY_PORT")
    site_file: Path | None = setting(None, "BERTH_SITE_FILE",
                                     "Site YAML; built-in demo site when unset.")
    mdns: bool = setting(True, "BERTH_MDNS")
    # failures allowed per address and window (README, "Limits on failed attempts")
    key_failures_per_address: str = setting("20/minute", "BERTH_GATEWAY_KEY_FAILURES_PER_ADDRESS")
    admin_login_failures_per_address: str = setting(
        "10/minute", "BERTH_GATEWAY_ADMIN_LOGIN_FAILURES_PER_ADDRESS")

    _rates = field_validator("key_failures_per_address",
                             "admin_login_failures_per_address")(_rate)


class HardwareSettings(_Part):
    """The open rule and door polling (``berth.hardware.opening.OpenPolicy``)."""

    open_attempt_timeout: float = setting(20.0, "BERTH_OPEN_ATTEMPT_TIMEOUT", gt=0)
    open_attempts: int = setting(3, "BERTH_OPEN_ATTEMPTS", ge=1)
    open_retry_gap: float = setting(1.0, "BERTH_OPEN_RETRY_GAP", ge=0)
    open_all_gap: float = setting(0.25, "BERTH_OPEN_ALL_GAP", ge=0)
    door_poll_interval: float = setting(0.5, "BERTH_DOOR_POLL_INTERVAL", gt=0)


class TowerSettings(_Part):
    """The gateway as a cloud tower: its cloud sync, its ``/tower/open`` limit, its keypad."""

    sync_interval: float = setting(2.0, "BERTH_TOWER_SYNC_INTERVAL",
                                   "Seconds between a tower's cloud syncs.", gt=0)
    sync_batch: int = setting(100, None, "Events pushed per request.", ge=1)
    sync_wait: float = setting(
        20.0, None, "Seconds the cloud may hold a command poll (long-poll); 0: plain polls every "
        "sync interval.", ge=0, le=60)
    sync_max_backoff: float = setting(60.0, None, "Longest wait between failing syncs.", gt=0)
    open_refusals_per_address: str = setting("30/minute", "BERTH_TOWER_OPEN_REFUSALS_PER_ADDRESS")
    keypad_max_failures: int = setting(
        5, "BERTH_TOWER_KEYPAD_MAX_FAILURES",
        "Wrong keypad codes in a row before the keypad locks.", ge=1, le=100)
    keypad_lockout: int = setting(
        60, "BERTH_TOWER_KEYPAD_LOCKOUT",
        "Seconds of the first keypad lockout; each further one doubles.", ge=1)
    keypad_lockout_max: int = setting(
        3600, "BERTH_TOWER_KEYPAD_LOCKOUT_MAX", "Longest keypad lockout, seconds.", ge=1)

    _rates = field_validator("open_refusals_per_address")(_rate)


class CloudSettings(_Part):
    """The partner-facing Cloud API."""

    database_url: str | None = setting(None, "BERTH_CLOUD_DATABASE_URL",
                                       "Cloud database; default SQLite.")
    host: str = setting("127.0.0.1", "BERTH_CLOUD_HOST")
    port: int = setting(8000, "BERTH_CLOUD_PORT")
    jwt_secret: str | None = setting(None, "BERTH_CLOUD_JWT_SECRET",
                                     "HS256 secret for access tokens.")
    access_token_ttl: int = setting(300, "BERTH_ACCESS_TOKEN_TTL", gt=0)
    sweep_interval: float = setting(
        5.0, "BERTH_CLOUD_SWEEP_INTERVAL",
        "Seconds between the cloud's expiry sweeps (reads check expiry anyway); 0 stops them.")
    tower_offline_after: float = setting(
        300.0, "BERTH_CLOUD_TOWER_OFFLINE_AFTER",
        "Seconds without a sync after which the sweeper counts a tower offline (tower.offline; "
        "tower.back on its next sync); 0 stops watching.", ge=0)
    login_failures_per_client: str = setting("10/minute", "BERTH_CLOUD_LOGIN_FAILURES_PER_CLIENT")
    login_failures_per_address: str = setting("30/minute",
                                              "BERTH_CLOUD_LOGIN_FAILURES_PER_ADDRESS")
    hash_concurrency: int | None = setting(
        None, "BERTH_CLOUD_HASH_CONCURRENCY", "argon2 checks at once; the number of cores when "
        "unset.", ge=1)
    hash_queue: int = setting(8, "BERTH_CLOUD_HASH_QUEUE", "Checks that may wait for a free "
                              "slot.", ge=0)
    hash_wait: float = setting(10.0, "BERTH_CLOUD_HASH_WAIT", "Seconds a check may wait; then "
                               "503.", gt=0)
    secret_cache_ttl: float = setting(
        60.0, "BERTH_CLOUD_SECRET_CACHE_TTL",
        "Seconds a verified client secret skips argon2 on its next token request; 0: never.",
        ge=0)
    command_poll_interval: float = setting(
        0.25, "BERTH_CLOUD_COMMAND_POLL_INTERVAL",
        "Seconds between a process's checks for new tower commands (wakes long-polls).", gt=0)
    outbox_dispatch_interval: float = setting(
        1.0, "BERTH_CLOUD_OUTBOX_DISPATCH_INTERVAL",
        "Seconds between idle outbox polls; 0 stops dispatching.", ge=0)
    outbox_lease: float = setting(
        30.0, "BERTH_CLOUD_OUTBOX_LEASE",
        "Seconds a dispatcher's claim holds before another takes it.", gt=0)
    outbox_jsonl: Path | None = setting(
        None, "BERTH_CLOUD_OUTBOX_JSONL",
        "Append each dispatched outbox event to this file as a JSON line.")
    keypad_code_digits: int = setting(
        6, "BERTH_CLOUD_KEYPAD_CODE_DIGITS", "Digits of a pick-up token's keypad code.",
        ge=6, le=8)
    webhooks_allow_private: bool = setting(
        False, "BERTH_CLOUD_WEBHOOKS_ALLOW_PRIVATE",
        "Allow webhook targets in private, loopback or link-local ranges (the local stack).")
    webhooks_delivery_interval: float = setting(
        1.0, "BERTH_CLOUD_WEBHOOKS_DELIVERY_INTERVAL",
        "Seconds between idle webhook delivery polls; 0 stops webhooks.", ge=0)
    webhooks_retry_base: float = setting(
        10.0, "BERTH_CLOUD_WEBHOOKS_RETRY_BASE",
        "Seconds before a failed delivery's first retry; doubles per attempt, with jitter.", gt=0)
    webhooks_retry_max: float = setting(
        3600.0, "BERTH_CLOUD_WEBHOOKS_RETRY_MAX", "Longest wait between two attempts.", gt=0)
    webhooks_disable_after: float = setting(
        5 * 86400.0, "BERTH_CLOUD_WEBHOOKS_DISABLE_AFTER",
        "Seconds an endpoint may fail before it is disabled (and the partner told).", gt=0)
    webhooks_rotation_overlap: float = setting(
        86400.0, "BERTH_CLOUD_WEBHOOKS_ROTATION_OVERLAP",
        "Seconds the previous secret still signs after a rotation.", ge=0)

    _rates = field_validator("login_failures_per_client", "login_failures_per_address")(_rate)


class FleetSettings(_Part):
    """The fleet link over an MQTT 5 broker (docs/fleet.md): a gateway connects out to it when
    ``broker_url`` is set; the cloud's fleet API reaches sites through the same broker."""

    broker_url: str | None = setting(
        None, "BERTH_FLEET_BROKER_URL",
        "mqtt://host:port (or mqtts:// for TLS); unset: no fleet link.")
    site_id: str | None = setting(None, "BERTH_FLEET_SITE_ID",
                                  "This gateway's site id (its broker user name).")
    credentials_file: Path | None = setting(
        None, "BERTH_FLEET_CREDENTIALS_FILE",
        "The gateway's broker credentials (JSON: username, password; 0600), written by "
        "`berth fleet bind`.")
    cloud_credentials_file: Path | None = setting(
        None, "BERTH_FLEET_CLOUD_CREDENTIALS_FILE",
        "The fleet API's broker credentials (same form); unset: the fleet API answers 503.")
    tls_ca: Path | None = setting(None, "BERTH_FLEET_TLS_CA",
                                  "CA certificate to verify the broker by (mqtts://).")
    keepalive: int = setting(15, "BERTH_FLEET_KEEPALIVE",
                             "MQTT keep-alive seconds: a silent site is offline after 1.5x.",
                             ge=2, le=600)
    reconnect_max: float = setting(10.0, None, "Longest wait between reconnect attempts.", gt=0)
    request_ttl: float = setting(
        60.0, "BERTH_FLEET_REQUEST_TTL",
        "Seconds a request may still be delivered to its site; later it expires unexecuted.",
        gt=0)
    read_wait: float = setting(5.0, None, "Seconds the fleet API waits for a read.", ge=0)
    write_wait: float = setting(10.0, None, "Seconds it waits for a write.", ge=0)
    hardware_wait: float = setting(15.0, None, "Seconds it waits for a door.", ge=0)
    max_wait: float = setting(30.0, None, "The most a `Prefer: wait=N` may ask.", ge=0)
    requests_per_minute: int = setting(120, "BERTH_FLEET_REQUESTS_PER_MINUTE",
                                       "Fleet API calls per key and minute.", ge=1)
    tower_reply_wait: float = setting(
        10.0, None, "Seconds a tower waits for the cloud's reply over the broker before it "
        "makes that sync call over HTTP.", gt=0)


class FlatEnvSource(PydanticBaseSettingsSource):
    """The documented flat names (``BERTH_GATEWAY_PORT``) of nested fields (``gateway.port``).

    Deployments set these; each field names its own (``setting(..., flat=...)``).
    """

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads every part at once

    def __call__(self) -> dict[str, Any]:
        env = {name.upper(): value for name, value in os.environ.items()}
        found: dict[str, dict[str, str]] = {}
        for part, name, flat in flat_names(self.settings_cls):
            if flat in env:
                found.setdefault(part, {})[name] = env[flat]
        return found


def flat_names(settings_cls: type[BaseSettings]) -> list[tuple[str, str, str]]:
    """(part, field, flat variable) for every nested field that has a flat name."""
    names = []
    for part, info in settings_cls.model_fields.items():
        model = info.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue
        for name, sub in model.model_fields.items():
            extra = sub.json_schema_extra
            if isinstance(extra, dict) and isinstance(extra.get("flat_env"), str):
                names.append((part, name, str(extra["flat_env"])))
    return names


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BERTH_", env_nested_delimiter="__",
                                      extra="ignore", frozen=True)

    data_dir: Path = Field(Path("var"), description="Where SQLite files, keys and queues live.")
    log_json: bool = Field(False, description="Log one JSON object a line (BERTH_LOG_JSON).")
    log_level: str = Field("WARNING", pattern="(?i)^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$",
                           description="Log level of the services (BERTH_LOG_LEVEL); INFO "
                           "adds one access line per request.")
    gateway: GatewaySettings = GatewaySettings()
    hardware: HardwareSettings = HardwareSettings()
    tower: TowerSettings = TowerSettings()
    cloud: CloudSettings = CloudSettings()
    fleet: FleetSettings = FleetSettings()

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then nested variables, then flat ones (the first that sets a value wins)."""
        return (init_settings, env_settings, FlatEnvSource(settings_cls), dotenv_settings,
                file_secret_settings)

    def gateway_db_url(self) -> str:
        return self.gateway.database_url or f"sqlite:///{self.data_dir / 'gateway.db'}"

    def cloud_db_url(self) -> str:
        return self.cloud.database_url or f"sqlite:///{self.data_dir / 'cloud.db'}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
