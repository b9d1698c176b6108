"""The ``kfresearch`` command.

::

    kfresearch --version
    kfresearch doctor [--env ENV] [--base-url URL]
    kfresearch tickers [--csv FILE | --parquet FILE]
    kfresearch instruments [--csv FILE | --parquet FILE]
    kfresearch book SYMBOL [--depth N]
    kfresearch candles SYMBOL [--resolution 1h] [--since 7d] [--until T] [--tick-type trade]
                              [--csv FILE | --parquet FILE]
    kfresearch trades SYMBOL [--since 1h] [--until T] [--csv FILE | --parquet FILE]
    kfresearch funding SYMBOL [--since 30d] [--until T] [--csv FILE | --parquet FILE]
    kfresearch download candles|trades|funding|account-log|fills|order-history [SYMBOL]
                        [--since 30d] [--until T] [--resolution 1m] --to DIR
    kfresearch store info|repair DIR
    kfresearch record SYMBOL... [--trades] [--book] --to DIR [--duration S] [--every S] [--roll S]
    kfresearch sim serve [--host 127.0.0.1] [--port 8765] [--seed S] [--now ISO] [--strict-auth]
    kfresearch sim keys [--json]
    kfresearch demo serve [--host 127.0.0.1] [--port 8766] [--account NAME] [--balance USD]
                          [--upstream URL]
    kfresearch watch book|trades|ticker SYMBOL [--depth N] [--rows N] [--interval S] [--count N]

Every market command takes ``--env`` and ``--base-url``. Printed tables show
prices on the contract's tick and sizes as exact decimals; files keep every
column as numbers. ``kfresearch … | head`` stops quietly when the reader does.

Each command group is one module of this package with a ``register(commands)``
function: it adds its sub-parsers to ``commands`` and sets each one's handler
with ``set_defaults(run=handler)``, a function ``(args) -> exit code``. To add a
group, write ``kfresearch/cli/<group>.py`` and add its name to :data:`GROUPS`;
nothing else changes. Groups import their heavy dependencies inside the
handlers, so ``kfresearch --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

__all__ = ["GROUPS", "build_parser", "main"]

#: The command groups, by module name under ``kfresearch.cli``, in help order.
GROUPS: tuple[str, ...] = (
    "doctor",
    "market",
    "store",
    "sim",
    "demo",
    "watch",
)


def build_parser() -> argparse.ArgumentParser:
    """The ``kfresearch`` parser with every group of :data:`GROUPS` registered.

    Returns
    -------
    argparse.ArgumentParser
        Parsing a command line gives a namespace whose ``run`` attribute is the
        handler to call with it.
    """
    from kfresearch import __version__

    parser = argparse.ArgumentParser(
        prog="kfresearch", description="Kraken Futures research toolkit"
    )
    parser.add_argument("--version", action="version", version=f"kfresearch {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in GROUPS:
        importlib.import_module(f"kfresearch.cli.{name}").register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``) and return its exit code.

    Examples
    --------
    >>> main(["sim", "keys", "--json"])  # doctest: +SKIP
    0
    """
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (``kfresearch tickers | head -3``): stop quietly. Point
        # stdout at devnull so the interpreter's final flush does not fail again
        # (the recipe of the Python docs, "Note on SIGPIPE").
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
