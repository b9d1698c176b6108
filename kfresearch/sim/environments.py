"""The exchanges behind ``connect("sim")`` and ``connect("demo")``: their factories.

:mod:`kfresearch.environments` names these functions (``Environment.factory``)
and calls them when a client connects; nothing registers on import.

* :func:`sim` builds a fresh seeded exchange for every client
  (``KFRESEARCH_SIM_SEED``, ``KFRESEARCH_SIM_NOW``), so two
  ``connect("sim")`` never see each other's orders, and re-running a notebook
  starts from the same state. Pass one to share it:
  ``connect("sim", exchange=kf.sim)``.
* :func:`demo` builds the paper exchange on the live market
  (:mod:`kfresearch.sim.demo`) for the named paper account
  (``connect("demo", account="carry-study", balance=25_000)``; default
  account ``"default"``); every client of a process shares one live source
  per upstream, and every process one SQLite file per account.

Both provision the simulator's key pairs; served elsewhere (``base_url=``)
only the keys are provided.

Example
-------
>>> import kfresearch
>>> first, second = kfresearch.connect("sim"), kfresearch.connect("sim")
>>> first.sim is second.sim
False
>>> kfresearch.connect("sim", exchange=first.sim).sim is first.sim
True
"""

from __future__ import annotations

import random
import threading
import weakref
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from kfresearch.credentials import Credentials
from kfresearch.environments import Environment, ExchangeParts
from kfresearch.errors import ConfigurationError
from kfresearch.sim import keys
from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.paper import DEFAULT_ACCOUNT
from kfresearch.sim.transport import SimTransport

__all__ = ["demo", "sim"]

_LOCK = threading.Lock()
_NONE: Mapping[str, Any] = MappingProxyType({})
# one client-order-id stream per exchange, shared by every client of it
_ID_STREAMS: weakref.WeakKeyDictionary[SimExchange, random.Random] = (
    weakref.WeakKeyDictionary()
)


def _id_stream(exchange: SimExchange) -> random.Random:
    with _LOCK:
        stream = _ID_STREAMS.get(exchange)
        if stream is None:
            stream = random.Random(f"kfresearch-client-order-ids-{exchange.seed}")
            _ID_STREAMS[exchange] = stream
        return stream


def _spot_credentials(exchange: SimExchange | None) -> Credentials | None:
    # TRANSITIONAL until the simulator's UWS side is on main: then no getattr
    if exchange is not None:
        uws = getattr(exchange, "uws", None)
        return uws.spot_credentials("full") if uws is not None else None
    spot = getattr(keys, "provisioned_spot_keys", None)
    return spot()["full"].credentials if spot is not None else None


def _parts(env: Environment, exchange: SimExchange | None, *, seeded_ids: bool) -> ExchangeParts:
    if exchange is None:  # served elsewhere (base_url=): the same provisioned keys
        return ExchangeParts(
            None, keys.provisioned_keys()["full"].credentials, _spot_credentials(None)
        )
    if not isinstance(exchange, SimExchange):
        raise ConfigurationError(
            f"exchange= takes the simulator of another client (kf.sim), not "
            f"{type(exchange).__name__}"
        )
    return ExchangeParts(
        SimTransport(exchange),
        exchange.credentials("full"),
        _spot_credentials(exchange),
        exchange,
        _id_stream(exchange).getrandbits if seeded_ids else None,
    )


def _not_served_here(env: Environment, shared: Any) -> None:
    if shared is not None and not env.in_process:
        raise ConfigurationError(
            f"exchange= shares an in-process simulator; env {env.name!r} is served at "
            f"{env.base_url}: leave exchange= out (or base_url=, to use kf.sim)"
        )


def sim(env: Environment, shared: Any = None, options: Mapping[str, Any] = _NONE) -> ExchangeParts:
    """A fresh seeded simulator (or ``shared``), its transport and provisioned keys."""
    _not_served_here(env, shared)
    if not env.in_process:
        return _parts(env, None, seeded_ids=True)
    return _parts(env, shared if shared is not None else SimExchange(), seeded_ids=True)


def demo(env: Environment, shared: Any = None, options: Mapping[str, Any] = _NONE) -> ExchangeParts:
    """The paper exchange on live prices for ``options["account"]`` (or ``shared``).

    ``options["balance"]``: USD a new account starts with. Served elsewhere
    (``base_url=``, e.g. ``kfresearch demo serve --account NAME``) the server
    keeps its own account: ``account=`` is refused there.
    """
    _not_served_here(env, shared)
    account, balance = options.get("account"), options.get("balance")
    if not env.in_process:
        if account is not None or balance is not None:
            raise ConfigurationError(
                f"account= and balance= choose the in-process demo's paper account; the demo at "
                f"{env.base_url} serves its own (kfresearch demo serve --account NAME)"
            )
        return _parts(env, None, seeded_ids=False)
    if shared is None:
        from kfresearch.sim.demo import demo_exchange

        shared = demo_exchange(account or DEFAULT_ACCOUNT, balance=balance)
    return _parts(env, shared, seeded_ids=False)
