"""Reading a partner's outbox events the way a partner does (GET /api/v1/events)."""

from __future__ import annotations

from typing import Any

from tests.cloud.conftest import Cloud


def partner_events(cloud: Cloud, who: str = "demo", type_: str | None = None
                   ) -> list[dict[str, Any]]:
    """Every event ``who`` can read, oldest first (only ``type_`` if given)."""
    found: list[dict[str, Any]] = []
    after = 0
    while True:
        r = cloud.http.get("/api/v1/events", params={"after": after, "limit": 500},
                           headers=cloud.headers(who))
        assert r.status_code == 200, r.text
        page = r.json()
        found += page["events"]
        if not page["events"]:
            break
        after = page["next_after"]
    return [e for e in found if type_ is None or e["type"] == type_]
