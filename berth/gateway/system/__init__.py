"""System: health, information, device heartbeats, the log and the counters."""
