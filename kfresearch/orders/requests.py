"""Order instructions (Send, Edit, Cancel, Trailing), their validation and wire parameters.

Part of :mod:`kfresearch.orders` (see its docstring for the rules).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from kfresearch.contracts import (
    LIMIT_TYPES,
    ORDER_TYPES,
    TRIGGER_TYPES,
    decimals,
    order_prices,
    takes_stop_price,
)
from kfresearch.errors import ValidationError
from kfresearch.orders.rules import (
    InstrumentRules,
    as_float,
    iso_ms,
    neighbours,
    on_grid,
    plain,
    positive_number,
    step_text,
)
from kfresearch.orders.statuses import (
    MAX_CLIENT_ORDER_ID,
    PRICE_COLLAR,
    SIGNAL_ALIASES,
    SIGNALS,
    TRAILING_PERCENT_RANGE,
    TYPE_ALIASES,
)
from kfresearch.timeparse import TimeLike, time_argument

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
        return (
            f"{plain(self.deviation)}%"
            if self.unit == "percent"
            else (f"{plain(self.deviation)} USD")
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
    process_before: TimeLike | None = None

    def __post_init__(self) -> None:
        # a truthy string such as "no" must not become reduceOnly=true on the wire
        for name in ("reduce_only", "post_only"):
            value = getattr(self, name)
            if isinstance(value, np.bool_):
                object.__setattr__(self, name, bool(value))
            elif not isinstance(value, bool):
                raise ValidationError(
                    name, value, f"{name} must be True or False, got {value!r}"
                )

    def normalised(self) -> Send:
        """Canonical spellings: type aliases, lower-case side, ``post_only`` → ``post``."""
        kind = str(self.order_type).strip().lower()
        kind = TYPE_ALIASES.get(kind, kind)
        if self.post_only and kind == "lmt":
            kind = "post"
        signal = self.trigger_signal
        if isinstance(signal, str):
            signal = signal.strip().lower()
            signal = SIGNAL_ALIASES.get(signal, signal)
        new = (str(self.symbol).strip(), str(self.side).strip().lower(), kind, signal or None)
        old = (self.symbol, self.side, self.order_type, self.trigger_signal)
        if new == old and all(type(a) is type(b) for a, b in zip(new, old, strict=True)):
            return self  # normalised already (the plans normalise the same order more than once)
        symbol, side, kind, signal = new
        return replace(self, symbol=symbol, side=side, order_type=kind, trigger_signal=signal)

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


def shape_errors(order: Send) -> list[ValidationError]:
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
    positive_number("size", order.size, errors, "contracts")
    if order.size is None:
        errors.append(ValidationError("size", None, "size is required (contracts)"))
    limit = positive_number("limit_price", order.limit_price, errors, "USD")
    stop = positive_number("stop_price", order.stop_price, errors, "USD, the trigger price")
    prices = order_prices(kind)
    if prices.limit_price == "required" and order.limit_price is None:
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
    if prices.stop_price == "required" and order.stop_price is None:
        errors.append(
            ValidationError(
                "stop_price",
                None,
                f"stop_price (the trigger price) is required for order_type {kind!r}",
            )
        )
    stoppable = sorted(t for t in ORDER_TYPES if takes_stop_price(t))
    if kind != "trailing_stop" and not takes_stop_price(kind) and order.stop_price is not None:
        errors.append(
            ValidationError(
                "stop_price",
                order.stop_price,
                f"stop_price is only for {', '.join(stoppable)} orders, not {kind!r}; "
                "use order_type='stp' for a stop",
            )
        )
    if prices.trailing == "required":
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
    if order.process_before is not None:
        try:
            time_argument("process_before", order.process_before)
        except ValidationError as exc:
            errors.append(exc)
    return errors


def _trailing_errors(value: Any, *, required: bool) -> list[ValidationError]:
    if value is None:
        if required:
            return [
                ValidationError(
                    "trailing",
                    None,
                    "trailing is required for a trailing_stop: e.g. "
                    "trailing='1%' (percent) or trailing='250 usd'",
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
                "trailing",
                value,
                f"trailing unit must be 'percent' or 'quote', got {trailing.unit!r}",
            )
        ]
    if trailing.unit == "percent" and not low <= trailing.deviation <= high:
        return [
            ValidationError(
                "trailing",
                value,
                f"trailing deviation {plain(trailing.deviation)}% is outside "
                f"{plain(low)}–{plain(high)}%",
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


def _price_errors(name: str, price: float | None, rules: InstrumentRules) -> list[ValidationError]:
    if price is None or rules.tick_size is None or on_grid(price, rules.tick_size):
        return []
    low, high = neighbours(price, rules.tick_size)
    return [
        ValidationError(
            name,
            price,
            f"{name} {plain(price)} is off the {step_text(rules.tick_size)} tick for "
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
                f"size {plain(size)} is below the minimum {plain(step)} for {rules.symbol}; "
                f"the smallest order is {plain(step)} contracts",
            )
        ]
    if not on_grid(size, step):
        low, high = neighbours(size, step)
        return [
            ValidationError(
                "size",
                size,
                f"size {plain(size)} is not a multiple of the {plain(step)} contract step for "
                f"{rules.symbol}; nearest valid: {plain(low)} or {plain(high)}",
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
        places = decimals(rules.tick_size)
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
            f"limit_price {plain(price)} is {abs(reach) * 100:.1f}% {way} the mark "
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
            f"size {plain(size)} would take the {rules.symbol} position from "
            f"{plain(current)} to {plain(after)}, beyond the maximum position size "
            f"{plain(limit)}; at most {plain(rules.snap_size(room))} more can be {verb}",
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
    errors = shape_errors(order)
    if rules is None or any(e.field in {"side", "order_type"} for e in errors):
        return errors
    return rule_errors(order, rules, errors, mark=mark, position=position)


def rule_errors(
    order: Send,
    rules: InstrumentRules,
    errors: list[ValidationError],
    *,
    mark: float | None = None,
    position: float | None = None,
) -> list[ValidationError]:
    """:func:`check_send`'s errors of a normalised ``order`` whose :func:`shape_errors` are
    ``errors`` (the plans check the shape first, then the rules: once each)."""
    errors = list(errors)
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
    size = as_float(order.size) if "size" not in bad else None
    limit = as_float(order.limit_price) if "limit_price" not in bad else None
    stop = as_float(order.stop_price) if "stop_price" not in bad else None
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
    size = positive_number("size", edit.size, errors, "contracts")
    limit = positive_number("limit_price", edit.limit_price, errors, "USD")
    stop = positive_number("stop_price", edit.stop_price, errors, "USD")
    errors += _trailing_errors(edit.trailing, required=False)
    if edit.qty_mode is not None and str(edit.qty_mode).lower() not in {"relative", "absolute"}:
        errors.append(
            ValidationError(
                "qty_mode",
                edit.qty_mode,
                "qty_mode must be 'relative' (new open size) or "
                "'absolute' (total size including fills)",
            )
        )
    if rules is not None:
        errors += _size_errors(size, rules)
        errors += _price_errors("limit_price", limit, rules)
        errors += _price_errors("stop_price", stop, rules)
        if collar and side and not any(e.field == "limit_price" for e in errors):
            errors += _collar_errors(side, limit, rules, mark)
    return errors


def raise_first(errors: Sequence[ValidationError]) -> None:
    if errors:
        raise errors[0]


def _clean(value: Any, step: float | None) -> float | None:
    """``value`` as a float without float dust (``0.30000000000000004`` → ``0.3``)."""
    number = as_float(value)
    if number is None or step is None or not on_grid(number, step):
        return number
    return round(round(number / step) * step, decimals(step))


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
        "size": _clean(order.size, size_step) if as_float(order.size) is not None else order.size,
    }
    for name, value in (("limitPrice", order.limit_price), ("stopPrice", order.stop_price)):
        if value is not None:
            params[name] = _clean(value, tick) if as_float(value) is not None else value
    if order.trigger_signal is not None and order.order_type in TRIGGER_TYPES:
        params["triggerSignal"] = order.trigger_signal
    if order.reduce_only:
        params["reduceOnly"] = True
    if order.trailing is not None:
        params |= Trailing.parse(order.trailing).params()
    if client_order_id is not None:
        params["cliOrdId"] = client_order_id
    if order.process_before is not None:
        params["processBefore"] = iso_ms(order.process_before)
    return params


def edit_params(edit: Edit, rules: InstrumentRules | None, *, batch: bool) -> dict[str, Any]:
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


def cancel_params(order_id: str | None, client_order_id: str | None) -> dict[str, Any]:
    if order_id:
        return {"order_id": order_id}
    if client_order_id:
        return {"cliOrdId": client_order_id}
    raise ValidationError("order_id", None, "give the order_id or the client_order_id to cancel")


Instruction = Send | Edit | Cancel
