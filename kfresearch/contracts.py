"""What a contract is, said once: symbols, linear vs inverse, units, funding periods,
the prices each order type takes, and decimals.

Frames, charts, order validation and the order ticket all ask here (the
simulator keeps its own copy on purpose: it is an independent check on the
client).

Symbols (reference §7.1)
------------------------
==========  ============================================  ==========  ==============
prefix      meaning                                       kind        settles in
==========  ============================================  ==========  ==============
``PF_``     perpetual, multi-collateral ("flexible")      linear      quote (USD)
``FF_``     dated (``_YYMMDD``), multi-collateral         linear      quote (USD)
``PI_``     perpetual inverse                             inverse     base (XBT)
``FI_``     dated inverse                                 inverse     base (XBT)
``PV_/FV_`` legacy "vanilla" contracts                    vanilla     (not used here)
``in_``     real-time index (``in_xbtusd``)               index       not tradeable
``rr_``     daily reference rate (``rr_xbtusd``)          index       not tradeable
==========  ============================================  ==========  ==============

A linear contract is sized in base units (0.001 = 0.001 XBT) with PnL in
USD; an inverse one is sized in USD contracts (1 USD each) with margin and
PnL in the base coin.

Example
-------
>>> split_symbol("FI_XBTUSD_261225")
Symbol(prefix='FI', base='XBT', quote='USD', expiry='261225')
>>> kind("PI_XBTUSD"), settlement_currency("PI_XBTUSD"), size_unit("PF_ETHUSD")
('inverse', 'XBT', 'ETH')
>>> decimals(0.0001), order_prices("stp")
(4, OrderPrices(limit_price='optional', stop_price='required', trailing='forbidden'))
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import numpy as np

from kfresearch.errors import ValidationError

__all__ = [
    "HOURS_PER_YEAR",
    "LIMIT_TYPES",
    "ORDER_TYPES",
    "TRIGGER_TYPES",
    "Kind",
    "OrderPrices",
    "Symbol",
    "check_name",
    "check_symbol",
    "currency_decimals",
    "decimals",
    "index_pair",
    "is_inverse",
    "kind",
    "kinds",
    "order_prices",
    "price_unit",
    "settlement_currencies",
    "settlement_currency",
    "size_unit",
    "split_symbol",
    "takes_limit_price",
    "takes_stop_price",
]

HOURS_PER_YEAR = 24 * 365
"""Funding periods per year: perpetuals fund every hour (reference §7.5)."""

Kind = Literal["linear", "inverse", "index", "vanilla"]
_KINDS: dict[str, Kind] = {
    "PF": "linear",
    "FF": "linear",
    "PI": "inverse",
    "FI": "inverse",
    "PV": "vanilla",
    "FV": "vanilla",
    "IN": "index",
    "RR": "index",
}
_QUOTES = ("USDT", "USDC", "USD", "EUR", "GBP", "XBT")
_SYMBOL = re.compile(r"^(?P<prefix>[A-Z]{2})_(?P<pair>[A-Z0-9]+?)(?:_(?P<expiry>\d{6}))?$")


@dataclass(frozen=True)
class Symbol:
    """A symbol in parts: ``PF_XBTUSD`` → prefix ``PF``, base ``XBT``, quote ``USD``;
    ``expiry`` is the ``YYMMDD`` suffix of a dated contract, else None."""

    prefix: str
    base: str
    quote: str
    expiry: str | None = None


def split_symbol(symbol: Any) -> Symbol | None:
    """``"PF_XBTUSD"`` → ``Symbol("PF", "XBT", "USD")``; None when the symbol does not tell
    (any case; ``in_xbtusd`` splits too)."""
    if not isinstance(symbol, str) or not symbol:
        return None
    match = _SYMBOL.match(symbol.strip().upper())
    if match is None:
        return None
    pair = match["pair"]
    for quote in _QUOTES:
        if pair.endswith(quote) and len(pair) > len(quote):
            return Symbol(match["prefix"], pair[: -len(quote)], quote, match["expiry"])
    return None


def kind(symbol: Any) -> Kind | None:
    """``"linear"`` (PF_/FF_), ``"inverse"`` (PI_/FI_), ``"index"`` (in_/rr_),
    ``"vanilla"`` (PV_/FV_), or None for anything else."""
    text = symbol.strip().upper() if isinstance(symbol, str) else ""
    return _KINDS.get(text[:2]) if text[2:3] == "_" else None


def kinds(symbols: Iterable[Any]) -> np.ndarray[Any, np.dtype[np.object_]]:
    """:func:`kind` of each symbol (an object array; None where unknown)."""
    return np.asarray([kind(s) for s in symbols], dtype=object)


def is_inverse(symbol: Any) -> bool:
    """True for PI_/FI_ contracts: sized in USD, margined and settled in the base coin."""
    return kind(symbol) == "inverse"


def index_pair(symbol: Any) -> str | None:
    """The pair of an index symbol, ``"in_xbtusd"`` → ``"XBTUSD"``; None for other symbols."""
    parts = split_symbol(symbol)
    if parts is None or kind(symbol) != "index":
        return None
    return parts.base + parts.quote


def price_unit(symbol: Any) -> str:
    """The quote currency of a contract (``"USD"`` unless the symbol says otherwise)."""
    parts = split_symbol(symbol)
    return parts.quote if parts else "USD"


def size_unit(symbol: Any) -> str:
    """What one contract is: the base coin for linear contracts (``"XBT"``), the quote
    (``"USD"``) for inverse ones, else ``"contracts"``."""
    parts, what = split_symbol(symbol), kind(symbol)
    if parts is None or what not in ("linear", "inverse"):
        return "contracts"
    return parts.base if what == "linear" else parts.quote


def settlement_currency(symbol: Any) -> str:
    """The currency of margin, PnL and absolute funding: the base coin for inverse
    contracts (``"XBT"``), the quote for linear ones (``"USD"``); ``""`` when unknown."""
    parts = split_symbol(symbol)
    if parts is None:
        return ""
    return parts.base if kind(symbol) == "inverse" else parts.quote


def check_name(value: Any, known: Iterable[str], field_name: str, example: str) -> str:
    """``value`` in the spelling of ``known`` (any case); an unknown one raises a
    :class:`ValidationError` naming the closest valid ones.

    >>> check_name("eth", ["XBT", "ETH"], "base", "'XBT'")
    'ETH'
    """
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field_name, value, f"{field_name} must be text like {example}")
    upper = {name.upper(): name for name in known}
    wanted = value.strip().upper()
    if wanted in upper:
        return upper[wanted]
    close = difflib.get_close_matches(wanted, list(upper), n=3, cutoff=0.5)
    hint = (
        f"did you mean {', '.join(upper[c] for c in close)}?" if close else "see kf.instruments()"
    )
    raise ValidationError(field_name, value, f"unknown {field_name} {value!r}: {hint}")


def check_symbol(symbol: Any, known: Iterable[str], field_name: str = "symbol") -> str:
    """``symbol`` in the exchange's spelling; unknown ones raise with the closest valid ones.

    >>> check_symbol("pf_xbtusd", ["PF_XBTUSD", "PI_XBTUSD"])
    'PF_XBTUSD'
    """
    return check_name(symbol, known, field_name, "'PF_XBTUSD'")


def settlement_currencies(symbols: Iterable[Any]) -> np.ndarray[Any, np.dtype[np.object_]]:
    """The settlement currency of each tradeable contract: the quote (``"USD"``) for
    linear ones, the base coin for inverse ones; None for indices and unknown symbols."""
    out: list[str | None] = []
    for symbol in symbols:
        what = kind(symbol)
        out.append(settlement_currency(symbol) if what in ("linear", "inverse") else None)
    return np.asarray(out, dtype=object)


# --------------------------------------------------------------------------- order types

Need = Literal["required", "optional", "forbidden"]


@dataclass(frozen=True)
class OrderPrices:
    """Which prices an order type takes (reference §4.12)."""

    limit_price: Need
    stop_price: Need
    trailing: Need


_ORDER_PRICES: dict[str, OrderPrices] = {
    "lmt": OrderPrices("required", "forbidden", "forbidden"),
    "post": OrderPrices("required", "forbidden", "forbidden"),
    "ioc": OrderPrices("required", "forbidden", "forbidden"),
    "fok": OrderPrices("required", "forbidden", "forbidden"),
    "mkt": OrderPrices("forbidden", "forbidden", "forbidden"),
    # a triggered stop/take-profit becomes a limit order at limit_price, else a market order
    "stp": OrderPrices("optional", "required", "forbidden"),
    "take_profit": OrderPrices("optional", "required", "forbidden"),
    "trailing_stop": OrderPrices("forbidden", "forbidden", "required"),
}

ORDER_TYPES: tuple[str, ...] = tuple(_ORDER_PRICES)
"""The exchange's order types (``orderType`` of ``sendorder``)."""
LIMIT_TYPES = frozenset(t for t, p in _ORDER_PRICES.items() if p.limit_price == "required")
"""Types that rest or match at a limit price: they need ``limit_price``."""
TRIGGER_TYPES = frozenset(
    t for t, p in _ORDER_PRICES.items() if "required" in (p.stop_price, p.trailing)
)
"""Types that wait for a trigger (and take ``trigger_signal``)."""


def order_prices(order_type: str) -> OrderPrices:
    """Which of ``limit_price``, ``stop_price`` and ``trailing`` ``order_type`` takes.

    Raises
    ------
    KeyError
        ``order_type`` is not one of :data:`ORDER_TYPES` (aliases are resolved
        by :class:`kfresearch.Send`, not here).
    """
    return _ORDER_PRICES[order_type]


def takes_limit_price(order_type: str) -> bool:
    """True when ``order_type`` accepts a limit price (required or optional)."""
    prices = _ORDER_PRICES.get(order_type)
    return prices is not None and prices.limit_price != "forbidden"


def takes_stop_price(order_type: str) -> bool:
    """True when ``order_type`` accepts a stop (trigger) price."""
    prices = _ORDER_PRICES.get(order_type)
    return prices is not None and prices.stop_price != "forbidden"


# --------------------------------------------------------------------------- decimals


def decimals(step: float) -> int:
    """Decimal places of a grid step: ``1.0`` → 0, ``0.5`` → 1, ``0.0001`` → 4, ``100`` → 0."""
    exponent = Decimal(repr(float(step))).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def currency_decimals(currency: str) -> int:
    """Decimals to show an amount of ``currency`` with: 2 for fiat and stablecoins, 8 for
    coins (``"XBT"``: satoshis)."""
    return 2 if currency.upper() in {"USD", "EUR", "GBP", "USDT", "USDC"} else 8
