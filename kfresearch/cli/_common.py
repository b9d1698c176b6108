"""What the command groups share: the sub-parser type and the connection options."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeAlias

__all__ = ["Handler", "Subcommands", "add_connection_options"]

#: What ``parser.add_subparsers()`` returns; a group's ``register`` adds to it.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

#: A command's handler: the parsed arguments in, the process exit code out.
Handler: TypeAlias = Callable[[argparse.Namespace], int]


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--env`` and ``--base-url``, which every command that talks to an exchange takes."""
    parser.add_argument(
        "--env", default=None, help="live, demo or sim (default KFRESEARCH_ENV or demo)"
    )
    parser.add_argument("--base-url", default=None, help="a server that speaks the API")
