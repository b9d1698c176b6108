"""Contract maths of the simulated exchange: margin tiers, PnL, fees, funding (reference §7).

Pure functions of numbers and an :class:`InstrumentSpec`; no state, no market.
Sizes are signed contracts (positive = long). Amounts are in the contract's
*settlement currency*: USD for linear ``PF_`` contracts, the base coin (XBT,
ETH …) for inverse ``PI_``/``FI_`` contracts.

Example
-------
>>> from kfresearch.sim.instruments import InstrumentSpec, MarginTier
>>> tiers = (MarginTier(0, 0.02, 0.01), MarginTier(500_000, 0.04, 0.02))
>>> tranche_sum(600_000, tiers, initial=True)  # 2 % of 500k + 4 % of 100k
14000.0
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from kfresearch.sim.instruments import InstrumentSpec, MarginTier

__all__ = [
    "HOUR_MS",
    "MAKER_FEE",
    "TAKER_FEE",
    "Exposure",
    "FeeTier",
    "FlexSummary",
    "PositionRisk",
    "WalletSummary",
    "apply_trade",
    "fee",
    "fee_tier",
    "flex_margin",
    "flex_summary",
    "funding_accrual",
    "notional_usd",
    "position_exposure",
    "position_risk",
    "price_where_equity_meets",
    "round_size",
    "tranche_sum",
    "unrealized_pnl",
    "wallet_margin",
    "wallet_summary",
]

MAKER_FEE = 0.0002  # 0.02 % of notional: the first tier's maker rate
TAKER_FEE = 0.0005  # 0.05 % of notional: the first tier's taker rate
HOUR_MS = 3_600_000


@dataclass(frozen=True)
class FeeTier:
    """The fee tier a 30-day USD volume falls in; rates are fractions of notional."""

    index: int
    maker: float
    taker: float


def fee_tier(volume_usd: float, tiers: Sequence[tuple[float, float, float]]) -> FeeTier:
    """The tier of ``volume_usd`` in ``tiers`` (``(from volume, maker %, taker %)`` as
    ``/feeschedules`` publishes them, ascending): the last tier whose volume is reached.

    >>> fee_tier(250_000.0, ((0.0, 0.02, 0.05), (100_000.0, 0.015, 0.04)))
    FeeTier(index=1, maker=0.00015, taker=0.0004)
    """
    chosen = 0
    for i, (lower, _, _) in enumerate(tiers):
        if volume_usd >= lower:
            chosen = i
    _, maker, taker = tiers[chosen]
    return FeeTier(chosen, maker / 100.0, taker / 100.0)


def round_size(spec: InstrumentSpec, size: float) -> float:
    """``size`` rounded to the contract's size precision (drops float dust like 0.1 + 0.2)."""
    value = round(size, spec.precision)
    return 0.0 if value == 0 else value


@functools.lru_cache(maxsize=256)
def _sorted_tiers(tiers: tuple[MarginTier, ...]) -> tuple[MarginTier, ...]:
    return tuple(sorted(tiers, key=lambda tier: tier.lower))


# a contract's tiers object -> (it, its tiers sorted): hashing the tiers for the lru_cache
# cost more than the sum, and an order sums them a few times per position
_ascending_by_id: dict[int, tuple[Sequence[MarginTier], tuple[MarginTier, ...]]] = {}


def _ascending(tiers: Sequence[MarginTier]) -> tuple[MarginTier, ...]:
    found = _ascending_by_id.get(id(tiers))
    if found is not None and found[0] is tiers and isinstance(tiers, tuple):
        return found[1]
    ordered = _sorted_tiers(tuple(tiers))
    if isinstance(tiers, tuple):  # immutable: safe to know by identity while it is held here
        if len(_ascending_by_id) >= 256:
            _ascending_by_id.clear()
        _ascending_by_id[id(tiers)] = (tiers, ordered)
    return ordered


def tranche_sum(amount: float, tiers: Sequence[MarginTier], *, initial: bool) -> float:
    """Margin for ``amount`` with each tier's rate applied to the slice inside that tier.

    ``amount`` is in the unit the tiers are keyed in (USD notional for linear,
    contracts for inverse); the answer is in the same unit. The first tier
    covers everything below the second tier's ``lower``.
    """
    ordered = _ascending(tiers)
    total = 0.0
    for i, tier in enumerate(ordered):
        start = 0.0 if i == 0 else tier.lower
        end = ordered[i + 1].lower if i + 1 < len(ordered) else math.inf
        if amount <= start:
            break
        rate = tier.initial if initial else tier.maintenance
        total += (min(amount, end) - start) * rate
    return total


def notional_usd(spec: InstrumentSpec, size: float, price: float) -> float:
    """USD value of ``|size|`` contracts at ``price`` (inverse contracts are worth 1 USD each)."""
    if spec.is_inverse:
        return abs(size) * spec.contract_size
    return abs(size) * spec.contract_size * price


def margin_requirement(
    spec: InstrumentSpec,
    size: float,
    mark: float,
    *,
    initial: bool,
    max_leverage: float | None = None,
) -> float:
    """Initial or maintenance margin of ``size`` contracts at ``mark``, in settlement currency.

    Linear: tiers keyed by USD notional (``size x mark``), margin in USD.
    Inverse: tiers keyed by contracts, the USD amount is converted to coin at
    ``mark``. An isolated position (``max_leverage`` set) needs
    ``notional / max_leverage`` of initial margin (a documented simplification
    of Kraken's isolated margin); its maintenance margin still follows the tiers.
    """
    if size == 0 or mark <= 0:
        return 0.0
    if initial and max_leverage:
        usd = notional_usd(spec, size, mark) / max_leverage
        return usd / mark if spec.is_inverse else usd
    if spec.is_inverse:
        return (
            tranche_sum(abs(size) * spec.contract_size, spec.margin_levels, initial=initial) / mark
        )
    return tranche_sum(notional_usd(spec, size, mark), spec.margin_levels, initial=initial)


def unrealized_pnl(spec: InstrumentSpec, size: float, entry: float, price: float) -> float:
    """PnL of ``size`` contracts bought (size > 0) or sold at ``entry``, valued at ``price``.

    Linear: ``(price - entry) x size`` USD. Inverse: ``(1/entry - 1/price) x size``
    coin (reference §7.3).
    """
    if size == 0 or entry <= 0 or price <= 0:
        return 0.0
    if spec.is_inverse:
        return (1.0 / entry - 1.0 / price) * size * spec.contract_size
    return (price - entry) * size * spec.contract_size


def fee(spec: InstrumentSpec, quantity: float, price: float, rate: float) -> float:
    """Fee for trading ``|quantity|`` contracts at ``price``: USD for linear, coin for inverse."""
    if spec.is_inverse:
        return abs(quantity) * spec.contract_size / price * rate
    return abs(quantity) * spec.contract_size * price * rate


def funding_accrual(size: float, absolute_rate: float, duration_ms: int) -> float:
    """Funding received by a position over ``duration_ms``, scaled by ``HOUR_MS`` (negative = paid).

    ``absolute_rate`` is per contract per hour in settlement currency
    (reference §7.5), so a whole hour brings ``-size x rate``: longs pay a
    positive rate, shorts receive it. The amount is kept multiplied by the
    hour's length so that minute-sized pieces add up without float dust;
    divide the sum by ``HOUR_MS``.
    """
    return -size * absolute_rate * duration_ms


@dataclass(frozen=True)
class TradeResult:
    """How one fill changed a position (reference §4.25 ``positionChange``)."""

    old_size: float
    new_size: float
    old_entry: float | None
    new_entry: float | None
    realized_pnl: float
    change: str  # open | close | increase | decrease | reverse


def apply_trade(
    spec: InstrumentSpec, size: float, entry: float | None, quantity: float, price: float
) -> TradeResult:
    """Add a fill of signed ``quantity`` at ``price`` to a position of ``size`` at ``entry``.

    Increases average the entry price (arithmetic in price for linear,
    harmonic for inverse because an inverse contract's coin value is
    ``1/price``); decreases realise PnL on the closed part; a reversal closes
    everything and opens the rest at ``price``.
    """
    new_size = round_size(spec, size + quantity)
    if size == 0 or entry is None:
        return TradeResult(size, new_size, None, price, 0.0, "open")
    if size * quantity > 0:
        if spec.is_inverse:
            new_entry = (abs(size) + abs(quantity)) / (abs(size) / entry + abs(quantity) / price)
        else:
            new_entry = (abs(size) * entry + abs(quantity) * price) / (abs(size) + abs(quantity))
        return TradeResult(size, new_size, entry, new_entry, 0.0, "increase")
    closed = min(abs(quantity), abs(size))
    realized = unrealized_pnl(spec, math.copysign(closed, size), entry, price)
    if new_size == 0:
        return TradeResult(size, 0.0, entry, None, realized, "close")
    if new_size * size > 0:
        return TradeResult(size, new_size, entry, entry, realized, "decrease")
    return TradeResult(size, new_size, entry, price, realized, "reverse")


@dataclass(frozen=True)
class PositionRisk:
    """One position valued at the mark, amounts in the contract's settlement currency."""

    spec: InstrumentSpec
    size: float
    entry: float
    mark: float
    pnl: float
    unrealized_funding: float
    initial_margin: float
    initial_margin_with_orders: float
    maintenance_margin: float
    max_leverage: float | None = None

    @property
    def notional_usd(self) -> float:
        return notional_usd(self.spec, self.size, self.mark)


def position_risk(
    spec: InstrumentSpec,
    size: float,
    entry: float,
    mark: float,
    unrealized_funding: float,
    *,
    open_buys: float = 0.0,
    open_sells: float = 0.0,
    max_leverage: float | None = None,
) -> PositionRisk:
    """Value a position and its margin; resting orders count on their worse side.

    ``open_buys``/``open_sells`` are unfilled contracts of resting,
    non-reduce-only orders. The margin "with orders" is that of the larger of
    ``|size + open_buys|`` and ``|size - open_sells|``: the position the account
    would hold if every order on one side filled.
    """
    worst = max(abs(size + open_buys), abs(size - open_sells))
    exposure = position_exposure(spec, size, entry, mark, unrealized_funding)
    return PositionRisk(
        spec=spec,
        size=size,
        entry=entry,
        mark=mark,
        pnl=exposure.pnl,
        unrealized_funding=unrealized_funding,
        initial_margin=margin_requirement(
            spec, size, mark, initial=True, max_leverage=max_leverage
        ),
        initial_margin_with_orders=margin_requirement(
            spec, worst, mark, initial=True, max_leverage=max_leverage
        ),
        maintenance_margin=exposure.maintenance_margin,
        max_leverage=max_leverage,
    )


class Exposure(NamedTuple):
    """What liquidation reads of a position at the mark: :class:`PositionRisk` without
    the initial margins (and without the orders, which only those count).

    Amounts in the contract's settlement currency; the same numbers as the
    :class:`PositionRisk` of the same position.
    """

    spec: InstrumentSpec
    size: float
    pnl: float
    unrealized_funding: float
    maintenance_margin: float


def position_exposure(
    spec: InstrumentSpec, size: float, entry: float, mark: float, unrealized_funding: float
) -> Exposure:
    """A position's PnL and maintenance margin at ``mark`` (:class:`Exposure`).

    >>> position_exposure(spec, 2.0, 90_000.0, 91_000.0, -3.0)   # doctest: +SKIP
    Exposure(spec=..., size=2.0, pnl=2000.0, unrealized_funding=-3.0, maintenance_margin=1820.0)
    """
    return Exposure(
        spec,
        size,
        unrealized_pnl(spec, size, entry, mark) if size else 0.0,
        unrealized_funding,
        margin_requirement(spec, size, mark, initial=False),
    )


@dataclass(frozen=True)
class CurrencyValue:
    """A collateral currency in the flex wallet (values in USD)."""

    quantity: float
    value: float
    collateral: float
    haircut: float


@dataclass(frozen=True)
class FlexSummary:
    """The multi-collateral wallet in USD (reference §4.9 ``flex``, §7.4)."""

    currencies: dict[str, CurrencyValue]
    balance_value: float
    collateral_value: float
    pnl: float
    unrealized_funding: float
    initial_margin: float
    initial_margin_with_orders: float
    maintenance_margin: float
    risks: tuple[PositionRisk, ...] = field(default=())

    @property
    def total_unrealized(self) -> float:
        return self.pnl + self.unrealized_funding

    @property
    def total_unrealized_as_margin(self) -> float:
        # USD PnL needs no haircut or conversion, so it counts one for one.
        return self.total_unrealized

    @property
    def portfolio_value(self) -> float:
        return self.balance_value + self.total_unrealized

    @property
    def margin_equity(self) -> float:
        return self.collateral_value + self.total_unrealized_as_margin

    @property
    def available_margin(self) -> float:
        # Resting orders reserve margin, as on the exchange's balances feed.
        return self.margin_equity - self.initial_margin_with_orders


def flex_summary(
    balances: dict[str, float],
    usd_values: dict[str, float],
    haircuts: dict[str, float],
    risks: Iterable[PositionRisk],
) -> FlexSummary:
    """Sum the flex wallet: collateral after haircuts plus linear positions' PnL and margin."""
    currencies = {
        code: CurrencyValue(
            quantity,
            quantity * usd_values[code],
            quantity * usd_values[code] * (1 - haircuts.get(code, 0.0)),
            haircuts.get(code, 0.0),
        )
        for code, quantity in balances.items()
    }
    items = tuple(risks)
    return FlexSummary(
        currencies=currencies,
        balance_value=math.fsum(c.value for c in currencies.values()),
        collateral_value=math.fsum(c.collateral for c in currencies.values()),
        pnl=math.fsum(r.pnl for r in items),
        unrealized_funding=math.fsum(r.unrealized_funding for r in items),
        initial_margin=math.fsum(r.initial_margin for r in items),
        initial_margin_with_orders=math.fsum(r.initial_margin_with_orders for r in items),
        maintenance_margin=math.fsum(r.maintenance_margin for r in items),
        risks=items,
    )


def flex_margin(
    balances: dict[str, float],
    usd_values: dict[str, float],
    haircuts: dict[str, float],
    exposures: Sequence[Exposure],
) -> tuple[float, float]:
    """The flex wallet's (margin equity, maintenance margin) in USD: what liquidation reads
    of :func:`flex_summary` (its ``margin_equity`` and ``maintenance_margin``, the same
    floats), without the currencies' values and the initial margins.

    >>> flex_margin({"USD": 1000.0}, {"USD": 1.0}, {}, [])
    (1000.0, 0.0)
    """
    collateral = math.fsum(
        quantity * usd_values[code] * (1 - haircuts.get(code, 0.0))
        for code, quantity in balances.items()
    )
    unrealized = math.fsum(e.pnl for e in exposures) + math.fsum(
        e.unrealized_funding for e in exposures
    )
    return collateral + unrealized, math.fsum(e.maintenance_margin for e in exposures)


@dataclass(frozen=True)
class WalletSummary:
    """A single-collateral (inverse) wallet in its coin (reference §4.9 ``marginAccount``)."""

    currency: str
    balance: float
    pnl: float
    unrealized_funding: float
    initial_margin: float
    initial_margin_with_orders: float
    maintenance_margin: float
    risks: tuple[PositionRisk, ...] = field(default=())

    @property
    def portfolio_value(self) -> float:
        return self.balance + self.pnl + self.unrealized_funding

    @property
    def available(self) -> float:
        return self.portfolio_value - self.initial_margin_with_orders

    @property
    def liquidation_threshold(self) -> float:
        # The engine liquidates at maintenance margin, so the two coincide.
        return self.maintenance_margin

    @property
    def termination_threshold(self) -> float:
        # Not in the reference; the spec example's tt/mm ratio (15.84/23.76).
        return self.maintenance_margin * 2.0 / 3.0


def wallet_summary(currency: str, balance: float, risks: Iterable[PositionRisk]) -> WalletSummary:
    """Sum a single-collateral wallet holding ``balance`` coin and inverse positions."""
    items = tuple(risks)
    return WalletSummary(
        currency=currency,
        balance=balance,
        pnl=math.fsum(r.pnl for r in items),
        unrealized_funding=math.fsum(r.unrealized_funding for r in items),
        initial_margin=math.fsum(r.initial_margin for r in items),
        initial_margin_with_orders=math.fsum(r.initial_margin_with_orders for r in items),
        maintenance_margin=math.fsum(r.maintenance_margin for r in items),
        risks=items,
    )


def wallet_margin(balance: float, exposures: Sequence[Exposure]) -> tuple[float, float]:
    """A single-collateral wallet's (portfolio value, maintenance margin) in its coin: what
    liquidation reads of :func:`wallet_summary` (the same floats).

    >>> wallet_margin(1.5, [])
    (1.5, 0.0)
    """
    pnl = math.fsum(e.pnl for e in exposures)
    funding = math.fsum(e.unrealized_funding for e in exposures)
    return balance + pnl + funding, math.fsum(e.maintenance_margin for e in exposures)


def price_where_equity_meets(risk: PositionRisk, equity: float, requirement: float) -> float:
    """Mark price at which ``equity`` would fall to ``requirement``, other things equal; 0 if none.

    Linear (USD): equity moves by ``size x dP`` and the requirement scales
    with the price at its current effective rate ``r``; solving
    ``E + s(P - m) = r|s|P`` gives ``P = (s m - E) / (s - r|s|)``.
    Inverse (coin): equity is ``E + s/m - s/P`` and the requirement ``c/P``
    with ``c`` in USD; solving gives ``P = (s + c) / (E + s/m)``.
    """
    size, mark = risk.size, risk.mark
    if size == 0 or mark <= 0:
        return 0.0
    if risk.spec.is_inverse:
        contracts = size * risk.spec.contract_size
        denominator = equity + contracts / mark
        price = (contracts + requirement * mark) / denominator if denominator else 0.0
    else:
        rate = requirement / risk.notional_usd if risk.notional_usd else 0.0
        denominator = size - rate * abs(size)
        price = (size * mark - equity) / denominator if denominator else 0.0
    return price if math.isfinite(price) and price > 0 else 0.0
