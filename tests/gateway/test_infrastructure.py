"""API-key storage, admin session signing, mDNS service info, the group committer, the CLI."""

from __future__ import annotations

import asyncio
import stat
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from berth.cli.main import app as cli
from berth.gateway.auth import KEY_FILE, resolve_api_key
from berth.gateway.batcher import BatcherClosed, GroupCommitter
from berth.gateway.mdns import SERVICE_TYPE, build_service_info


def test_generated_key_is_stored_private_and_reused(tmp_path: Path) -> None:
    key, generated = resolve_api_key(None, tmp_path / "data")
    assert generated and len(key) >= 32
    path = tmp_path / "data" / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert resolve_api_key(None, tmp_path / "data") == (key, False)
    assert resolve_api_key("configured", tmp_path / "data") == ("configured", False)


def test_mdns_service_info() -> None:
    info = build_service_info(8080, ["192.168.1.20"], "locker-hub", "Demo")
    assert info.type == SERVICE_TYPE == "_berth-gateway._tcp.local."
    assert info.port == 8080 and info.server == "locker-hub.local."
    assert info.parsed_addresses() == ["192.168.1.20"]
    assert info.properties[b"path"] == b"/" and info.properties[b"site"] == b"Demo"


def test_group_committer_batches_concurrent_items_in_one_thread() -> None:
    batches: list[list[int]] = []
    threads: set[int] = set()

    def run(items: Sequence[int]) -> list[int]:
        threads.add(threading.get_ident())
        batches.append(list(items))
        return [i * 10 for i in items]

    async def scenario() -> list[int]:
        committer: GroupCommitter[int, int] = GroupCommitter(run, max_batch=50)
        await committer.start()
        results = await asyncio.gather(*(committer.submit(i) for i in range(120)))
        await committer.aclose()
        with pytest.raises(BatcherClosed):
            await committer.submit(1)
        return list(results)

    assert asyncio.run(scenario()) == [i * 10 for i in range(120)]
    assert len(batches) < 120 and max(len(b) for b in batches) <= 50
    assert sorted(i for b in batches for i in b) == list(range(120))
    assert len(threads) == 1


def test_group_committer_fails_only_the_batch_that_failed() -> None:
    def run(items: Sequence[int]) -> list[int]:
        if 13 in items:
            raise RuntimeError("disk on fire")
        return list(items)

    async def scenario() -> tuple[object, int]:
        committer: GroupCommitter[int, int] = GroupCommitter(run)
        await committer.start()
        bad = await asyncio.gather(committer.submit(13), return_exceptions=True)
        good = await committer.submit(7)
        await committer.aclose()
        return bad[0], good

    bad, good = asyncio.run(scenario())
    assert isinstance(bad, RuntimeError) and good == 7


def test_cli_rejects_a_bad_site_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BERTH_DATA_DIR", str(tmp_path))
    bad = tmp_path / "site.yaml"
    bad.write_text("banks: []\n")
    result = CliRunner().invoke(cli, ["gateway", "serve", "--site", str(bad), "--no-mdns"])
    assert result.exit_code == 2
    assert "Site error" in result.output


def test_public_paths_are_exactly_health_docs_and_self_authenticating_routers() -> None:
    from berth.gateway.app import is_public

    for path in ("/health", "/health/live", "/openapi.json", "/docs", "/admin", "/admin/login",
                 "/tower/open"):
        assert is_public(path), path
    for path in ("/transactions", "/lockers/1", "/system", "/administrator", "/towers", "/"):
        assert not is_public(path), path
