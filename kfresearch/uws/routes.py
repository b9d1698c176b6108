"""Which way each call goes when the client speaks UWS: the decision as data.

Three routes (reference kraken-unified-ws.md §1.9 and §2):

``uws``
    Served over the Unified WebSocket (:mod:`kfresearch.uws.adapter`).
``http``
    Sent over HTTP as before, because UWS has no equivalent and the API that
    serves it is **not** named in the 2027-03-01 decommission: the Charts API
    (candles), the History API (public trades, the account's order and
    execution history, the account log) and the v4 funding-rate history. Their
    fate after that date is not stated (§2), so the first use on a client
    warns (:class:`~kfresearch.errors.SunsetWarning`) and says to record the
    data with the history store. The History API's account endpoints sign with
    a Derivatives key, as today. The spot-style token endpoint
    (``GetWebSocketsToken``) also goes over HTTP, without a warning.
``none``
    Neither: the v3 REST endpoints UWS has no method for (leverage and PnL
    preferences, notifications, subaccounts, fee schedules, instrument status,
    the key check). The call raises :class:`~kfresearch.errors.UnsupportedCallError`
    saying what to use instead.

Decision (the reference is silent on the Charts and History APIs' future):
``protocol="uws"`` keeps using them, loudly, rather than refusing, so that
candles and history keep working for as long as Kraken serves them and every
notebook runs on both protocols; the warning and the docs point to the
store's recorder, the one source that does not depend on them.

Example
-------
>>> from kfresearch.endpoints import CANDLES, LEVERAGEPREFERENCES, TICKERS
>>> [route_of(e).kind for e in (TICKERS, CANDLES, LEVERAGEPREFERENCES)]
['uws', 'http', 'none']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kfresearch.endpoints import (
    ACCOUNT_LOG,
    ACCOUNT_LOG_CSV,
    CANDLES,
    CHECK_KEY,
    FEESCHEDULE_VOLUMES,
    FEESCHEDULES,
    HISTORICAL_FUNDING_RATES,
    HISTORY_EXECUTIONS,
    HISTORY_ORDERS,
    HISTORY_POSITIONS,
    HISTORY_TRIGGERS,
    INSTRUMENT_STATUS,
    INSTRUMENTS_STATUS,
    LEVERAGEPREFERENCES,
    MARKET_EXECUTIONS,
    NOTIFICATIONS,
    PNLPREFERENCES,
    SET_LEVERAGEPREFERENCES,
    SET_PNLPREFERENCES,
    SUBACCOUNTS,
    WEBSOCKETS_TOKEN,
    Endpoint,
)
from kfresearch.uws.adapter import served

__all__ = ["Route", "route_of"]

RouteKind = Literal["uws", "http", "none"]

_STORE = (
    "keep what you need in the history store while it answers (kfresearch.store: "
    "`kfresearch download …` now, `kfresearch record SYMBOL` for the live tape)"
)


@dataclass(frozen=True)
class Route:
    """How a call goes on UWS: ``kind``, the API family it uses (``family``, for the
    warning given once per family), and what to say (``note``)."""

    kind: RouteKind
    family: str = ""
    note: str = ""


_CHARTS = Route(
    "http",
    "Charts API",
    "Candles come from the Charts API (/api/charts/v1): the Unified WebSocket has only a short "
    "OHLC snapshot. The Charts API is not named in Kraken's 2027-03-01 decommission, but its "
    f"fate is not stated; {_STORE}.",
)
_HISTORY = Route(
    "http",
    "History API",
    "Trade and account history come from the History API (/api/history/v3): the Unified "
    "WebSocket has no paged history. The History API is not named in Kraken's 2027-03-01 "
    "decommission, but its fate is not stated, and its account endpoints sign with a "
    f"Derivatives key; {_STORE}.",
)
_FUNDING = Route(
    "http",
    "funding-rate history (v4)",
    "Funding-rate history comes from /derivatives/api/v4/historicalfundingrates: the Unified "
    "WebSocket has none. That endpoint is not named in the 2027-03-01 decommission (which "
    f"names v3), but it sits under /derivatives/api/ and its fate is not stated; {_STORE}.",
)


def _none(what: str, instead: str) -> Route:
    return Route(
        "none",
        note=f"{what} has no Unified WebSocket equivalent (reference §1.9); {instead}",
    )


_V3_ONLY = "use protocol='v3' while Kraken serves it (until 2027-03-01), or the Kraken web UI"
_TABLE: dict[str, Route] = {
    CANDLES.name: _CHARTS,
    MARKET_EXECUTIONS.name: _HISTORY,
    HISTORY_EXECUTIONS.name: _HISTORY,
    HISTORY_ORDERS.name: _HISTORY,
    HISTORY_TRIGGERS.name: _HISTORY,
    HISTORY_POSITIONS.name: _HISTORY,
    ACCOUNT_LOG.name: _HISTORY,
    ACCOUNT_LOG_CSV.name: _HISTORY,
    HISTORICAL_FUNDING_RATES.name: _FUNDING,
    WEBSOCKETS_TOKEN.name: Route("http"),
    LEVERAGEPREFERENCES.name: _none("Reading leverage preferences", _V3_ONLY),
    SET_LEVERAGEPREFERENCES.name: _none("Setting leverage preferences", _V3_ONLY),
    PNLPREFERENCES.name: _none("Reading PnL-currency preferences", _V3_ONLY),
    SET_PNLPREFERENCES.name: _none("Setting PnL-currency preferences", _V3_ONLY),
    NOTIFICATIONS.name: _none("The notifications list", _V3_ONLY),
    SUBACCOUNTS.name: _none("The subaccounts list", _V3_ONLY),
    FEESCHEDULES.name: _none(
        "The fee schedule", "Kraken deprecated it already (2026-06-22, reference §2)"
    ),
    FEESCHEDULE_VOLUMES.name: _none(
        "The fee-schedule volumes", "Kraken deprecated them already (2026-06-22, reference §2)"
    ),
    INSTRUMENTS_STATUS.name: _none("Instrument status", "kf.instruments() says what is tradeable"),
    INSTRUMENT_STATUS.name: _none("Instrument status", "kf.instruments() says what is tradeable"),
    # the key check of the auth service (only `kfresearch doctor` uses it) goes over HTTP
    CHECK_KEY.name: Route("http"),
}


def route_of(endpoint: Endpoint) -> Route:
    """The route of ``endpoint`` on UWS (see the module docstring).

    An endpoint of the escape hatch (``kf.request``) not in the table goes
    over HTTP unless it is a v3 REST path (those are switched off on
    2027-03-01 and have no UWS twin by path).
    """
    if served(endpoint):
        return Route("uws")
    route = _TABLE.get(endpoint.name)
    if route is not None:
        return route
    path = endpoint.path
    if path.startswith("/api/charts/"):
        return _CHARTS
    if path.startswith("/api/history/"):
        return _HISTORY
    if path.startswith("/derivatives/api/v4/"):
        return _FUNDING
    if path.startswith("/derivatives/"):
        return _none(
            f"{endpoint.describe()}",
            "the client's methods (kf.tickers(), kf.place_order(), …) use their UWS "
            f"equivalents; for this path {_V3_ONLY}",
        )
    return Route("http")
