"""The ``kfresearch`` command.

::

    kfresearch doctor [--env ENV] [--base-url URL]
    kfresearch tickers [--env ENV]
    kfresearch book SYMBOL [--depth N]
    kfresearch candles SYMBOL [--resolution 1h] [--since 7d] [--until T]
                              [--csv FILE | --parquet FILE]
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

    def market_command(name: str, help_text: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--env", default=None, help="live, demo or sim (default demo)")
        command.add_argument("--base-url", default=None, help="a server that speaks the API")
        return command

    market_command("tickers", "print every ticker")
    book = market_command("book", "print the order book of SYMBOL")
    book.add_argument("symbol")
    book.add_argument("--depth", type=int, default=10, help="levels per side (default 10)")
    candles = market_command("candles", "download candles of SYMBOL")
    candles.add_argument("symbol")
    candles.add_argument("--resolution", default="1h", help="1m 5m 15m 30m 1h 4h 12h 1d 1w")
    candles.add_argument("--since", default="7d", help="ISO time, epoch ms or relative like 7d")
    candles.add_argument("--until", default=None)
    candles.add_argument("--tick-type", default="trade", choices=["trade", "mark", "spot"])
    out = candles.add_mutually_exclusive_group()
    out.add_argument("--csv", metavar="FILE", help="write CSV instead of printing")
    out.add_argument("--parquet", metavar="FILE", help="write Parquet instead of printing")

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
    if args.command in {"tickers", "book", "candles"}:
        return _market(args)
    if args.sim_command == "keys":
        return _keys(as_json=args.json)
    return _serve(args)


def _market(args: argparse.Namespace) -> int:
    import pandas as pd

    from kfresearch.client import Client
    from kfresearch.errors import KFError

    with Client(args.env, base_url=args.base_url) as kf:
        try:
            if args.command == "tickers":
                frame = kf.tickers()[
                    [
                        "last",
                        "bid",
                        "ask",
                        "mark_price",
                        "change24h",
                        "vol24h",
                        "funding_rate_annualised",
                    ]
                ]
            elif args.command == "book":
                frame = kf.orderbook(args.symbol, depth=args.depth)
            else:
                frame = kf.candles(
                    args.symbol,
                    args.resolution,
                    since=args.since,
                    until=args.until,
                    tick_type=args.tick_type,
                )
        except KFError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if getattr(args, "csv", None):
        frame.to_csv(args.csv)
        print(f"wrote {len(frame)} rows to {args.csv}")
    elif getattr(args, "parquet", None):
        frame.to_parquet(args.parquet)
        print(f"wrote {len(frame)} rows to {args.parquet}")
    else:
        with pd.option_context("display.max_rows", 200, "display.width", 160):
            print(frame.to_string())
    return 0


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
