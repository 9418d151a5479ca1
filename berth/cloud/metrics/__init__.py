"""``GET /metrics`` of the cloud: Prometheus numbers for an operator's scraper."""
