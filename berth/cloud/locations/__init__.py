"""Locations: where towers stand, found by partners near a point or in an area."""
