"""``/tower/*``: the routes that mount the tower part (``berth.tower``) in the gateway."""
