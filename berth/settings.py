"""One settings object for the whole platform, read from BERTH_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from limits import parse
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BERTH_", extra="ignore")

    data_dir: Path = Field(Path("var"), description="Where SQLite files, keys and queues live.")

    # Gateway (on-site service)
    database_url: str | None = Field(None, description="Gateway DB; SQLite in data_dir by default.")
    gateway_api_key: str | None = Field(None, description="Gateway API key; generated when unset.")
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    site_file: Path | None = Field(None, description="Site YAML; built-in demo site when unset.")
    mdns: bool = True
    open_attempt_timeout: float = 20.0
    open_attempts: int = 3
    open_retry_gap: float = 1.0
    open_all_gap: float = 0.25
    door_poll_interval: float = 0.5
    tower_sync_interval: float = Field(2.0, description="Seconds between a tower's cloud syncs.")

    # Cloud (partner-facing service)
    cloud_database_url: str | None = Field(None, description="Cloud database; default SQLite.")
    cloud_host: str = "127.0.0.1"
    cloud_port: int = 8000
    cloud_jwt_secret: str | None = Field(None, description="HS256 secret for access tokens.")
    access_token_ttl: int = 300
    cloud_sweep_interval: float = Field(
        5.0, description="Seconds between the cloud's expiry sweeps (reads check expiry anyway)."
    )

    # Abuse limits (README, "Limits on failed attempts"): failures allowed per window, written
    # as "N/second", "N/minute", "N/hour" or "N/M minutes"; over it -> 429 with Retry-After.
    cloud_login_failures_per_client: str = "10/minute"
    cloud_login_failures_per_address: str = "30/minute"
    cloud_hash_concurrency: int | None = Field(
        None, ge=1, description="argon2 checks at once; the number of cores when unset.")
    cloud_hash_queue: int = Field(8, ge=0, description="Checks that may wait for a free slot.")
    cloud_hash_wait: float = Field(10.0, gt=0, description="Seconds a check may wait; then 503.")
    cloud_outbox_dispatch_interval: float = Field(
        1.0, ge=0, description="Seconds between idle outbox polls; 0 stops dispatching.")
    cloud_outbox_lease: float = Field(
        30.0, gt=0, description="Seconds a dispatcher's claim holds before another takes it.")
    cloud_outbox_jsonl: Path | None = Field(
        None, description="Append each dispatched outbox event to this file as a JSON line.")
    gateway_key_failures_per_address: str = "20/minute"
    gateway_admin_login_failures_per_address: str = "10/minute"
    tower_open_refusals_per_address: str = "30/minute"

    @field_validator("cloud_login_failures_per_client", "cloud_login_failures_per_address",
                     "gateway_key_failures_per_address",
                     "gateway_admin_login_failures_per_address",
                     "tower_open_refusals_per_address")
    @classmethod
    def _rate(cls, value: str) -> str:
        parse(value)  # ValueError names the bad string
        return value

    def gateway_db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'gateway.db'}"

    def cloud_db_url(self) -> str:
        return self.cloud_database_url or f"sqlite:///{self.data_dir / 'cloud.db'}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
