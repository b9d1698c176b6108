"""The ``kfresearch`` command.

::

    kfresearch doctor [--env ENV] [--base-url URL]
    kfresearch sim serve [--host 127.0.0.1] [--port 8765] [--seed S] [--now ISO] [--strict-auth]
    kfresearch sim keys [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kfresearch", description="Kraken Futures research toolkit"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    doctor = commands.add_parser("doctor", help="check the environment, clock and credentials")
    doctor.add_argument(
        "--env", default=None, help="live, demo or sim (default KFRESEARCH_ENV or demo)"
    )
    doctor.add_argument("--base-url", default=None, help="a server that speaks the API")

    sim = commands.add_parser("sim", help="the offline exchange simulator")
    sim_commands = sim.add_subparsers(dest="sim_command", required=True)
    serve = sim_commands.add_parser("serve", help="serve the simulator over HTTP and WebSocket")
    serve.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (loopback only)")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--seed", type=int, default=None, help="default KFRESEARCH_SIM_SEED or 42")
    serve.add_argument("--now", default=None, help="fix the clock at this ISO time")
    serve.add_argument(
        "--speed", type=float, default=None, help="run the clock this many times faster"
    )
    serve.add_argument(
        "--strict-auth",
        action="store_true",
        help="reject the legacy (URL-decoded postData) signature form",
    )
    keys = sim_commands.add_parser("keys", help="print the provisioned key pairs")
    keys.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "doctor":
        from kfresearch.client import Client

        report = Client(args.env, base_url=args.base_url).doctor()
        print(report)
        return 0 if report.ok else 1
    if args.sim_command == "keys":
        return _keys(as_json=args.json)
    return _serve(args)


def _keys(*, as_json: bool) -> int:
    from kfresearch.sim.keys import provisioned_keys

    keys = {
        name: {"key": k.credentials.key, "secret": k.credentials.secret.reveal()}
        for name, k in provisioned_keys().items()
    }
    if as_json:
        print(json.dumps(keys))
        return 0
    for name, pair in keys.items():
        print(f"{name}:\n  key:    {pair['key']}\n  secret: {pair['secret']}")
    print("\nThese keys unlock only the local simulator.")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from kfresearch.sim.clock import SimClock, parse_time_ms
    from kfresearch.sim.exchange import SimExchange
    from kfresearch.sim.server import serve

    if args.speed:
        clock = SimClock("accelerated", parse_time_ms(args.now) if args.now else None, args.speed)
    elif args.now:
        clock = SimClock.fixed(args.now)
    else:
        clock = SimClock.from_env()
    exchange = SimExchange(seed=args.seed, clock=clock, strict_auth=args.strict_auth)
    print(
        f"kfresearch simulator on http://{args.host}:{args.port} "
        f"(WebSocket ws://{args.host}:{args.port}/ws/v1), seed {exchange.seed}; Ctrl-C stops it",
        flush=True,
    )
    serve(exchange, host=args.host, port=args.port)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
