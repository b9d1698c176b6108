"""kfresearch: the Kraken Futures API, made pleasant in JupyterLab.

>>> import kfresearch
>>> kf = kfresearch.connect("sim")   # offline simulator; connect() alone is paper trading

Public API: :func:`connect`, :class:`Client`, :class:`AsyncClient`, the
environments and credentials types, the order instructions (:class:`Send`,
:class:`Edit`, :class:`Cancel`, :class:`Trailing`), the results the clients
return (:class:`OrderResult`, :class:`BatchResult`, :class:`OrderPreview`, …),
:data:`TimeLike`, the exception tree of :mod:`kfresearch.errors`; and the
subpackages :mod:`kfresearch.frames`, :mod:`kfresearch.charts`,
:mod:`kfresearch.widgets`, :mod:`kfresearch.stream` (live WebSocket data, made
by ``kf.stream()``), :mod:`kfresearch.trace` (the wire inspector,
``kf.trace()``), :mod:`kfresearch.sim`, :mod:`kfresearch.store` (the local
history store) and :mod:`kfresearch.strategy` (backtest, run, sweep). Everything
else is private.

``import kfresearch`` loads only the exceptions: the client (httpx, pandas),
the frames and the order code load on first use of a name that needs them
(PEP 562), so a script that only catches :class:`KFError` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from kfresearch.errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    CorruptFileError,
    CredentialsError,
    DataGapWarning,
    DecodeError,
    InsufficientFundsError,
    InvalidArgumentError,
    KFError,
    LiveTradingDisabledError,
    MarketUnavailableError,
    NetworkError,
    NonceError,
    NotFoundError,
    OrderRejected,
    OutcomeUnknownError,
    PaperAccountBusyError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
    StoreError,
    StreamError,
    SubscriptionError,
    SunsetWarning,
    TransportError,
    UnsupportedCallError,
    ValidationError,
)

if TYPE_CHECKING:
    from kfresearch import charts as charts
    from kfresearch import frames as frames
    from kfresearch import orders as orders
    from kfresearch import sim as sim
    from kfresearch import strategy as strategy
    from kfresearch import stream as stream
    from kfresearch import trace as trace
    from kfresearch import widgets as widgets
    from kfresearch.client import AsyncClient, Client, connect
    from kfresearch.credentials import Credentials, Secret
    from kfresearch.doctor import DoctorReport
    from kfresearch.environments import Environment
    from kfresearch.orders import (
        BatchResult,
        Cancel,
        CancelAllResult,
        Edit,
        Instruction,
        InstrumentRules,
        OrderContext,
        OrderPreview,
        OrderResult,
        Send,
        SwitchStatus,
        Trailing,
    )
    from kfresearch.timeparse import TimeLike
    from kfresearch.trading import AsyncDeadMansSwitch, DeadMansSwitch

__version__ = "0.1.0"

# name -> the module that defines it, imported on first use
_LAZY: dict[str, str] = {
    "AsyncClient": "kfresearch.client",
    "Client": "kfresearch.client",
    "connect": "kfresearch.client",
    "Credentials": "kfresearch.credentials",
    "Secret": "kfresearch.credentials",
    "DoctorReport": "kfresearch.doctor",
    "Environment": "kfresearch.environments",
    "BatchResult": "kfresearch.orders",
    "Cancel": "kfresearch.orders",
    "CancelAllResult": "kfresearch.orders",
    "Edit": "kfresearch.orders",
    "Instruction": "kfresearch.orders",
    "InstrumentRules": "kfresearch.orders",
    "OrderContext": "kfresearch.orders",
    "OrderPreview": "kfresearch.orders",
    "OrderResult": "kfresearch.orders",
    "Send": "kfresearch.orders",
    "SwitchStatus": "kfresearch.orders",
    "Trailing": "kfresearch.orders",
    "TimeLike": "kfresearch.timeparse",
    "AsyncDeadMansSwitch": "kfresearch.trading",
    "DeadMansSwitch": "kfresearch.trading",
}
_SUBPACKAGES = (
    "charts", "frames", "orders", "sim", "store", "strategy", "stream", "trace", "widgets"
)

__all__ = [
    "APIError",
    "AsyncClient",
    "AsyncDeadMansSwitch",
    "AuthenticationError",
    "BatchResult",
    "Cancel",
    "CancelAllResult",
    "Client",
    "ConfigurationError",
    "CorruptFileError",
    "Credentials",
    "CredentialsError",
    "DataGapWarning",
    "DeadMansSwitch",
    "DecodeError",
    "DoctorReport",
    "Edit",
    "Environment",
    "Instruction",
    "InstrumentRules",
    "InsufficientFundsError",
    "InvalidArgumentError",
    "KFError",
    "LiveTradingDisabledError",
    "MarketUnavailableError",
    "NetworkError",
    "NonceError",
    "NotFoundError",
    "OrderContext",
    "OrderPreview",
    "OrderRejected",
    "OrderResult",
    "OutcomeUnknownError",
    "PaperAccountBusyError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTimeoutError",
    "Secret",
    "Send",
    "ServerError",
    "StoreError",
    "StreamError",
    "SubscriptionError",
    "SunsetWarning",
    "SwitchStatus",
    "TimeLike",
    "Trailing",
    "TransportError",
    "UnsupportedCallError",
    "ValidationError",
    "__version__",
    "connect",
]


def __getattr__(name: str) -> Any:
    """Import what ``name`` needs on first use (PEP 562) and keep it."""
    if name in _SUBPACKAGES:
        return importlib.import_module(f"kfresearch.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kfresearch' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(_SUBPACKAGES))
