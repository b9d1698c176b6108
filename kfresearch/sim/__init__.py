"""An exchange that speaks the real Kraken Futures API, offline.

``connect(env="sim")`` uses it in-process (no sockets); ``kfresearch sim serve``
serves it over HTTP and WebSocket on loopback for clients written for the real
exchange. Layers: :mod:`~kfresearch.sim.market` (where prices come from),
:mod:`~kfresearch.sim.engine` (orders, positions, margin, funding),
:mod:`~kfresearch.sim.exchange` (the exchange's rules, routing),
:mod:`~kfresearch.sim.server` (HTTP/WebSocket).

Which endpoints it serves and how faithfully each is modelled: the table in
``kfresearch/sim/README.md`` (beside this file).
"""
