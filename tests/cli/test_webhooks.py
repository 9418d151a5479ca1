"""`berth webhooks listen`: verifies each delivery and keeps each webhook-id once."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

from standardwebhooks import Webhook
from starlette.testclient import TestClient

from berth.cli.webhooks import Receiver

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
BODY = json.dumps({"type": "LOCKER_OPERATION", "timestamp": "2026-12-03T10:00:00+00:00",
                   "data": {"locker_id": 7, "source": "LOCKER_TOKEN_USED"}})


def _headers(webhook_id: str, secret: str = SECRET, body: str = BODY) -> dict[str, str]:
    now = datetime.now(UTC)
    return {"webhook-id": webhook_id, "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(webhook_id, now, body)}


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_signed_delivery_is_kept_once_per_webhook_id(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text(SECRET + "\n")
    out = tmp_path / "hooks.jsonl"
    client = TestClient(Receiver(tmp_path / "secret", out).app())
    for _ in range(2):  # at least once: the second delivery of msg_1 is not kept again
        assert client.post("/hooks", content=BODY, headers=_headers("msg_1")).status_code == 204
    assert client.post("/other/path", content=BODY,
                       headers=_headers("msg_2")).status_code == 204
    kept = _lines(out)
    assert [k["webhook_id"] for k in kept] == ["msg_1", "msg_2"]
    assert kept[0]["verified"] is True and kept[0]["data"] == {"locker_id": 7,
                                                               "source": "LOCKER_TOKEN_USED"}
    # a restarted receiver remembers what it kept
    again = TestClient(Receiver(tmp_path / "secret", out).app())
    assert again.post("/hooks", content=BODY, headers=_headers("msg_1")).status_code == 204
    assert len(_lines(out)) == 2


def test_a_forged_or_tampered_delivery_is_refused_and_not_kept(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text(SECRET)
    out = tmp_path / "hooks.jsonl"
    client = TestClient(Receiver(tmp_path / "secret", out).app())
    other = "whsec_" + base64.b64encode(b"x" * 32).decode()
    assert client.post("/", content=BODY, headers=_headers("msg_1", other)).status_code == 400
    tampered = BODY.replace("7", "8")
    assert client.post("/", content=tampered, headers=_headers("msg_2")).status_code == 400
    assert client.post("/", content=BODY).status_code == 400  # unsigned
    assert not out.exists()


def test_without_its_secret_yet_it_asks_for_a_retry(tmp_path: Path) -> None:
    out = tmp_path / "hooks.jsonl"
    client = TestClient(Receiver(tmp_path / "secret", out).app())
    assert client.post("/", content=BODY, headers=_headers("msg_1")).status_code == 503
    (tmp_path / "secret").write_text(SECRET)  # the endpoint was registered meanwhile
    assert client.post("/", content=BODY, headers=_headers("msg_1")).status_code == 204
    assert len(_lines(out)) == 1
