"""Configs for tests, built the way the services build theirs: from ``Settings``.

``isolated_settings`` reads no environment (a developer's BERTH_* variables never leak into a
test), so every value not given is the one default in ``berth/kit/settings.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from berth.cloud.config import CloudConfig
from berth.gateway.config import GatewayConfig
from berth.kit.settings import Settings


class IsolatedSettings(Settings):
    """``Settings`` from its defaults and its arguments only."""

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        *_others: PydanticBaseSettingsSource, **_named: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def isolated_settings(**values: Any) -> Settings:
    """``isolated_settings(data_dir=tmp, cloud={"hash_queue": 0})``: nested parts as dicts."""
    return IsolatedSettings(**values)


def gateway_config(db_url: str, settings: Settings | None = None,
                   **overrides: Any) -> GatewayConfig:
    """A gateway config on ``db_url``; ``overrides`` are further GatewayConfig fields."""
    return GatewayConfig.from_settings(settings or isolated_settings(), db_url=db_url,
                                       **overrides)


def cloud_config(db_url: str, data_dir: Path, settings: Settings | None = None,
                 **overrides: Any) -> CloudConfig:
    """A cloud config on ``db_url`` keeping its keys in ``data_dir``; ``overrides``: fields."""
    return CloudConfig.from_settings(settings or isolated_settings(), db_url=db_url,
                                     data_dir=Path(data_dir), **overrides)
