"""One settings object for the whole platform, read from BERTH_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
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

    def gateway_db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'gateway.db'}"

    def cloud_db_url(self) -> str:
        return self.cloud_database_url or f"sqlite:///{self.data_dir / 'cloud.db'}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
