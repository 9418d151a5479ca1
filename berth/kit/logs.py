"""Logging for the services: plain or JSON lines, and a request id that follows each request.

``RequestId`` (ASGI middleware) takes the caller's ``X-Request-ID`` when it is a sane token
(else makes one), answers it in the same header, and keeps it in a context variable for the
request's lifetime; every log record made meanwhile carries it as ``request_id`` (also work
handed to a thread, since ``asyncio.to_thread`` copies the context). With JSON logs on
(``BERTH_LOG_JSON``) each record is one JSON object a log shipper can parse.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
import time
from contextvars import ContextVar
from datetime import UTC, datetime

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "X-Request-ID"
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # what we echo and log of a caller's id
request_id: ContextVar[str | None] = ContextVar("berth_request_id", default=None)
access = logging.getLogger("berth.access")


class RequestId:
    """ASGI middleware: the request id in, out (``X-Request-ID``) and in every log record."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(HEADER.lower().encode(), b"").decode("latin-1")
        rid = given if _SANE.fullmatch(given) else secrets.token_hex(8)
        token = request_id.set(rid)
        started = time.perf_counter()

        async def tagged_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = rid
                access.info("%s %s %s %.1f ms", scope["method"], scope["path"],
                            message["status"], (time.perf_counter() - started) * 1000,
                            extra={"method": scope["method"], "path": scope["path"],
                                   "status": message["status"]})
            await send(message)

        try:
            await self.app(scope, receive, tagged_send)
        finally:
            request_id.reset(token)


class _WithRequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request id and any ``extra``."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
        }
        body.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


def configure(json_lines: bool, level: str) -> None:
    """Send the process's logs to stderr, as JSON lines or plain text, each with its request id."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_WithRequestId())
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
