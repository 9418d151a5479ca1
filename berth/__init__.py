"""Berth: an open-source smart-locker platform."""

__version__ = "0.1.0"
