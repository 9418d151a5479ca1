"""`berth hw ...` commands."""

import typer

app = typer.Typer(help="hw commands", no_args_is_help=True)
