"""The gateway's end of the fleet link: requests from the cloud over MQTT, executed once."""
