"""Contract rules (tick, size step, maximum position) and the number helpers they need.

Part of :mod:`kfresearch.orders` (see its docstring for the rules).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from numbers import Real
from typing import Any

import pandas as pd

from kfresearch.contracts import check_symbol, decimals, is_inverse
from kfresearch.errors import ValidationError
from kfresearch.timeparse import time_argument, to_timestamp

# --------------------------------------------------------------------------- numbers


def plain(value: float) -> str:
    """``88000.0`` → ``'88000'``, ``1e-06`` → ``'0.000001'``: numbers as people write them."""
    if not math.isfinite(value):
        return repr(value)
    text = format(Decimal(repr(float(value))).normalize(), "f")
    return "0" if text in {"-0", "0"} else text


def step_text(step: float) -> str:
    """A grid step as in the error messages: ``1.0``, ``0.5``, ``0.0001``, ``100``."""
    text = format(Decimal(repr(float(step))), "f")
    return text


def on_grid(value: float, step: float) -> bool:
    units = value / step
    return abs(units - round(units)) < 1e-7


def neighbours(value: float, step: float) -> tuple[float, float]:
    """The grid values just below and above ``value`` (both ``value`` when it is on the grid)."""
    places = decimals(step)
    low = math.floor(value / step + 1e-9) * step
    return round(low, places), round(low + step, places)


def as_float(value: Any) -> float | None:
    """A float from a number or a decimal string; None for null, ``""`` or junk."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def positive_number(
    field_name: str, value: Any, errors: list[ValidationError], what: str
) -> float | None:
    """``value`` as a positive finite float, else an error naming ``field_name``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Real | Decimal | str):
        errors.append(
            ValidationError(
                field_name, value, f"{field_name} must be a number ({what}), got {value!r}"
            )
        )
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, InvalidOperation):
        errors.append(
            ValidationError(
                field_name, value, f"{field_name} must be a number ({what}), got {value!r}"
            )
        )
        return None
    if not math.isfinite(number) or number <= 0:
        errors.append(
            ValidationError(
                field_name, value, f"{field_name} must be a positive number ({what}), got {value!r}"
            )
        )
        return None
    return number


def iso_ms(value: Any, name: str = "process_before") -> str:
    """``value`` (any :data:`~kfresearch.timeparse.TimeLike`) as ISO-8601 with milliseconds."""
    stamp = time_argument(name, value)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


# the exchange's own time format ("2026-10-01T12:00:00.000Z"): read without the general parser
_EXCHANGE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z")


def parse_time(value: Any) -> pd.Timestamp | None:
    """A time of an answer (ISO text or epoch) as a UTC ns Timestamp; None when absent or junk.

    >>> parse_time("2026-10-01T12:00:00.250Z")
    Timestamp('2026-10-01 12:00:00.250000+0000', tz='UTC')
    """
    if value in (None, "", "0"):
        return None
    if isinstance(value, str) and _EXCHANGE_TIME.fullmatch(value):
        # every answer has one (receivedTime): the same Timestamp as to_timestamp's, faster
        with contextlib.suppress(ValueError):
            return pd.Timestamp(dt.datetime.fromisoformat(value)).as_unit("ns")
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
        digits = as_float(precision)
        step = 10.0 ** -int(digits) if digits is not None else None
        tick = as_float(raw.get("tickSize"))
        inverse = str(raw.get("type", "")).lower() == "futures_inverse" or is_inverse(symbol)
        base = str(raw.get("base") or "")
        if not base:
            core = symbol.split("_")[1] if "_" in symbol else symbol
            base = core[:-3] if core.upper().endswith("USD") else core
        levels: list[tuple[float, float]] = []
        for tier in raw.get("marginLevels") or raw.get("retailMarginLevels") or []:
            start = as_float(tier.get("numNonContractUnits", tier.get("contracts"))) or 0.0
            rate = as_float(tier.get("initialMargin"))
            if rate is not None:
                levels.append((start, rate))
        return cls(
            symbol=symbol,
            tick_size=tick if tick and tick > 0 else None,
            size_step=step,
            max_position_size=as_float(raw.get("maxPositionSize")),
            tradeable=bool(raw.get("tradeable", True)),
            post_only_market=bool(raw.get("postOnly", False)),
            contract_size=as_float(raw.get("contractSize")) or 1.0,
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
        return round(round(price / self.tick_size) * self.tick_size, decimals(self.tick_size))

    def snap_size(self, size: float, *, down: bool = True) -> float:
        """``size`` on the contract step (rounded down by default: never more than asked)."""
        if self.size_step is None:
            return size
        units = size / self.size_step
        whole = math.floor(units + 1e-9) if down else round(units)
        return round(whole * self.size_step, decimals(self.size_step))

    def format_price(self, price: float) -> str:
        if self.tick_size is None:
            return plain(price)
        return f"{price:.{decimals(self.tick_size)}f}"

    def format_size(self, size: float) -> str:
        return plain(size)

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
    global _last_rules
    last = _last_rules
    if last is not None and last[0] is instruments_body and last[1] == symbol:
        return last[2]
    rows = [r for r in (instruments_body or {}).get("instruments", []) if "symbol" in r]
    name = check_symbol(symbol, [str(r["symbol"]) for r in rows], field_name)
    rules = InstrumentRules.from_instrument(next(r for r in rows if str(r["symbol"]) == name))
    if instruments_body is not None:
        # a client asks again and again of the instruments body it holds (it reads a fresh
        # one, a new object, when that one is old): the same rules, without the scan
        _last_rules = (instruments_body, symbol, rules)
    return rules


_last_rules: tuple[Any, str, InstrumentRules] | None = None
