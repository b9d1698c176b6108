"""An exchange that speaks the real Kraken Futures API, offline.

``connect(env="sim")`` uses it in-process (no sockets); ``kfresearch sim serve``
serves it over HTTP and WebSocket on loopback for clients written for the real
exchange.

Layers, each importing only the ones above it (``tests/core/test_structure.py``
checks there is no import cycle):

- prices: :mod:`~kfresearch.sim.source` (the ``MarketSource`` protocol the
  engine reads), :mod:`~kfresearch.sim.market` (the seeded synthetic market:
  noise, index/premium paths, book, tape, funding, candles),
  :mod:`~kfresearch.sim.replay` (a history store replayed, for backtests),
  :mod:`~kfresearch.sim.instruments` (the contract catalog);
- records: :mod:`~kfresearch.sim.orders`, :mod:`~kfresearch.sim.accounts`, kept
  by a :mod:`~kfresearch.sim.ledger` (in memory for ``sim``);
- the engine's rules, one module each: :mod:`~kfresearch.sim.prices` (what the
  engine saw), :mod:`~kfresearch.sim.valuation` (margin and fees),
  :mod:`~kfresearch.sim.matching`, :mod:`~kfresearch.sim.entry` (new orders),
  :mod:`~kfresearch.sim.edits`, :mod:`~kfresearch.sim.lifecycle` (time: triggers,
  funding, settlement, dead man's switch), :mod:`~kfresearch.sim.liquidation`,
  :mod:`~kfresearch.sim.events` (private feed messages), put together by
  :mod:`~kfresearch.sim.engine`;
- the exchange's front door: :mod:`~kfresearch.sim.routing` (what a handler
  gets), the handler modules (``*_api``, each exporting a ``ROUTES`` table),
  :mod:`~kfresearch.sim.routes` (all of them), :mod:`~kfresearch.sim.exchange`
  (the checks, then the route; :mod:`~kfresearch.sim.diagnosis` says why a
  check refused, for learners), :mod:`~kfresearch.sim.ws` and
  :mod:`~kfresearch.sim.server` (WebSocket, HTTP).

Which endpoints it serves and how faithfully each is modelled: the table in
``kfresearch/sim/README.md`` (beside this file).
"""
