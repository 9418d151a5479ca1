"""Pick-up tokens with a keypad code: the answer carries the code, the tower command only a
signed salted digest bound to the token, and the cloud keeps the code nowhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, select

from berth.domain.keypad import verify_keypad_code
from tests.cloud.conftest import Cloud, make_cloud

TOKEN = {"client_info": "", "duration": 600}


def occupied(cloud: Cloud) -> int:
    lid = cloud.locker_ids()[0]
    drop = cloud.http.post(f"{cloud.lockers_url()}/{lid}/dropoff-locker-tokens", json=TOKEN,
                           headers=cloud.headers()).json()
    cloud.post_events(cloud.event("dropoff_token_used", locker_id=lid, token_id=drop["token_id"]))
    assert cloud.state(lid) == "occupied"
    return lid


def pickup(cloud: Cloud, lid: int, **body: Any) -> dict[str, Any]:
    r = cloud.http.post(f"{cloud.lockers_url()}/{lid}/pickup-locker-tokens",
                        json={**TOKEN, **body}, headers=cloud.headers())
    assert r.status_code == 201, r.text
    return r.json()


def commands(cloud: Cloud) -> list[dict[str, Any]]:
    r = cloud.http.get(f"/sdk/v1/towers/{cloud.tower_id}/commands",
                       headers=cloud.headers("demo", "tower_access"))
    assert r.status_code == 200, r.text
    return r.json()["commands"]


def every_value(cloud: Cloud) -> list[Any]:
    """Every cell of every cloud table."""
    meta = MetaData()
    with cloud.service.ctx.db.read() as conn:
        meta.reflect(conn)
        return [v for t in meta.sorted_tables for row in conn.execute(select(t)) for v in row]


def test_answer_carries_the_code_and_the_command_only_its_bound_digest(cloud: Cloud) -> None:
    lid = occupied(cloud)
    tok = pickup(cloud, lid, keypad_code=True)
    code = tok["keypad_code"]
    assert len(code) == 6 and code.isdigit()
    [command] = [c for c in commands(cloud) if c["kind"] == "keypad_code"]
    assert command["token_id"] == tok["token_id"] and command["locker_id"] == lid
    held = verify_keypad_code(command["payload"], command["payload_auth"], cloud.tower_id,
                              cloud.service.ctx.keyring.public_keys())
    assert held.binding.token_id == tok["token_id"]
    assert held.binding.generation == tok["generation"]
    assert held.matches(code)
    assert not held.matches(f"{(int(code) + 1) % 10**6:06d}")
    # the code is in no table: not as a value, not inside a JSON body or a hex payload
    for value in every_value(cloud):
        text = value.hex() if isinstance(value, bytes) else str(value)
        assert text != code and f'"{code}"' not in text and code.encode().hex() not in text
    issued = [e for e in cloud.http.get("/api/v1/events", headers=cloud.headers()).json()
              ["events"] if e["type"] == "token.issued"][-1]
    assert issued["data"]["keypad"] is True and code not in str(issued)


def test_without_the_flag_no_code_and_no_command(cloud: Cloud) -> None:
    tok = pickup(cloud, occupied(cloud))
    assert tok["keypad_code"] is None
    assert [c for c in commands(cloud) if c["kind"] == "keypad_code"] == []


def test_the_flag_must_be_a_boolean(cloud: Cloud) -> None:
    r = cloud.http.post(f"{cloud.lockers_url()}/{occupied(cloud)}/pickup-locker-tokens",
                        json={**TOKEN, "keypad_code": "yes"}, headers=cloud.headers())
    assert r.status_code == 422


def test_using_the_pickup_closes_a_code_that_never_reached_the_tower(cloud: Cloud) -> None:
    lid = occupied(cloud)
    tok = pickup(cloud, lid, keypad_code=True)
    cloud.post_events(cloud.event("pickup_token_used", locker_id=lid, token_id=tok["token_id"]))
    assert cloud.state(lid) == "available"
    assert [c for c in commands(cloud) if c["kind"] == "keypad_code"] == []


def test_keypad_lockout_becomes_a_partner_event(cloud: Cloud) -> None:
    r = cloud.post_events(cloud.event("keypad_locked", locked_until=123, lockout_seconds=60,
                                      lockouts=1, failures=5))
    assert r.json()["results"][0]["outcome"] == "recorded"
    events = cloud.http.get("/api/v1/events", headers=cloud.headers()).json()["events"]
    locked = [e for e in events if e["type"] == "tower.keypad_locked"]
    assert len(locked) == 1
    assert locked[0]["data"]["lockout_seconds"] == 60 and locked[0]["tower_id"] == cloud.tower_id


@pytest.fixture
def eight_digits(sqlite_url: str, tmp_path: Path) -> Iterator[Cloud]:
    yield from make_cloud(sqlite_url, tmp_path / "data", keypad_code_digits=8)


def test_a_setting_chooses_the_length(eight_digits: Cloud) -> None:
    code = pickup(eight_digits, occupied(eight_digits), keypad_code=True)["keypad_code"]
    assert len(code) == 8 and code.isdigit()
