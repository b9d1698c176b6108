"""kfresearch: the Kraken Futures API, made pleasant in JupyterLab.

>>> import kfresearch
>>> kf = kfresearch.connect("sim")   # offline simulator; connect() alone is paper trading

Public API: :func:`connect`, :class:`Client`, :class:`AsyncClient`, the
environments and credentials types, and the exception tree of
:mod:`kfresearch.errors`. Everything else is private.
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

__version__ = "0.1.0"

__all__ = [
    "APIError",
    "AsyncClient",
    "AuthenticationError",
    "Client",
    "ConfigurationError",
    "Credentials",
    "CredentialsError",
    "DecodeError",
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
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "RateLimitError",
    "Secret",
    "ServerError",
    "TimeoutError",
    "TransportError",
    "ValidationError",
    "__version__",
    "connect",
]
