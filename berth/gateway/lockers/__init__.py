"""Lockers: their flags and availability, service state, opening them for maintenance."""
