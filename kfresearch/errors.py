"""Everything kfresearch raises, in one tree.

::

    KFError                           root: catch this to catch everything of ours
    ├── ConfigurationError            bad environment name, base URL, option
    │   └── CredentialsError          missing or malformed key/secret
    ├── ValidationError               a bad argument, caught before anything is sent
    │                                 (``field``, ``value``, and what would be valid)
    ├── LiveTradingDisabledError      an order-changing call on ``live`` without the opt-in
    ├── UnsupportedCallError          the protocol in use has no such call (the Unified
    │                                 WebSocket has no candle or account history): says
    │                                 what to use instead
    ├── TransportError                the request did not get a usable answer
    │   ├── NetworkError              connect/read failure, dropped connection
    │   │   └── RequestTimeoutError   the request timed out (also a builtin TimeoutError)
    │   ├── OutcomeUnknownError       an order-changing request may or may not have been
    │   │                             processed: resolve it by client order id, never resend
    │   └── DecodeError               the server answered something that is not the API's JSON
    ├── PaperAccountBusyError         another process held the ``demo`` paper account for
    │                                 longer than the wait: nothing changed, try again
    ├── StoreError                    the local history store cannot be used as it is on disk
    │   └── CorruptFileError          a stored file is truncated or unreadable: ``store.repair()``
    ├── StreamError                   the WebSocket stream cannot do what was asked (closed,
    │   │                             no answer in time, a consumer fell behind)
    │   └── SubscriptionError         the exchange refused a subscription (also an APIError:
    │                                 ``feed``, ``products``, the exchange's text)
    └── APIError                      the exchange answered with an error
        ├── AuthenticationError       wrong key or signature (``authenticationError``, HTTP 401)
        │   └── PermissionDeniedError the key may not do this (read-only key, HTTP 403)
        ├── NonceError                ``nonceBelowThreshold`` / ``nonceDuplicate``
        ├── RateLimitError            ``apiLimitExceeded`` / HTTP 429 (``retry_after`` seconds)
        ├── InvalidArgumentError      ``invalidArgument``, ``requiredArgumentMissing``, HTTP 400
        ├── NotFoundError             ``notFound``, ``contractNotFound``, HTTP 404
        ├── MarketUnavailableError    ``marketUnavailable``, ``accountInactive``, ``Unavailable``,
        │                             ``upstreamUnavailable`` (demo cannot reach its prices)
        ├── InsufficientFundsError    ``insufficientFunds``, ``INSUFFICIENT_MARGIN``
        ├── ServerError               ``Server Error``, ``unknownError``, HTTP 5xx
        └── OrderRejected             a rejection status inside a success body (``status``)

    DataGapWarning                    (a UserWarning) the exchange has no data for part of the
                                      range asked for: the frame starts later than ``since``
    SunsetWarning                     (a FutureWarning) an API in use is being switched off
                                      (v3 on 2027-03-01), or its future is not stated (the
                                      Charts and History APIs after that date)

A download that fails half-way raises with ``partial``: a DataFrame of the
rows fetched so far (None for other errors).

Every :class:`APIError` carries the endpoint, the exchange's own error text,
the HTTP status and a hint that says what to do next. No message ever holds
a secret: requests are described with their keys masked.
"""

from __future__ import annotations

import builtins
from typing import Any

__all__ = [
    "APIError",
    "AuthenticationError",
    "ConfigurationError",
    "CorruptFileError",
    "CredentialsError",
    "DataGapWarning",
    "DecodeError",
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
    "PaperAccountBusyError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTimeoutError",
    "ServerError",
    "StoreError",
    "StreamError",
    "SubscriptionError",
    "SunsetWarning",
    "TransportError",
    "UnsupportedCallError",
    "ValidationError",
]


class KFError(Exception):
    """Root of every error kfresearch raises."""

    #: rows fetched before a paginated download failed (a DataFrame), else None
    partial: Any = None


class ValidationError(KFError, ValueError):
    """A bad argument, caught before any request: names the field, the value and what is valid."""

    def __init__(self, field: str, value: Any, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


class ConfigurationError(KFError, ValueError):
    """An environment, base URL or option is not usable."""


class CredentialsError(ConfigurationError):
    """API credentials are missing or malformed."""


class LiveTradingDisabledError(KFError):
    """An order-changing call on ``live`` without the separate trading opt-in."""


class UnsupportedCallError(KFError):
    """The protocol in use cannot serve this call (reference kraken-unified-ws.md §1.9).

    The Unified WebSocket has no paged history (candles, trades, fills,
    account log), no leverage or PnL preferences, no notifications: the
    message says what to use instead (the local history store,
    :mod:`kfresearch.store`, and its recorder; or ``protocol="v3"`` while it
    lasts).
    """


class TransportError(KFError):
    """The request got no usable answer (network trouble or an unreadable body)."""

    def __init__(self, message: str, *, endpoint: str = "") -> None:
        super().__init__(message)
        self.endpoint = endpoint


class NetworkError(TransportError):
    """Connecting, sending or reading failed."""


class RequestTimeoutError(NetworkError, builtins.TimeoutError):
    """The request timed out; ``except TimeoutError`` (the builtin) catches it too."""


class OutcomeUnknownError(TransportError):
    """An order-changing request may have reached the exchange: its outcome is unknown.

    kfresearch never re-sends such a request blind; look the order up by
    ``client_order_id`` (``orders/status``, open orders, fills) instead.
    """

    def __init__(self, message: str, *, endpoint: str = "", client_order_id: str | None = None):
        super().__init__(message, endpoint=endpoint)
        self.client_order_id = client_order_id


class DecodeError(TransportError):
    """The server answered with something that is not the API's JSON."""


class PaperAccountBusyError(KFError):
    """Another process kept the ``demo`` paper account locked longer than the wait.

    Nothing of the call was applied; try again, or close the other kernel
    (or ``kfresearch demo serve``) that holds the account.
    """


class StoreError(KFError):
    """The local history store (:mod:`kfresearch.store`) cannot be used as it is on disk."""


class CorruptFileError(StoreError):
    """A stored Parquet file is truncated, missing or unreadable.

    The message names the file and the repair (``store.repair()`` or
    ``kfresearch store repair DIR``), which re-fetches what the file held.
    """

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(message)
        self.path = path


class DataGapWarning(UserWarning):
    """The exchange has no data for part of the range asked for; the frame says where it starts.

    Warned once per call; ``frame.attrs["data_start"]`` holds the first time
    with data (``NaT`` when there is none at all).
    """


class SunsetWarning(FutureWarning):
    """An API kfresearch uses is being switched off, or its future is not stated.

    Kraken switches off the Derivatives REST v3 and WebSocket v1 APIs on
    2027-03-01; the Charts and History APIs are not named in that notice, and
    their fate is not stated. Record what you need with the history store's
    recorder (``kfresearch record SYMBOL``) and downloads (``kfresearch download``).
    """


class APIError(KFError):
    """The exchange answered with an error.

    Attributes
    ----------
    error : str
        The exchange's own error text, e.g. ``"apiLimitExceeded"``.
    endpoint : str
        ``"GET /derivatives/api/v3/accounts"``.
    status_code : int
        HTTP status (v3 errors usually come with 200).
    hint : str
        What to do next.
    body : Any
        The decoded error body (never contains request secrets).
    """

    default_hint = "See the exchange's error text above."

    def __init__(
        self,
        error: str,
        *,
        endpoint: str = "",
        status_code: int = 200,
        hint: str | None = None,
        body: Any = None,
    ) -> None:
        self.error = error
        self.endpoint = endpoint
        self.status_code = status_code
        self.hint = hint if hint is not None else self.default_hint
        self.body = body
        super().__init__(self._message())

    def _message(self) -> str:
        where = f"{self.endpoint}: " if self.endpoint else ""
        status = f" (HTTP {self.status_code})" if self.status_code != 200 else ""
        return f"{where}{self.error}{status}. {self.hint}".strip()


class AuthenticationError(APIError):
    default_hint = (
        "The exchange rejected the key or signature. Check that KFRESEARCH_API_KEY and "
        "KFRESEARCH_API_SECRET are a Futures (Derivatives) key pair for this environment "
        "(a Spot key does not work), that the key has the permission this call needs, "
        "and run `kfresearch doctor`."
    )


class PermissionDeniedError(AuthenticationError):
    default_hint = (
        "The key is valid but may not do this: use a full-access key for trading "
        "(sim: `kfresearch sim keys`)."
    )


class NonceError(APIError):
    default_hint = (
        "The nonce was reused or is below the exchange's threshold: another program may "
        "use the same key with a faster clock. Use one key per program, or make a new key "
        "pair (a new key resets the nonce)."
    )


class RateLimitError(APIError):
    default_hint = "The rate-limit budget is spent; wait and retry (kfresearch retries safe calls)."

    def __init__(self, error: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(error, **kwargs)


class InvalidArgumentError(APIError):
    default_hint = "Check the parameter names, values and types against the endpoint's reference."


class NotFoundError(APIError):
    default_hint = "Check the symbol or id; `kf.instruments()` lists valid symbols."


class MarketUnavailableError(APIError):
    default_hint = "The market or account is not available right now; retry later."


class InsufficientFundsError(APIError):
    default_hint = "Not enough available margin or funds; reduce the size or add collateral."


class ServerError(APIError):
    default_hint = "The exchange had a problem; safe requests were retried. Try again later."


class OrderRejected(APIError):
    """An order request was answered ``result: success`` with a rejection status.

    ``status`` is the exchange's status (``"postWouldExecute"``,
    ``"insufficientAvailableFunds"`` …); ``explanation`` says it in plain words.
    """

    def __init__(self, status: str, *, explanation: str = "", **kwargs: Any) -> None:
        self.status = status
        self.explanation = explanation
        kwargs.setdefault("hint", explanation or "The exchange rejected the order.")
        super().__init__(status, **kwargs)


class StreamError(KFError):
    """The WebSocket stream cannot do what was asked: it is closed, the exchange did not
    answer in time, or a consumer fell behind the messages."""


class SubscriptionError(StreamError, APIError):
    """The exchange refused a WebSocket (un)subscription.

    ``feed`` and ``products`` say which; ``error`` is the exchange's text
    (``"Invalid product id"``, ``"subscribed_failed"`` …).
    """

    def __init__(
        self,
        error: str,
        *,
        feed: str,
        products: tuple[str, ...] = (),
        private: bool = False,
    ) -> None:
        self.feed = feed
        self.products = products
        what = f"{feed} {', '.join(products)}".strip()
        if private:
            hint = (
                "Private feeds need a key pair of this environment, signed through the "
                "challenge: check KFRESEARCH_API_KEY / KFRESEARCH_API_SECRET (sim and demo "
                "provision their own) and run `kfresearch doctor`."
            )
        else:
            hint = (
                "Check the feed name and the symbols (`kf.instruments()` lists them; "
                "dated contracts expire)."
            )
        APIError.__init__(self, error, endpoint=f"WebSocket subscribe {what}", hint=hint)
