"""Command-line interface (typer).

Only this module prints and exits. Library code raises :class:`gzcharge.errors.GzchargeError`
subclasses; :func:`main` turns them into one clear line on stderr and the class's exit code
(full traceback only with ``--debug``). Heavy libraries are imported inside the commands.
"""

from __future__ import annotations

import logging
import sys

import typer

from gzcharge import __version__
from gzcharge.errors import GzchargeError

logger = logging.getLogger(__name__)

app = typer.Typer(
    name="gzcharge",
    help="Charging-network siting for Guizhou: regions, OSM road networks and facility-location plans.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _stderr():
    from rich.console import Console

    return Console(stderr=True)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks and debug logging."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show info logging."),
) -> None:
    """gzcharge: plan public, highway, swap and hydrogen facilities for Guizhou."""
    level = logging.DEBUG if debug else (logging.INFO if verbose else logging.WARNING)
    from rich.logging import RichHandler

    logging.basicConfig(level=level, format="%(message)s", handlers=[RichHandler(console=_stderr(), show_path=False)])


@app.command()
def version() -> None:
    """Print the gzcharge version."""
    typer.echo(__version__)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``gzcharge`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        app(args=args, prog_name="gzcharge")
    except GzchargeError as exc:
        if debug:
            raise
        _stderr().print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _stderr().print("interrupted")
        sys.exit(130)
    except Exception as exc:  # a bug, not a user error
        if debug:
            raise
        _stderr().print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {exc} (rerun with --debug for the traceback "
            "and report it)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(70)
