"""The fleet API (``/fleet/v1``): organisations reach their sites' gateways over the broker."""
