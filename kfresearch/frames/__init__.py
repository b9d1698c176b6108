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
* Rows that share a time keep the exchange's own order: time series of
  events carry ``seq`` (int64, oldest first, from the order the exchange
  lists them), the account log its ``id``, and frames are sorted by
  ``(time, seq)`` (``(time, id)``). Replaying ``fills()`` top to bottom
  replays the executions in the order they happened.
* An empty answer gives an empty frame with the same columns and dtypes.
* Fields the exchange adds later are kept, snake_cased, dtype inferred, after
  the documented columns.
* ``df.attrs["server_time"]`` is the body's ``serverTime`` (a UTC Timestamp)
  when it has one; paged frames also record the last ``continuation_token``.

Units (one convention for every frame)
--------------------------------------
* **Fractions everywhere**: rates, shares and changes are plain fractions
  (0.01 = 1 %), whatever the exchange sends: ``change24h``, ``premium``,
  ``relative_basis``, fee rates (``maker_fee`` 0.0002 = 2 bp), funding
  rates. A column holds percent only if its name ends in ``_pct``, basis
  points only if it ends in ``_bps`` (``spread_bps``).
* Annualised rates are fractions per year from the rate's own period
  (``funding_rate_annualised`` = relative rate × 8,760 h / period hours).
* Prices are in the quote currency (USD); sizes in contracts (base units for
  linear ``PF_``/``FF_``, 1-USD contracts for inverse ``PI_``/``FI_``).
* Money: a column named ``…_usd`` (or documented as USD) is in US dollars.
  Every other amount is in the currency its row names in a currency column
  (``currency``, ``fee_currency``): the contract's settlement currency (USD
  for linear contracts, the base coin for inverse ones) or the wallet's. So
  sum such a column per currency, or sum its ``…_usd`` twin, converted at
  the price its docstring names (the mark of the time, or the trade price).
* Funding: :func:`funding_rates` stamps a rate at the **start** of its
  period and gives ``period_end``; :func:`account_log` books the payment at
  the **end** of the period, so the two join on ``period_end``.

Each frame's schema is data (``FrameSpec`` objects in the area modules),
applied by one builder in :mod:`kfresearch.frames.core`; every numeric
column declares its unit there (``Col.unit``, from ``core.UNITS``), and a
test holds every frame to the rules above.
"""

from __future__ import annotations

from kfresearch.frames.account import (
    accounts,
    fills,
    leverage,
    notifications,
    open_orders,
    pnl_preferences,
    positions,
    subaccounts,
)
from kfresearch.frames.core import combine_pages, to_snake
from kfresearch.frames.history import (
    account_log,
    account_log_csv,
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
    "account_log_csv",
    "accounts",
    "candles",
    "combine_pages",
    "executions",
    "fee_schedules",
    "fills",
    "funding_rates",
    "instruments",
    "leverage",
    "notifications",
    "open_orders",
    "order_history",
    "orderbook",
    "pnl_preferences",
    "positions",
    "positions_history",
    "subaccounts",
    "term_structure",
    "tickers",
    "to_snake",
    "trades",
]
