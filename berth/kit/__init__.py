"""The small kit both services stand on: settings, clock, secret files, thread hand-off,
failure limits, background tasks, health and offline docs assets. Imports nothing of Berth above
the domain."""
