"""``/console``: the fleet console, server-rendered pages for the cloud's operators."""
