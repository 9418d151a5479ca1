"""The fleet link: gateways reach the cloud's fleet API over one outbound MQTT 5 connection.

``protocol`` holds the pure rules (topics, payloads, the operations a site answers, the broker's
ACL); ``client`` opens the MQTT connection both sides use (docs/fleet.md).
"""
