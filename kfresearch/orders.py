"""Orders, the pure part: validation, wire parameters, results, explanations, resolution.

Nothing here sends a request. Each order-changing call of the client is a
*plan* (like :mod:`kfresearch.queries`): a generator that validates its
arguments, yields batches of :class:`~kfresearch.queries.Call`, receives the
decoded bodies (or, thrown into it, the error a call raised) and returns a
typed result. :class:`~kfresearch.Client` and :class:`~kfresearch.AsyncClient`
only drive the plans (:mod:`kfresearch.trading`), so the two share every
decision.

Validation (before anything is sent)
------------------------------------
From the instrument's rules (``GET /instruments``, reference §4.1, §7.6):
price on the ``tickSize`` grid, size a positive multiple of the contract step
``10**-contractValueTradePrecision`` (which is also the minimum), resulting
position within ``maxPositionSize``, limit price within the exchange's price
collar around the mark (:data:`PRICE_COLLAR`), and the prices each order type
needs (reference §4.12). Each error is a
:class:`~kfresearch.errors.ValidationError` naming the field, the value and
what would be valid::

    limit_price 88000.3 is off the 1.0 tick for PF_XBTUSD; nearest valid: 88000 or 88001

Rejections
----------
The exchange answers a rejected order with ``result: success`` and a status
(reference §4.12–§4.18, §5.1). :func:`explain` turns every documented status
into plain words with what to do next (:data:`EXPLANATIONS`); the result
builders raise :class:`~kfresearch.errors.OrderRejected` for them.

Idempotency
-----------
Every new order carries a client order id (``cliOrdId``). When the transport
cannot tell whether an order-changing request was processed
(:class:`~kfresearch.errors.OutcomeUnknownError`), the plan looks the order up
by that id: ``orders/status`` (open orders and those closed in the last 5 s,
reference §4.20), then ``openorders``, then ``fills``. Only when none of them
knows the order is it sent again, with the *same* client order id, so the
exchange itself refuses a second copy (``clientOrderIdAlreadyExist``).

Example
-------
>>> rules = InstrumentRules.from_instrument({"symbol": "PF_XBTUSD", "tickSize": 1,
...     "contractValueTradePrecision": 4, "maxPositionSize": 1000000, "tradeable": True})
>>> [str(e) for e in check_send(Send("PF_XBTUSD", "buy", 0.001, limit_price=88000.3), rules)]
['limit_price 88000.3 is off the 1.0 tick for PF_XBTUSD; nearest valid: 88000 or 88001']
"""

from __future__ import annotations

import html
import math
import uuid
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from numbers import Real
from typing import Any, TypeVar

import orjson
import pandas as pd

from kfresearch.errors import KFError, OrderRejected, OutcomeUnknownError, ValidationError
from kfresearch.frames._core import Col, FrameSpec, build, col, flatten
from kfresearch.queries import Call, check_symbol
from kfresearch.timeparse import to_timestamp

__all__ = [
    "EXPLANATIONS",
    "LIMIT_TYPES",
    "ORDER_TYPES",
    "PRICE_COLLAR",
    "TRIGGER_TYPES",
    "BatchResult",
    "Cancel",
    "CancelAllResult",
    "Edit",
    "InstrumentRules",
    "OrderContext",
    "OrderPreview",
    "OrderResult",
    "Send",
    "SwitchStatus",
    "TradePlan",
    "Trailing",
    "check_edit",
    "check_send",
    "explain",
    "new_client_order_id",
    "plan_batch",
    "plan_cancel",
    "plan_cancel_all",
    "plan_cancel_all_after",
    "plan_context",
    "plan_edit",
    "plan_lookup",
    "plan_order_status",
    "plan_place",
    "preview",
    "rules_for",
    "send_params",
    "status_frame",
]

T = TypeVar("T")
#: A trading plan: yields batches of calls, receives their bodies, returns a ``T``.
TradePlan = Generator[list[Call], list[Any], T]

LIMIT_TYPES = frozenset({"lmt", "post", "ioc", "fok"})
TRIGGER_TYPES = frozenset({"stp", "take_profit", "trailing_stop"})
ORDER_TYPES = ("lmt", "post", "ioc", "fok", "mkt", "stp", "take_profit", "trailing_stop")
_TYPE_ALIASES = {
    "limit": "lmt",
    "market": "mkt",
    "stop": "stp",
    "stop_loss": "stp",
    "takeprofit": "take_profit",
    "take-profit": "take_profit",
    "trailing": "trailing_stop",
    "trailing-stop": "trailing_stop",
    "post_only": "post",
    "post-only": "post",
}
SIGNALS = ("mark", "index", "last")
_SIGNAL_ALIASES = {"spot": "index", "mark_price": "mark", "last_price": "last"}
#: Aggressive limit orders more than this far through the mark are rejected by the
#: exchange (``outsidePriceCollar``, reference §7.6). The exchange does not publish
#: its collar; this is the simulator's, used as a sanity check before sending.
PRICE_COLLAR = 0.10
#: Longest client order id accepted (the simulator's limit; Kraken publishes none).
MAX_CLIENT_ORDER_ID = 100
#: Trailing-stop deviation in percent (reference §4.12).
TRAILING_PERCENT_RANGE = (0.1, 50.0)
#: Fee rates used when the fee schedule is unknown (tier 0 of Kraken's schedule).
DEFAULT_MAKER_FEE = 0.0002
DEFAULT_TAKER_FEE = 0.0005
_LOOKUP_RESENDS = 1  # sends with the same client order id after a lookup found nothing

# --------------------------------------------------------------------------- statuses

#: Every order status of the exchange (reference §4.12–§4.18) in plain words.
EXPLANATIONS: dict[str, str] = {
    "placed": "Accepted: the order rests on the book, has filled, or (a stop) waits for its "
    "trigger.",
    "partiallyFilled": "Accepted and partly filled; the rest is on the book.",
    "filled": "Accepted and completely filled.",
    "edited": "The order was changed as asked.",
    "cancelled": "The order was cancelled (part of it may have filled before).",
    "noOrdersToCancel": "There were no open orders to cancel.",
    "marketSuspended": "Trading in this market is suspended; wait until it resumes "
    "(kf.instruments() shows which markets are tradeable).",
    "marketInactive": "The market is not open for trading (unknown or expired contract); "
    "pick a tradeable symbol from kf.instruments().",
    "invalidPrice": "The price is not valid for this contract (not positive, or off the tick "
    "grid); use a positive multiple of the tick size.",
    "invalidSize": "The size is not valid for this contract (not positive, or not a multiple "
    "of the contract step); use a multiple of 10**-contract_value_trade_precision.",
    "tooManySmallOrders": "The account has too many small open orders; cancel some or use a "
    "larger size.",
    "insufficientAvailableFunds": "Not enough available margin for this order; reduce the "
    "size, add collateral or close positions (kf.accounts() shows available margin).",
    "wouldCauseLiquidation": "Filling this order would leave the account below maintenance "
    "margin; reduce the size.",
    "clientOrderIdAlreadyExist": "An order with this client order id already exists; client "
    "order ids must be unique (leave client_order_id unset to get a fresh one).",
    "clientOrderIdTooBig": "The client order id is too long; use at most 100 characters.",
    "clientOrderIdTooLong": "The client order id is too long; use at most 100 characters.",
    "clientOrderIdInvalid": "The client order id contains characters the exchange refuses; "
    "use letters, digits and '-'.",
    "maxPositionViolation": "The resulting position would exceed the contract's maximum "
    "position size; reduce the size.",
    "outsidePriceCollar": "The limit price is too far through the mark price (fat-finger "
    "protection); use a price closer to the mark.",
    "wouldIncreasePriceDislocation": "The order would push the price further from the index "
    "while the market is dislocated; use a less aggressive price or wait.",
    "notFound": "No open order has this id: it may have filled or been cancelled already; "
    "check kf.open_orders() and kf.fills().",
    "orderForEditNotAStop": "A stop price was given, but the order is not a stop order; edit "
    "only its size or limit price.",
    "orderForEditNotFound": "The order to edit is not open (filled, cancelled or unknown id); "
    "check kf.open_orders().",
    "postWouldExecute": "A post-only order would have matched at once, so it was rejected; "
    "buy below the best ask or sell above the best bid.",
    "iocWouldNotExecute": "An immediate order (ioc, fok or market) found nothing to match at "
    "its price (fok: not enough to fill it completely); use a more aggressive price or a "
    "limit order.",
    "selfFill": "The order would have traded against one of your own resting orders; cancel "
    "or move that order first.",
    "wouldNotReducePosition": "A reduce-only order would open or increase a position; check "
    "the side against kf.positions().",
    "marketIsPostOnly": "The market accepts only post-only orders right now; use "
    "post_only=True or wait.",
    "tooManyOrders": "The account has too many open orders; cancel some first.",
    "fixedLeverageTooHigh": "The isolated leverage set for this contract is too high for "
    "this order; lower it in the leverage preferences.",
    "cannotEditTriggerPriceOfTrailingStop": "A trailing stop's trigger price follows the "
    "market and cannot be edited; edit its trailing deviation instead.",
    "cannotEditLimitPriceOfTrailingStop": "A trailing stop has no limit price to edit; edit "
    "its trailing deviation instead.",
    "wouldProcessAfterSpecifiedTime": "The exchange would have processed the request after "
    "its process_before deadline, so it did nothing; send it again with a later deadline.",
    "invalidOrderType": "The exchange does not know this order type; use lmt, post, ioc, "
    "fok, mkt, stp, take_profit or trailing_stop.",
    "invalidSide": "The side must be 'buy' or 'sell'.",
}
# What the same status means when it answers a cancel.
_CANCEL_EXPLANATIONS = {
    "filled": "Too late to cancel: the order had already filled; check kf.positions().",
    "notFound": "No open order has this id: it was already cancelled, has filled, or never "
    "existed; check kf.open_orders() and kf.fills().",
}
_OK: dict[str, frozenset[str]] = {
    "send": frozenset({"placed", "partiallyFilled", "filled", "cancelled"}),
    "edit": frozenset({"edited"}),
    "cancel": frozenset({"cancelled"}),
}
# orders/status ``error`` (the engine's OrderError, reference §5.2) -> v3 status.
_ERROR_STATUS = {
    "MARKET_SUSPENDED": "marketSuspended",
    "MARKET_NOT_FOUND": "marketInactive",
    "INVALID_PRICE": "invalidPrice",
    "INVALID_QUANTITY": "invalidSize",
    "SMALL_ORDER_LIMIT_EXCEEDED": "tooManySmallOrders",
    "INSUFFICIENT_MARGIN": "insufficientAvailableFunds",
    "WOULD_CAUSE_LIQUIDATION": "wouldCauseLiquidation",
    "CLIENT_ORDER_ID_IN_USE": "clientOrderIdAlreadyExist",
    "CLIENT_ORDER_ID_TOO_LONG": "clientOrderIdTooLong",
    "MAX_POSITION_EXCEEDED": "maxPositionViolation",
    "PRICE_COLLAR": "outsidePriceCollar",
    "PRICE_DISLOCATION": "wouldIncreasePriceDislocation",
    "ORDER_FOR_EDIT_NOT_FOUND": "orderForEditNotFound",
    "ORDER_FOR_CANCELLATION_NOT_FOUND": "notFound",
    "POST_WOULD_EXECUTE": "postWouldExecute",
    "IOC_WOULD_NOT_EXECUTE": "iocWouldNotExecute",
    "WOULD_EXECUTE_SELF": "selfFill",
    "WOULD_NOT_REDUCE_POSITION": "wouldNotReducePosition",
    "MARKET_IS_POST_ONLY": "marketIsPostOnly",
    "ORDER_LIMIT_EXCEEDED": "tooManyOrders",
    "FIXED_LEVERAGE_TOO_HIGH": "fixedLeverageTooHigh",
}
_LIFE_STATUS = {
    "ENTERED_BOOK": "placed",
    "TRIGGER_PLACED": "placed",
    "FULLY_EXECUTED": "filled",
    "CANCELLED": "cancelled",
    "TRIGGER_ACTIVATION_FAILURE": "cancelled",
}


def explain(status: str, action: str = "send") -> str:
    """The status ``status`` of an order request in plain words, with what to do next.

    Parameters
    ----------
    status : str
        The exchange's status (``sendStatus.status``, ``editStatus.status`` …).
    action : {"send", "edit", "cancel"}
        What the request did: ``filled`` answering a cancel means "too late".

    Examples
    --------
    >>> explain("postWouldExecute")[:40]
    'A post-only order would have matched at '
    """
    if action == "cancel" and status in _CANCEL_EXPLANATIONS:
        return _CANCEL_EXPLANATIONS[status]
    return EXPLANATIONS.get(
        status,
        f"The exchange answered status {status!r}, which kfresearch does not know; see the "
        "order in kf.order_status(...) or kf.order_history().",
    )


# --------------------------------------------------------------------------- numbers


def _plain(value: float) -> str:
    """``88000.0`` → ``'88000'``, ``1e-06`` → ``'0.000001'``: numbers as people write them."""
    if not math.isfinite(value):
        return repr(value)
    text = format(Decimal(repr(float(value))).normalize(), "f")
    return "0" if text in {"-0", "0"} else text


def _step_text(step: float) -> str:
    """A grid step as in the error messages: ``1.0``, ``0.5``, ``0.0001``, ``100``."""
    text = format(Decimal(repr(float(step))), "f")
    return text


def _decimals(step: float) -> int:
    exponent = Decimal(repr(float(step))).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _on_grid(value: float, step: float) -> bool:
    units = value / step
    return abs(units - round(units)) < 1e-7


def _neighbours(value: float, step: float) -> tuple[float, float]:
    """The grid values just below and above ``value`` (both ``value`` when it is on the grid)."""
    places = _decimals(step)
    low = math.floor(value / step + 1e-9) * step
    return round(low, places), round(low + step, places)


def _float(value: Any) -> float | None:
    """A float from a number or a decimal string; None for null, ``""`` or junk."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _number(field_name: str, value: Any, errors: list[ValidationError], what: str) -> float | None:
    """``value`` as a positive finite float, else an error naming ``field_name``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Real | Decimal | str):
        errors.append(
            ValidationError(field_name, value, f"{field_name} must be a number ({what}), "
                            f"got {value!r}")
        )
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, InvalidOperation):
        errors.append(
            ValidationError(field_name, value, f"{field_name} must be a number ({what}), "
                            f"got {value!r}")
        )
        return None
    if not math.isfinite(number) or number <= 0:
        errors.append(
            ValidationError(field_name, value, f"{field_name} must be a positive number "
                            f"({what}), got {value!r}")
        )
        return None
    return number


def _iso_ms(value: Any) -> str:
    stamp = to_timestamp(value)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def _time(value: Any) -> pd.Timestamp | None:
    if value in (None, "", "0"):
        return None
    try:
        return to_timestamp(value)
    except ValueError:
        return None


def new_client_order_id(source: Callable[[int], int] | None = None) -> str:
    """A fresh client order id, ``kfr-`` and 32 hex digits (36 characters).

    Parameters
    ----------
    source : callable, optional
        ``getrandbits``-like function for reproducible ids (the simulator's
        notebooks); default :func:`uuid.uuid4`.

    Examples
    --------
    >>> import random
    >>> new_client_order_id(random.Random(1).getrandbits)
    'kfr-cd613e30d8f16adf91b7584a2265b1f5'
    """
    bits = source(128) if source is not None else uuid.uuid4().int
    return f"kfr-{bits:032x}"


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class InstrumentRules:
    """What the exchange accepts for one contract (from ``GET /instruments``).

    Attributes
    ----------
    symbol : str
        ``"PF_XBTUSD"``.
    tick_size : float or None
        Price grid, quote currency (USD).
    size_step : float or None
        Contract step and minimum size, ``10**-contractValueTradePrecision`` contracts.
    max_position_size : float or None
        Largest absolute position, contracts.
    tradeable, post_only_market : bool
        The market takes orders; it takes only post-only orders.
    contract_size : float
        1 USD per contract (inverse) or 1 base unit (linear).
    inverse : bool
        ``PI_``/``FI_``: sizes in USD contracts, margin and PnL in the base coin.
    base : str
        Base currency (``"XBT"``); the margin currency of inverse contracts.
    margin_levels : tuple of (float, float)
        ``(tier start, initial margin fraction)``; tier starts in USD notional
        (linear) or contracts (inverse).
    fee_schedule_uid : str or None
        Key into ``GET /feeschedules``.

    Examples
    --------
    >>> r = InstrumentRules.from_instrument({"symbol": "PF_XBTUSD", "tickSize": 1,
    ...                                      "contractValueTradePrecision": 4})
    >>> r.size_step, r.snap_price(88000.4), r.format_size(0.1)
    (0.0001, 88000.0, '0.1')
    """

    symbol: str
    tick_size: float | None = None
    size_step: float | None = None
    max_position_size: float | None = None
    tradeable: bool = True
    post_only_market: bool = False
    contract_size: float = 1.0
    inverse: bool = False
    base: str = ""
    margin_levels: tuple[tuple[float, float], ...] = ()
    fee_schedule_uid: str | None = None

    @classmethod
    def from_instrument(cls, raw: Mapping[str, Any]) -> InstrumentRules:
        """Rules from one ``instruments[]`` element (numbers or decimal strings)."""
        symbol = str(raw["symbol"])
        precision = raw.get("contractValueTradePrecision")
        digits = _float(precision)
        step = 10.0 ** -int(digits) if digits is not None else None
        tick = _float(raw.get("tickSize"))
        inverse = str(raw.get("type", "")).lower() == "futures_inverse" or symbol.upper()[
            :3
        ] in {"PI_", "FI_"}
        base = str(raw.get("base") or "")
        if not base:
            core = symbol.split("_")[1] if "_" in symbol else symbol
            base = core[:-3] if core.upper().endswith("USD") else core
        levels: list[tuple[float, float]] = []
        for tier in raw.get("marginLevels") or raw.get("retailMarginLevels") or []:
            start = _float(tier.get("numNonContractUnits", tier.get("contracts"))) or 0.0
            rate = _float(tier.get("initialMargin"))
            if rate is not None:
                levels.append((start, rate))
        return cls(
            symbol=symbol,
            tick_size=tick if tick and tick > 0 else None,
            size_step=step,
            max_position_size=_float(raw.get("maxPositionSize")),
            tradeable=bool(raw.get("tradeable", True)),
            post_only_market=bool(raw.get("postOnly", False)),
            contract_size=_float(raw.get("contractSize")) or 1.0,
            inverse=inverse,
            base=base.upper(),
            margin_levels=tuple(sorted(levels)),
            fee_schedule_uid=str(raw["feeScheduleUid"]) if raw.get("feeScheduleUid") else None,
        )

    @property
    def margin_currency(self) -> str:
        """``USD`` for linear contracts, the base coin for inverse ones."""
        return self.base if self.inverse else "USD"

    def snap_price(self, price: float) -> float:
        """``price`` rounded to the nearest tick (unchanged without a tick size)."""
        if self.tick_size is None:
            return price
        return round(round(price / self.tick_size) * self.tick_size, _decimals(self.tick_size))

    def snap_size(self, size: float, *, down: bool = True) -> float:
        """``size`` on the contract step (rounded down by default: never more than asked)."""
        if self.size_step is None:
            return size
        units = size / self.size_step
        whole = math.floor(units + 1e-9) if down else round(units)
        return round(whole * self.size_step, _decimals(self.size_step))

    def format_price(self, price: float) -> str:
        if self.tick_size is None:
            return _plain(price)
        return f"{price:.{_decimals(self.tick_size)}f}"

    def format_size(self, size: float) -> str:
        return _plain(size)

    def notional_usd(self, size: float, price: float) -> float:
        """USD value of ``|size|`` contracts at ``price``."""
        if self.inverse:
            return abs(size) * self.contract_size
        return abs(size) * self.contract_size * price

    def initial_margin(self, size: float, price: float) -> float:
        """Initial margin of a position of ``|size|`` contracts at ``price``, tier by tier.

        In :attr:`margin_currency`. Each tier's fraction applies to the slice
        of the position inside the tier (reference §7.4); 0 without tiers.
        """
        if size == 0 or price <= 0 or not self.margin_levels:
            return 0.0
        amount = abs(size) * self.contract_size
        if not self.inverse:
            amount *= price
        total = 0.0
        for i, (start, rate) in enumerate(self.margin_levels):
            lower = 0.0 if i == 0 else start
            upper = self.margin_levels[i + 1][0] if i + 1 < len(self.margin_levels) else math.inf
            if amount <= lower:
                break
            total += (min(amount, upper) - lower) * rate
        return total / price if self.inverse else total


def rules_for(instruments_body: Any, symbol: str, field_name: str = "symbol") -> InstrumentRules:
    """The rules of ``symbol`` from a decoded ``GET /instruments`` body.

    Raises
    ------
    ValidationError
        Unknown symbol, naming the closest valid ones.
    """
    rows = [r for r in (instruments_body or {}).get("instruments", []) if "symbol" in r]
    name = check_symbol(symbol, [str(r["symbol"]) for r in rows], field_name)
    return InstrumentRules.from_instrument(next(r for r in rows if str(r["symbol"]) == name))


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Trailing:
    """A trailing stop's distance from the best price since placement.

    Parameters
    ----------
    deviation : float
        Percent of the price (``unit="percent"``, 0.1–50) or USD (``unit="quote"``).
    unit : {"percent", "quote"}

    Examples
    --------
    >>> Trailing.parse("1.5%"), Trailing.parse("250 usd")
    (Trailing(deviation=1.5, unit='percent'), Trailing(deviation=250.0, unit='quote'))
    """

    deviation: float
    unit: str = "percent"

    @classmethod
    def parse(cls, value: Any) -> Trailing:
        """From a :class:`Trailing`, ``"1.5%"``, ``"250"``/``"250 usd"`` or ``(1.5, "percent")``."""
        if isinstance(value, Trailing):
            return value
        if isinstance(value, tuple) and len(value) == 2:
            return cls(float(value[0]), str(value[1]).lower())
        if isinstance(value, str):
            text = value.strip().lower().replace(" ", "")
            if text.endswith("%"):
                return cls(float(text[:-1]), "percent")
            for suffix in ("usd", "quote", "$"):
                text = text.removesuffix(suffix)
            return cls(float(text), "quote")
        raise ValueError(
            f"trailing {value!r}: give '1.5%' (percent of the price), '250 usd' "
            "or Trailing(250, 'quote') (quote currency)"
        )

    def params(self) -> dict[str, Any]:
        return {
            "trailingStopMaxDeviation": self.deviation,
            "trailingStopDeviationUnit": "PERCENT" if self.unit == "percent" else "QUOTE_CURRENCY",
        }

    def __str__(self) -> str:
        return f"{_plain(self.deviation)}%" if self.unit == "percent" else (
            f"{_plain(self.deviation)} USD"
        )


@dataclass(frozen=True)
class Send:
    """A new order, as the user means it (see :meth:`kfresearch.Client.place_order`).

    Examples
    --------
    >>> Send("pf_xbtusd", "BUY", 0.001, "limit", limit_price=80000).normalised().order_type
    'lmt'
    """

    symbol: str
    side: str
    size: Any
    order_type: str = "lmt"
    limit_price: Any = None
    stop_price: Any = None
    trigger_signal: str | None = None
    reduce_only: bool = False
    post_only: bool = False
    trailing: Any = None
    client_order_id: str | None = None
    process_before: Any = None

    def normalised(self) -> Send:
        """Canonical spellings: type aliases, lower-case side, ``post_only`` → ``post``."""
        kind = str(self.order_type).strip().lower()
        kind = _TYPE_ALIASES.get(kind, kind)
        if self.post_only and kind == "lmt":
            kind = "post"
        signal = self.trigger_signal
        if isinstance(signal, str):
            signal = signal.strip().lower()
            signal = _SIGNAL_ALIASES.get(signal, signal)
        return replace(
            self,
            symbol=str(self.symbol).strip(),
            side=str(self.side).strip().lower(),
            order_type=kind,
            trigger_signal=signal or None,
        )

    @property
    def sign(self) -> int:
        return 1 if self.side == "buy" else -1


@dataclass(frozen=True)
class Edit:
    """A change to an open order: by ``order_id`` or ``client_order_id``; None keeps a field."""

    order_id: str | None = None
    client_order_id: str | None = None
    size: Any = None
    limit_price: Any = None
    stop_price: Any = None
    trailing: Any = None
    qty_mode: str | None = None  # "relative" (new open size, the default) | "absolute"


@dataclass(frozen=True)
class Cancel:
    """Cancel one order, by ``order_id`` or ``client_order_id``."""

    order_id: str | None = None
    client_order_id: str | None = None


def _shape_errors(order: Send) -> list[ValidationError]:
    """Checks that need no instrument rules: side, type, numbers, prices per type."""
    errors: list[ValidationError] = []
    if order.side not in {"buy", "sell"}:
        errors.append(
            ValidationError("side", order.side, f"side must be 'buy' or 'sell', got {order.side!r}")
        )
    kind = order.order_type
    if kind not in ORDER_TYPES:
        errors.append(
            ValidationError(
                "order_type",
                kind,
                f"order_type {kind!r} is not one of {', '.join(ORDER_TYPES)} "
                "(aliases: limit, market, stop)",
            )
        )
        return errors
    _number("size", order.size, errors, "contracts")
    if order.size is None:
        errors.append(ValidationError("size", None, "size is required (contracts)"))
    limit = _number("limit_price", order.limit_price, errors, "USD")
    stop = _number("stop_price", order.stop_price, errors, "USD, the trigger price")
    if kind in LIMIT_TYPES and order.limit_price is None:
        errors.append(
            ValidationError(
                "limit_price",
                None,
                f"limit_price is required for order_type {kind!r}: the worst price you accept "
                "(or use order_type='mkt')",
            )
        )
    if kind == "mkt" and order.limit_price is not None:
        errors.append(
            ValidationError(
                "limit_price",
                order.limit_price,
                "limit_price must not be set for a market order (order_type 'mkt' trades at "
                "once with 1% price protection); use order_type='lmt' to set a price",
            )
        )
    if kind in {"stp", "take_profit"} and order.stop_price is None:
        errors.append(
            ValidationError(
                "stop_price",
                None,
                f"stop_price (the trigger price) is required for order_type {kind!r}",
            )
        )
    if kind not in TRIGGER_TYPES and order.stop_price is not None:
        errors.append(
            ValidationError(
                "stop_price",
                order.stop_price,
                f"stop_price is only for stp, take_profit orders, not {kind!r}; "
                "use order_type='stp' for a stop",
            )
        )
    if kind == "trailing_stop":
        if limit is not None or stop is not None:
            name = "limit_price" if order.limit_price is not None else "stop_price"
            errors.append(
                ValidationError(
                    name,
                    order.limit_price if name == "limit_price" else order.stop_price,
                    f"a trailing_stop takes no {name}: the exchange moves its stop with the "
                    "market; give only trailing= (e.g. '1%')",
                )
            )
        errors.extend(_trailing_errors(order.trailing, required=True))
    elif order.trailing is not None:
        errors.append(
            ValidationError(
                "trailing",
                order.trailing,
                "trailing is only for order_type='trailing_stop'",
            )
        )
    signal = order.trigger_signal
    if signal is not None:
        if kind not in TRIGGER_TYPES:
            errors.append(
                ValidationError(
                    "trigger_signal",
                    signal,
                    "trigger_signal is only for stp, take_profit and trailing_stop orders",
                )
            )
        elif signal not in SIGNALS:
            errors.append(
                ValidationError(
                    "trigger_signal",
                    signal,
                    f"trigger_signal must be one of {', '.join(SIGNALS)}, got {signal!r}",
                )
            )
    if order.post_only and kind not in {"lmt", "post"}:
        errors.append(
            ValidationError(
                "post_only",
                True,
                f"post_only applies to limit orders, not {kind!r}: use order_type='lmt' with "
                "post_only=True",
            )
        )
    errors.extend(_client_id_errors(order.client_order_id))
    return errors


def _trailing_errors(value: Any, *, required: bool) -> list[ValidationError]:
    if value is None:
        if required:
            return [
                ValidationError(
                    "trailing", None, "trailing is required for a trailing_stop: e.g. "
                    "trailing='1%' (percent) or trailing='250 usd'"
                )
            ]
        return []
    try:
        trailing = Trailing.parse(value)
    except (ValueError, TypeError) as exc:
        return [ValidationError("trailing", value, str(exc))]
    low, high = TRAILING_PERCENT_RANGE
    if trailing.unit not in {"percent", "quote"}:
        return [
            ValidationError(
                "trailing", value, f"trailing unit must be 'percent' or 'quote', got "
                f"{trailing.unit!r}"
            )
        ]
    if trailing.unit == "percent" and not low <= trailing.deviation <= high:
        return [
            ValidationError(
                "trailing",
                value,
                f"trailing deviation {_plain(trailing.deviation)}% is outside "
                f"{_plain(low)}–{_plain(high)}%",
            )
        ]
    if trailing.deviation <= 0:
        return [ValidationError("trailing", value, "trailing deviation must be positive")]
    return []


def _client_id_errors(client_order_id: Any) -> list[ValidationError]:
    if client_order_id is None:
        return []
    if not isinstance(client_order_id, str) or not client_order_id:
        return [
            ValidationError(
                "client_order_id", client_order_id, "client_order_id must be a non-empty string"
            )
        ]
    if len(client_order_id) > MAX_CLIENT_ORDER_ID:
        return [
            ValidationError(
                "client_order_id",
                client_order_id,
                f"client_order_id is {len(client_order_id)} characters; at most "
                f"{MAX_CLIENT_ORDER_ID} are accepted",
            )
        ]
    return []


def _price_errors(
    name: str, price: float | None, rules: InstrumentRules
) -> list[ValidationError]:
    if price is None or rules.tick_size is None or _on_grid(price, rules.tick_size):
        return []
    low, high = _neighbours(price, rules.tick_size)
    return [
        ValidationError(
            name,
            price,
            f"{name} {_plain(price)} is off the {_step_text(rules.tick_size)} tick for "
            f"{rules.symbol}; nearest valid: {rules.format_price(low)} or "
            f"{rules.format_price(high)}",
        )
    ]


def _size_errors(size: float | None, rules: InstrumentRules) -> list[ValidationError]:
    step = rules.size_step
    if size is None or step is None:
        return []
    if size < step - step * 1e-9:
        return [
            ValidationError(
                "size",
                size,
                f"size {_plain(size)} is below the minimum {_plain(step)} for {rules.symbol}; "
                f"the smallest order is {_plain(step)} contracts",
            )
        ]
    if not _on_grid(size, step):
        low, high = _neighbours(size, step)
        return [
            ValidationError(
                "size",
                size,
                f"size {_plain(size)} is not a multiple of the {_plain(step)} contract step for "
                f"{rules.symbol}; nearest valid: {_plain(low)} or {_plain(high)}",
            )
        ]
    return []


def _collar_errors(
    side: str, price: float | None, rules: InstrumentRules, mark: float | None
) -> list[ValidationError]:
    if price is None or mark is None or mark <= 0 or side not in {"buy", "sell"}:
        return []
    sign = 1 if side == "buy" else -1
    reach = price / mark - 1
    if sign * reach <= PRICE_COLLAR:
        return []
    edge = mark * (1 + sign * PRICE_COLLAR)
    if rules.tick_size is not None:
        places = _decimals(rules.tick_size)
        units = edge / rules.tick_size
        edge = round(
            (math.floor(units + 1e-9) if sign > 0 else math.ceil(units - 1e-9)) * rules.tick_size,
            places,
        )
    way, bound = ("above", "highest") if sign > 0 else ("below", "lowest")
    return [
        ValidationError(
            "limit_price",
            price,
            f"limit_price {_plain(price)} is {abs(reach) * 100:.1f}% {way} the mark "
            f"{rules.format_price(mark)} for {rules.symbol}: a {side} limit more than "
            f"{PRICE_COLLAR * 100:.0f}% {way} the mark is rejected (outsidePriceCollar); the "
            f"{bound} accepted price is {rules.format_price(edge)}",
        )
    ]


def _position_errors(
    order: Send, size: float | None, rules: InstrumentRules, position: float | None
) -> list[ValidationError]:
    limit = rules.max_position_size
    if size is None or limit is None or order.reduce_only or order.side not in {"buy", "sell"}:
        return []
    current = position or 0.0
    after = current + order.sign * size
    if abs(after) <= limit * (1 + 1e-12):
        return []
    room = max(0.0, limit - order.sign * current)
    verb = "bought" if order.sign > 0 else "sold"
    return [
        ValidationError(
            "size",
            size,
            f"size {_plain(size)} would take the {rules.symbol} position from "
            f"{_plain(current)} to {_plain(after)}, beyond the maximum position size "
            f"{_plain(limit)}; at most {_plain(rules.snap_size(room))} more can be {verb}",
        )
    ]


def check_send(
    order: Send,
    rules: InstrumentRules | None = None,
    *,
    mark: float | None = None,
    position: float | None = None,
) -> list[ValidationError]:
    """Every problem of ``order``, each a :class:`ValidationError` (empty: it may be sent).

    Parameters
    ----------
    order : Send
        The order (normalised here).
    rules : InstrumentRules, optional
        The contract's rules; without them only the order's shape is checked.
    mark : float, optional
        Mark price (USD) for the price-collar check.
    position : float, optional
        Current signed position in contracts for the max-position check.

    Examples
    --------
    >>> [e.field for e in check_send(Send("PF_XBTUSD", "buy", 0.001, "stp"))]
    ['stop_price']
    """
    order = order.normalised()
    errors = _shape_errors(order)
    if rules is None or any(e.field in {"side", "order_type"} for e in errors):
        return errors
    bad = {e.field for e in errors}
    if not rules.tradeable:
        errors.insert(
            0,
            ValidationError(
                "symbol",
                order.symbol,
                f"{rules.symbol} is not tradeable now; pick a symbol whose "
                "kf.instruments().tradeable is True",
            ),
        )
    size = _float(order.size) if "size" not in bad else None
    limit = _float(order.limit_price) if "limit_price" not in bad else None
    stop = _float(order.stop_price) if "stop_price" not in bad else None
    errors += _size_errors(size, rules)
    errors += _price_errors("limit_price", limit, rules)
    errors += _price_errors("stop_price", stop, rules)
    if order.order_type in LIMIT_TYPES and not any(e.field == "limit_price" for e in errors):
        errors += _collar_errors(order.side, limit, rules, mark)
    if not any(e.field == "size" for e in errors):
        errors += _position_errors(order, size, rules, position)
    return errors


def check_edit(
    edit: Edit,
    rules: InstrumentRules | None = None,
    *,
    side: str | None = None,
    mark: float | None = None,
    collar: bool = False,
) -> list[ValidationError]:
    """Every problem of ``edit``: an id, something to change, numbers on the contract's grids.

    ``collar`` applies the price-collar check to the new limit price (for a
    resting limit order of ``side``).
    """
    errors: list[ValidationError] = []
    if not edit.order_id and not edit.client_order_id:
        errors.append(
            ValidationError("order_id", None, "give the order_id or the client_order_id to edit")
        )
    if all(v is None for v in (edit.size, edit.limit_price, edit.stop_price, edit.trailing)):
        errors.append(
            ValidationError(
                "size", None, "nothing to change: give size, limit_price, stop_price or trailing"
            )
        )
    size = _number("size", edit.size, errors, "contracts")
    limit = _number("limit_price", edit.limit_price, errors, "USD")
    stop = _number("stop_price", edit.stop_price, errors, "USD")
    errors += _trailing_errors(edit.trailing, required=False)
    if edit.qty_mode is not None and str(edit.qty_mode).lower() not in {"relative", "absolute"}:
        errors.append(
            ValidationError(
                "qty_mode", edit.qty_mode, "qty_mode must be 'relative' (new open size) or "
                "'absolute' (total size including fills)"
            )
        )
    if rules is not None:
        errors += _size_errors(size, rules)
        errors += _price_errors("limit_price", limit, rules)
        errors += _price_errors("stop_price", stop, rules)
        if collar and side and not any(e.field == "limit_price" for e in errors):
            errors += _collar_errors(side, limit, rules, mark)
    return errors


def _raise_first(errors: Sequence[ValidationError]) -> None:
    if errors:
        raise errors[0]


def _clean(value: Any, step: float | None) -> float | None:
    """``value`` as a float without float dust (``0.30000000000000004`` → ``0.3``)."""
    number = _float(value)
    if number is None or step is None or not _on_grid(number, step):
        return number
    return round(round(number / step) * step, _decimals(step))


def send_params(
    order: Send, client_order_id: str | None, rules: InstrumentRules | None = None
) -> dict[str, Any]:
    """``POST /sendorder`` parameters for ``order`` (reference §4.12), in wire names.

    Examples
    --------
    >>> send_params(Send("PF_XBTUSD", "buy", 0.001, limit_price=80000), "kfr-1")
    {'orderType': 'lmt', 'symbol': 'PF_XBTUSD', 'side': 'buy', 'size': 0.001, 'limitPrice': 80000.0, 'cliOrdId': 'kfr-1'}
    """  # noqa: E501
    order = order.normalised()
    symbol = rules.symbol if rules is not None else order.symbol.upper()
    size_step = rules.size_step if rules else None
    tick = rules.tick_size if rules else None
    params: dict[str, Any] = {
        "orderType": order.order_type,
        "symbol": symbol,
        "side": order.side,
        "size": _clean(order.size, size_step) if _float(order.size) is not None else order.size,
    }
    for name, value in (("limitPrice", order.limit_price), ("stopPrice", order.stop_price)):
        if value is not None:
            params[name] = _clean(value, tick) if _float(value) is not None else value
    if order.trigger_signal is not None and order.order_type in TRIGGER_TYPES:
        params["triggerSignal"] = order.trigger_signal
    if order.reduce_only:
        params["reduceOnly"] = True
    if order.trailing is not None:
        params |= Trailing.parse(order.trailing).params()
    if client_order_id is not None:
        params["cliOrdId"] = client_order_id
    if order.process_before is not None:
        params["processBefore"] = _iso_ms(order.process_before)
    return params


def _edit_params(edit: Edit, rules: InstrumentRules | None, *, batch: bool) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if edit.order_id:
        params["order_id" if batch else "orderId"] = edit.order_id
    if edit.client_order_id:
        params["cliOrdId"] = edit.client_order_id
    step = rules.size_step if rules else None
    tick = rules.tick_size if rules else None
    if edit.size is not None:
        params["size"] = _clean(edit.size, step)
    if edit.limit_price is not None:
        params["limitPrice"] = _clean(edit.limit_price, tick)
    if edit.stop_price is not None:
        params["stopPrice"] = _clean(edit.stop_price, tick)
    if edit.trailing is not None:
        params |= Trailing.parse(edit.trailing).params()
    if edit.qty_mode is not None:
        params["qtyMode"] = str(edit.qty_mode).upper()
    return params


def _cancel_params(order_id: str | None, client_order_id: str | None) -> dict[str, Any]:
    if order_id:
        return {"order_id": order_id}
    if client_order_id:
        return {"cliOrdId": client_order_id}
    raise ValidationError("order_id", None, "give the order_id or the client_order_id to cancel")


# --------------------------------------------------------------------------- results

_RESULT_FRAME = FrameSpec(
    name="order_result",
    columns=(
        col("order_id", "str"),
        col("client_order_id", "str"),
        col("action", "str"),
        col("status", "str"),
        Col("ok", "bool", "ok"),
        col("symbol", "str"),
        col("side", "str"),
        col("order_type", "str"),
        col("size", "float"),
        col("filled", "float"),
        col("avg_fill_price", "float"),
        col("limit_price", "float"),
        col("stop_price", "float"),
        Col("reduce_only", "bool", "reduce_only"),
        col("received_time", "time"),
        Col("resolved", "bool", "resolved"),
        col("explanation", "str"),
    ),
    index="order_id",
)


@dataclass(frozen=True)
class OrderResult:
    """What the exchange did with one order request.

    Attributes
    ----------
    action : {"send", "edit", "cancel"}
    status : str
        The exchange's status (``placed``, ``edited``, ``cancelled`` …; see :data:`EXPLANATIONS`).
    order_id, client_order_id : str or None
    symbol, side, order_type : str or None
    size, filled : float
        Contracts; ``filled`` is the size executed so far (by this request's
        events, or the order's state when the result comes from a lookup).
    limit_price, stop_price : float or None
        USD.
    reduce_only : bool
    received_time : pandas.Timestamp or None
        When the exchange received the request (UTC).
    events : tuple of dict
        The exchange's ``orderEvents`` as sent.
    resolved : bool
        True when the outcome was unknown (timeout, dropped connection) and was
        found by looking the order up by its client order id.

    Examples
    --------
    >>> r = OrderResult("send", "placed", "o-1", "kfr-1", "PF_XBTUSD", "buy", "lmt", 0.001)
    >>> r
    <OrderResult placed: buy 0.001 PF_XBTUSD lmt, filled 0, order_id='o-1'>
    >>> r.to_frame().loc["o-1", "status"]
    'placed'
    """

    action: str
    status: str
    order_id: str | None = None
    client_order_id: str | None = None
    symbol: str | None = None
    side: str | None = None
    order_type: str | None = None
    size: float = math.nan
    filled: float = 0.0
    limit_price: float | None = None
    stop_price: float | None = None
    reduce_only: bool = False
    received_time: pd.Timestamp | None = None
    events: tuple[Mapping[str, Any], ...] = field(default=(), repr=False, compare=False)
    resolved: bool = False

    @property
    def ok(self) -> bool:
        """The exchange accepted the request (no rejection status)."""
        return self.status in _OK.get(self.action, frozenset())

    @property
    def explanation(self) -> str:
        return explain(self.status, self.action)

    @property
    def fills(self) -> list[tuple[float, float]]:
        """``(price, size)`` of each execution in :attr:`events`."""
        out: list[tuple[float, float]] = []
        for event in self.events:
            if str(event.get("type", "")).upper() == "EXECUTION":
                price, amount = _float(event.get("price")), _float(event.get("amount"))
                if price is not None and amount is not None:
                    out.append((price, amount))
        return out

    @property
    def avg_fill_price(self) -> float:
        """Size-weighted price of :attr:`fills` (NaN without fills)."""
        fills = self.fills
        total = sum(size for _, size in fills)
        return sum(p * s for p, s in fills) / total if total else math.nan

    def to_frame(self) -> pd.DataFrame:
        """The result as a one-row DataFrame indexed by ``order_id``."""
        row = {
            "order_id": self.order_id,
            "client_order_id": self.client_order_id,
            "action": self.action,
            "status": self.status,
            "ok": self.ok,
            "symbol": self.symbol,
            "side": self.side,
            "order_type": self.order_type,
            "size": self.size,
            "filled": self.filled,
            "avg_fill_price": self.avg_fill_price,
            "limit_price": self.limit_price,
            "stop_price": self.stop_price,
            "reduce_only": self.reduce_only,
            "received_time": self.received_time,
            "resolved": self.resolved,
            "explanation": self.explanation,
        }
        return build(_RESULT_FRAME, flatten([row]), 1)

    def describe(self) -> str:
        """One line: ``placed: buy 0.001 PF_XBTUSD lmt @ 80000, filled 0``."""
        what = " ".join(
            p for p in (self.side, _plain(self.size) if math.isfinite(self.size) else None,
                        self.symbol, self.order_type) if p
        )
        price = ""
        if self.limit_price is not None and self.order_type != "mkt":
            price = f" @ {_plain(self.limit_price)}"
        stop = f" stop {_plain(self.stop_price)}" if self.stop_price is not None else ""
        text = f"{self.status}: {what}{price}{stop}, filled {_plain(self.filled)}"
        if self.fills:
            text += f" @ {_plain(round(self.avg_fill_price, 8))}"
        return text + (" (resolved by lookup)" if self.resolved else "")

    def __repr__(self) -> str:
        return f"<OrderResult {self.describe()}, order_id={self.order_id!r}>"

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.ok else "#cf222e"
        head = (
            f'<div><b style="color:{colour}">{html.escape(self.status)}</b> '
            f"{html.escape(self.explanation)}</div>"
        )
        return head + self.to_frame().to_html()


def _order_object(event: Mapping[str, Any]) -> Mapping[str, Any]:
    for key in ("new", "order", "orderTrigger", "orderPriorExecution", "old"):
        value = event.get(key)
        if isinstance(value, Mapping):
            return value
    return {}


def _result_from_status(
    action: str,
    payload: Mapping[str, Any],
    intent: Send | None = None,
    *,
    resolved: bool = False,
) -> OrderResult:
    """An :class:`OrderResult` from a ``sendStatus``/``editStatus``/``cancelStatus``/batch entry."""
    events = tuple(e for e in payload.get("orderEvents") or [] if isinstance(e, Mapping))
    order: Mapping[str, Any] = {}
    for event in events:
        found = _order_object(event)
        if found:
            order = found
            if str(event.get("type", "")).upper() in {"EDIT", "PLACE"}:
                break
    filled_events = sum(
        _float(e.get("amount")) or 0.0
        for e in events
        if str(e.get("type", "")).upper() == "EXECUTION"
    )
    filled = max(filled_events, _float(order.get("filled")) or 0.0)
    if action == "send":
        filled = filled_events or (_float(order.get("filled")) or 0.0)
    size = _float(order.get("quantity"))
    if size is None and intent is not None:
        size = _float(intent.size)
    limit = _float(order.get("limitPrice"))
    stop = _float(order.get("triggerPrice")) or _float(order.get("stopPrice"))
    if intent is not None:
        limit = limit if limit is not None else _float(intent.limit_price)
        stop = stop if stop is not None else _float(intent.stop_price)
    order_id = payload.get("order_id") or payload.get("orderId") or order.get("orderId") or (
        order.get("uid")
    )
    cli = payload.get("cliOrdId") or order.get("cliOrdId") or order.get("clientId")
    if cli is None and intent is not None:
        cli = intent.client_order_id
    return OrderResult(
        action=action,
        status=str(payload.get("status") or "unknown"),
        order_id=str(order_id) if order_id else None,
        client_order_id=str(cli) if cli else None,
        symbol=str(order.get("symbol") or (intent.symbol if intent else "") or "") or None,
        side=str(order.get("side") or (intent.side if intent else "") or "") or None,
        order_type=str(
            (intent.order_type if intent else None) or order.get("type") or ""
        ) or None,
        size=size if size is not None else math.nan,
        filled=filled,
        limit_price=limit,
        stop_price=stop,
        reduce_only=bool(order.get("reduceOnly", intent.reduce_only if intent else False)),
        received_time=_time(payload.get("receivedTime") or payload.get("dateTimeReceived")),
        events=events,
        resolved=resolved,
    )


def _rejected(result: OrderResult, endpoint: str, body: Any) -> OrderRejected:
    return OrderRejected(result.status, explanation=result.explanation, endpoint=endpoint,
                         body=body)


def _accept(result: OrderResult, endpoint: str, body: Any) -> OrderResult:
    """``result``, or :class:`OrderRejected` when its status is a rejection."""
    if not result.ok:
        raise _rejected(result, endpoint, body)
    return result


def _payload(body: Any, key: str, endpoint: str) -> Mapping[str, Any]:
    found = body.get(key) if isinstance(body, Mapping) else None
    if not isinstance(found, Mapping):
        from kfresearch.errors import DecodeError

        raise DecodeError(f"{endpoint}: the answer has no {key!r} object", endpoint=endpoint)
    return found


def _result_from_lookup(row: Mapping[str, Any], *, source: str) -> OrderResult:
    """An order found by lookup: an ``orders/status`` entry, an open order, or its fills."""
    if source == "status":
        order = row.get("order") or {}
        life = str(row.get("status") or "")
        status = _LIFE_STATUS.get(life, life.lower() or "unknown")
        if life == "REJECTED":
            error = str(row.get("error") or "")
            status = _ERROR_STATUS.get(error, error or "rejected")
        trigger = order.get("priceTriggerOptions") or {}
        kind = "trigger" if order.get("type") == "TRIGGER_ORDER" else None
        return OrderResult(
            action="send",
            status=status,
            order_id=order.get("orderId"),
            client_order_id=order.get("cliOrdId"),
            symbol=order.get("symbol"),
            side=order.get("side"),
            order_type=kind,
            size=_float(order.get("quantity")) or math.nan,
            filled=_float(order.get("filled")) or 0.0,
            limit_price=_float(order.get("limitPrice")),
            stop_price=_float(trigger.get("triggerPrice")) if trigger else None,
            reduce_only=bool(order.get("reduceOnly", False)),
            received_time=_time(order.get("timestamp")),
            resolved=True,
        )
    if source == "open":
        filled = _float(row.get("filledSize")) or 0.0
        return OrderResult(
            action="send",
            status="placed",
            order_id=row.get("order_id"),
            client_order_id=row.get("cliOrdId"),
            symbol=row.get("symbol"),
            side=row.get("side"),
            order_type=row.get("orderType"),
            size=filled + (_float(row.get("unfilledSize")) or 0.0),
            filled=filled,
            limit_price=_float(row.get("limitPrice")),
            stop_price=_float(row.get("stopPrice")),
            reduce_only=bool(row.get("reduceOnly", False)),
            received_time=_time(row.get("receivedTime")),
            resolved=True,
        )
    raise ValueError(f"unknown lookup source {source!r}")


def _result_from_fills(rows: Sequence[Mapping[str, Any]]) -> OrderResult:
    first = rows[0]
    events = tuple(
        {"type": "EXECUTION", "executionId": r.get("fill_id"), "price": r.get("price"),
         "amount": r.get("size")}
        for r in rows
    )
    filled = sum(_float(r.get("size")) or 0.0 for r in rows)
    return OrderResult(
        action="send",
        status="placed",
        order_id=first.get("order_id"),
        client_order_id=first.get("cliOrdId"),
        symbol=first.get("symbol"),
        side=first.get("side"),
        size=filled,
        filled=filled,
        received_time=_time(min(str(r.get("fillTime") or "") for r in rows) or None),
        events=events,
        resolved=True,
    )


@dataclass(frozen=True)
class CancelAllResult:
    """The answer to ``cancel_all``: which orders were cancelled.

    Examples
    --------
    >>> CancelAllResult("cancelled", "all", (("o-1", None),))
    <CancelAllResult cancelled 1 order (all)>
    """

    status: str
    cancel_only: str
    cancelled: tuple[tuple[str, str | None], ...] = ()
    received_time: pd.Timestamp | None = None
    resolved: bool = False

    @property
    def order_ids(self) -> list[str]:
        return [order_id for order_id, _ in self.cancelled]

    def to_frame(self) -> pd.DataFrame:
        """The cancelled orders, indexed by ``order_id`` (column ``client_order_id``)."""
        frame = pd.DataFrame(
            {"client_order_id": pd.Series([c for _, c in self.cancelled], dtype="str")},
            index=pd.Index([o for o, _ in self.cancelled], name="order_id", dtype="str"),
        )
        return frame

    def __repr__(self) -> str:
        n = len(self.cancelled)
        return (
            f"<CancelAllResult {self.status} {n} order{'s' if n != 1 else ''} "
            f"({self.cancel_only})>"
        )


@dataclass(frozen=True)
class SwitchStatus:
    """State of the dead man's switch after ``cancel_all_after``.

    ``trigger_time`` is when every order will be cancelled unless re-armed
    (None when disarmed).

    Examples
    --------
    >>> SwitchStatus(pd.Timestamp("2026-11-01", tz="UTC"), None)
    <SwitchStatus disarmed at 2026-11-01T00:00:00Z>
    """

    current_time: pd.Timestamp | None
    trigger_time: pd.Timestamp | None

    @property
    def armed(self) -> bool:
        return self.trigger_time is not None

    def __repr__(self) -> str:
        def iso(stamp: pd.Timestamp | None) -> str:
            return stamp.strftime("%Y-%m-%dT%H:%M:%SZ") if stamp is not None else "?"

        if self.armed:
            return f"<SwitchStatus armed: cancels all orders at {iso(self.trigger_time)}>"
        return f"<SwitchStatus disarmed at {iso(self.current_time)}>"


@dataclass(frozen=True)
class BatchResult:
    """The results of a batch, in the order of its instructions.

    Per-instruction rejections do not raise (the other instructions may have
    gone through): see :attr:`rejected` and :meth:`raise_for_status`.
    """

    results: tuple[OrderResult, ...]
    resolved: bool = False

    def __iter__(self) -> Any:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, index: int) -> OrderResult:
        return self.results[index]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def rejected(self) -> list[OrderResult]:
        return [r for r in self.results if not r.ok]

    def raise_for_status(self) -> BatchResult:
        """Raise :class:`OrderRejected` for the first rejected instruction, else return self."""
        for result in self.results:
            if not result.ok:
                raise OrderRejected(
                    result.status,
                    explanation=f"{result.explanation} (batch item {self.results.index(result)})",
                    endpoint="POST /derivatives/api/v3/batchorder",
                )
        return self

    def to_frame(self) -> pd.DataFrame:
        """One row per instruction (RangeIndex in batch order), the columns of
        :meth:`OrderResult.to_frame` plus ``order_id``."""
        if not self.results:
            return OrderResult("send", "").to_frame().iloc[:0].reset_index()
        return pd.concat([r.to_frame().reset_index() for r in self.results], ignore_index=True)

    def __repr__(self) -> str:
        lines = [f"<BatchResult {len(self.results)} instructions, {len(self.rejected)} rejected>"]
        lines += [f"  {i}: {r.action} {r.describe()}" for i, r in enumerate(self.results)]
        return "\n".join(lines)


# --------------------------------------------------------------------------- status frame

_STATUS_FRAME = FrameSpec(
    name="order_status",
    columns=(
        col("order.orderId", "str", "order_id"),
        col("order.cliOrdId", "str", "client_order_id"),
        col("order.symbol", "str", "symbol"),
        col("order.side", "lower", "side"),
        col("order.type", "str", "order_type"),
        col("status", "str"),
        col("updateReason", "str"),
        col("error", "str"),
        col("order.quantity", "float", "quantity"),
        col("order.filled", "float", "filled"),
        col("order.limitPrice", "float", "limit_price"),
        col("order.reduceOnly", "bool", "reduce_only"),
        col("order.priceTriggerOptions.triggerPrice", "float", "trigger_price"),
        col("order.priceTriggerOptions.triggerSide", "str", "trigger_side"),
        col("order.priceTriggerOptions.triggerSignal", "str", "trigger_signal"),
        col("order.timestamp", "time", "time"),
        col("order.lastUpdateTimestamp", "time", "last_update_time"),
        col("order.triggerTime", "time", "trigger_time"),
    ),
    index="order_id",
    strip=("order.",),
    drop=("order.priceTriggerOptions",),
)


def status_frame(body: Mapping[str, Any]) -> pd.DataFrame:
    """``POST /orders/status`` (reference §4.20) as a frame indexed by ``order_id``.

    Columns: ``client_order_id``, ``symbol``, ``side``, ``order_type``
    (``ORDER``/``TRIGGER_ORDER``), ``status`` (``ENTERED_BOOK``,
    ``FULLY_EXECUTED``, ``REJECTED``, ``CANCELLED``, ``TRIGGER_PLACED``,
    ``TRIGGER_ACTIVATION_FAILURE``), ``update_reason``, ``error``,
    ``quantity``/``filled`` (contracts), ``limit_price``/``trigger_price``
    (USD), ``reduce_only``, ``trigger_side``, ``trigger_signal``, ``time``,
    ``last_update_time``, ``trigger_time`` (UTC).

    Examples
    --------
    >>> body = {"orders": [{"order": {"orderId": "o1", "symbol": "PF_XBTUSD", "side": "buy",
    ...         "quantity": 1, "filled": 0, "type": "ORDER"}, "status": "ENTERED_BOOK"}]}
    >>> status_frame(body).loc["o1", "status"]
    'ENTERED_BOOK'
    """
    rows = [r for r in body.get("orders") or [] if isinstance(r, Mapping)]
    return build(_STATUS_FRAME, flatten(rows), len(rows))


# --------------------------------------------------------------------------- context, preview


@dataclass(frozen=True)
class OrderContext:
    """What a ticket needs to know about one contract right now.

    Prices in USD, sizes in contracts (``position`` signed: + long),
    ``available_margin`` in :attr:`InstrumentRules.margin_currency`, fee rates
    as fractions (0.0005 = 5 bp).
    """

    rules: InstrumentRules
    bid: float | None = None
    ask: float | None = None
    mark: float | None = None
    last: float | None = None
    position: float = 0.0
    available_margin: float | None = None
    maker_fee_rate: float = DEFAULT_MAKER_FEE
    taker_fee_rate: float = DEFAULT_TAKER_FEE

    @property
    def symbol(self) -> str:
        return self.rules.symbol


@dataclass(frozen=True)
class OrderPreview:
    """What an order would do, before it is sent (see :func:`preview`).

    Attributes
    ----------
    price : float or None
        The price the estimates use (USD): the limit price, else the stop
        price, else the side of the book a market order takes.
    notional_usd : float
        Order size in USD at ``price``.
    initial_margin : float
        Extra initial margin the resulting position needs (margin currency;
        0 when the order reduces the position).
    fee, fee_rate : float
        Estimated fee if it executes (margin currency) and the rate used.
    liquidity : {"maker", "taker"}
    distance_bps : float
        ``(price − mark) / mark`` in basis points (NaN without mark or price).
    position, resulting_position : float
        Signed contracts now and after a complete fill.
    errors : tuple of ValidationError
        The same checks :meth:`kfresearch.Client.place_order` makes.
    """

    order: Send
    context: OrderContext
    price: float | None
    notional_usd: float
    initial_margin: float
    fee: float
    fee_rate: float
    liquidity: str
    distance_bps: float
    position: float
    resulting_position: float
    errors: tuple[ValidationError, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def margin_currency(self) -> str:
        return self.context.rules.margin_currency

    def errors_by_field(self) -> dict[str, str]:
        """``{field: message}`` of the first error of each field."""
        out: dict[str, str] = {}
        for error in self.errors:
            out.setdefault(error.field, str(error))
        return out

    def __repr__(self) -> str:
        o = self.order
        return (
            f"<OrderPreview {o.side} {o.size} {self.context.symbol} {o.order_type}: notional "
            f"{self.notional_usd:,.2f} USD, IM {self.initial_margin:,.6g} "
            f"{self.margin_currency}, fee {self.fee:,.6g}, {len(self.errors)} errors>"
        )


def preview(order: Send, context: OrderContext) -> OrderPreview:
    """Estimate notional, margin, fee, distance from mark and resulting position of ``order``.

    Pure: uses only ``context`` (see :meth:`kfresearch.Client.order_context`).

    Examples
    --------
    >>> rules = InstrumentRules.from_instrument({"symbol": "PF_XBTUSD", "tickSize": 1,
    ...     "contractValueTradePrecision": 4, "marginLevels": [
    ...         {"numNonContractUnits": 0, "initialMargin": 0.02}]})
    >>> ctx = OrderContext(rules, bid=79999, ask=80001, mark=80000)
    >>> p = preview(Send("PF_XBTUSD", "buy", 0.5, "mkt"), ctx)
    >>> round(p.notional_usd, 1), round(p.initial_margin, 2), p.liquidity
    (40000.5, 800.01, 'taker')
    """
    order = order.normalised()
    rules = context.rules
    errors = tuple(check_send(order, rules, mark=context.mark, position=context.position))
    size = _float(order.size) or 0.0
    sign = order.sign if order.side in {"buy", "sell"} else 0
    limit, stop = _float(order.limit_price), _float(order.stop_price)
    market_side = context.ask if sign > 0 else context.bid
    price = limit if limit is not None else stop if stop is not None else market_side
    if price is None:
        price = context.mark
    after = context.position + sign * size
    if order.reduce_only and context.position * after < 0:
        after = 0.0  # a reduce-only order is cut at the position
    crossing = (
        limit is not None
        and market_side is not None
        and sign * (limit - market_side) >= 0
    )
    taker = order.order_type in {"mkt", "ioc", "fok", "stp", "trailing_stop"} or (
        order.order_type == "lmt" and crossing
    )
    rate = context.taker_fee_rate if taker else context.maker_fee_rate
    notional = rules.notional_usd(size, price) if price else 0.0
    fee = 0.0
    if price:
        fee = notional * rate / price if rules.inverse else notional * rate
    margin = 0.0
    if price:
        margin = max(
            0.0,
            rules.initial_margin(after, price) - rules.initial_margin(context.position, price),
        )
    mark = context.mark
    distance = (price - mark) / mark * 1e4 if price and mark else math.nan
    return OrderPreview(
        order=order,
        context=context,
        price=price,
        notional_usd=notional,
        initial_margin=margin,
        fee=fee,
        fee_rate=rate,
        liquidity="taker" if taker else "maker",
        distance_bps=distance,
        position=context.position,
        resulting_position=after,
        errors=errors,
    )


def _ticker_prices(body: Any) -> dict[str, float | None]:
    ticker = body.get("ticker") if isinstance(body, Mapping) else None
    ticker = ticker if isinstance(ticker, Mapping) else {}
    return {
        "bid": _float(ticker.get("bid")),
        "ask": _float(ticker.get("ask")),
        "mark": _float(ticker.get("markPrice")),
        "last": _float(ticker.get("last")),
    }


def _position_of(body: Any, symbol: str) -> float:
    """Signed position in ``symbol`` from an ``openpositions`` body (contracts, + long)."""
    total = 0.0
    for row in (body or {}).get("openPositions") or []:
        if str(row.get("symbol", "")).upper() == symbol.upper():
            size = _float(row.get("size")) or 0.0
            total += -abs(size) if str(row.get("side", "")).lower() == "short" else abs(size)
    return total


def _available_margin(body: Any, rules: InstrumentRules) -> float | None:
    wallets = (body or {}).get("accounts") or {}
    if rules.inverse:
        wallet = wallets.get(f"fi_{rules.base.lower()}usd") or {}
        return _float((wallet.get("auxiliary") or {}).get("af"))
    return _float((wallets.get("flex") or {}).get("availableMargin"))


def _fee_rates(body: Any, uid: str | None) -> tuple[float, float]:
    for schedule in (body or {}).get("feeSchedules") or []:
        if uid is None or schedule.get("uid") == uid:
            tiers = schedule.get("tiers") or []
            if tiers:
                maker, taker = _float(tiers[0].get("makerFee")), _float(tiers[0].get("takerFee"))
                if maker is not None and taker is not None:
                    return maker / 100.0, taker / 100.0  # percent on the wire
    return DEFAULT_MAKER_FEE, DEFAULT_TAKER_FEE


def plan_context(symbol: str, instruments_body: Any) -> TradePlan[OrderContext]:
    """Rules, prices, position, available margin and fee rates of ``symbol``."""
    if instruments_body is None:
        instruments_body = (yield [Call("instruments")])[0]
    rules = rules_for(instruments_body, symbol)
    ticker, positions, accounts, fees = yield [
        Call("ticker", path_params={"symbol": rules.symbol}),
        Call("openpositions"),
        Call("accounts"),
        Call("feeschedules"),
    ]
    maker, taker = _fee_rates(fees, rules.fee_schedule_uid)
    return OrderContext(
        rules=rules,
        **_ticker_prices(ticker),
        position=_position_of(positions, rules.symbol),
        available_margin=_available_margin(accounts, rules),
        maker_fee_rate=maker,
        taker_fee_rate=taker,
    )


# --------------------------------------------------------------------------- plans

_SEND = "POST /derivatives/api/v3/sendorder"
_EDIT = "POST /derivatives/api/v3/editorder"
_CANCEL = "POST /derivatives/api/v3/cancelorder"
_CANCEL_ALL = "POST /derivatives/api/v3/cancelallorders"
_BATCH = "POST /derivatives/api/v3/batchorder"


def plan_lookup(
    order_id: str | None = None, client_order_id: str | None = None
) -> TradePlan[OrderResult | None]:
    """Find one order by id or client id: ``orders/status``, then open orders, then fills.

    Returns None when none of them knows it (not processed, or closed more
    than 5 s ago without fills).
    """

    def same(row_order_id: Any, row_cli: Any) -> bool:
        if order_id:
            return bool(row_order_id == order_id)
        return bool(client_order_id and row_cli == client_order_id)

    params = {"orderIds": [order_id]} if order_id else {"cliOrdIds": [client_order_id]}
    status = (yield [Call("order_status", params)])[0]
    for entry in (status or {}).get("orders") or []:
        order = entry.get("order") or {}
        if same(order.get("orderId"), order.get("cliOrdId")):
            return _result_from_lookup(entry, source="status")
    open_orders = (yield [Call("openorders")])[0]
    for row in (open_orders or {}).get("openOrders") or []:
        if same(row.get("order_id"), row.get("cliOrdId")):
            return _result_from_lookup(row, source="open")
    fills = (yield [Call("fills")])[0]
    rows = (fills or {}).get("fills") or []
    mine = [r for r in rows if same(r.get("order_id"), r.get("cliOrdId"))]
    return _result_from_fills(mine) if mine else None


def _lookup_or_unknown(
    order_id: str | None, client_order_id: str | None, cause: BaseException | None
) -> TradePlan[OrderResult | None]:
    try:
        return (yield from plan_lookup(order_id, client_order_id))
    except KFError as err:
        ident = f"client order id {client_order_id!r}" if client_order_id else (
            f"order id {order_id!r}"
        )
        raise OutcomeUnknownError(
            f"The outcome of an order request is unknown and looking it up by {ident} failed "
            f"too ({err}). Nothing was re-sent. Check kf.order_status(client_order_ids=["
            f"{client_order_id!r}]) and kf.open_orders() before trying again.",
            client_order_id=client_order_id,
        ) from (cause or err)


def plan_validated_send(
    order: Send, instruments_body: Any
) -> TradePlan[tuple[Send, InstrumentRules]]:
    """Check ``order`` (shape, then the contract's rules with mark and position); raise the first
    problem as a :class:`ValidationError`, else return the normalised order and its rules."""
    order = order.normalised()
    _raise_first(_shape_errors(order))
    if instruments_body is None:
        instruments_body = (yield [Call("instruments")])[0]
    rules = rules_for(instruments_body, order.symbol)
    calls = []
    if order.order_type in LIMIT_TYPES:
        calls.append(Call("ticker", path_params={"symbol": rules.symbol}))
    if not order.reduce_only and rules.max_position_size is not None:
        calls.append(Call("openpositions"))
    bodies = (yield calls) if calls else []
    mark: float | None = None
    position: float | None = None
    for call, body in zip(calls, bodies, strict=True):
        if call.endpoint == "ticker":
            mark = _ticker_prices(body)["mark"]
        else:
            position = _position_of(body, rules.symbol)
    _raise_first(check_send(order, rules, mark=mark, position=position))
    return replace(order, symbol=rules.symbol), rules


def plan_place(
    order: Send,
    *,
    instruments_body: Any,
    client_order_id: str,
    validate: bool = True,
) -> TradePlan[OrderResult]:
    """Validate, send and, if the outcome is unknown, resolve one new order.

    Raises
    ------
    ValidationError
        Before anything is sent.
    OrderRejected
        The exchange answered a rejection status.
    OutcomeUnknownError
        The order could be neither confirmed nor ruled out.
    """
    order = replace(order, client_order_id=client_order_id)
    rules: InstrumentRules | None = None
    if validate:
        order, rules = yield from plan_validated_send(order, instruments_body)
    else:
        order = order.normalised()
    params = send_params(order, client_order_id, rules)
    for attempt in range(_LOOKUP_RESENDS + 1):
        try:
            body = (yield [Call("sendorder", params)])[0]
        except OutcomeUnknownError as exc:
            found = yield from _lookup_or_unknown(None, client_order_id, exc)
            if found is not None:
                return _accept(replace(found, order_type=order.order_type), _SEND, None)
            if attempt < _LOOKUP_RESENDS:
                continue  # never processed: send again, same client order id
            raise OutcomeUnknownError(
                f"{_SEND}: no answer, and the order with client order id {client_order_id!r} "
                "is neither open, nor recently closed, nor filled. It was sent "
                f"{attempt + 1} times with that id, so the exchange holds at most one. Check "
                "kf.order_history() before placing it again with the same client_order_id.",
                endpoint=_SEND,
                client_order_id=client_order_id,
            ) from exc
        result = _result_from_status("send", _payload(body, "sendStatus", _SEND), order)
        if attempt > 0 and result.status == "clientOrderIdAlreadyExist":
            # the first copy did arrive after all: find it
            found = yield from _lookup_or_unknown(None, client_order_id, None)
            if found is not None:
                return _accept(replace(found, order_type=order.order_type), _SEND, body)
            raise OutcomeUnknownError(
                f"{_SEND}: the client order id {client_order_id!r} is taken, so the first "
                "request was processed, but the order is not open and has no recent fills "
                "(rejected or cancelled already?). Check kf.order_history().",
                endpoint=_SEND,
                client_order_id=client_order_id,
            )
        if attempt > 0:
            result = replace(result, resolved=True)
        return _accept(result, _SEND, body)
    raise AssertionError("unreachable")  # pragma: no cover


def plan_edit(
    edit: Edit, *, instruments_body: Any, validate: bool = True
) -> TradePlan[OrderResult]:
    """Validate and send an edit; an unknown outcome is resolved by comparing the order's state."""
    _raise_first(check_edit(edit))
    rules: InstrumentRules | None = None
    if validate and any(v is not None for v in (edit.size, edit.limit_price, edit.stop_price)):
        lookup = (
            {"orderIds": [edit.order_id]}
            if edit.order_id
            else {"cliOrdIds": [edit.client_order_id]}
        )
        status = (yield [Call("order_status", lookup)])[0]
        entries = (status or {}).get("orders") or []
        if entries:  # not found: send anyway, the exchange answers orderForEditNotFound
            order = entries[0].get("order") or {}
            if instruments_body is None:
                instruments_body = (yield [Call("instruments")])[0]
            rules = rules_for(instruments_body, str(order.get("symbol")))
            resting = order.get("type") == "ORDER" and edit.limit_price is not None
            mark = None
            if resting:
                ticker = (yield [Call("ticker", path_params={"symbol": rules.symbol})])[0]
                mark = _ticker_prices(ticker)["mark"]
            _raise_first(
                check_edit(edit, rules, side=order.get("side"), mark=mark, collar=resting)
            )
    params = _edit_params(edit, rules, batch=False)
    try:
        body = (yield [Call("editorder", params)])[0]
    except OutcomeUnknownError as exc:
        found = yield from _lookup_or_unknown(edit.order_id, edit.client_order_id, exc)
        wanted = {"limit_price": params.get("limitPrice"), "stop_price": params.get("stopPrice")}
        if found is not None and found.status == "placed" and all(
            v is None or getattr(found, k) == v for k, v in wanted.items()
        ) and (params.get("size") is None or found.size - found.filled == params["size"]
               or found.size == params["size"]):
            return replace(found, action="edit", status="edited")
        state = found.describe() if found is not None else "not open"
        raise OutcomeUnknownError(
            f"{_EDIT}: no answer, and the order does not show the change (now: {state}). "
            "The edit was NOT re-sent; check kf.open_orders() and edit again if needed.",
            endpoint=_EDIT,
            client_order_id=edit.client_order_id,
        ) from exc
    return _accept(_result_from_status("edit", _payload(body, "editStatus", _EDIT)), _EDIT, body)


def plan_cancel(
    order_id: str | None = None, client_order_id: str | None = None
) -> TradePlan[OrderResult]:
    """Cancel one order; after an unknown outcome, look it up and cancel again if still open."""
    params = _cancel_params(order_id, client_order_id)
    for attempt in range(2):
        try:
            body = (yield [Call("cancelorder", params)])[0]
        except OutcomeUnknownError as exc:
            found = yield from _lookup_or_unknown(order_id, client_order_id, exc)
            if found is not None and found.status == "placed" and attempt == 0:
                continue  # still open: a second cancel is harmless
            if found is not None and found.status != "placed":
                result = replace(found, action="cancel")
                return _accept(result, _CANCEL, None)
            raise OutcomeUnknownError(
                f"{_CANCEL}: no answer, and the order is no longer open or recent (cancelled by "
                "this request or earlier, or filled). Check kf.fills() and kf.order_history().",
                endpoint=_CANCEL,
                client_order_id=client_order_id,
            ) from exc
        result = _result_from_status("cancel", _payload(body, "cancelStatus", _CANCEL))
        return _accept(replace(result, resolved=attempt > 0), _CANCEL, body)
    raise AssertionError("unreachable")  # pragma: no cover


def plan_cancel_all(symbol: str | None, *, instruments_body: Any) -> TradePlan[CancelAllResult]:
    """Cancel every open order (of ``symbol``); after an unknown outcome, send once more."""
    params: dict[str, Any] = {}
    if symbol is not None:
        if instruments_body is None:
            instruments_body = (yield [Call("instruments")])[0]
        params["symbol"] = rules_for(instruments_body, symbol).symbol
    resolved = False
    try:
        body = (yield [Call("cancelallorders", params)])[0]
    except OutcomeUnknownError:
        resolved = True  # cancelling everything twice cannot add an order
        body = (yield [Call("cancelallorders", params)])[0]
    status = _payload(body, "cancelStatus", _CANCEL_ALL)
    cancelled = tuple(
        (str(row.get("order_id")), row.get("cliOrdId"))
        for row in status.get("cancelledOrders") or []
    )
    return CancelAllResult(
        status=str(status.get("status")),
        cancel_only=str(status.get("cancelOnly") or params.get("symbol") or "all"),
        cancelled=cancelled,
        received_time=_time(status.get("receivedTime")),
        resolved=resolved,
    )


def plan_cancel_all_after(seconds: Any) -> TradePlan[SwitchStatus]:
    """Arm the dead man's switch for ``seconds`` (0 disarms)."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not (
        0 <= seconds < 2**32 and float(seconds).is_integer()
    ):
        raise ValidationError(
            "seconds",
            seconds,
            f"seconds must be a whole number from 0 (disarm) to {2**32 - 1}, got {seconds!r}; "
            "Kraken recommends 60, re-armed every 15–20 s (kf.keep_alive() does that)",
        )
    body = (yield [Call("cancelallordersafter", {"timeout": int(seconds)})])[0]
    status = (body or {}).get("status") or {}
    return SwitchStatus(
        current_time=_time(status.get("currentTime")),
        trigger_time=_time(status.get("triggerTime")),
    )


def plan_order_status(
    order_ids: Iterable[str] | str | None, client_order_ids: Iterable[str] | str | None
) -> TradePlan[pd.DataFrame]:
    """``orders/status`` of the given ids as a frame (:func:`status_frame`)."""

    def listed(name: str, value: Iterable[str] | str | None) -> list[str]:
        items = [value] if isinstance(value, str) else list(value or [])
        if not all(isinstance(i, str) and i for i in items):
            raise ValidationError(name, value, f"{name} must be strings (one id or a list)")
        return items

    ids, clis = listed("ids", order_ids), listed("client_order_ids", client_order_ids)
    if not ids and not clis:
        raise ValidationError("ids", None, "give order ids (ids=) or client_order_ids=")
    params: dict[str, Any] = {}
    if ids:
        params["orderIds"] = ids
    if clis:
        params["cliOrdIds"] = clis
    body = (yield [Call("order_status", params)])[0]
    return status_frame(body)


Instruction = Send | Edit | Cancel


def _batch_item(
    index: int, item: Instruction, rules: InstrumentRules | None, cli: str | None
) -> dict[str, Any]:
    if isinstance(item, Send):
        params = send_params(item, cli, rules)
        params.pop("processBefore", None)
        return {"order": "send", "order_tag": str(index), **params}
    if isinstance(item, Edit):
        return {"order": "edit", **_edit_params(item, rules, batch=True)}
    return {"order": "cancel", **_cancel_params(item.order_id, item.client_order_id)}


def plan_batch(
    items: Sequence[Instruction],
    *,
    instruments_body: Any,
    new_client_order_id: Callable[[], str],
    validate: bool = True,
) -> TradePlan[BatchResult]:
    """Validate and send a batch of send/edit/cancel instructions (reference §4.18).

    New orders get client order ids; an unknown outcome is resolved per
    instruction by lookup, and an instruction that cannot be resolved makes
    the plan raise :class:`OutcomeUnknownError` (``partial``: the resolved rows).
    """
    if not items:
        raise ValidationError("items", items, "a batch needs at least one Send, Edit or Cancel")
    clis: list[str | None] = []
    for i, item in enumerate(items):
        if not isinstance(item, Send | Edit | Cancel):
            raise ValidationError(
                f"items[{i}]", item, "batch items are kfresearch.orders.Send, Edit or Cancel"
            )
        clis.append((item.client_order_id or new_client_order_id()) if isinstance(item, Send)
                    else None)
    sends = [replace(it.normalised(), client_order_id=c) for it, c in zip(items, clis, strict=True)
             if isinstance(it, Send)]
    if validate:
        for i, item in enumerate(items):
            if isinstance(item, Send):
                _raise_first([_renamed(e, i) for e in _shape_errors(item.normalised())])
            elif isinstance(item, Edit):
                _raise_first([_renamed(e, i) for e in check_edit(item)])
            else:
                _cancel_params(item.order_id, item.client_order_id)
    rules_by_symbol: dict[str, InstrumentRules] = {}
    if validate and sends:
        if instruments_body is None:
            instruments_body = (yield [Call("instruments")])[0]
        for send in sends:
            rules = rules_for(instruments_body, send.symbol)
            rules_by_symbol[send.symbol] = rules
        symbols = sorted({r.symbol for r in rules_by_symbol.values()})
        bodies = yield [Call("ticker", path_params={"symbol": s}) for s in symbols] + [
            Call("openpositions")
        ]
        marks = {s: _ticker_prices(b)["mark"] for s, b in zip(symbols, bodies, strict=False)}
        positions = {s: _position_of(bodies[-1], s) for s in symbols}
        for i, item in enumerate(items):
            if not isinstance(item, Send):
                continue
            send = item.normalised()
            rules = rules_by_symbol[send.symbol]
            errors = check_send(send, rules, mark=marks[rules.symbol],
                                position=positions[rules.symbol])
            _raise_first([_renamed(e, i) for e in errors])
            if not send.reduce_only and send.side in {"buy", "sell"}:
                positions[rules.symbol] += send.sign * (_float(send.size) or 0.0)
    payload = [
        _batch_item(
            i,
            item.normalised() if isinstance(item, Send) else item,
            rules_by_symbol.get(item.normalised().symbol) if isinstance(item, Send) else None,
            clis[i],
        )
        for i, item in enumerate(items)
    ]
    params = {"json": orjson.dumps({"batchOrder": payload}).decode()}
    try:
        body = (yield [Call("batchorder", params)])[0]
    except OutcomeUnknownError as exc:
        return (yield from _resolve_batch(items, clis, exc))
    statuses = body.get("batchStatus") if isinstance(body, Mapping) else None
    if not isinstance(statuses, list):
        from kfresearch.errors import DecodeError

        raise DecodeError(f"{_BATCH}: the answer has no 'batchStatus' list", endpoint=_BATCH)
    return BatchResult(tuple(_match_batch(items, clis, statuses)))


def _renamed(error: ValidationError, index: int) -> ValidationError:
    return ValidationError(f"items[{index}].{error.field}", error.value, f"items[{index}]: {error}")


def _match_batch(
    items: Sequence[Instruction], clis: Sequence[str | None], statuses: list[Any]
) -> list[OrderResult]:
    """Results in instruction order (the exchange lists them "in no particular order")."""
    left = [s for s in statuses if isinstance(s, Mapping)]
    out: list[OrderResult] = []
    for i, item in enumerate(items):
        match: Mapping[str, Any] | None = None
        for entry in left:
            if isinstance(item, Send):
                hit = str(entry.get("order_tag")) == str(i) or (
                    clis[i] is not None and entry.get("cliOrdId") == clis[i]
                )
            else:
                hit = entry.get("order_tag") is None and (
                    (item.order_id is not None and entry.get("order_id") == item.order_id)
                    or (item.client_order_id is not None
                        and entry.get("cliOrdId") == item.client_order_id)
                )
            if hit:
                match = entry
                break
        if match is None:
            untagged = [e for e in left if e.get("order_tag") is None] or left
            match = untagged[0] if untagged else {"status": "unknown"}
        if match in left:
            left.remove(match)
        action = (
            "send" if isinstance(item, Send) else "edit" if isinstance(item, Edit) else "cancel"
        )
        intent = replace(item.normalised(), client_order_id=clis[i]) if isinstance(
            item, Send) else None
        out.append(_result_from_status(action, match, intent))
    return out


def _resolve_batch(
    items: Sequence[Instruction], clis: Sequence[str | None], cause: OutcomeUnknownError
) -> TradePlan[BatchResult]:
    results: list[OrderResult] = []
    unknown: list[int] = []
    for i, item in enumerate(items):
        if isinstance(item, Send):
            found = yield from _lookup_or_unknown(None, clis[i], cause)
            if found is None:
                unknown.append(i)
                found = OrderResult("send", "unknown", client_order_id=clis[i], resolved=True)
            results.append(found)
        else:
            found = yield from _lookup_or_unknown(item.order_id, item.client_order_id, cause)
            action = "edit" if isinstance(item, Edit) else "cancel"
            if isinstance(item, Cancel) and (found is None or found.status != "placed"):
                results.append(
                    OrderResult("cancel", "cancelled", item.order_id, item.client_order_id,
                                resolved=True)
                )
            else:
                unknown.append(i)
                results.append(
                    OrderResult(action, "unknown", item.order_id, item.client_order_id,
                                resolved=True)
                )
    batch = BatchResult(tuple(results), resolved=True)
    if unknown:
        error = OutcomeUnknownError(
            f"{_BATCH}: no answer; looked up every instruction: items {unknown} could not be "
            "confirmed (nothing was re-sent). The partial result is in .partial; check "
            "kf.open_orders() before sending them again.",
            endpoint=_BATCH,
        )
        error.partial = batch.to_frame()
        raise error from cause
    return batch
