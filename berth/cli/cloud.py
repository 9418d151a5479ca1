"""`berth cloud ...` commands."""

import typer

app = typer.Typer(help="cloud commands", no_args_is_help=True)
