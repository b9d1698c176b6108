"""The endpoint table: every request kfresearch makes, described as data.

An :class:`Endpoint` says what the transport needs to know to send a request
well: method, absolute path (``{name}`` placeholders), whether it must be
signed, which rate-limit pool it draws from and at what cost, and whether it is
safe to repeat after a timeout. The transport never special-cases a name.
Each endpoint is a module constant (``SENDORDER``, ``INSTRUMENTS``, …): code
names endpoints by constant, never by string; :data:`ENDPOINTS` maps names
for lookups.

Every method but GET/HEAD changes the account (orders, settings), unless
the table says it only reads (``POST /orders/status``): that one rule decides
the live trading gate, for the client's methods and the escape hatch alike.

:func:`encode_params` is the one encoder of parameters: the same text is sent
and signed (reference §2.4).

Example
-------
>>> FILLS.cost_of({"lastFillTime": "2026-01-01T00:00:00Z"})
25
>>> encode_params({"symbol": "PF_XBTUSD", "reduceOnly": True, "size": 0.0001})
'symbol=PF_XBTUSD&reduceOnly=true&size=0.0001'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from kfresearch.errors import ValidationError

__all__ = ["ENDPOINTS", "Endpoint", "Params", "encode_params", "find_endpoint"]

Params = Mapping[str, Any]
SAFE_METHODS = frozenset({"GET", "HEAD"})
Cost = int | Callable[[Params], int]


def _account_log_cost(params: Params) -> int:
    count = int(params.get("count", 500))
    for limit, cost in ((25, 1), (50, 2), (1000, 3), (5000, 6)):
        if count <= limit:
            return cost
    return 10


def _batch_cost(params: Params) -> int:
    import orjson

    raw = params.get("json", "{}")
    try:
        body = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
        return 9 + len(body.get("batchOrder", []))
    except (orjson.JSONDecodeError, AttributeError):
        return 10


@dataclass(frozen=True)
class Endpoint:
    """One request kind.

    Attributes
    ----------
    name : str
        Our name, used by the client (``"sendorder"``).
    method, path : str
        ``"POST"``, ``"/derivatives/api/v3/sendorder"``.
    private : bool
        Must be signed.
    cost : int or callable
        Rate-limit cost in the pool (callable of the parameters when it depends on them).
    idempotent : bool
        Safe to send again after a timeout or a 5xx. Order-changing requests
        are not: their outcome is resolved by client order id instead.
    reads_only : bool
        A non-GET request that changes nothing (``POST /orders/status``).
    raw : bool
        A successful answer is handed over as bytes: large pages that
        :mod:`kfresearch.frames` decodes faster from bytes than from dicts.
    text : bool
        A successful answer is not JSON but text (the CSV account log),
        handed over as ``str``.
    scheme : {"futures", "spot"}
        How it is signed: ``Authent`` headers (v3, History), or ``API-Sign``
        (the Unified WebSocket's token, reference kraken-unified-ws.md §1.3),
        sent to the environment's spot REST host.
    key_kind : {"derivatives", "spot"}
        Which of the client's key pairs signs it: the Derivatives key for the
        futures scheme, the Kraken spot-style key for the spot one (``kfresearch
        doctor`` crosses them to tell a key of the wrong kind).
    """

    name: str
    method: str
    path: str
    private: bool = False
    cost: Cost = 0
    idempotent: bool = True
    reads_only: bool = False
    raw: bool = False
    text: bool = False
    scheme: str = "futures"
    key_kind: str = "derivatives"

    @property
    def changes_account(self) -> bool:
        """Every method but GET/HEAD changes orders or settings (unless ``reads_only``):
        on ``live`` such a call needs the trading opt-in."""
        return self.method not in SAFE_METHODS and not self.reads_only

    @property
    def pool(self) -> str | None:
        """``"derivatives"``, ``"history"`` or None (public calls cost nothing)."""
        if not self.private or self.scheme == "spot":
            return None
        return "history" if self.path.startswith("/api/history/") else "derivatives"

    def cost_of(self, params: Params) -> int:
        return self.cost(params) if callable(self.cost) else self.cost

    def url_path(self, path_params: Mapping[str, str] | None = None) -> str:
        """The path with ``{name}`` placeholders filled (URL-quoted)."""
        values = path_params or {}
        try:
            return re.sub(
                r"\{(\w+)\}", lambda m: quote(str(values[m.group(1)]), safe=""), self.path
            )
        except KeyError as missing:
            raise ValueError(f"{self.name} needs the path parameter {missing}") from None

    def describe(self) -> str:
        return f"{self.method} {self.path}"


_V3 = "/derivatives/api/v3"
_HIST = "/api/history/v3"

# -- public market data (cost nothing, reference §6) ------------------------------------
INSTRUMENTS = Endpoint("instruments", "GET", f"{_V3}/instruments")
INSTRUMENTS_STATUS = Endpoint("instruments_status", "GET", f"{_V3}/instruments/status")
INSTRUMENT_STATUS = Endpoint("instrument_status", "GET", f"{_V3}/instruments/{{symbol}}/status")
TICKERS = Endpoint("tickers", "GET", f"{_V3}/tickers")
TICKER = Endpoint("ticker", "GET", f"{_V3}/tickers/{{symbol}}")
ORDERBOOK = Endpoint("orderbook", "GET", f"{_V3}/orderbook")
RECENT_TRADES = Endpoint("recent_trades", "GET", f"{_V3}/history")
FEESCHEDULES = Endpoint("feeschedules", "GET", f"{_V3}/feeschedules")
HISTORICAL_FUNDING_RATES = Endpoint(
    "historical_funding_rates", "GET", "/derivatives/api/v4/historicalfundingrates"
)
CANDLES = Endpoint(
    "candles", "GET", "/api/charts/v1/{tick_type}/{symbol}/{resolution}", raw=True
)
MARKET_EXECUTIONS = Endpoint(
    "market_executions", "GET", f"{_HIST}/market/{{symbol}}/executions", raw=True
)
# -- private account data ------------------------------------------------------------------
ACCOUNTS = Endpoint("accounts", "GET", f"{_V3}/accounts", private=True, cost=2)
OPENPOSITIONS = Endpoint("openpositions", "GET", f"{_V3}/openpositions", private=True, cost=2)
OPENORDERS = Endpoint("openorders", "GET", f"{_V3}/openorders", private=True, cost=2)
FILLS = Endpoint(
    "fills",
    "GET",
    f"{_V3}/fills",
    private=True,
    cost=lambda p: 25 if p.get("lastFillTime") else 2,
)
# a POST that only reads: the one non-GET endpoint that changes nothing
ORDER_STATUS = Endpoint(
    "order_status", "POST", f"{_V3}/orders/status", private=True, cost=1, reads_only=True
)
LEVERAGEPREFERENCES = Endpoint(
    "leveragepreferences", "GET", f"{_V3}/leveragepreferences", private=True, cost=2
)
SET_LEVERAGEPREFERENCES = Endpoint(
    "set_leveragepreferences",
    "PUT",
    f"{_V3}/leveragepreferences",
    private=True,
    cost=10,
    idempotent=True,  # setting the same preference twice has the same effect
)
PNLPREFERENCES = Endpoint("pnlpreferences", "GET", f"{_V3}/pnlpreferences", private=True, cost=2)
SET_PNLPREFERENCES = Endpoint(
    "set_pnlpreferences", "PUT", f"{_V3}/pnlpreferences", private=True, cost=10, idempotent=True
)
FEESCHEDULE_VOLUMES = Endpoint(
    "feeschedule_volumes", "GET", f"{_V3}/feeschedules/volumes", private=True, cost=2
)
# not in the cost table (reference §6): charged like the other account reads
NOTIFICATIONS = Endpoint("notifications", "GET", f"{_V3}/notifications", private=True, cost=2)
SUBACCOUNTS = Endpoint("subaccounts", "GET", f"{_V3}/subaccounts", private=True, cost=2)
# -- order management: never re-sent blind ---------------------------------------------
SENDORDER = Endpoint(
    "sendorder", "POST", f"{_V3}/sendorder", private=True, cost=10, idempotent=False
)
EDITORDER = Endpoint(
    "editorder", "POST", f"{_V3}/editorder", private=True, cost=10, idempotent=False
)
CANCELORDER = Endpoint(
    "cancelorder", "POST", f"{_V3}/cancelorder", private=True, cost=10, idempotent=False
)
CANCELALLORDERS = Endpoint(
    "cancelallorders", "POST", f"{_V3}/cancelallorders", private=True, cost=25, idempotent=False
)
# Re-arming the dead man's switch with the same timeout has the same effect twice.
CANCELALLORDERSAFTER = Endpoint(
    "cancelallordersafter", "POST", f"{_V3}/cancelallordersafter", private=True, cost=25
)
BATCHORDER = Endpoint(
    "batchorder", "POST", f"{_V3}/batchorder", private=True, cost=_batch_cost, idempotent=False
)
# -- private history (separate pool) ---------------------------------------------------
HISTORY_EXECUTIONS = Endpoint(
    "history_executions", "GET", f"{_HIST}/executions", private=True, cost=1
)
HISTORY_ORDERS = Endpoint("history_orders", "GET", f"{_HIST}/orders", private=True, cost=1)
HISTORY_TRIGGERS = Endpoint("history_triggers", "GET", f"{_HIST}/triggers", private=True, cost=1)
HISTORY_POSITIONS = Endpoint(
    "history_positions", "GET", f"{_HIST}/positions", private=True, cost=1
)
ACCOUNT_LOG = Endpoint(
    "account_log", "GET", f"{_HIST}/account-log", private=True, cost=_account_log_cost
)
ACCOUNT_LOG_CSV = Endpoint(
    "account_log_csv", "GET", f"{_HIST}/accountlogcsv", private=True, cost=6, text=True
)
# -- key check (auth service, no pool documented) ---------------------------------------
CHECK_KEY = Endpoint("check_key", "GET", "/api/auth/v1/api-keys/v3/check", private=True)
# -- the Unified WebSocket's token (Spot REST, signed with a Kraken spot-style key) ------
WEBSOCKETS_TOKEN = Endpoint(
    "websockets_token",
    "POST",
    "/0/private/GetWebSocketsToken",
    private=True,
    reads_only=True,  # asking for a token changes nothing: no live trading gate
    scheme="spot",
    key_kind="spot",
)

_TABLE: tuple[Endpoint, ...] = (
    INSTRUMENTS,
    INSTRUMENTS_STATUS,
    INSTRUMENT_STATUS,
    TICKERS,
    TICKER,
    ORDERBOOK,
    RECENT_TRADES,
    FEESCHEDULES,
    HISTORICAL_FUNDING_RATES,
    CANDLES,
    MARKET_EXECUTIONS,
    ACCOUNTS,
    OPENPOSITIONS,
    OPENORDERS,
    FILLS,
    ORDER_STATUS,
    LEVERAGEPREFERENCES,
    SET_LEVERAGEPREFERENCES,
    PNLPREFERENCES,
    SET_PNLPREFERENCES,
    FEESCHEDULE_VOLUMES,
    NOTIFICATIONS,
    SUBACCOUNTS,
    SENDORDER,
    EDITORDER,
    CANCELORDER,
    CANCELALLORDERS,
    CANCELALLORDERSAFTER,
    BATCHORDER,
    HISTORY_EXECUTIONS,
    HISTORY_ORDERS,
    HISTORY_TRIGGERS,
    HISTORY_POSITIONS,
    ACCOUNT_LOG,
    ACCOUNT_LOG_CSV,
    CHECK_KEY,
    WEBSOCKETS_TOKEN,
)

ENDPOINTS: dict[str, Endpoint] = {endpoint.name: endpoint for endpoint in _TABLE}
"""Every endpoint of the table by its ``name``."""

_PATTERNS = [
    (endpoint, re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(endpoint.path)) + "$"))
    for endpoint in _TABLE
]


def find_endpoint(method: str, path: str, *, private: bool = False) -> Endpoint:
    """The table's endpoint for ``method path``, or an ad-hoc one for paths not in it.

    An unknown path is described conservatively: only GET is safe to repeat,
    any other method counts as changing the account (gated on ``live``), and
    a private unknown call is charged 10 units (2 for GET).

    Raises
    ------
    ValidationError
        ``path`` is an account-changing endpoint of the table called with a
        method the table does not list for it (``GET /sendorder``): refused
        before anything is sent.
    """
    method = method.upper()
    known = [endpoint for endpoint, pattern in _PATTERNS if pattern.match(path)]
    for endpoint in known:
        if endpoint.method == method:
            return endpoint
    if any(endpoint.changes_account for endpoint in known):
        methods = " or ".join(sorted({endpoint.method for endpoint in known}))
        raise ValidationError(
            "method",
            method,
            f"{path} takes {methods}, not {method}; nothing was sent. Use the client's "
            "methods (kf.place_order, kf.cancel_order, …) or the documented method.",
        )
    safe = method in SAFE_METHODS
    return Endpoint(
        f"{method} {path}",
        method,
        path,
        private=private,
        cost=(2 if safe else 10) if private else 0,
        idempotent=safe,
    )


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # repr gives the shortest round-trip text; Decimal drops the exponent (1e-05 -> 0.00001)
        return format(Decimal(repr(value)), "f")
    return str(value)


def encode_params(params: Params | None) -> str:
    """Encode parameters the one way kfresearch sends and signs them.

    Keys keep their order; None values are left out; booleans become
    ``true``/``false``; floats are written without exponent; a list or tuple
    repeats its key (``orderIds=a&orderIds=b``, reference §4.20). Spaces become
    ``%20`` (the url-encoded form Kraken signs since 2024-02-20, reference §2.4).
    """
    if not params:
        return ""
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, Sequence) and not isinstance(value, str | bytes):
            pairs.extend((name, _text(item)) for item in value)
        else:
            pairs.append((name, _text(value)))
    return "&".join(f"{_quoted(str(name))}={_quoted(text)}" for name, text in pairs)


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


def _quoted(text: str) -> str:
    """``text`` as ``urlencode(..., quote_via=quote)`` writes it (``%20`` for a space);
    most parameters need no quoting at all."""
    return text if _UNRESERVED.fullmatch(text) else quote(text, safe="")
