"""``kfresearch tickers``, ``book`` and ``candles``: market data as tables or files."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from kfresearch.cli._common import Subcommands, add_connection_options

if TYPE_CHECKING:
    import pandas as pd

    from kfresearch.client import Client

__all__ = ["register"]

_TICKER_COLUMNS = [
    "last",
    "bid",
    "ask",
    "mark_price",
    "change24h",
    "vol24h",
    "funding_rate_annualised",
]


def register(commands: Subcommands) -> None:
    """Add ``tickers``, ``book`` and ``candles`` to ``commands``."""
    tickers = commands.add_parser("tickers", help="print every ticker")
    add_connection_options(tickers)
    tickers.set_defaults(run=_run, fetch=_tickers)

    book = commands.add_parser("book", help="print the order book of SYMBOL")
    add_connection_options(book)
    book.add_argument("symbol")
    book.add_argument("--depth", type=int, default=10, help="levels per side (default 10)")
    book.set_defaults(run=_run, fetch=_book)

    candles = commands.add_parser("candles", help="download candles of SYMBOL")
    add_connection_options(candles)
    candles.add_argument("symbol")
    candles.add_argument("--resolution", default="1h", help="1m 5m 15m 30m 1h 4h 12h 1d 1w")
    candles.add_argument("--since", default="7d", help="ISO time, epoch ms or relative like 7d")
    candles.add_argument("--until", default=None)
    candles.add_argument("--tick-type", default="trade", choices=["trade", "mark", "spot"])
    out = candles.add_mutually_exclusive_group()
    out.add_argument("--csv", metavar="FILE", help="write CSV instead of printing")
    out.add_argument("--parquet", metavar="FILE", help="write Parquet instead of printing")
    candles.set_defaults(run=_run, fetch=_candles)


def _tickers(kf: Client, args: argparse.Namespace) -> pd.DataFrame:
    return kf.tickers()[_TICKER_COLUMNS]


def _book(kf: Client, args: argparse.Namespace) -> pd.DataFrame:
    return kf.orderbook(args.symbol, depth=args.depth)


def _candles(kf: Client, args: argparse.Namespace) -> pd.DataFrame:
    return kf.candles(
        args.symbol, args.resolution, since=args.since, until=args.until, tick_type=args.tick_type
    )


def _run(args: argparse.Namespace) -> int:
    """Fetch the command's frame with ``args.fetch``, then print it or write it to a file."""
    import pandas as pd

    from kfresearch.client import Client
    from kfresearch.errors import KFError

    with Client(args.env, base_url=args.base_url) as kf:
        try:
            frame = args.fetch(kf, args)
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
