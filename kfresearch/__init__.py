"""kfresearch: the Kraken Futures API, made pleasant in JupyterLab.

>>> import kfresearch
>>> kf = kfresearch.connect("sim")   # offline simulator; connect() alone is paper trading

Public API: :func:`connect`, :class:`Client`, :class:`AsyncClient`, the
environments and credentials types, the order instructions and results
(:class:`Send`, :class:`Edit`, :class:`Cancel`, :class:`Trailing`,
:class:`OrderResult`) and the exception tree of :mod:`kfresearch.errors`; and
the subpackages :mod:`kfresearch.frames`, :mod:`kfresearch.charts`,
:mod:`kfresearch.widgets` and :mod:`kfresearch.sim`. Everything else is private.
"""

from kfresearch.client import AsyncClient, Client, connect
from kfresearch.credentials import Credentials, Secret
from kfresearch.environments import Environment
from kfresearch.errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    CredentialsError,
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
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    TimeoutError,
    TransportError,
    ValidationError,
)
from kfresearch.orders import Cancel, Edit, OrderResult, Send, Trailing

__version__ = "0.1.0"

__all__ = [
    "APIError",
    "AsyncClient",
    "AuthenticationError",
    "Cancel",
    "Client",
    "ConfigurationError",
    "Credentials",
    "CredentialsError",
    "DecodeError",
    "Edit",
    "Environment",
    "InsufficientFundsError",
    "InvalidArgumentError",
    "KFError",
    "LiveTradingDisabledError",
    "MarketUnavailableError",
    "NetworkError",
    "NonceError",
    "NotFoundError",
    "OrderRejected",
    "OrderResult",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "RateLimitError",
    "Secret",
    "Send",
    "ServerError",
    "TimeoutError",
    "Trailing",
    "TransportError",
    "ValidationError",
    "__version__",
    "connect",
]
