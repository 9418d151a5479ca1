"""Every domain refusal renders as the gateway's ``Error`` body with its kind's status."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from berth.domain import errors as de
from berth.domain.matching import MatchError
from berth.gateway.errors import render
from berth.gateway.transactions.schemas import TransactionRecord
from berth.gateway.transactions.service import DuplicateTransaction

KINDS = [(de.InvalidInput, 400), (de.Unauthenticated, 401), (de.Forbidden, 403),
         (de.NotFound, 404), (de.Conflict, 409), (de.TooManyAttempts, 429),
         (de.Unavailable, 503)]


@pytest.mark.parametrize(("kind", "status"), KINDS)
def test_each_kind_renders_its_status_and_the_error_body(kind: type[de.DomainError],
                                                         status: int) -> None:
    response = render(kind("SOME_CODE", "what happened", {"id": 7}))
    body = json.loads(response.body)
    assert response.status_code == status
    assert body["error"] == "SOME_CODE" and body["message"] == "what happened"
    assert body["details"] == {"id": 7} and body["timestamp"].endswith("Z")
    assert ("retry-after" in response.headers) is issubclass(kind, de.RetryLater)


def test_retry_after_comes_from_the_error() -> None:
    response = render(de.Unavailable("BUSY", "later", retry_after=7))
    assert response.headers["Retry-After"] == "7"


def test_gateway_refusals_are_domain_kinds() -> None:
    """The matching rule's refusals are 400s, a taken transaction id a 409 (as on the wire)."""
    assert render(MatchError("ITEM_TOO_LARGE", "no locker can hold it")).status_code == 400
    dup = DuplicateTransaction(TransactionRecord("t-1", 3, datetime.now(UTC), None))
    assert isinstance(dup, de.Conflict) and dup.code == "TRANSACTION_EXISTS"
    assert render(dup).status_code == 409


def test_an_impossible_request_is_a_400_with_its_matching_code(client: TestClient) -> None:
    r = client.post("/transactions", json={"transactionId": "huge", "widthInches": 90,
                                           "heightInches": 90, "lengthInches": 90})
    assert (r.status_code, r.json()["error"]) == (400, "ITEM_TOO_LARGE")
    r = client.post("/transactions", json={"transactionId": "odd",
                                           "preferredLockerType": "giant"})
    assert (r.status_code, r.json()["error"]) == (400, "UNKNOWN_LOCKER_TYPE")
