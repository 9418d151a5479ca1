"""Cloud API clients: one method per call of the delivery guide, plus tower sync.

    with CloudClient(url, client_id, client_secret) as cloud:
        lockers = cloud.list_lockers(tower_id)
        cloud.reserve(tower_id, lockers[0].id, duration=300)
        token = cloud.create_dropoff_token(tower_id, lockers[0].id, duration=3000)

The 300 s access token is fetched and refreshed by itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import httpx

from berth.contracts.cloud import (
    AssignedLocker,
    Availability,
    CommandList,
    EventBatchResult,
    EventPage,
    Location,
    Locker,
    LockerToken,
    NearbyLocation,
    ReleaseLockerResult,
    Reservation,
    Tower,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointCreated,
    WebhookSecret,
    WhoAmI,
)
from berth.kit.clock import Clock, utcnow
from berth.sdk._core import (
    AsyncBase,
    Call,
    Credentials,
    Result,
    RetryPolicy,
    SyncBase,
    TokenCache,
    json_of,
    list_of,
)

SERVICE_PROVIDER = "service_provider"
TOWER_ACCESS = "tower_access"


def _locker_path(tower_id: str, locker_id: int) -> str:
    return f"/api/v1/towers/{tower_id}/lockers/{locker_id}"


def _duration(duration: int | None) -> dict[str, int]:
    """A duration in a body; left out for the location's drop-off window."""
    return {} if duration is None else {"duration": duration}


class _CloudCalls:
    """The calls; ``_send`` returns the value (sync) or an awaitable of it (async)."""

    creds: Credentials
    _send: Callable[[Call[Any]], Any]  # provided by SyncBase / AsyncBase

    def get_token(self) -> Result[str]:
        """A fresh access token (normally not needed: every call gets one by itself)."""
        tokens = self.creds.tokens
        assert tokens is not None
        call = tokens.token_call(self.creds.token_path)
        return self._send(Call(call.method, call.path, lambda r: tokens.store(r.json()),
                               data=call.data, authenticated=False))

    def whoami(self) -> Result[WhoAmI]:
        return self._send(Call("POST", "/api/v1/login/test-token", json_of(WhoAmI)))

    def list_towers(self) -> Result[list[Tower]]:
        return self._send(Call("GET", "/api/v1/towers", list_of(Tower)))

    def get_tower(self, tower_id: str) -> Result[Tower]:
        return self._send(Call("GET", f"/api/v1/towers/{tower_id}", json_of(Tower)))

    def list_lockers(self, tower_id: str, status: str | None = None) -> Result[list[Locker]]:
        """ALL lockers of the tower (filter the unavailable ones yourself, or pass ``status``)."""
        params = {"status": status} if status else None
        return self._send(Call("GET", f"/api/v1/towers/{tower_id}/lockers", list_of(Locker),
                               params=params))

    def get_locker(self, tower_id: str, locker_id: int) -> Result[Locker]:
        return self._send(Call("GET", _locker_path(tower_id, locker_id), json_of(Locker)))

    def reserve(self, tower_id: str, locker_id: int,
                duration: int | None = 300) -> Result[Reservation]:
        """At most the location's drop-off window; ``None``: the window itself."""
        return self._send(Call("POST", _locker_path(tower_id, locker_id) + "/reservations",
                               json_of(Reservation), json=_duration(duration)))

    def cancel_reservation(self, tower_id: str, locker_id: int,
                           reservation_id: str) -> Result[Reservation]:
        path = f"{_locker_path(tower_id, locker_id)}/reservations/{reservation_id}"
        return self._send(Call("DELETE", path, json_of(Reservation)))

    def create_dropoff_token(self, tower_id: str, locker_id: int, duration: int | None = 3000,
                             client_info: str = "") -> Result[LockerToken]:
        """At most the location's drop-off window; ``None``: the window itself."""
        return self._send(Call("POST", _locker_path(tower_id, locker_id) +
                               "/dropoff-locker-tokens", json_of(LockerToken),
                               json={"client_info": client_info, **_duration(duration)}))

    def create_pickup_token(self, tower_id: str, locker_id: int, duration: int = 3000,
                            client_info: str = "", purpose: str = "collect", *,
                            keypad_code: bool = False) -> Result[LockerToken]:
        """``purpose="return"``: a courier's token for a parcel past its collection deadline.
        With ``keypad_code`` the token also carries ``keypad_code``: the digits a recipient
        without the app types at the tower (shown once; send it by SMS or e-mail)."""
        body: dict[str, Any] = {"client_info": client_info, "duration": duration}
        if purpose != "collect":
            body["purpose"] = purpose
        if keypad_code:
            body["keypad_code"] = True
        return self._send(Call("POST", _locker_path(tower_id, locker_id) +
                               "/pickup-locker-tokens", json_of(LockerToken), json=body))

    def release_locker(self, tower_id: str, locker_id: int) -> Result[ReleaseLockerResult]:
        return self._send(Call("POST", _locker_path(tower_id, locker_id) + "/release-locker",
                               json_of(ReleaseLockerResult), json={}))

    def assigned_lockers(self) -> Result[list[AssignedLocker]]:
        return self._send(Call("GET", "/api/v1/users/me/assigned-lockers",
                               list_of(AssignedLocker)))

    def events(self, after: int = 0, limit: int = 100) -> Result[EventPage]:
        """Your event stream after position ``after``; read on with ``page.next_after``."""
        return self._send(Call("GET", "/api/v1/events", json_of(EventPage),
                               params={"after": after, "limit": limit}))

    # ---- locations ----------------------------------------------------------------------

    def list_locations(self, skip: int = 0, limit: int = 100) -> Result[list[Location]]:
        return self._send(Call("GET", "/api/v1/locations/", list_of(Location),
                               params={"skip": skip, "limit": limit}))

    def locations_in_area(self, start: tuple[float, float], end: tuple[float, float],
                          limit: int = 100) -> Result[list[Location]]:
        """Your locations between two opposite corners ``(lat, lon)``."""
        params = {"start": f"{start[0]},{start[1]}", "end": f"{end[0]},{end[1]}",
                  "limit": limit}
        return self._send(Call("GET", "/api/v1/locations/in-area", list_of(Location),
                               params=params))

    def closest_locations(self, lat: float, lon: float, radius: float = 5000,
                          limit: int = 20) -> Result[list[NearbyLocation]]:
        """Within ``radius`` metres, nearest first, each with ``distance_m``."""
        return self._send(Call("GET", "/api/v1/locations/closest", list_of(NearbyLocation),
                               params={"lat": lat, "lon": lon, "radius": radius,
                                       "limit": limit}))

    def location_lockers(self, location_id: int) -> Result[list[Locker]]:
        return self._send(Call("GET", f"/api/v1/locations/{location_id}/lockers",
                               list_of(Locker)))

    def location_availability(self, location_id: int,
                              item: tuple[int, int, int] | None = None,
                              weight: int | None = None) -> Result[Availability]:
        """Free / total and open now; with ``item`` (width, height, depth in mm) also which
        locker types take it and how many of those are free (the fit check)."""
        params: dict[str, int] = {}
        if item is not None:
            params.update(zip(("width", "height", "depth"), item, strict=True))
            if weight is not None:
                params["weight"] = weight
        return self._send(Call("GET", f"/api/v1/locations/{location_id}/availability",
                               json_of(Availability), params=params or None))

    # ---- webhooks (docs/cloud.md, Webhooks; verify deliveries with berth.sdk.webhooks) -------

    def create_webhook(self, url: str, event_types: Iterable[str] = (),
                       enabled: bool = True) -> Result[WebhookEndpointCreated]:
        """Register an endpoint; keep the answer's ``secret``: it is shown only now."""
        return self._send(Call("POST", "/api/v1/webhooks", json_of(WebhookEndpointCreated),
                               json={"url": url, "event_types": list(event_types),
                                     "enabled": enabled}))

    def list_webhooks(self) -> Result[list[WebhookEndpoint]]:
        return self._send(Call("GET", "/api/v1/webhooks", list_of(WebhookEndpoint)))

    def update_webhook(self, webhook_id: str, **changes: Any) -> Result[WebhookEndpoint]:
        """``url=``, ``event_types=``, ``enabled=``: only what is given changes."""
        return self._send(Call("PATCH", f"/api/v1/webhooks/{webhook_id}",
                               json_of(WebhookEndpoint), json=changes))

    def delete_webhook(self, webhook_id: str) -> Result[None]:
        return self._send(Call("DELETE", f"/api/v1/webhooks/{webhook_id}", lambda r: None))

    def rotate_webhook_secret(self, webhook_id: str) -> Result[WebhookSecret]:
        return self._send(Call("POST", f"/api/v1/webhooks/{webhook_id}/rotate-secret",
                               json_of(WebhookSecret)))

    def webhook_deliveries(self, webhook_id: str,
                           limit: int = 50) -> Result[list[WebhookDelivery]]:
        return self._send(Call("GET", f"/api/v1/webhooks/{webhook_id}/deliveries",
                               list_of(WebhookDelivery), params={"limit": limit}))

    def redeliver_webhook(self, webhook_id: str, delivery_id: int) -> Result[WebhookDelivery]:
        return self._send(Call("POST", f"/api/v1/webhooks/{webhook_id}/deliveries/"
                               f"{delivery_id}/redeliver", json_of(WebhookDelivery)))

    # ---- tower sync (scope tower_access) --------------------------------------------------

    def push_events(self, tower_id: str,
                    events: Iterable[Mapping[str, Any]]) -> Result[EventBatchResult]:
        return self._send(Call("POST", f"/sdk/v1/towers/{tower_id}/events",
                               json_of(EventBatchResult), json={"events": list(events)}))

    def get_commands(self, tower_id: str, after: int = 0, wait: float = 0) -> Result[CommandList]:
        """Pending commands; ``wait`` > 0 lets the cloud hold the call that long for one (keep
        it below the client's timeout)."""
        params: dict[str, float] = {"after": after}
        if wait:
            params["wait"] = wait
        return self._send(Call("GET", f"/sdk/v1/towers/{tower_id}/commands",
                               json_of(CommandList), params=params))


def _credentials(client_id: str, client_secret: str, scope: str, clock: Clock) -> Credentials:
    return Credentials(tokens=TokenCache(client_id, client_secret, scope, clock=clock))


class CloudClient(_CloudCalls, SyncBase):
    def __init__(self, base_url: str, client_id: str, client_secret: str, *,
                 scope: str = SERVICE_PROVIDER, clock: Clock = utcnow,
                 retry: RetryPolicy | None = None, http: httpx.Client | None = None,
                 timeout: float = 30.0) -> None:
        super().__init__(base_url, _credentials(client_id, client_secret, scope, clock),
                         retry=retry, http=http, timeout=timeout)


class AsyncCloudClient(_CloudCalls, AsyncBase):
    def __init__(self, base_url: str, client_id: str, client_secret: str, *,
                 scope: str = SERVICE_PROVIDER, clock: Clock = utcnow,
                 retry: RetryPolicy | None = None, http: httpx.AsyncClient | None = None,
                 sleep: Callable[[float], Awaitable[None]] | None = None,
                 timeout: float = 30.0) -> None:
        kwargs: dict[str, Any] = {"sleep": sleep} if sleep else {}
        super().__init__(base_url, _credentials(client_id, client_secret, scope, clock),
                         retry=retry, http=http, timeout=timeout, **kwargs)
