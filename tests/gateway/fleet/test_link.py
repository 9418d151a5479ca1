"""The gateway's fleet link on a real Mosquitto broker: presence, request/response through the
Gateway API's own routes, each request id executed once (also across a restart)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from berth.fleet import protocol as p
from berth.fleet.client import Credentials, LinkConfig
from berth.gateway.fleet.repository import FleetRequestRepository
from berth.kit.clock import utcnow
from berth.storage.engine import Database
from tests.gateway.conftest import AUTH
from tests.support.broker import MosquittoBroker
from tests.support.fleet import MqttProbe
from tests.support.waiting import wait_until

SITE = "depot-1"


@pytest.fixture
def link_config(mosquitto: MosquittoBroker) -> LinkConfig:
    mosquitto.add_user(SITE, "site-pw")
    mosquitto.add_user(p.CLOUD_USER, "cloud-pw")
    return LinkConfig(mosquitto.url, Credentials(SITE, "site-pw"), keepalive=5,
                      reconnect_max=0.5, request_ttl=60)


@pytest.fixture
def cloud(mosquitto: MosquittoBroker, link_config: LinkConfig) -> Iterator[MqttProbe]:
    probe = MqttProbe(mosquitto, p.CLOUD_USER, "cloud-pw", requester="api-test")
    probe.subscribe(p.responses_filter(probe.requester))
    probe.subscribe(p.PRESENCE_FILTER)
    yield probe
    probe.close()


def _online(cloud: MqttProbe) -> bool:
    presence = cloud.presence(SITE)
    return presence is not None and presence.online


def start(factory: Callable[..., TestClient], db_url: str, link: LinkConfig,
          cloud: MqttProbe) -> TestClient:
    gw = factory(db_url, fleet=link, fleet_site_id=SITE)
    gw.headers.update(AUTH)
    wait_until(lambda: _online(cloud), "the site never said it is online")
    return gw


def ask(cloud: MqttProbe, request: p.Request, count: int = 1) -> p.Response:
    cloud.request(SITE, request)
    return cloud.wait_answers(request.id, count)[-1]


def test_presence_is_retained_online_and_offline_after_a_clean_stop(
        gateway_factory: Callable[..., TestClient], sqlite_url: str, link_config: LinkConfig,
        cloud: MqttProbe, mosquitto: MosquittoBroker) -> None:
    gw = start(gateway_factory, sqlite_url, link_config, cloud)
    late = MqttProbe(mosquitto, p.CLOUD_USER, "cloud-pw")  # a newcomer sees the retained one
    try:
        late.subscribe(p.presence_topic(SITE))
        wait_until(lambda: late.presence(SITE) is not None, "no retained presence")
        assert late.presence(SITE) == p.Presence(SITE, True, late.presence(SITE).version)
        assert late.received(p.presence_topic(SITE))[0].retain
    finally:
        late.close()
    gw.__exit__(None, None, None)
    wait_until(lambda: not _online(cloud), "the site never said it went offline")


def test_requests_are_answered_with_the_gateway_apis_shapes(
        gateway_factory: Callable[..., TestClient], sqlite_url: str, link_config: LinkConfig,
        cloud: MqttProbe) -> None:
    gw = start(gateway_factory, sqlite_url, link_config, cloud)
    listed = ask(cloud, p.Request("r-list", "lockers.list", query={"limit": "2"}))
    direct = gw.get("/lockers", params={"limit": 2})
    assert (listed.outcome, listed.status) == ("done", 200)
    assert listed.body == direct.json()
    assert listed.headers == {"x-total-count": direct.headers["x-total-count"]}

    missing = ask(cloud, p.Request("r-missing", "lockers.get", {"locker_id": "99999"}))
    assert missing.status == 404
    assert missing.body["error"] == gw.get("/lockers/99999").json()["error"] == "LOCKER_NOT_FOUND"
    bad = ask(cloud, p.Request("r-bad", "transactions.create", body={"transactionId": 5}))
    assert bad.status == 400  # the Gateway API's own validation

    sneaky = ask(cloud, p.Request("r-sneaky", "transactions.get",
                                  {"transaction_id": "../lockers"}))
    assert sneaky.status == 404  # quoted: an id never reaches another route


def test_unknown_operations_are_refused_not_executed(
        gateway_factory: Callable[..., TestClient], sqlite_url: str, link_config: LinkConfig,
        cloud: MqttProbe) -> None:
    start(gateway_factory, sqlite_url, link_config, cloud)
    refused = ask(cloud, p.Request("r-admin", "system.reboot"))
    assert refused.outcome == "refused" and "unknown operation" in (refused.detail or "")
    cloud.publish(p.requests_topic(SITE), b"garbage",
                  response_topic=p.responses_topic(SITE, cloud.requester), correlation=b"r-junk")
    assert cloud.wait_answers("r-junk")[0].outcome == "refused"


def test_a_duplicate_delivery_is_executed_once(
        gateway_factory: Callable[..., TestClient], db_url: str, link_config: LinkConfig,
        cloud: MqttProbe) -> None:
    """QoS 1 may deliver twice: the second delivery gets the first answer, nothing runs again."""
    gw = start(gateway_factory, db_url, link_config, cloud)
    create = p.Request("r-create", "transactions.create", body={"transactionId": "parcel-1"})
    first = ask(cloud, create)
    second = ask(cloud, create, count=2)
    assert (first.status, second.status) == (201, 201)  # a second run would be 409
    assert first == second
    assert gw.get("/transactions/parcel-1").status_code == 200

    opened = ask(cloud, p.Request("r-open", "lockers.open",
                                  {"locker_id": str(first.body["lockerId"])}))
    again = ask(cloud, p.Request("r-open", "lockers.open",
                                 {"locker_id": str(first.body["lockerId"])}), count=2)
    assert opened == again
    logs = gw.get("/system/logs", params={"lockerId": first.body["lockerId"]}).json()
    assert sum(1 for e in logs if e["event"] == "LOCKER_OPENED") == 1


def test_the_first_answer_survives_a_gateway_restart(
        gateway_factory: Callable[..., TestClient], db_url: str, link_config: LinkConfig,
        cloud: MqttProbe) -> None:
    gw = start(gateway_factory, db_url, link_config, cloud)
    create = p.Request("r-keep", "transactions.create", body={"transactionId": "parcel-2"})
    first = ask(cloud, create)
    gw.__exit__(None, None, None)
    wait_until(lambda: not _online(cloud), "never offline")
    start(gateway_factory, db_url, link_config, cloud)
    assert ask(cloud, create, count=2) == first


def test_a_request_cut_off_by_a_stop_is_answered_interrupted_never_rerun(
        gateway_factory: Callable[..., TestClient], db_url: str, link_config: LinkConfig,
        cloud: MqttProbe) -> None:
    gw = start(gateway_factory, db_url, link_config, cloud)  # migrates the database
    gw.__exit__(None, None, None)
    db = Database(db_url)
    try:  # what a process killed mid-execution leaves behind
        FleetRequestRepository(db, utcnow).claim("r-cut", "transactions.create")
    finally:
        db.dispose()
    gw = start(gateway_factory, db_url, link_config, cloud)
    cut = ask(cloud, p.Request("r-cut", "transactions.create",
                               body={"transactionId": "parcel-3"}))
    assert cut.outcome == "interrupted" and "not executed again" in (cut.detail or "")
    assert gw.get("/transactions/parcel-3").status_code == 404


def test_the_link_is_configured_from_settings_only_with_a_broker(tmp_path) -> None:
    from berth.gateway.config import GatewayConfig
    from tests.support.configs import isolated_settings

    assert GatewayConfig.from_settings(isolated_settings(data_dir=tmp_path)).fleet is None
    creds = tmp_path / "broker.json"
    Credentials(SITE, "pw").save(creds)
    assert creds.stat().st_mode & 0o777 == 0o600
    fleet = {"broker_url": "mqtt://127.0.0.1:1883", "credentials_file": creds}
    with pytest.raises(ValueError, match="SITE_ID"):
        GatewayConfig.from_settings(isolated_settings(data_dir=tmp_path, fleet=fleet))
    config = GatewayConfig.from_settings(isolated_settings(
        data_dir=tmp_path, fleet=fleet | {"site_id": SITE}))
    assert config.fleet is not None and config.fleet.credentials == Credentials(SITE, "pw")
    assert "pw" not in repr(config.fleet)  # never a password in a log line
    with pytest.raises(ValueError, match="credentials file"):
        GatewayConfig.from_settings(isolated_settings(
            data_dir=tmp_path, fleet={"broker_url": "mqtt://h:1", "site_id": SITE}))
