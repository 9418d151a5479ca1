"""`berth gateway ...` commands."""

import typer

app = typer.Typer(help="gateway commands", no_args_is_help=True)
