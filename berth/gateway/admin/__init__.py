"""The HTML admin console (server-rendered, its own session) and its templates."""
