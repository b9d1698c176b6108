"""Routes of the simulated exchange and what every handler receives.

A handler is a plain function ``(ctx: Context) -> payload``. It returns the
payload the exchange sends (for ``/derivatives`` routes without ``result`` and
``serverTime``: the exchange layer adds the envelope), an :class:`Answer` when
the body is not JSON or needs its own status or headers, or raises
:class:`SimError` with the exchange's own error string.

Each handler module exports its routes as data: a ``ROUTES`` tuple of
:func:`make_route` rows (nothing registers itself on import);
:mod:`kfresearch.sim.routes` gathers them. A route also says what the
exchange checks before its handler runs (in this order, see
:mod:`kfresearch.sim.exchange`): the arguments it ``requires``, whether it
is ``private``, which key ``permission`` it needs, and its ``cost`` on the
service's rate-limit pool.

Example
-------
>>> def ticker(ctx: Context) -> dict[str, object]:
...     return {"ticker": {"symbol": ctx.path_params["symbol"].upper()}}
>>> ROUTES = (make_route("GET", "/derivatives/api/v3/tickers/{symbol}", ticker),)
>>> ROUTES[0].regex.match("/derivatives/api/v3/tickers/pf_xbtusd").groupdict()
{'symbol': 'pf_xbtusd'}
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from kfresearch.sim.formats import SimError, dec, iso

if TYPE_CHECKING:
    from kfresearch.sim.engine import Engine
    from kfresearch.sim.notifications import Notifications
    from kfresearch.sim.source import MarketSource

__all__ = [
    "Answer",
    "Context",
    "Cost",
    "Handler",
    "Permission",
    "Required",
    "Route",
    "Service",
    "SimError",
    "Venue",
    "by_specificity",
    "dec",
    "iso",
    "make_route",
]

Service = Literal["derivatives", "charts", "history", "auth", "stats"]
Permission = Literal["public", "read", "trade", "withdraw"]
Required = str | tuple[str, ...]
"""A required argument: its name, or a tuple of names of which one must be given."""


class Venue(Protocol):
    """What a handler may reach through ``ctx.exchange``: the engine, prices, the notice board.

    :class:`~kfresearch.sim.exchange.SimExchange` is one; tests pass any
    object with these attributes.
    """

    @property
    def engine(self) -> Engine: ...

    @property
    def market(self) -> MarketSource: ...

    @property
    def notifications(self) -> Notifications: ...


@dataclass
class Context:
    """What a handler gets: the exchange, the decoded parameters, the time."""

    exchange: Venue
    method: str
    path: str
    params: dict[str, list[str]]
    path_params: dict[str, str]
    now_ms: int
    account_id: str | None = None  # set for private routes once authenticated
    key_can_trade: bool = False

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self.params.get(name)
        return values[-1] if values else default

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None or value == "":
            raise SimError("requiredArgumentMissing", why=f"the argument {name!r} is missing")
        return value

    def get_list(self, name: str) -> list[str]:
        return list(self.params.get(name, []))

    def get_float(self, name: str, default: float | None = None) -> float | None:
        value = self.get(name)
        if value is None or value == "":
            return default
        try:
            number = float(value)
        except ValueError:
            raise SimError("invalidArgument") from None
        if not np.isfinite(number):
            raise SimError("invalidArgument")
        return number

    def get_int(self, name: str, default: int | None = None) -> int | None:
        value = self.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise SimError("invalidArgument") from None

    def get_bool(self, name: str, default: bool = False) -> bool:
        value = self.get(name)
        if value is None or value == "":
            return default
        if value.lower() in {"true", "1"}:
            return True
        if value.lower() in {"false", "0"}:
            return False
        raise SimError("invalidArgument")


@dataclass(frozen=True)
class Answer:
    """A payload with HTTP details of its own.

    ``payload`` is JSON-able (enveloped like any payload of its service) or
    ``bytes`` sent as they are with ``content_type``; ``status`` and
    ``headers`` go on the response (e.g. 204 without a body, the CSV account
    log, v2 history's continuation headers).
    """

    payload: Any
    status: int = 200
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Context], Any]
Cost = int | Callable[[Context], int]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str
    handler: Handler
    service: Service
    private: bool = False
    trading: bool = False  # needs a full-access key
    cost: Cost = 0  # cost on the service's pool (derivatives or history)
    regex: re.Pattern[str] = field(default=re.compile(""), compare=False)
    required: tuple[Required, ...] = ()
    withdrawal: bool = False  # needs a withdrawal key (reference §2.1)

    def cost_of(self, ctx: Context) -> int:
        return self.cost(ctx) if callable(self.cost) else self.cost

    @property
    def permission(self) -> Permission:
        """The least key that may call the route."""
        if self.withdrawal:
            return "withdraw"
        if self.trading:
            return "trade"
        return "read" if self.private else "public"

    def missing(self, ctx: Context) -> Required | None:
        """The first required argument the request lacks (None when all are there)."""
        for needed in self.required:
            names = (needed,) if isinstance(needed, str) else needed
            if not any(ctx.get(name) for name in names):
                return needed
        return None


def _service_of(pattern: str) -> Service:
    if pattern.startswith("/api/charts/"):
        return "charts"
    if pattern.startswith("/api/history/"):
        return "history"
    if pattern.startswith("/api/auth/"):
        return "auth"
    if pattern.startswith("/api/stats/"):
        return "stats"
    return "derivatives"


def make_route(
    method: str,
    pattern: str,
    handler: Handler,
    *,
    private: bool = False,
    trading: bool = False,
    withdrawal: bool = False,
    cost: Cost = 0,
    required: tuple[Required, ...] = (),
) -> Route:
    """A :class:`Route` (not registered): ``{name}`` in ``pattern`` captures one segment."""
    regex = re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(pattern)) + "$")
    return Route(
        method.upper(),
        pattern,
        handler,
        _service_of(pattern),
        private=private or trading or withdrawal,
        trading=trading,
        cost=cost,
        regex=regex,
        required=required,
        withdrawal=withdrawal,
    )


def by_specificity(routes: Iterable[Route]) -> list[Route]:
    """Routes with fewer ``{placeholders}`` first, so a literal path wins over a pattern.

    ``/api/charts/v1/analytics/liquidity-pool`` must not be read as the
    candles' ``/{tick_type}/{symbol}``; the sort is stable otherwise.
    """
    return sorted(routes, key=lambda r: r.pattern.count("{"))
