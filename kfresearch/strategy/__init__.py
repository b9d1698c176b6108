"""One strategy, unchanged from backtest to paper to live; sweeps past one machine.

Write the rule once, as a :class:`Strategy` (hooks ``on_start``, ``on_bar``,
``on_trade``, ``on_book``, ``on_fill``, ``on_funding``, ``on_stop``) or a
function ``f(ctx, bar)``. Its :class:`Context` reads positions, cash, equity
and recent bars, and places, edits and cancels orders through the client's
own validated order API. Then:

* :func:`backtest` replays the history store through the simulator's exchange
  engine (its replay market source): the same fill rules, fees, hourly
  funding and liquidation as ``sim`` and ``demo``; deterministic for a seed;
* :func:`run` trades the same object on ``sim``, ``demo`` or ``live`` (the
  usual two opt-ins) on the exchange's clock, its bars closed by the
  exchange's WebSocket (``kf.stream()``), dead man's switch armed; in a
  notebook ``r = await arun(...)`` runs it in the background (:class:`StrategyRun`);
* :func:`sweep` backtests a parameter grid on local processes or a Dask
  cluster, one frame back; :func:`sweep_heatmap` draws it.

Both :func:`backtest` and :func:`run` feed the strategy through one loop
(:mod:`kfresearch.strategy.driver`), so the same bars give the same calls,
and return a :class:`Result`: frames (equity, positions, fills, orders,
funding, fees), ``stats`` (:data:`STAT_UNITS`) and charts.

Example
-------
>>> from dataclasses import dataclass
>>> from kfresearch.strategy import Strategy, backtest
>>> @dataclass
... class SmaCross(Strategy):
...     fast: int = 10
...     slow: int = 30
...     size: float = 0.01
...     def on_bar(self, ctx, bar):
...         closes = ctx.closes(bar.symbol, self.slow)
...         if len(closes) == self.slow:
...             up = closes[-self.fast:].mean() > closes.mean()
...             ctx.order_target(bar.symbol, self.size if up else -self.size)
>>> result = backtest(SmaCross(), store, "PF_XBTUSD", "2026-10-01", "2026-10-02")  # doctest: +SKIP
>>> result.stats["net_pnl_usd"]                                                  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from kfresearch.strategy.base import FunctionStrategy, Strategy, as_strategy
from kfresearch.strategy.context import Context
from kfresearch.strategy.events import Bar, Book, Fill, Funding, Trade
from kfresearch.strategy.result import STAT_UNITS, Result

if TYPE_CHECKING:
    from kfresearch.strategy.backtests import backtest
    from kfresearch.strategy.charts import sweep_heatmap
    from kfresearch.strategy.live import StrategyRun, arun, run
    from kfresearch.strategy.sweeps import grid_points, sweep

__all__ = [
    "STAT_UNITS",
    "Bar",
    "Book",
    "Context",
    "Fill",
    "FunctionStrategy",
    "Funding",
    "Result",
    "Strategy",
    "StrategyRun",
    "Trade",
    "arun",
    "as_strategy",
    "backtest",
    "grid_points",
    "run",
    "sweep",
    "sweep_heatmap",
]

# the drivers import the client, the simulator and plotly: only when first used
_LAZY = {
    "backtest": "kfresearch.strategy.backtests",
    "run": "kfresearch.strategy.live",
    "arun": "kfresearch.strategy.live",
    "StrategyRun": "kfresearch.strategy.live",
    "sweep": "kfresearch.strategy.sweeps",
    "grid_points": "kfresearch.strategy.sweeps",
    "sweep_heatmap": "kfresearch.strategy.charts",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kfresearch.strategy' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
