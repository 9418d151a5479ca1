"""`berth webhooks listen`: a partner's webhook receiver, for trying Berth's webhooks locally.

It does what a partner's back end does with a delivery: verify the Standard Webhooks signature
with the endpoint's secret (``berth.sdk.webhooks.verify_webhook``), refuse a forged or stale one
(400, so Berth retries it), and keep each ``webhook-id`` once, however often it is delivered.
The secret is read from a file at every delivery, so the receiver can start before the endpoint
exists (the secret is shown once, when the endpoint is created) and follows a rotation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

import typer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from berth.sdk.webhooks import WebhookVerificationError, verify_webhook

app = typer.Typer(help="webhook receiver commands", no_args_is_help=True)


class Receiver:
    """Verifies deliveries and appends each new one to ``out`` as a JSON line."""

    def __init__(self, secret_file: Path, out: Path, echo: TextIO | None = None) -> None:
        self.secret_file = secret_file
        self.out = out
        self.echo = echo
        self.seen: set[str] = set()
        if out.exists():  # a restarted receiver still deduplicates what it kept
            for line in out.read_text().splitlines():
                if line.strip():
                    self.seen.add(json.loads(line)["webhook_id"])

    async def receive(self, request: Request) -> Response:
        try:
            secret = self.secret_file.read_text().strip()
        except FileNotFoundError:  # not registered yet: Berth retries later
            return PlainTextResponse("no secret yet", status_code=503)
        body = await request.body()
        try:
            event = verify_webhook(secret, body, request.headers)
        except WebhookVerificationError as exc:
            self._say(f"refused a delivery: {exc}")
            return PlainTextResponse("signature not valid", status_code=400)
        webhook_id = request.headers["webhook-id"]
        if webhook_id not in self.seen:
            self.seen.add(webhook_id)
            record = {"webhook_id": webhook_id, "verified": True, **event}
            with self.out.open("a") as f:
                f.write(json.dumps(record, separators=(",", ":")) + "\n")
            data = event.get("data") or {}
            self._say(f"{webhook_id} {event.get('type')} {data.get('source') or ''} "
                      f"locker {data.get('locker_id')}".rstrip())
        return Response(status_code=204)

    def _say(self, line: str) -> None:
        if self.echo is not None:
            print(line, file=self.echo, flush=True)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self.receive, methods=["POST"])])


@app.command()
def listen(
    port: int = typer.Option(9000, help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    secret_file: Path = typer.Option(..., help="File holding the endpoint's whsec_... secret "
                                     "(read at every delivery; may appear later)."),
    out: Path = typer.Option(Path("webhooks.jsonl"), help="Verified events, one JSON line each."),
) -> None:
    """Receive Berth's webhooks on any path: verify each, keep each webhook-id once."""
    import sys

    import uvicorn

    typer.echo(f"Receiving webhooks at http://{host}:{port}/ into {out}")
    uvicorn.run(Receiver(secret_file, out, echo=sys.stdout).app(), host=host, port=port,
                log_level="warning")
