"""``kfresearch download``, ``kfresearch store info|repair`` and ``kfresearch record``.

::

    kfresearch download candles PF_XBTUSD --resolution 1m --since 90d --to data/
    kfresearch download trades PF_XBTUSD --since 7d --to data/
    kfresearch download funding PF_XBTUSD --since 1y --to data/
    kfresearch download account-log --since 3mo --to data/
    kfresearch store info data/
    kfresearch store repair data/
    kfresearch record PF_XBTUSD [PF_ETHUSD …] --trades --book --to data/ [--duration 3600]
"""

from __future__ import annotations

import argparse
import sys

from kfresearch.cli._common import Subcommands, add_connection_options

__all__ = ["register"]

#: command-line names of the downloadable kinds -> store kinds
KIND_NAMES = {
    "candles": "candles",
    "trades": "trades",
    "funding": "funding_rates",
    "account-log": "account_log",
    "fills": "fills",
    "order-history": "order_history",
}
_NEEDS_SYMBOL = {"candles", "trades", "funding"}


def register(commands: Subcommands) -> None:
    """Add ``download``, ``store`` and ``record`` to ``commands``."""
    download = commands.add_parser(
        "download", help="download history into a local store (resumes where it stopped)"
    )
    add_connection_options(download)
    download.add_argument("kind", choices=list(KIND_NAMES))
    download.add_argument("symbol", nargs="?", help="contract (candles, trades, funding)")
    download.add_argument("--since", default="30d", help="ISO time, epoch ms, 90d, 3mo, 1y")
    download.add_argument("--until", default=None)
    download.add_argument("--resolution", default="1m", help="candles: 1m 5m … 1d 1w")
    download.add_argument("--tick-type", default="trade", choices=["trade", "mark", "spot"])
    download.add_argument("--to", required=True, metavar="DIR", help="the store directory")
    download.set_defaults(run=_download)

    store = commands.add_parser("store", help="inspect or repair a local store")
    store_commands = store.add_subparsers(dest="store_command", required=True, metavar="COMMAND")
    info = store_commands.add_parser("info", help="what is covered, sizes and gaps")
    info.add_argument("dir")
    info.set_defaults(run=_info)
    repair = store_commands.add_parser("repair", help="re-fetch missing or truncated files")
    add_connection_options(repair)
    repair.add_argument("dir")
    repair.set_defaults(run=_repair)

    record = commands.add_parser(
        "record",
        help="record the live trade tape and book snapshots of SYMBOL... into a store",
    )
    add_connection_options(record)
    record.add_argument("symbols", nargs="+", metavar="SYMBOL")
    record.add_argument("--trades", action="store_true", help="keep the public trades")
    record.add_argument("--book", action="store_true", help="keep book snapshots")
    record.add_argument("--to", required=True, metavar="DIR", help="the store directory")
    record.add_argument("--duration", type=float, default=None, help="seconds (default: Ctrl-C)")
    record.add_argument(
        "--every", type=float, default=5.0, help="seconds between book snapshots (exchange time)"
    )
    record.add_argument("--roll", type=float, default=300.0, help="seconds between commits")
    record.add_argument("--depth", type=int, default=25, help="book levels per side")
    record.set_defaults(run=_record)


def _download(args: argparse.Namespace) -> int:
    from kfresearch.client import Client
    from kfresearch.errors import KFError
    from kfresearch.store import Store

    if args.kind in _NEEDS_SYMBOL and not args.symbol:
        print(f"error: download {args.kind} needs a SYMBOL, e.g. PF_XBTUSD", file=sys.stderr)
        return 2
    with Client(args.env, base_url=args.base_url, protocol=args.protocol) as kf:
        try:
            store = Store(args.to, kf)
            summary = store.download(
                KIND_NAMES[args.kind],
                args.symbol if args.kind in _NEEDS_SYMBOL else None,
                since=args.since,
                until=args.until,
                resolution=args.resolution,
                tick_type=args.tick_type,
            )
        except KeyboardInterrupt:
            print("interrupted: what was fetched is stored; run again to resume", file=sys.stderr)
            return 130
        except KFError as exc:
            notes = "".join(f"\n{note}" for note in getattr(exc, "__notes__", []))
            print(f"error: {exc}{notes}", file=sys.stderr)
            return 2
    print(summary)
    return 0


def _info(args: argparse.Namespace) -> int:
    import pandas as pd

    from kfresearch.store import Store

    table = Store(args.dir).info()
    if table.empty:
        print(f"{args.dir}: no series stored")
        return 0
    holes = table.pop("hole_ranges")
    table = table.drop(columns=["gap_ranges"]).fillna("")
    table["size"] = [f"{b / 1e6:.1f} MB" for b in table.pop("bytes")]
    with pd.option_context("display.max_rows", 500, "display.width", 200):
        print(table.to_string(index=False))
    for row, ranges in zip(table.itertuples(), holes, strict=True):
        if ranges:  # not downloaded yet, or lost by the recorder
            where = " ".join(str(v) for v in (row.kind, row.symbol) if v)
            spans = "; ".join(f"{a:%Y-%m-%d %H:%M:%S} → {b:%Y-%m-%d %H:%M:%S}" for a, b in ranges)
            print(f"holes in {where}: {spans}")
    return 0


def _repair(args: argparse.Namespace) -> int:
    import pandas as pd

    from kfresearch.client import Client
    from kfresearch.store import Store

    with Client(args.env, base_url=args.base_url, protocol=args.protocol) as kf:
        done = Store(args.dir, kf).repair()
    if done.empty:
        print(f"{args.dir}: every file reads back whole")
        return 0
    with pd.option_context("display.max_colwidth", 200, "display.width", 200):
        print(done.to_string(index=False))
    return 0


def _record(args: argparse.Namespace) -> int:
    from kfresearch.client import Client
    from kfresearch.store import Store

    if not (args.trades or args.book):
        print("error: say what to record: --trades, --book or both", file=sys.stderr)
        return 2
    with Client(args.env, base_url=args.base_url, protocol=args.protocol) as kf:
        summary = Store(args.to, kf, progress=False).record(
            args.symbols,
            trades=args.trades,
            book=args.book,
            duration=args.duration,
            every=args.every,
            roll=args.roll,
            depth=args.depth,
        )
    print(summary)
    return 0
