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
    """Add ``--env``, ``--base-url`` and ``--protocol``, which every command that talks to an
    exchange takes."""
    parser.add_argument(
        "--env", default=None, help="live, demo or sim (default KFRESEARCH_ENV or demo)"
    )
    parser.add_argument("--base-url", default=None, help="a server that speaks the API")
    parser.add_argument(
        "--protocol",
        default=None,
        choices=["v3", "uws"],
        help="v3 (REST) or uws (Unified WebSocket); default KFRESEARCH_PROTOCOL, else by date "
        "(uws from 2027-03-01)",
    )
