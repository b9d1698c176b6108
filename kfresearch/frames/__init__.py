"""Pure functions from a decoded Kraken Futures JSON body to a typed DataFrame.

No I/O and no client: each function takes the decoded body of one endpoint
(envelope included; for paged endpoints also a list of page bodies) and is
named like the :class:`~kfresearch.Client` method that returns it.

Conventions (shared by every frame)
-----------------------------------
* Column names are snake_case forms of the exchange's field names
  (``markPrice`` → ``mark_price``, ``cliOrdId`` → ``cli_ord_id``); a few are
  renamed where the exchange's name would mislead, and each docstring says so.
* Times are ``datetime64[ns, UTC]``. ISO strings with 0–6 fractional digits,
  epoch-millisecond integers and epoch-millisecond strings are all accepted.
* Prices and sizes are float64 whether the exchange sent numbers or decimal
  strings (``""`` → NaN); counts and ids that are numbers are int64 (nullable
  ``Int64`` where rows may lack them); flags are bool (a missing flag is
  False); text is pandas' ``str`` dtype (``""`` → NaN).
* Time series (trades, candles, funding rates, fills, executions, order
  history, account log) have a sorted ``DatetimeIndex`` named ``time``;
  snapshots are indexed by their natural key (``symbol``, ``order_id``).
* An empty answer gives an empty frame with the same columns and dtypes.
* Fields the exchange adds later are kept, snake_cased, dtype inferred, after
  the documented columns.
* ``df.attrs["server_time"]`` is the body's ``serverTime`` (a UTC Timestamp)
  when it has one; paged frames also record the last ``continuation_token``.

Each frame's schema is data (``FrameSpec`` objects in the area modules),
applied by one builder in :mod:`kfresearch.frames._core`.
"""

from __future__ import annotations

from kfresearch.frames._core import combine_pages, to_snake
from kfresearch.frames.account import (
    accounts,
    fills,
    leverage,
    open_orders,
    pnl_preferences,
    positions,
)
from kfresearch.frames.history import (
    account_log,
    executions,
    order_history,
    positions_history,
)
from kfresearch.frames.market import (
    candles,
    fee_schedules,
    funding_rates,
    instruments,
    orderbook,
    term_structure,
    tickers,
    trades,
)

__all__ = [
    "account_log",
    "accounts",
    "candles",
    "combine_pages",
    "executions",
    "fee_schedules",
    "fills",
    "funding_rates",
    "instruments",
    "leverage",
    "open_orders",
    "order_history",
    "orderbook",
    "pnl_preferences",
    "positions",
    "positions_history",
    "term_structure",
    "tickers",
    "to_snake",
    "trades",
]
