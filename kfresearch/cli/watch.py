"""``kfresearch watch book|trades|ticker SYMBOL``: a live view in the terminal until Ctrl-C.

The view is redrawn every ``--interval`` seconds from the stream's live book or
tables (in a terminal, in place; piped, one screen after another).
``--count N`` stops after N screens.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from kfresearch.cli._common import Subcommands, add_connection_options

if TYPE_CHECKING:
    import pandas as pd

    from kfresearch.stream import Stream

__all__ = ["register", "render_book", "render_ticker", "render_trades"]

_FEEDS = {"book": "book", "trades": "trade", "ticker": "ticker"}
_CLEAR = "\x1b[H\x1b[2J"


def register(commands: Subcommands) -> None:
    """Add ``watch`` to ``commands``."""
    watch = commands.add_parser(
        "watch", help="a live view of a book, trades or a ticker (WebSocket) until Ctrl-C"
    )
    watch.add_argument("what", choices=sorted(_FEEDS), help="book, trades or ticker")
    watch.add_argument("symbol")
    add_connection_options(watch)
    watch.add_argument("--depth", type=int, default=10, help="book levels per side (default 10)")
    watch.add_argument("--rows", type=int, default=20, help="trades shown (default 20)")
    watch.add_argument("--interval", type=float, default=0.5, help="seconds between redraws")
    watch.add_argument("--count", type=int, default=None, help="stop after this many screens")
    watch.set_defaults(run=_watch)


def _stamp(value: object) -> str:
    return str(value)[:23] if value is not None else "-"


def render_book(book: pd.DataFrame, depth: int) -> str:
    """A price ladder: asks above (best last), bids below (best first), sizes cumulated."""
    attrs = book.attrs
    asks = book[book["side"] == "ask"].head(depth).iloc[::-1]
    bids = book[book["side"] == "bid"].head(depth)
    lines = [
        f"{attrs.get('symbol', '')} book · {attrs.get('env', '')} · "
        f"{_stamp(attrs.get('server_time'))} UTC · mid {attrs.get('mid', float('nan')):,.8g}"
        f" · spread {attrs.get('spread', float('nan')):,.8g}"
        f" ({attrs.get('spread_bps', float('nan')):.2f} bps)",
        f"{'side':>4}  {'price':>14}  {'size':>12}  {'cumulative':>12}",
    ]
    for side, rows in (("ask", asks), ("bid", bids)):
        for price, size, cum in zip(rows["price"], rows["size"], rows["cum_size"], strict=True):
            lines.append(f"{side:>4}  {price:>14,.8g}  {size:>12,.6g}  {cum:>12,.6g}")
    if not len(book):
        lines.append("(waiting for the book)")
    return "\n".join(lines)


def render_trades(trades: pd.DataFrame, rows: int) -> str:
    """The last trades, newest first: time, taker side, price, size."""
    lines = [f"{trades.attrs.get('symbol', '')} trades · {trades.attrs.get('env', '')} · "
             f"{len(trades)} held",
             f"{'time (UTC)':<23}  {'side':<4}  {'price':>14}  {'size':>12}"]
    last = trades.tail(rows).iloc[::-1]
    for stamp, side, price, size in zip(last.index, last["side"], last["price"], last["size"],
                                        strict=True):
        lines.append(f"{_stamp(stamp):<23}  {side:<4}  {price:>14,.8g}  {size:>12,.6g}")
    return "\n".join(lines)


def render_ticker(tickers: pd.DataFrame, symbol: str) -> str:
    """One ticker: prices, funding and the day's figures."""
    if symbol not in tickers.index:
        return f"{symbol} ticker · (waiting for the ticker)"
    row = tickers.loc[symbol]
    fields = [("last", "last"), ("bid", "bid"), ("ask", "ask"), ("mark", "mark_price"),
              ("index", "index_price"), ("spread bps", "spread_bps"),
              ("funding (annual)", "funding_rate_annualised"), ("change 24h %", "change24h"),
              ("volume 24h", "vol24h"), ("open interest", "open_interest")]
    lines = [f"{symbol} ticker · {tickers.attrs.get('env', '')}"]
    lines += [f"{label:<17} {row[column]:>16,.8g}" for label, column in fields
              if column in row.index]
    return "\n".join(lines)


def _screen(stream: Stream, args: argparse.Namespace, symbol: str) -> str:
    if args.what == "book":
        return render_book(stream.book(symbol).frame(args.depth), args.depth)
    if args.what == "trades":
        trades = stream.trades(symbol)
        trades.attrs["symbol"] = symbol
        return render_trades(trades, args.rows)
    return render_ticker(stream.tickers(), symbol)


def _watch(args: argparse.Namespace) -> int:
    from kfresearch.client import Client
    from kfresearch.errors import KFError

    symbol = str(args.symbol).strip().upper()
    clear = sys.stdout.isatty()
    screens = 0
    with Client(args.env, base_url=args.base_url, protocol=args.protocol) as kf:
        stream = kf.stream()
        try:
            stream.subscribe(_FEEDS[args.what], symbol)
            while args.count is None or screens < args.count:
                text = _screen(stream, args, symbol)
                print(f"{_CLEAR if clear else ''}{text}", flush=True)
                if not clear:
                    print(flush=True)
                screens += 1
                if args.count is not None and screens >= args.count:
                    break
                time.sleep(args.interval)
        except KeyboardInterrupt:
            pass
        except KFError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        finally:
            stream.close()
    return 0
