"""Gateway API clients: one method per operation of the gateway reference, plus the tower.

    with GatewayClient(url, api_key) as gw:
        tx = gw.create_transaction("order-42", preferred_locker_type="medium")
        gw.open_transaction("order-42")
        gw.release_transaction("order-42")

``create_transaction`` retries 503 LOCKER_ASSIGNMENT_CONFLICT at 100, 200 and 400 ms (with
jitter), as the reference asks of clients; a reused transaction id raises ``Conflict`` whose
``body`` is the existing transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from berth.contracts.gateway import (
    BankType,
    BankTypeWithAssociations,
    CreateTransactionRequest,
    DeviceHeartbeatRequest,
    Health,
    Locker,
    LockerConfig,
    LockerOperationResponse,
    LockerType,
    LogEntry,
    OpenAllLockersResponse,
    OperationResponse,
    System,
    TransactionResponse,
    UpdateLockerRequest,
)
from berth.contracts.tower import CommandOutcomes, TowerEventsPage, TowerOpenResponse
from berth.domain.matching import MatchingStrategy
from berth.sdk._core import (
    AsyncBase,
    Call,
    Credentials,
    Result,
    RetryPolicy,
    SyncBase,
    json_of,
    list_of,
    nothing,
)


def _tx(transaction_id: str) -> str:
    return "/transactions/" + quote(transaction_id, safe="")


def _query(**params: Any) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


class _GatewayCalls:
    _send: Callable[[Call[Any]], Any]  # provided by SyncBase / AsyncBase

    # ---- health and system ----------------------------------------------------------------

    def health(self) -> Result[Health]:
        return self._send(Call("GET", "/health", json_of(Health), authenticated=False))

    def system(self) -> Result[System]:
        return self._send(Call("GET", "/system", json_of(System)))

    def heartbeat(self, device_id: str, device_type: str, status: str = "ok",
                  version: str | None = None,
                  details: dict[str, Any] | None = None) -> Result[OperationResponse]:
        body = DeviceHeartbeatRequest(device_id=device_id, device_type=device_type,
                                      status=status, version=version, details=details)  # type: ignore[arg-type]
        return self._send(Call("POST", "/system/heartbeat", json_of(OperationResponse),
                               json=body.model_dump(by_alias=True, exclude_none=True)))

    def logs(self, *, level: str | None = None, locker_id: int | None = None,
             transaction_id: str | None = None, limit: int = 100,
             offset: int = 0) -> Result[list[LogEntry]]:
        params = _query(level=level, lockerId=locker_id, transactionId=transaction_id,
                        limit=limit, offset=offset)
        return self._send(Call("GET", "/system/logs", list_of(LogEntry), params=params))

    # ---- transactions ---------------------------------------------------------------------

    def create_transaction(
        self, transaction_id: str, *, preferred_locker_type: str | None = None,
        preferred_attributes: Iterable[str] = (), width_inches: float | None = None,
        height_inches: float | None = None, length_inches: float | None = None,
        allow_fallback: bool = False, attributes_required: bool = False,
        matching_strategy: str | None = None,
    ) -> Result[TransactionResponse]:
        """Assign a locker; the door stays shut until ``open_transaction``."""
        fields: dict[str, Any] = dict(
            transaction_id=transaction_id, preferred_locker_type=preferred_locker_type,
            preferred_attributes=list(preferred_attributes), width_inches=width_inches,
            height_inches=height_inches, length_inches=length_inches,
            allow_fallback=allow_fallback, attributes_required=attributes_required)
        if matching_strategy is not None:
            fields["matching_strategy"] = MatchingStrategy(matching_strategy)
        body = CreateTransactionRequest(**fields)
        return self._send(Call("POST", "/transactions", json_of(TransactionResponse),
                               json=body.model_dump(mode="json", by_alias=True,
                                                    exclude_none=True),
                               retry_on_conflict=True))

    def get_transaction(self, transaction_id: str) -> Result[TransactionResponse]:
        return self._send(Call("GET", _tx(transaction_id), json_of(TransactionResponse)))

    def list_transactions(self, *, status: str = "active", locker_id: int | None = None,
                          limit: int = 100, offset: int = 0) -> Result[list[TransactionResponse]]:
        params = _query(status=status, lockerId=locker_id, limit=limit, offset=offset)
        return self._send(Call("GET", "/transactions", list_of(TransactionResponse),
                               params=params))

    def release_transaction(self, transaction_id: str) -> Result[None]:
        return self._send(Call("DELETE", _tx(transaction_id), nothing))

    def open_transaction(self, transaction_id: str) -> Result[LockerOperationResponse]:
        return self._send(Call("POST", _tx(transaction_id) + "/open",
                               json_of(LockerOperationResponse)))

    # ---- lockers, types, banks ------------------------------------------------------------

    def list_lockers(self, *, locker_type: str | None = None, bank_id: int | None = None,
                     available: bool | None = None, out_of_service: bool | None = None,
                     limit: int = 1000, offset: int = 0) -> Result[list[Locker]]:
        params = _query(lockerType=locker_type, bankId=bank_id, available=available,
                        outOfService=out_of_service, limit=limit, offset=offset)
        return self._send(Call("GET", "/lockers", list_of(Locker), params=params))

    def get_locker(self, locker_id: int) -> Result[Locker]:
        return self._send(Call("GET", f"/lockers/{locker_id}", json_of(Locker)))

    def locker_config(self, locker_id: int) -> Result[LockerConfig]:
        return self._send(Call("GET", f"/lockers/{locker_id}/config", json_of(LockerConfig)))

    def update_locker(self, locker_id: int, *, out_of_service: bool,
                      reason_code: str | None = None,
                      reason: str | None = None) -> Result[Locker]:
        body = UpdateLockerRequest(out_of_service=out_of_service, reason_code=reason_code,
                                   reason=reason)
        return self._send(Call("PATCH", f"/lockers/{locker_id}", json_of(Locker),
                               json=body.model_dump(by_alias=True, exclude_none=True)))

    def open_locker(self, locker_id: int) -> Result[LockerOperationResponse]:
        return self._send(Call("POST", f"/lockers/{locker_id}/open",
                               json_of(LockerOperationResponse)))

    def open_all(self) -> Result[OpenAllLockersResponse]:
        return self._send(Call("POST", "/lockers/open-all", json_of(OpenAllLockersResponse)))

    def list_locker_types(self) -> Result[list[LockerType]]:
        return self._send(Call("GET", "/locker-types", list_of(LockerType)))

    def get_locker_type(self, locker_type_id: int) -> Result[LockerType]:
        return self._send(Call("GET", f"/locker-types/{locker_type_id}", json_of(LockerType)))

    def list_bank_types(self) -> Result[list[BankType]]:
        return self._send(Call("GET", "/bank-types", list_of(BankType)))

    def get_bank_type(self, bank_type_id: int) -> Result[BankTypeWithAssociations]:
        return self._send(Call("GET", f"/bank-types/{bank_type_id}",
                               json_of(BankTypeWithAssociations)))

    # ---- the tower interface (what a phone relays) ----------------------------------------

    def tower_open(self, payload: str, payload_auth: str) -> Result[TowerOpenResponse]:
        return self._send(Call("POST", "/tower/open", json_of(TowerOpenResponse),
                               json={"payload": payload, "payload_auth": payload_auth},
                               authenticated=False))

    def tower_keypad(self, code: str) -> Result[TowerOpenResponse]:
        """What a keypad or kiosk at the tower sends: a pick-up's keypad code, no credentials."""
        return self._send(Call("POST", "/tower/keypad", json_of(TowerOpenResponse),
                               json={"code": code}, authenticated=False))

    def tower_events(self, after: int = 0, limit: int = 100) -> Result[TowerEventsPage]:
        return self._send(Call("GET", "/tower/events", json_of(TowerEventsPage),
                               params={"after": after, "limit": limit}))

    def tower_commands(self, commands: Iterable[Mapping[str, Any]]) -> Result[CommandOutcomes]:
        return self._send(Call("POST", "/tower/commands", json_of(CommandOutcomes),
                               json={"commands": list(commands)}, authenticated=False))


class GatewayClient(_GatewayCalls, SyncBase):
    def __init__(self, base_url: str, api_key: str, *, retry: RetryPolicy | None = None,
                 http: httpx.Client | None = None, timeout: float = 90.0,
                 sleep: Callable[[float], None] | None = None) -> None:
        kwargs: dict[str, Any] = {"sleep": sleep} if sleep else {}
        super().__init__(base_url, Credentials(api_key=api_key), retry=retry, http=http,
                         timeout=timeout, **kwargs)


class AsyncGatewayClient(_GatewayCalls, AsyncBase):
    def __init__(self, base_url: str, api_key: str, *, retry: RetryPolicy | None = None,
                 http: httpx.AsyncClient | None = None, timeout: float = 90.0,
                 sleep: Callable[[float], Awaitable[None]] | None = None) -> None:
        kwargs: dict[str, Any] = {"sleep": sleep} if sleep else {}
        super().__init__(base_url, Credentials(api_key=api_key), retry=retry, http=http,
                         timeout=timeout, **kwargs)
