"""Request ids in and out (X-Request-ID) and into every log record; JSON log lines."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from berth.kit import logs
from tests.gateway.conftest import AUTH


def test_request_id_is_echoed_or_made(client: TestClient) -> None:
    assert client.get("/health", headers={"X-Request-ID": "trace-42"}).headers[
        "X-Request-ID"] == "trace-42"
    made = client.get("/health", headers={"X-Request-ID": "bad id\nwith newline"})
    assert made.headers["X-Request-ID"] != "bad id\nwith newline"
    assert len(made.headers["X-Request-ID"]) == 16
    refused = client.get("/lockers", headers={"X-API-Key": "wrong"})
    assert refused.status_code == 401 and refused.headers["X-Request-ID"]


def test_the_request_id_follows_the_request_into_json_logs(
        client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.configure(json_lines=True, level="info")
        client.post("/transactions", json={"transactionId": "logged"},
                    headers=AUTH | {"X-Request-ID": "req-7"})
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    access = [line for line in lines if line["logger"] == "berth.access"]
    assert access and access[-1]["request_id"] == "req-7"
    assert access[-1] | {"method": "POST", "path": "/transactions", "status": 201} == access[-1]
