"""The `autoperp` command. User errors print one line and exit non-zero; only bugs show a traceback."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click
import typer
from rich.console import Console
from rich.markup import escape

from autoperp import __version__
from autoperp.cli import (
    backtest_command,
    data_commands,
    demo_command,
    download_command,
    evaluate_command,
    ledger_command,
    lookahead_command,
    pretrain_command,
    train_command,
)
from autoperp.core.errors import AutoperpError

app = typer.Typer(
    name="autoperp",
    help="Autonomous trading system for crypto perpetual futures.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
for module in (
    data_commands,
    download_command,
    demo_command,
    ledger_command,
    backtest_command,
    lookahead_command,
    evaluate_command,
    pretrain_command,
    train_command,
):
    module.register(app)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"autoperp {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", is_eager=True, callback=_print_version
    ),
) -> None:
    """Autonomous trading system for crypto perpetual futures."""


def _exception_family(name: str) -> tuple[type[BaseException], ...]:
    """click's exception class ``name`` and, for typer ≥ 0.29 (which vendors click), typer's own copy."""
    classes: list[type[BaseException]] = [getattr(click.exceptions, name)]
    try:
        from typer._click import exceptions as vendored
    except ImportError:  # typer < 0.29 raises click's own classes
        return tuple(classes)
    if hasattr(vendored, name):
        classes.append(getattr(vendored, name))
    return tuple(classes)


_USAGE_ERRORS = _exception_family("UsageError")
_EXITS = _exception_family("Exit")
_ABORTS = _exception_family("Abort")


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        rc = app(args=list(argv) if argv is not None else None, standalone_mode=False)
    except AutoperpError as e:
        err.print(f"[bold red]error:[/] {escape(e.one_line())}", markup=True)
        sys.exit(e.exit_code)
    except _USAGE_ERRORS as e:
        err.print(f"[bold red]error:[/] {escape(' '.join(e.format_message().split()))}", markup=True)  # type: ignore[attr-defined]
        sys.exit(2)
    except _EXITS as e:
        sys.exit(e.exit_code)  # type: ignore[attr-defined]
    except _ABORTS:
        err.print("aborted")
        sys.exit(130)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    sys.exit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":
    main()
