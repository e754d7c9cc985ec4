"""The `autoperp` command. User errors print one line and exit non-zero; only bugs show a traceback."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click
import typer
from rich.console import Console
from rich.markup import escape

from autoperp import __version__
from autoperp.cli import data_commands, demo_command, download_command
from autoperp.core.errors import AutoperpError

app = typer.Typer(
    name="autoperp",
    help="Autonomous trading system for crypto perpetual futures.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
for module in (data_commands, download_command, demo_command):
    module.register(app)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", is_eager=True),
) -> None:
    if version:
        typer.echo(f"autoperp {__version__}")
        raise typer.Exit()


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        rc = app(args=list(argv) if argv is not None else None, standalone_mode=False)
    except AutoperpError as e:
        err.print(f"[bold red]error:[/] {escape(e.one_line())}", markup=True)
        sys.exit(e.exit_code)
    except click.exceptions.UsageError as e:
        err.print(f"[bold red]error:[/] {escape(' '.join(e.format_message().split()))}", markup=True)
        sys.exit(2)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        err.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    sys.exit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":
    main()
