"""The SDK's I/O-free conversation logic: retries, backoff schedule, token refresh, typed errors."""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest

from berth.kit.clock import FakeClock
from berth.sdk import errors
from berth.sdk._core import (
    Call,
    Credentials,
    Pause,
    RetryPolicy,
    Send,
    TokenCache,
    exchange,
    raw_json,
)


def reply(status: int, body: Any) -> httpx.Response:
    return httpx.Response(status, json=body)


CONFLICT = {"error": "LOCKER_ASSIGNMENT_CONFLICT", "message": "lost a race", "timestamp": "x",
            "details": {}}


def play(conversation, answers):  # type: ignore[no-untyped-def]
    """Feed answers to the conversation; return (steps, result or exception)."""
    steps = []
    answers = iter(answers)
    try:
        step = next(conversation)
        while True:
            steps.append(step)
            step = conversation.send(None if isinstance(step, Pause) else next(answers))
    except StopIteration as done:
        return steps, done.value
    except errors.BerthApiError as exc:
        return steps, exc


def test_conflict_is_retried_with_backoff_then_succeeds() -> None:
    call = Call("POST", "/transactions", raw_json, json={}, retry_on_conflict=True)
    policy = RetryPolicy(jitter=0.0)
    steps, result = play(exchange(call, Credentials(api_key="k"), policy),
                         [reply(503, CONFLICT), reply(503, CONFLICT), reply(201, {"ok": 1})])
    assert [s.seconds for s in steps if isinstance(s, Pause)] == [0.1, 0.2]
    assert result == {"ok": 1}
    assert all(s.headers == {"X-API-Key": "k"} for s in steps if isinstance(s, Send))


def test_conflict_gives_up_after_three_retries_with_typed_error() -> None:
    call = Call("POST", "/transactions", raw_json, retry_on_conflict=True)
    steps, result = play(exchange(call, Credentials(api_key="k"), RetryPolicy(jitter=0.0)),
                         [reply(503, CONFLICT)] * 4)
    assert [s.seconds for s in steps if isinstance(s, Pause)] == [0.1, 0.2, 0.4]
    assert isinstance(result, errors.ServiceUnavailable)
    assert result.code == "LOCKER_ASSIGNMENT_CONFLICT"


def test_jitter_stays_within_bounds() -> None:
    policy = RetryPolicy(jitter=0.5, rng=random.Random(7))
    for _ in range(50):
        for base, got in zip((0.1, 0.2, 0.4), policy.schedule(), strict=True):
            assert 0.5 * base <= got <= 1.5 * base
    assert len({round(d, 6) for d in RetryPolicy(rng=random.Random(1)).schedule()}) == 3


def test_other_503_is_not_retried() -> None:
    call = Call("POST", "/transactions", raw_json, retry_on_conflict=True)
    steps, result = play(exchange(call, Credentials(api_key="k"), RetryPolicy()),
                         [reply(503, {"error": "MAINTENANCE", "message": "m"})])
    assert not [s for s in steps if isinstance(s, Pause)]
    assert isinstance(result, errors.ServiceUnavailable) and result.code == "MAINTENANCE"


def test_token_is_fetched_cached_and_refreshed_before_expiry() -> None:
    clock = FakeClock()
    tokens = TokenCache("id", "secret", "service_provider", clock=clock)
    creds = Credentials(tokens=tokens)
    call = Call("GET", "/api/v1/towers", raw_json)
    grant = {"access_token": "t1", "token_type": "Bearer", "expires_in": 300}
    steps, _ = play(exchange(call, creds, RetryPolicy()), [reply(200, grant), reply(200, [])])
    token_step, api_step = steps
    assert isinstance(token_step, Send) and token_step.call.data == {
        "grant_type": "client_credentials", "client_id": "id", "client_secret": "secret",
        "scope": "service_provider"}
    assert isinstance(api_step, Send) and api_step.headers == {"Authorization": "Bearer t1"}

    steps, _ = play(exchange(call, creds, RetryPolicy()), [reply(200, [])])
    assert len(steps) == 1  # cached

    clock.advance(280)  # within the refresh margin of the 300 s lifetime
    grant2 = dict(grant, access_token="t2")
    steps, _ = play(exchange(call, creds, RetryPolicy()), [reply(200, grant2), reply(200, [])])
    assert steps[-1].headers == {"Authorization": "Bearer t2"}


def test_401_refetches_token_once() -> None:
    tokens = TokenCache("id", "s", "service_provider", clock=FakeClock())
    tokens.store({"access_token": "stale", "expires_in": 300})
    call = Call("GET", "/api/v1/towers", raw_json)
    unauthorized = {"detail": "expired", "code": "TOKEN_INVALID"}
    grant = {"access_token": "fresh", "expires_in": 300}
    steps, result = play(exchange(call, Credentials(tokens=tokens), RetryPolicy()),
                         [reply(401, unauthorized), reply(200, grant), reply(200, ["ok"])])
    assert result == ["ok"]
    assert steps[-1].headers == {"Authorization": "Bearer fresh"}
    steps, result = play(exchange(call, Credentials(tokens=tokens), RetryPolicy()),
                         [reply(401, unauthorized), reply(200, grant), reply(401, unauthorized)])
    assert isinstance(result, errors.AuthenticationError) and result.code == "TOKEN_INVALID"


@pytest.mark.parametrize(
    ("status", "body", "cls", "code"),
    [
        (404, {"error": "TRANSACTION_NOT_FOUND", "message": "m"}, errors.NotFound,
         "TRANSACTION_NOT_FOUND"),
        (409, {"detail": "m", "code": "LOCKER_OCCUPIED"}, errors.Conflict, "LOCKER_OCCUPIED"),
        (409, {"detail": {"code": "LOCKER_OCCUPIED", "message": "m"}}, errors.Conflict,
         "LOCKER_OCCUPIED"),  # the cloud's earlier shape, still read
        (422, {"detail": [{"loc": ["body", "duration"], "msg": "bad", "type": "x"}]},
         errors.ValidationFailed, "VALIDATION_ERROR"),
        (403, {"detail": "Not enough permissions"}, errors.PermissionDenied, "HTTP_403"),
        (429, {"error": "TOO_MANY_REQUESTS", "message": "m"}, errors.TooManyRequests,
         "TOO_MANY_REQUESTS"),
        (429, {"detail": "m", "code": "TOO_MANY_ATTEMPTS"}, errors.TooManyRequests,
         "TOO_MANY_ATTEMPTS"),
        (500, "oops", errors.BerthApiError, "HTTP_500"),
    ],
)
def test_errors_are_typed_with_server_code(status: int, body: Any, cls: type, code: str) -> None:
    call = Call("GET", "/x", raw_json)
    response = httpx.Response(status, json=body) if not isinstance(body, str) else \
        httpx.Response(status, text=body)
    _, result = play(exchange(call, Credentials(api_key="k"), RetryPolicy()), [response])
    assert type(result) is cls and result.code == code and result.status == status


@pytest.mark.parametrize(("header", "expected"), [("7", 7.0), ("0.5", 0.5), ("soon", None),
                                                  ("-1", None), ("nan", None), (None, None)])
def test_retry_after_is_read_from_the_header(header: str | None, expected: float | None) -> None:
    call = Call("GET", "/x", raw_json)
    headers = {"Retry-After": header} if header is not None else {}
    body = {"detail": "m", "code": "DATABASE_UNAVAILABLE"}
    response = httpx.Response(503, json=body, headers=headers)
    _, result = play(exchange(call, Credentials(api_key="k"), RetryPolicy()), [response])
    assert isinstance(result, errors.ServiceUnavailable) and result.retry_after == expected
