"""The real broker enforces the fleet ACL: a site reaches only its own topics."""

from __future__ import annotations

from berth.fleet import protocol as p
from tests.support.broker import MosquittoBroker
from tests.support.fleet import MqttProbe
from tests.support.waiting import wait_until


def _users(broker: MosquittoBroker) -> None:
    broker.add_user(p.CLOUD_USER, "cloud-pw")
    broker.add_user("site-a", "a-pw")
    broker.add_user("site-b", "b-pw")


def test_a_site_cannot_read_another_sites_topics(mosquitto: MosquittoBroker) -> None:
    """Mosquitto 2 grants the subscription but delivers nothing the ACL does not let it read."""
    _users(mosquitto)
    cloud = MqttProbe(mosquitto, p.CLOUD_USER, "cloud-pw")
    a = MqttProbe(mosquitto, "site-a", "a-pw")
    try:
        for topic in (p.requests_topic("site-b"), p.responses_topic("site-b", cloud.requester),
                      p.presence_topic("site-b"), "berth/sites/#", "berth/sites/+/requests",
                      p.tower_replies_topic("site-b"), p.tower_calls_topic("site-b"),
                      p.tower_calls_topic("site-a"), "berth/sites/+/tower/#"):
            a.subscribe(topic)
        cloud.request("site-b", p.Request("for-b", "lockers.list"))
        cloud.publish(p.tower_replies_topic("site-b"), p.TowerReply("for-b").encode())
        cloud.publish(p.tower_calls_topic("site-a"), b"{}")  # a site never reads its calls
        cloud.publish(p.presence_topic("site-b"), p.Presence("site-b", True).encode())
        cloud.publish(p.responses_topic("site-b", cloud.requester), b"{}")
        cloud.request("site-a", p.Request("for-a", "lockers.list"))  # in order: the last one
        wait_until(lambda: a.received(p.requests_topic("site-a")), "site-a's own request")
        # (twice: two of its filters match its own topic)
        assert {m.topic for m in a.messages} == {p.requests_topic("site-a")}
    finally:
        a.close()
        cloud.close()


def test_a_site_cannot_publish_under_another_sites_topics(mosquitto: MosquittoBroker) -> None:
    _users(mosquitto)
    cloud = MqttProbe(mosquitto, p.CLOUD_USER, "cloud-pw")
    b = MqttProbe(mosquitto, "site-b", "b-pw")
    a = MqttProbe(mosquitto, "site-a", "a-pw")
    try:
        cloud.subscribe("berth/sites/#")
        b.subscribe(p.requests_topic("site-b"))
        b.subscribe(p.tower_replies_topic("site-b"))
        forged = p.Request("forged", "lockers.open_all").encode()
        a.publish(p.requests_topic("site-b"), forged)
        a.publish(p.presence_topic("site-b"), p.Presence("site-b", False).encode())
        a.publish(p.responses_topic("site-b", cloud.requester), b"{}")
        a.publish(p.tower_calls_topic("site-b"), p.TowerCall("forged", "commands", "t").encode())
        a.publish(p.tower_replies_topic("site-a"), b"{}")  # nor answers its own calls
        # the broker keeps one client's messages in order: once its allowed one arrives, any
        # forbidden one would have arrived before it
        a.publish(p.presence_topic("site-a"), p.Presence("site-a", True).encode())
        wait_until(lambda: cloud.presence("site-a") is not None, "site-a's own presence")
        assert [m.topic for m in cloud.messages] == [p.presence_topic("site-a")]
        assert b.messages == []
    finally:
        for probe in (a, b, cloud):
            probe.close()


def test_unknown_users_and_wrong_passwords_are_refused(mosquitto: MosquittoBroker) -> None:
    _users(mosquitto)
    for user, password in (("site-a", "wrong"), ("nobody", "x")):
        probe = MqttProbe(mosquitto, user, password)
        try:
            assert not probe.accepted
        finally:
            probe.close()


def test_the_broker_restarts_on_the_same_port(mosquitto: MosquittoBroker) -> None:
    _users(mosquitto)
    port = mosquitto.port
    mosquitto.restart()
    assert mosquitto.port == port
    probe = MqttProbe(mosquitto, "site-a", "a-pw")
    try:
        assert probe.accepted
    finally:
        probe.close()


def test_a_sites_tower_calls_reach_the_cloud_and_only_it_reads_their_replies(
        mosquitto: MosquittoBroker) -> None:
    _users(mosquitto)
    cloud = MqttProbe(mosquitto, p.CLOUD_USER, "cloud-pw")
    a = MqttProbe(mosquitto, "site-a", "a-pw")
    b = MqttProbe(mosquitto, "site-b", "b-pw")
    try:
        cloud.subscribe(p.TOWER_CALLS_FILTER)  # the fleet API's shared subscription
        a.subscribe(p.tower_replies_topic("site-a"))
        b.subscribe("berth/sites/+/tower/replies")
        a.publish(p.tower_calls_topic("site-a"), p.TowerCall("c", "commands", "t").encode())
        wait_until(lambda: cloud.received(p.tower_calls_topic("site-a")), "the call")
        cloud.publish(p.tower_replies_topic("site-a"), p.TowerReply("c").encode())
        cloud.publish(p.tower_replies_topic("site-b"), p.TowerReply("for-b").encode())
        wait_until(lambda: b.messages, "site-b's own reply")
        assert [m.topic for m in a.messages] == [p.tower_replies_topic("site-a")]
        assert [m.topic for m in b.messages] == [p.tower_replies_topic("site-b")]
    finally:
        for probe in (a, b, cloud):
            probe.close()
