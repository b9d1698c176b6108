"""``sweep``: a grid of backtests in parallel, on local processes or a Dask cluster.

Each grid point makes one strategy (``strategy(**params)``) and backtests it
with the same arguments; the answers come back as one frame (a parameter
column each, then every statistic of :data:`~kfresearch.strategy.STAT_UNITS`),
in grid order, whatever finished first. Backtests are deterministic for a
seed, so the frame is the same on 1 process, 8 processes or a cluster.

Where it runs
    ``workers`` local processes by default (``concurrent.futures``): fresh
    processes, so no state leaks in from the notebook, forked from a server
    process that imported the backtest once (``forkserver``, where the
    platform has it; spawned elsewhere), so a worker starts in milliseconds
    instead of importing pandas and kfresearch again (about a second of CPU
    each). ``workers=1`` runs in this process. Given ``client=`` a
    :class:`dask.distributed.Client`, the backtests are submitted to its
    cluster instead (the scale-out path): the store's directory must then be
    readable at the same path on every worker (a shared file system), and the
    workers need kfresearch installed.
    Strategies defined in a notebook travel by value (cloudpickle), so they
    need not be importable by the workers. ``pip install 'kfresearch[cluster]'``
    brings Dask.

Example
-------
>>> table = sweep(SmaCross, {"fast": [5, 10], "slow": [30, 60]}, store=store,
...               symbols="PF_XBTUSD", since="2026-10-01", until="2026-10-08")  # doctest: +SKIP
>>> sweep_heatmap(table, "fast", "slow", "sharpe")                          # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import os
import pickle
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_all_start_methods, get_context
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from kfresearch.errors import ValidationError
from kfresearch.strategy.result import STAT_UNITS

if TYPE_CHECKING:
    from kfresearch.store import Store
    from kfresearch.strategy.base import Strategy
    from kfresearch.timeparse import TimeLike

__all__ = ["grid_points", "sweep"]


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of ``grid``'s values, the last parameter varying fastest.

    >>> grid_points({"fast": [5, 10], "slow": [30]})
    [{'fast': 5, 'slow': 30}, {'fast': 10, 'slow': 30}]
    """
    if not grid:
        raise ValidationError("grid", grid, "give at least one parameter and its values")
    names = list(grid)
    values = [list(grid[name]) for name in names]
    for name, options in zip(names, values, strict=True):
        if not options:
            raise ValidationError("grid", grid, f"parameter {name!r} has no values")
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)]


#: What the fork server imports once, before it forks the workers.
_PRELOAD = [
    "kfresearch.strategy.backtests",
    "kfresearch.strategy.direct",
    "kfresearch.store",
    "kfresearch.sim.exchange",
    "kfresearch.sim.replay",
]


def _processes() -> BaseContext:
    """How local workers start: forked from a fork server that preloaded the backtest, else
    spawned (both fresh: nothing of this process's state)."""
    if "forkserver" in get_all_start_methods():
        context = get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)  # read when the server starts (once)
        return context
    return get_context("spawn")


def _dumps(value: Any) -> bytes:
    """Pickle a task; classes and functions defined in a notebook travel by value."""
    import cloudpickle  # type: ignore[import-untyped]

    return bytes(cloudpickle.dumps(value))


def _one(payload: bytes) -> dict[str, float]:
    """Run one backtest of a pickled ``(factory, params, store root, kwargs)``; its stats."""
    from kfresearch.store import Store
    from kfresearch.strategy.backtests import backtest

    factory, params, root, kwargs = pickle.loads(payload)  # noqa: S301 (made by _dumps)
    result = backtest(factory(**params), Store(root, progress=False), **kwargs)
    return {name: float(result.stats[name]) for name in STAT_UNITS}


def sweep(
    strategy: type[Strategy] | Callable[..., Strategy],
    grid: Mapping[str, Sequence[Any]],
    *,
    store: Store | str | Path,
    symbols: str | list[str] | tuple[str, ...],
    since: TimeLike,
    until: TimeLike,
    resolution: str = "1m",
    seed: int = 0,
    workers: int | None = None,
    client: Any = None,
) -> pd.DataFrame:
    """Backtest ``strategy(**params)`` for every point of ``grid`` (module docstring).

    Parameters
    ----------
    strategy : Strategy class or factory
        Called with one grid point's parameters as keyword arguments.
    grid : mapping of str to sequence
        Parameter name → values; every combination is run.
    store : Store or path
        The history store (only its directory travels to the workers).
    symbols, since, until, resolution, seed
        As :func:`~kfresearch.strategy.backtest`, the same for every point.
    workers : int, optional
        Local processes (default: the machine's cores, at most the points).
        Ignored when ``client`` is given.
    client : dask.distributed.Client, optional
        Run on this Dask cluster instead.

    Returns
    -------
    DataFrame
        One row per grid point, in grid order (``RangeIndex``): the
        parameters, then the statistics of :data:`STAT_UNITS` (float64).
    """
    from kfresearch.store import Store

    points = grid_points(grid)
    root = str(store.root if isinstance(store, Store) else Path(store))
    kwargs = {"symbols": symbols, "since": since, "until": until,
              "resolution": resolution, "seed": seed}
    payloads = [_dumps((strategy, params, root, kwargs)) for params in points]
    if client is not None:
        futures = client.map(_one, payloads, pure=False)
        rows = client.gather(futures)
    else:
        count = min(workers or os.cpu_count() or 1, len(points))
        if count < 1:
            raise ValidationError("workers", workers, "workers must be at least 1")
        if count == 1:
            rows = [_one(p) for p in payloads]
        else:
            with ProcessPoolExecutor(count, mp_context=_processes()) as pool:
                rows = list(pool.map(_one, payloads))
    stats = pd.DataFrame(rows, columns=list(STAT_UNITS), dtype="float64")
    return pd.concat([pd.DataFrame(points), stats], axis=1)
