"""What the sync and async clients share: call descriptions, retry policy, token cache.

Each API method is written once as a ``Call`` (method, path, body, how to parse the answer); the
sync and async clients differ only in how they send it. That keeps the two flavours from drifting.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, Self, TypeVar

import httpx

from berth.kit.clock import Clock, utcnow
from berth.sdk.errors import raise_for_response

T = TypeVar("T")
Result = T | Awaitable[T]  # sync clients return T, async clients an awaitable of T

ASSIGNMENT_CONFLICT = "LOCKER_ASSIGNMENT_CONFLICT"


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    json: Any = None
    params: dict[str, Any] | None = None
    data: dict[str, str] | None = None
    authenticated: bool = True
    retry_on_conflict: bool = False


def json_of(model: Callable[..., T]) -> Callable[[httpx.Response], T]:
    """Parse a JSON object body into ``model`` (a Pydantic model or a keyword constructor)."""
    validate = getattr(model, "model_validate", None)
    if validate is not None:
        return lambda r: validate(r.json())
    return lambda r: model(**r.json())


def list_of(model: Callable[..., T]) -> Callable[[httpx.Response], list[T]]:
    validate = getattr(model, "model_validate", None)
    one: Callable[[Any], T] = validate if validate is not None else (lambda d: model(**d))
    return lambda r: [one(item) for item in r.json()]


def raw_json(response: httpx.Response) -> Any:
    return response.json()


def nothing(_response: httpx.Response) -> None:
    return None


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff for 503 LOCKER_ASSIGNMENT_CONFLICT: 100, 200, 400 ms with jitter."""

    delays: tuple[float, ...] = (0.1, 0.2, 0.4)
    jitter: float = 0.5  # each delay is scaled by a random factor in [1 - jitter, 1 + jitter]
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def schedule(self) -> Iterator[float]:
        for base in self.delays:
            yield base * (1 + self.jitter * (2 * self.rng.random() - 1))


def is_assignment_conflict(response: httpx.Response) -> bool:
    if response.status_code != 503:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("error") == ASSIGNMENT_CONFLICT


def finish(call: Call[T], response: httpx.Response) -> T:
    raise_for_response(response)
    return call.parse(response)


class TokenCache:
    """An OAuth2 client-credentials access token, refreshed shortly before it expires."""

    def __init__(self, client_id: str, client_secret: str, scope: str,
                 clock: Clock = utcnow, refresh_margin: float = 30.0) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.scope = scope
        self.clock = clock
        self.refresh_margin = refresh_margin
        self.token: str | None = None
        self.expires_at: datetime | None = None

    def valid(self) -> str | None:
        if self.token and self.expires_at and self.clock() < self.expires_at:
            return self.token
        return None

    def token_call(self, path: str = "/oauth/token") -> Call[dict[str, Any]]:
        form = {"grant_type": "client_credentials", "client_id": self.client_id,
                "client_secret": self.client_secret, "scope": self.scope}
        return Call("POST", path, raw_json, data=form, authenticated=False)

    def store(self, answer: dict[str, Any]) -> str:
        lifetime = max(float(answer.get("expires_in", 300)) - self.refresh_margin, 1.0)
        self.token = str(answer["access_token"])
        self.expires_at = self.clock() + timedelta(seconds=lifetime)
        return self.token

    def forget(self) -> None:
        self.token = None
        self.expires_at = None


@dataclass(frozen=True)
class Credentials:
    """Either a gateway API key or a cloud client-credentials token cache."""

    api_key: str | None = None
    tokens: TokenCache | None = None
    token_path: str = "/oauth/token"


@dataclass(frozen=True)
class Send:
    call: Call[Any]
    headers: dict[str, str]


@dataclass(frozen=True)
class Pause:
    seconds: float


Exchange = Generator[Send | Pause, httpx.Response | None, T]


def exchange(call: Call[T], creds: Credentials, retry: RetryPolicy) -> Exchange[T]:
    """The whole conversation for one call, free of I/O: it yields what to send or how long to wait.

    Fetches or refreshes the access token, retries a 401 once with a fresh token, and retries
    503 LOCKER_ASSIGNMENT_CONFLICT on the backoff schedule.
    """
    delays = retry.schedule() if call.retry_on_conflict else iter(())
    refreshed = False
    while True:
        headers: dict[str, str] = {}
        if call.authenticated and creds.api_key:
            headers["X-API-Key"] = creds.api_key
        elif call.authenticated and creds.tokens:
            token = creds.tokens.valid()
            if token is None:
                token_call = creds.tokens.token_call(creds.token_path)
                answer = yield Send(token_call, {})
                assert answer is not None
                token = creds.tokens.store(finish(token_call, answer))
            headers["Authorization"] = f"Bearer {token}"
        response = yield Send(call, headers)
        assert response is not None
        if response.status_code == 401 and creds.tokens and call.authenticated and not refreshed:
            creds.tokens.forget()
            refreshed = True
            continue
        if is_assignment_conflict(response):
            delay = next(delays, None)
            if delay is not None:
                yield Pause(delay)
                continue
        return finish(call, response)


def _request(http: httpx.Client | httpx.AsyncClient, step: Send) -> Any:
    c = step.call
    return http.request(c.method, c.path, json=c.json, params=c.params, data=c.data,
                        headers=step.headers)


def drive(conversation: Exchange[T], http: httpx.Client,
          sleep: Callable[[float], None]) -> T:
    try:
        step = next(conversation)
        while True:
            if isinstance(step, Pause):
                sleep(step.seconds)
                step = conversation.send(None)
            else:
                step = conversation.send(_request(http, step))
    except StopIteration as done:
        return done.value


async def drive_async(conversation: Exchange[T], http: httpx.AsyncClient,
                      sleep: Callable[[float], Awaitable[None]]) -> T:
    try:
        step = next(conversation)
        while True:
            if isinstance(step, Pause):
                await sleep(step.seconds)
                step = conversation.send(None)
            else:
                step = conversation.send(await _request(http, step))
    except StopIteration as done:
        return done.value


class SyncBase:
    """Sends calls with a blocking ``httpx.Client``."""

    def __init__(self, base_url: str, creds: Credentials, *, retry: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep, timeout: float = 90.0,
                 http: httpx.Client | None = None) -> None:
        self.creds = creds
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self.http = http or httpx.Client(base_url=base_url, timeout=timeout)

    def _send(self, call: Call[T]) -> T:
        return drive(exchange(call, self.creds, self.retry), self.http, self._sleep)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncBase:
    """Sends calls with an ``httpx.AsyncClient``."""

    def __init__(self, base_url: str, creds: Credentials, *, retry: RetryPolicy | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 timeout: float = 90.0, http: httpx.AsyncClient | None = None) -> None:
        self.creds = creds
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self.http = http or httpx.AsyncClient(base_url=base_url, timeout=timeout)

    async def _send(self, call: Call[T]) -> T:
        return await drive_async(exchange(call, self.creds, self.retry), self.http, self._sleep)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
