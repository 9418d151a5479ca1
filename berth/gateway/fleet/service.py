"""Exactly-once execution of fleet requests: the rule, over the ledger.

QoS 1 may deliver a request twice and the cloud re-sends unanswered ones after a reconnect, so
the first delivery of an id executes and records its answer; every later one gets that answer.
A request the gateway was executing when it stopped is never executed again: at the next start
it is answered ``interrupted`` (a door may or may not have moved; the caller is told so).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from berth.fleet.protocol import Request, Response
from berth.gateway.fleet.repository import FleetRequestRepository
from berth.kit.threads import run_blocking

INTERRUPTED = ("The gateway stopped while executing this request; it is not executed again "
               "(a door may have opened: check the locker)")


class FleetRequestService:
    def __init__(self, repository: FleetRequestRepository) -> None:
        self.repository = repository

    def interrupt_unfinished(self) -> int:
        """At start: requests left running by a stopped process get their final answer."""
        ids = self.repository.unfinished()
        for request_id in ids:
            answer = Response(request_id, "interrupted", detail=INTERRUPTED)
            self.repository.finish(request_id, "interrupted", answer.encode())
        return len(ids)

    async def execute_once(self, request: Request,
                           execute: Callable[[Request], Awaitable[Response]]) -> bytes | None:
        """The answer to send: executed now, or stored; None while the first still runs."""
        claim = await run_blocking(self.repository.claim, request.id, request.op)
        if not claim.first:
            return claim.answer
        response = await execute(request)
        encoded = response.encode()
        await run_blocking(self.repository.finish, request.id, response.outcome, encoded)
        return encoded
