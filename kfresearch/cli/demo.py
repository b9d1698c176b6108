"""``kfresearch demo serve``: the paper exchange on live prices, over HTTP on loopback."""

from __future__ import annotations

import argparse
import os
import sys

from kfresearch.cli._common import Subcommands

__all__ = ["register"]


def register(commands: Subcommands) -> None:
    """Add ``demo serve`` to ``commands``."""
    demo = commands.add_parser("demo", help="the paper exchange on live prices")
    demo_commands = demo.add_subparsers(dest="demo_command", required=True, metavar="COMMAND")
    serve = demo_commands.add_parser(
        "serve", help="serve a paper account over HTTP and WebSocket, for any client"
    )
    serve.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (loopback only)")
    serve.add_argument("--port", type=int, default=8766, help="default 8766; 0 picks a free one")
    serve.add_argument("--account", default="default", help="the paper account (default: default)")
    serve.add_argument(
        "--balance", type=float, default=None, help="USD a new account starts with (100,000)"
    )
    serve.add_argument(
        "--upstream",
        default=None,
        help="where prices come from (default KFRESEARCH_DEMO_UPSTREAM or the live exchange)",
    )
    serve.set_defaults(run=_serve)


def _serve(args: argparse.Namespace) -> int:
    from kfresearch.errors import KFError
    from kfresearch.sim.demo import demo_exchange
    from kfresearch.sim.server import bind, serve

    try:
        exchange = demo_exchange(args.account, balance=args.balance, upstream=args.upstream)
        exchange.source.refresh()  # fail now, not at the first order, if prices are out of reach
    except KFError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        print(
            f"error: cannot serve on {args.host} port {args.port}: "
            f"{os.strerror(exc.errno) if exc.errno else exc}; choose another port with --port, "
            "or --port 0 for any free one",
            file=sys.stderr,
        )
        return 2
    port = sock.getsockname()[1]
    print(
        f"kfresearch paper exchange on http://{args.host}:{port} "
        f"(WebSocket ws://{args.host}:{port}/ws/v1): account {args.account!r} in "
        f"{exchange.paper.path}, prices from {exchange.source.url}; "
        "keys: `kfresearch sim keys`; Ctrl-C stops it",
        flush=True,
    )
    serve(exchange, sock=sock)
    return 0
