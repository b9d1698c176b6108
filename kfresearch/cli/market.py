"""Market data commands: ``tickers``, ``instruments``, ``book``, ``candles``, ``trades``,
``funding``.

Each command is one row of :data:`COMMANDS`: what it fetches, which columns it
prints, and which options it takes. Printing formats numbers for people
(:mod:`kfresearch.cli._table`); ``--csv``/``--parquet`` write every column raw.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kfresearch.cli._common import Subcommands, add_connection_options

if TYPE_CHECKING:
    import pandas as pd

    from kfresearch.client import Client

__all__ = ["COMMANDS", "MarketCommand", "register"]

Fetch = Callable[["Client", argparse.Namespace], "pd.DataFrame"]
Options = Callable[[argparse.ArgumentParser], None]


@dataclass(frozen=True)
class MarketCommand:
    """One market-data command.

    Attributes
    ----------
    name, help : str
        As ``kfresearch --help`` lists it.
    fetch : callable
        ``(client, args) -> DataFrame``.
    options : tuple of callables
        Each adds arguments to the command's parser.
    shown : tuple of str
        Columns printed to the terminal (all when empty); files get every column.
    files : bool
        Takes ``--csv FILE`` / ``--parquet FILE``.
    """

    name: str
    help: str
    fetch: Fetch
    options: tuple[Options, ...] = ()
    shown: tuple[str, ...] = ()
    files: bool = True


def _symbol(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("symbol", help="contract, e.g. PF_XBTUSD (case does not matter)")


def _window(default_since: str) -> Options:
    def add(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--since",
            default=default_since,
            help=f"ISO time, epoch ms or relative like 7d (default {default_since})",
        )
        parser.add_argument("--until", default=None, help="end of the window (default now)")

    return add


def _depth(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--depth", type=int, default=10, help="levels per side (default 10)")


def _candle_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--resolution", default="1h", help="1m 5m 15m 30m 1h 4h 12h 1d 1w")
    parser.add_argument("--tick-type", default="trade", choices=["trade", "mark", "spot"])


COMMANDS: tuple[MarketCommand, ...] = (
    MarketCommand(
        "tickers",
        "print every ticker",
        lambda kf, args: kf.tickers(),
        shown=("last", "bid", "ask", "mark_price", "change24h", "vol24h",
               "funding_rate_annualised"),
    ),
    MarketCommand(
        "instruments",
        "print every contract with its tick, size step and limits",
        lambda kf, args: kf.instruments(),
        shown=("type", "base", "quote", "tick_size", "contract_size",
               "contract_value_trade_precision", "max_position_size", "tradeable", "post_only"),
    ),
    MarketCommand(
        "book",
        "print the order book of SYMBOL",
        lambda kf, args: kf.orderbook(args.symbol, depth=args.depth),
        options=(_symbol, _depth),
        files=False,
    ),
    MarketCommand(
        "candles",
        "print or download candles of SYMBOL",
        lambda kf, args: kf.candles(args.symbol, args.resolution, since=args.since,
                                    until=args.until, tick_type=args.tick_type),
        options=(_symbol, _window("7d"), _candle_options),
    ),
    MarketCommand(
        "trades",
        "print or download public trades of SYMBOL",
        lambda kf, args: kf.trades(args.symbol, since=args.since, until=args.until),
        options=(_symbol, _window("1h")),
        shown=("side", "price", "size", "usd_value", "type"),
    ),
    MarketCommand(
        "funding",
        "print or download the hourly funding rates of perpetual SYMBOL",
        lambda kf, args: kf.funding_rates(args.symbol, since=args.since, until=args.until),
        options=(_symbol, _window("30d")),
    ),
)


def register(commands: Subcommands) -> None:
    """Add every command of :data:`COMMANDS` to ``commands``."""
    for spec in COMMANDS:
        parser = commands.add_parser(spec.name, help=spec.help, description=spec.help)
        for add in spec.options:
            add(parser)
        add_connection_options(parser)
        if spec.files:
            out = parser.add_mutually_exclusive_group()
            out.add_argument("--csv", metavar="FILE", help="write CSV (every column) instead")
            out.add_argument(
                "--parquet", metavar="FILE", help="write Parquet (every column) instead"
            )
        parser.set_defaults(run=_run, spec=spec)


def _run(args: argparse.Namespace) -> int:
    """Fetch the command's frame, then print it or write it to a file."""
    import pandas as pd

    from kfresearch.cli._table import render
    from kfresearch.client import Client
    from kfresearch.errors import KFError

    spec: MarketCommand = args.spec
    with Client(args.env, base_url=args.base_url, protocol=args.protocol) as kf:
        try:
            frame = spec.fetch(kf, args)
            if not (getattr(args, "csv", None) or getattr(args, "parquet", None)):
                # the tick of every contract, for prices; the instruments are one request
                tick_sizes = kf.instruments()["tick_size"].dropna()
                ticks = {str(k): float(v) for k, v in tick_sizes.items()}
        except KFError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if getattr(args, "csv", None):
        frame.to_csv(args.csv)
        print(f"wrote {len(frame)} rows to {args.csv}")
        return 0
    if getattr(args, "parquet", None):
        # pandas stores attrs in the Parquet metadata as JSON: times become ISO strings
        frame.attrs = json.loads(json.dumps(frame.attrs, default=str))
        frame.to_parquet(args.parquet)
        print(f"wrote {len(frame)} rows to {args.parquet}")
        return 0
    shown = [c for c in spec.shown if c in frame.columns] or list(frame.columns)
    symbol = frame.attrs.get("symbol") or getattr(args, "symbol", None)
    one_tick = ticks.get(str(symbol).upper()) if symbol else None
    with pd.option_context("display.max_rows", None, "display.width", 200):
        print(render(frame[shown], one_tick if one_tick is not None else ticks))
    return 0
