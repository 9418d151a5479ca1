"""The ``berth`` command line (Typer + Rich)."""
