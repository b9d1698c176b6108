"""``kfresearch sim serve`` and ``kfresearch sim keys``: the offline exchange simulator."""

from __future__ import annotations

import argparse
import json
import os
import sys

from kfresearch.cli._common import Subcommands

__all__ = ["register"]


def register(commands: Subcommands) -> None:
    """Add ``sim serve`` and ``sim keys`` to ``commands``."""
    sim = commands.add_parser("sim", help="the offline exchange simulator")
    sim_commands = sim.add_subparsers(dest="sim_command", required=True, metavar="COMMAND")
    serve = sim_commands.add_parser("serve", help="serve the simulator over HTTP and WebSocket")
    serve.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (loopback only)")
    serve.add_argument("--port", type=int, default=8765, help="default 8765; 0 picks a free one")
    serve.add_argument("--seed", type=int, default=None, help="default KFRESEARCH_SIM_SEED or 42")
    serve.add_argument("--now", default=None, help="fix the clock at this ISO time")
    serve.add_argument(
        "--speed", type=float, default=None, help="run the clock this many times faster"
    )
    serve.add_argument(
        "--latency",
        default="0ms",
        help="answer every HTTP request this much later, like a real network's round trip "
        "(e.g. 50ms; default 0ms)",
    )
    serve.add_argument(
        "--strict-auth",
        action="store_true",
        help="reject the legacy (URL-decoded postData) signature form",
    )
    serve.set_defaults(run=_serve)
    keys = sim_commands.add_parser("keys", help="print the provisioned key pairs")
    keys.add_argument("--json", action="store_true", help="machine-readable output")
    keys.set_defaults(run=_keys)


def _keys(args: argparse.Namespace) -> int:
    from kfresearch.sim.keys import provisioned_keys, provisioned_spot_keys

    # the Derivatives keys (v3 REST, WebSocket v1), then the Kraken keys (Unified WebSocket)
    provisioned = [*provisioned_keys().values(), *provisioned_spot_keys().values()]
    keys = {
        k.name: {"key": k.credentials.key, "secret": k.credentials.secret.reveal()}
        for k in provisioned
    }
    if args.json:
        print(json.dumps(keys))
        return 0
    for name, pair in keys.items():
        print(f"{name}:\n  key:    {pair['key']}\n  secret: {pair['secret']}")
    print(
        "\nfull/read_only are Derivatives keys (REST v3, WebSocket v1); spot_full/"
        "spot_read_only are Kraken keys for the Unified WebSocket (GetWebSocketsToken)."
        "\nThese keys unlock only the local simulator."
    )
    return 0


def _serve(args: argparse.Namespace) -> int:
    from kfresearch.sim.clock import SimClock, parse_time_ms
    from kfresearch.sim.exchange import SimExchange
    from kfresearch.sim.server import bind, serve
    from kfresearch.timeparse import to_timedelta

    try:
        latency = to_timedelta(args.latency).total_seconds()
    except ValueError as exc:
        print(f"error: --latency: {exc}", file=sys.stderr)
        return 2
    if args.speed:
        clock = SimClock("accelerated", parse_time_ms(args.now) if args.now else None, args.speed)
    elif args.now:
        clock = SimClock.fixed(args.now)
    else:
        clock = SimClock.from_env()
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        print(
            f"error: cannot serve on {args.host} port {args.port}: "
            f"{os.strerror(exc.errno) if exc.errno else exc} "
            "(another server may be using it); choose another port with --port, "
            "or --port 0 for any free one",
            file=sys.stderr,
        )
        return 2
    port = sock.getsockname()[1]
    exchange = SimExchange(
        seed=args.seed, clock=clock, strict_auth=args.strict_auth, latency=latency
    )
    # announced only once the port is ours
    print(
        f"kfresearch simulator on http://{args.host}:{port} "
        f"(WebSocket ws://{args.host}:{port}/ws/v1), seed {exchange.seed}"
        + (f", {args.latency} latency" if latency else "")
        + "; Ctrl-C stops it",
        flush=True,
    )
    serve(exchange, sock=sock)
    return 0
