"""Every route of the simulated exchange: the handler modules' tables, gathered.

Each handler module exports its routes as data (``ROUTES``); this module
puts them in one table, literal paths before patterns
(:func:`~kfresearch.sim.routing.by_specificity`), which is the table
:class:`~kfresearch.sim.exchange.SimExchange` serves by default.

>>> route, params = match("GET", "/derivatives/api/v3/tickers/PF_XBTUSD")
>>> route.handler.__name__, params
('ticker', {'symbol': 'PF_XBTUSD'})
"""

from __future__ import annotations

from kfresearch.sim import (
    account_api,
    analytics_api,
    auth_api,
    history_api,
    private_api,
    public_api,
)
from kfresearch.sim.routing import Route, by_specificity

__all__ = ["ROUTES", "match"]

ROUTES: tuple[Route, ...] = tuple(
    by_specificity(
        (
            *account_api.ROUTES,
            *public_api.ROUTES,
            *analytics_api.ROUTES,
            *auth_api.ROUTES,
            *history_api.ROUTES,
            *private_api.ROUTES,
        )
    )
)
"""Every route, most specific first (the order they are matched in)."""


def match(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route for ``method path`` and its captured path parameters, or None.

    A path that exists under another method is reported by the caller as 405.
    """
    for candidate in ROUTES:
        if candidate.method == method.upper():
            found = candidate.regex.match(path)
            if found:
                return candidate, found.groupdict()
    return None
