"""The fleet protocol's pure rules: names, topics, payload round trips, refusals."""

from __future__ import annotations

import pytest

from berth.fleet import protocol as p


def test_site_ids_are_broker_user_names() -> None:
    assert p.check_site_id("depot-7") == "depot-7"
    for bad in ("", "Depot", "a/b", "a+", "#", "x" * 64, p.CLOUD_USER, "-lead"):
        with pytest.raises(p.ProtocolError):
            p.check_site_id(bad)


def test_topics_and_the_site_they_belong_to() -> None:
    assert p.requests_topic("s1") == "berth/sites/s1/requests"
    assert p.site_of(p.responses_topic("s1", "api-1")) == "s1"
    assert p.site_of(p.presence_topic("s1")) == "s1"
    assert p.site_of("other/sites/s1/presence") is None
    assert p.site_of("berth/sites") is None


def test_a_site_answers_only_under_its_own_responses() -> None:
    assert p.answerable("s1", "berth/sites/s1/responses/api-1")
    assert not p.answerable("s1", "berth/sites/s2/responses/api-1")
    assert not p.answerable("s1", "berth/sites/s1/responses/")
    assert not p.answerable("s1", "berth/sites/s1/responses/a/b")
    assert not p.answerable("s1", "berth/sites/s1/requests")


def test_the_acl_confines_sites_to_their_own_topics() -> None:
    acl = p.acl_text()
    assert "pattern read berth/sites/%u/requests" in acl
    assert f"user {p.CLOUD_USER}\ntopic readwrite berth/sites/#" in acl
    assert "pattern readwrite" not in acl  # a site never reads its own answers or presence
    # its tower's cloud link: it writes its calls and reads their replies, under its name only
    assert "pattern write berth/sites/%u/tower/calls" in acl
    assert "pattern read berth/sites/%u/tower/replies" in acl


def test_tower_calls_and_replies_round_trip() -> None:
    call = p.TowerCall("c1", "events", "00aa", events=[{"seq": 1}])
    assert p.decode_tower_call(call.encode()) == call
    fetch = p.TowerCall("c2", "commands", "00aa", after=7)
    assert p.decode_tower_call(fetch.encode()) == fetch
    reply = p.TowerReply("c1", code="TOWER_NOT_BOUND", detail="no")
    assert p.decode_tower_reply(reply.encode()) == reply
    assert p.site_of(p.tower_calls_topic("s1")) == "s1"
    assert p.TOWER_CALLS_FILTER.endswith("berth/sites/+/tower/calls")  # a shared subscription


@pytest.mark.parametrize("payload", [
    b"[]", b'{"id": "c", "call": "reboot", "tower_id": "t"}',
    b'{"id": "c", "call": "events", "tower_id": 5}',
    b'{"id": "c", "call": "events", "tower_id": "t", "events": {}}',
    b'{"id": "c", "call": "commands", "tower_id": "t", "after": -1}', b'{"call": "commands"}'])
def test_malformed_tower_calls_are_refused(payload: bytes) -> None:
    with pytest.raises(p.ProtocolError):
        p.decode_tower_call(payload)


def test_requests_round_trip_and_quote_their_path_parameters() -> None:
    req = p.Request("r1", "transactions.get", {"transaction_id": "../lockers/1"})
    back = p.decode_request(req.encode())
    assert back == req
    assert back.path() == "/transactions/..%2Flockers%2F1"
    assert back.operation().kind == "read"
    assert p.OPERATIONS["lockers.open"].kind == "hardware"
    assert p.OPERATIONS["lockers.patch"].mutating


@pytest.mark.parametrize("payload", [b"not json", b"[1]", b'{"op": "x"}', b'{"id": 5, "op": "x"}',
                                     b'{"id": "r", "op": "x", "params": {"a": 1}}',
                                     b'{"id": "' + b"x" * 65 + b'", "op": "x"}'])
def test_malformed_requests_are_refused(payload: bytes) -> None:
    with pytest.raises(p.ProtocolError):
        p.decode_request(payload)


def test_unknown_operations_and_missing_parameters_are_refused() -> None:
    with pytest.raises(p.ProtocolError, match="unknown operation"):
        p.Request("r", "admin.reboot").path()
    with pytest.raises(p.ProtocolError, match="missing path parameter"):
        p.Request("r", "lockers.get").path()


def test_responses_and_presence_round_trip() -> None:
    resp = p.Response("r1", "done", 201, {"a": 1}, {"x-total-count": "3"})
    assert p.decode_response(resp.encode()) == resp
    with pytest.raises(p.ProtocolError):
        p.decode_response(b'{"id": "r1", "outcome": "maybe"}')
    with pytest.raises(p.ProtocolError):
        p.decode_response(b'{"id": "r1", "outcome": "done", "status": "200"}')
    online = p.Presence("s1", True, "0.1.0")
    assert p.decode_presence(p.presence_topic("s1"), online.encode()) == online
    assert not p.decode_presence(p.presence_topic("s1"), b"").online  # retained one cleared
    with pytest.raises(p.ProtocolError):
        p.decode_presence(p.requests_topic("s1"), online.encode())
