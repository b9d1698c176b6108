"""Contract specifications the simulator trades (reference §7).

:class:`InstrumentSpec` is the one description of a contract that the market
(prices), the engine (orders, margin) and the REST layer (``/instruments``)
share. :func:`catalog` builds the list for a given time: linear perpetuals
``PF_*``, inverse perpetuals ``PI_*`` and dated inverse ``FI_XBTUSD_<YYMMDD>``
at the next two month-/quarter-ends.

Dated contracts expire on the last Friday of their month at 16:00 London time
(15:00 UTC while British Summer Time is in force, 16:00 UTC otherwise), which
matches the spec example ``FI_XBTUSD_220930`` → ``2022-09-30T15:00:00.000Z``.
At any time two of them are listed: the *front* contract (the next expiry,
tagged ``quarter`` in March/June/September/December and ``month`` otherwise)
and the next quarter-end after it. A contract is listed from the moment it
enters that pair until its ``lastTradingTime`` (exclusive).

Example
-------
>>> from kfresearch.sim.clock import parse_time_ms
>>> [s.symbol for s in catalog(parse_time_ms("2026-11-01T00:00:00Z"))][-2:]
['FI_XBTUSD_261127', 'FI_XBTUSD_261225']
"""

from __future__ import annotations

import calendar
import functools
import hashlib
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

__all__ = [
    "DAY_MS",
    "FEE_SCHEDULE_NAME",
    "FEE_SCHEDULE_UID",
    "FEE_TIERS",
    "HOUR_MS",
    "InstrumentSpec",
    "MarginTier",
    "catalog",
    "dated_expiries",
    "expiry_ms",
    "index_symbols",
    "london_fixing_ms",
    "spec_for",
]

HOUR_MS = 3_600_000
DAY_MS = 86_400_000

FEE_SCHEDULE_UID = "7fc4d7c0-464f-4029-a9bb-55856d0c5247"
"""The one fee schedule every simulated contract points at (``feeScheduleUid``)."""

FEE_SCHEDULE_NAME = "PGTMainFees"

FEE_TIERS: tuple[tuple[float, float, float], ...] = (
    # (30-day USD volume lower bound, maker fee %, taker fee %) — percent as
    # /feeschedules sends them (0.02 = 0.02 % = 2 bp; reference §4.22).
    (0.0, 0.02, 0.05),
    (100_000.0, 0.015, 0.04),
    (1_000_000.0, 0.0125, 0.03),
    (5_000_000.0, 0.01, 0.025),
    (10_000_000.0, 0.0075, 0.02),
    (20_000_000.0, 0.005, 0.015),
    (50_000_000.0, 0.0025, 0.0125),
    (100_000_000.0, 0.0, 0.01),
)


@dataclass(frozen=True)
class MarginTier:
    """One margin tranche.

    ``lower`` is in contracts for inverse contracts (USD) and in USD notional
    (``numNonContractUnits``) for linear ``PF_`` contracts. ``initial`` and
    ``maintenance`` are fractions (0.02 = 2 %).
    """

    lower: float
    initial: float
    maintenance: float


@dataclass(frozen=True)
class InstrumentSpec:
    """A contract: symbology, size and price rules, margin and funding.

    Sizes are in contracts: USD for inverse (``contract_size`` 1 USD), base
    units for linear. ``precision`` is ``contractValueTradePrecision`` (size
    decimals; 4 means steps of 0.0001).
    """

    symbol: str  # "PF_XBTUSD", "PI_XBTUSD", "FI_XBTUSD_261225"
    type: str  # "flexible_futures" | "futures_inverse"
    base: str  # "XBT"
    quote: str  # "USD"
    tick_size: float
    contract_size: float
    precision: int
    max_position_size: float
    impact_mid_size: float
    margin_levels: tuple[MarginTier, ...]
    retail_margin_levels: tuple[MarginTier, ...]
    opening_date_ms: int
    fee_schedule_uid: str
    tag: str  # "perpetual" | "month" | "quarter"
    underlying: str | None = None  # "rr_xbtusd" for inverse
    last_trading_time_ms: int | None = None  # dated contracts only
    funding_rate_coefficient: float | None = None  # perpetuals only
    max_relative_funding_rate: float | None = None  # perpetuals only
    category: str = ""
    anchor_price: float = 0.0  # level the synthetic market stays near
    extra: dict[str, object] = field(default_factory=dict)
    # Fields added for /instruments (all optional, defaults as the exchange's).
    isin: str | None = None
    post_only: bool = False
    tradfi: bool = False
    mtf: bool = False
    tags: tuple[str, ...] = ()

    @property
    def pair(self) -> str:
        return f"{self.base}:{self.quote}"

    @property
    def is_inverse(self) -> bool:
        return self.type == "futures_inverse"

    @property
    def is_perpetual(self) -> bool:
        return self.last_trading_time_ms is None

    @property
    def size_step(self) -> float:
        return float(10.0 ** (-self.precision))

    @property
    def margin_account(self) -> str:
        """Wallet that margins this contract: ``flex`` or ``fi_<base>usd``."""
        if self.is_inverse:
            return f"fi_{self.base.lower()}{self.quote.lower()}"
        return "flex"

    @property
    def settlement_currency(self) -> str:
        """Currency of PnL and margin: the base coin for inverse, USD for linear."""
        return self.base if self.is_inverse else "USD"

    @property
    def tick_decimals(self) -> int:
        """Number of decimals of a price on this contract's tick (0.5 → 1, 1 → 0)."""
        return _decimals(self.tick_size)

    def is_listed(self, now_ms: int) -> bool:
        """Whether the contract trades at ``now_ms`` (opened and not expired)."""
        if now_ms < self.opening_date_ms:
            return False
        return self.last_trading_time_ms is None or now_ms < self.last_trading_time_ms


# ---------------------------------------------------------------------------
# Static tables


@dataclass(frozen=True)
class _Perp:
    base: str
    tick: float
    precision: int
    anchor: float
    opening: str  # ISO date of the (fictional) listing
    max_position: float  # contracts
    impact_mid: float  # contracts
    category: str
    margin_class: str


_LINEAR: tuple[_Perp, ...] = (
    _Perp("XBT", 1.0, 4, 88_000.0, "2022-01-01", 1_000_000, 1, "Layer 1", "A"),
    _Perp("ETH", 0.1, 3, 2_920.0, "2022-01-01", 10_000_000, 10, "Layer 1", "A"),
    _Perp("SOL", 0.01, 2, 138.0, "2022-04-20", 10_000_000, 200, "Layer 1", "B"),
    _Perp("XRP", 0.0001, 0, 2.24, "2022-03-15", 100_000_000, 20_000, "Layer 1", "B"),
    _Perp("DOGE", 0.000001, 0, 0.15, "2022-06-01", 1_000_000_000, 300_000, "", "C"),
    _Perp("ADA", 0.00001, 0, 0.42, "2022-05-10", 300_000_000, 100_000, "Layer 1", "C"),
    _Perp("LINK", 0.001, 1, 12.95, "2022-05-10", 10_000_000, 2_000, "DeFi", "C"),
    _Perp("LTC", 0.01, 2, 82.0, "2022-03-15", 10_000_000, 300, "Layer 1", "C"),
)

_INVERSE: tuple[_Perp, ...] = (
    _Perp("XBT", 0.5, 0, 88_000.0, "2018-08-31", 75_000_000, 1_000, "", "XBT"),
    _Perp("ETH", 0.1, 0, 2_920.0, "2019-03-01", 30_000_000, 1_000, "", "ETH"),
)

_DATED_BASES: tuple[str, ...] = ("XBT",)
_DATED_TICK = {"XBT": 0.5}

# Linear tiers keyed by USD notional (numNonContractUnits); classes as §7.4.
_LINEAR_TIERS: dict[str, tuple[tuple[float, float, float], ...]] = {
    "A": (
        (0, 0.02, 0.01),
        (1_000_000, 0.04, 0.02),
        (2_000_000, 0.10, 0.05),
        (5_000_000, 0.20, 0.10),
        (10_000_000, 0.30, 0.15),
        (30_000_000, 0.50, 0.25),
    ),
    "B": (
        (0, 0.02, 0.01),
        (500_000, 0.04, 0.02),
        (1_000_000, 0.10, 0.05),
        (2_500_000, 0.20, 0.10),
        (5_000_000, 0.30, 0.15),
        (10_000_000, 0.50, 0.25),
    ),
    "C": (
        (0, 0.02, 0.01),
        (250_000, 0.04, 0.02),
        (500_000, 0.10, 0.05),
        (1_000_000, 0.20, 0.10),
        (2_500_000, 0.30, 0.15),
        (5_000_000, 0.50, 0.25),
    ),
}

# Inverse tiers keyed by contracts (= USD); 2 %/1 % … 50 %/25 % as §7.4.
_INVERSE_TIERS: dict[str, tuple[tuple[float, float, float], ...]] = {
    "XBT": (
        (0, 0.02, 0.01),
        (500_000, 0.04, 0.02),
        (1_000_000, 0.06, 0.03),
        (3_000_000, 0.10, 0.05),
        (6_000_000, 0.20, 0.10),
        (9_000_000, 0.30, 0.15),
        (15_000_000, 0.50, 0.25),
    ),
    "ETH": (
        (0, 0.02, 0.01),
        (250_000, 0.04, 0.02),
        (500_000, 0.06, 0.03),
        (1_500_000, 0.10, 0.05),
        (3_000_000, 0.20, 0.10),
        (4_500_000, 0.30, 0.15),
        (7_500_000, 0.50, 0.25),
    ),
}

# Retail levels of inverse contracts as the spec example (2x only).
_INVERSE_RETAIL = ((0, 0.5, 0.25),)

FUNDING_RATE_COEFFICIENT = 8.0
MAX_RELATIVE_FUNDING_RATE = 0.001

_QUARTER_MONTHS = (3, 6, 9, 12)


@functools.lru_cache(maxsize=64)
def _decimals(step: float) -> int:
    """Decimals needed to print multiples of ``step`` exactly (0.0001 → 4, 0.5 → 1)."""
    text = f"{step:.12f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


def _tiers(rows: tuple[tuple[float, float, float], ...]) -> tuple[MarginTier, ...]:
    return tuple(MarginTier(float(lo), im, mm) for lo, im, mm in rows)


def _iso_date_ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def _isin(symbol: str) -> str:
    """A made-up but well-formed ISIN (``GB00`` + 7 characters + Luhn check digit).

    Deterministic per symbol; the simulator's contracts have no real ISINs.
    """
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    digest = hashlib.blake2b(symbol.encode(), digest_size=8).digest()
    body = "GB00" + "".join(alphabet[b % 36] for b in digest[:7])
    digits = "".join(str(alphabet.index(c)) for c in body)
    total = 0
    # Luhn over the digit expansion, doubling from the rightmost digit
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return body + str((10 - total % 10) % 10)


# ---------------------------------------------------------------------------
# Expiries


def _london_is_summer(day: date) -> bool:
    """British Summer Time on ``day`` at 16:00 (last Sunday of March to last Sunday of October)."""

    def last_sunday(year: int, month: int) -> date:
        d = date(year, month, calendar.monthrange(year, month)[1])
        return d - timedelta(days=(d.weekday() - 6) % 7)

    return last_sunday(day.year, 3) <= day < last_sunday(day.year, 10)


def london_fixing_ms(t_ms: int) -> int:
    """The last daily 16:00 London fixing at or before ``t_ms`` (epoch ms).

    The reference rates ``rr_<base>usd`` are published at that time.
    """
    day = datetime.fromtimestamp(t_ms / 1000, tz=UTC).date()
    for _ in range(2):
        hour_utc = 15 if _london_is_summer(day) else 16
        fixing = int(
            datetime(day.year, day.month, day.day, hour_utc, tzinfo=UTC).timestamp() * 1000
        )
        if fixing <= t_ms:
            return fixing
        day -= timedelta(days=1)
    raise AssertionError("unreachable: yesterday's fixing precedes t_ms")


@functools.lru_cache(maxsize=512)
def expiry_ms(year: int, month: int) -> int:
    """``lastTradingTime`` of the dated contract of ``year``/``month`` in epoch ms.

    The last Friday of the month at 16:00 London time (15:00 UTC in summer).
    """
    d = date(year, month, calendar.monthrange(year, month)[1])
    d -= timedelta(days=(d.weekday() - 4) % 7)
    hour_utc = 15 if _london_is_summer(d) else 16
    return int(datetime(d.year, d.month, d.day, hour_utc, tzinfo=UTC).timestamp() * 1000)


def _month_of(t_ms: int) -> tuple[int, int]:
    dt = datetime.fromtimestamp(t_ms / 1000, tz=UTC)
    return dt.year, dt.month


def _next_expiry(t_ms: int, quarter_only: bool = False) -> int:
    """First expiry strictly after ``t_ms`` (only quarter-ends if asked)."""
    year, month = _month_of(t_ms)
    for _ in range(16):
        if not quarter_only or month in _QUARTER_MONTHS:
            e = expiry_ms(year, month)
            if e > t_ms:
                return e
        month += 1
        if month > 12:
            year, month = year + 1, 1
    raise AssertionError("unreachable: an expiry exists within 16 months")


def _prev_expiry(t_ms: int) -> int:
    """Last expiry strictly before ``t_ms``."""
    year, month = _month_of(t_ms)
    for _ in range(3):
        e = expiry_ms(year, month)
        if e < t_ms:
            return e
        month -= 1
        if month < 1:
            year, month = year - 1, 12
    raise AssertionError("unreachable: an expiry exists within 3 months")


def _tag_of(expiry: int) -> str:
    return "quarter" if _month_of(expiry)[1] in _QUARTER_MONTHS else "month"


def dated_expiries(now_ms: int) -> list[tuple[int, str]]:
    """The two listed expiries at ``now_ms`` as ``(lastTradingTime ms, tag)``.

    The front contract (next expiry) and the next quarter-end after it.
    """
    front = _next_expiry(now_ms)
    second = _next_expiry(front, quarter_only=True)
    return [(front, _tag_of(front)), (second, "quarter")]


def _opening_of(expiry: int) -> int:
    """When the contract expiring at ``expiry`` entered the listed pair.

    Listing changes only at expiries, so walk back over previous expiries
    while the contract was already listed just after them.
    """
    opening = _prev_expiry(expiry)
    while True:
        earlier = _prev_expiry(opening)
        if expiry not in {e for e, _ in dated_expiries(earlier)}:
            return opening
        opening = earlier


# ---------------------------------------------------------------------------
# Specs


def _linear_spec(p: _Perp) -> InstrumentSpec:
    tiers = _tiers(_LINEAR_TIERS[p.margin_class])
    return InstrumentSpec(
        symbol=f"PF_{p.base}USD",
        type="flexible_futures",
        base=p.base,
        quote="USD",
        tick_size=p.tick,
        contract_size=1.0,
        precision=p.precision,
        max_position_size=p.max_position,
        impact_mid_size=p.impact_mid,
        margin_levels=tiers,
        # The spec example gives PF_ retail levels equal to the professional ones.
        retail_margin_levels=tiers,
        opening_date_ms=_iso_date_ms(p.opening),
        fee_schedule_uid=FEE_SCHEDULE_UID,
        tag="perpetual",
        funding_rate_coefficient=FUNDING_RATE_COEFFICIENT,
        max_relative_funding_rate=MAX_RELATIVE_FUNDING_RATE,
        category=p.category,
        anchor_price=p.anchor,
    )


def _inverse_spec(p: _Perp) -> InstrumentSpec:
    symbol = f"PI_{p.base}USD"
    return InstrumentSpec(
        symbol=symbol,
        type="futures_inverse",
        base=p.base,
        quote="USD",
        tick_size=p.tick,
        contract_size=1.0,
        precision=0,
        max_position_size=p.max_position,
        impact_mid_size=p.impact_mid,
        margin_levels=_tiers(_INVERSE_TIERS[p.margin_class]),
        retail_margin_levels=_tiers(_INVERSE_RETAIL),
        opening_date_ms=_iso_date_ms(p.opening),
        fee_schedule_uid=FEE_SCHEDULE_UID,
        tag="perpetual",
        underlying=f"rr_{p.base.lower()}usd",
        funding_rate_coefficient=FUNDING_RATE_COEFFICIENT,
        max_relative_funding_rate=MAX_RELATIVE_FUNDING_RATE,
        anchor_price=p.anchor,
        isin=_isin(symbol),
        mtf=True,
    )


@functools.lru_cache(maxsize=64)
def _dated_spec(base: str, expiry: int) -> InstrumentSpec:
    inverse = next(p for p in _INVERSE if p.base == base)
    symbol = f"FI_{base}USD_{datetime.fromtimestamp(expiry / 1000, tz=UTC):%y%m%d}"
    return InstrumentSpec(
        symbol=symbol,
        type="futures_inverse",
        base=base,
        quote="USD",
        tick_size=_DATED_TICK[base],
        contract_size=1.0,
        precision=0,
        max_position_size=inverse.max_position,
        impact_mid_size=inverse.impact_mid,
        margin_levels=_tiers(_INVERSE_TIERS[inverse.margin_class]),
        retail_margin_levels=_tiers(_INVERSE_RETAIL),
        opening_date_ms=_opening_of(expiry),
        fee_schedule_uid=FEE_SCHEDULE_UID,
        tag=_tag_of(expiry),
        underlying=f"rr_{base.lower()}usd",
        last_trading_time_ms=expiry,
        anchor_price=inverse.anchor,
        isin=_isin(symbol),
    )


_PERPETUALS: dict[str, InstrumentSpec] = {
    s.symbol: s for s in [*map(_linear_spec, _LINEAR), *map(_inverse_spec, _INVERSE)]
}


def _perpetual_at(spec: InstrumentSpec, now_ms: int) -> InstrumentSpec:
    """``spec`` with its opening moved back when the clock predates it.

    The fictional listing dates are in 2018–2022; a clock set earlier than
    ``opening + 90 days`` would leave no history, so such a contract is
    shown as opened a year before ``now_ms`` instead.
    """
    if spec.opening_date_ms <= now_ms - 90 * DAY_MS:
        return spec
    return replace(spec, opening_date_ms=(now_ms // DAY_MS - 365) * DAY_MS)


def catalog(now_ms: int) -> list[InstrumentSpec]:
    """Contracts listed at ``now_ms`` (epoch ms), in a stable order.

    Linear perpetuals, inverse perpetuals, then the two dated inverse
    ``FI_XBTUSD_<YYMMDD>`` contracts (front and next quarter).
    """
    specs = [_perpetual_at(s, now_ms) for s in _PERPETUALS.values()]
    for base in _DATED_BASES:
        specs.extend(_dated_spec(base, expiry) for expiry, _ in dated_expiries(now_ms))
    return specs


def spec_for(symbol: str, now_ms: int | None = None) -> InstrumentSpec | None:
    """The spec of ``symbol`` (case-insensitive) whether or not it is listed now.

    Dated symbols are accepted when their date is a real expiry (last Friday).
    With ``now_ms`` the answer is the one :func:`catalog` gives at that time
    (same opening date), without the listing check.
    """
    name = symbol.upper()
    if name in _PERPETUALS:
        if now_ms is None:
            return _PERPETUALS[name]
        return _perpetual_at(_PERPETUALS[name], now_ms)
    return _dated_from_symbol(name)


@functools.lru_cache(maxsize=256)
def _dated_from_symbol(name: str) -> InstrumentSpec | None:
    """The dated contract named ``name`` (upper case), None if not a real expiry."""
    parts = name.split("_")
    if len(parts) != 3 or parts[0] != "FI" or not parts[1].endswith("USD"):
        return None
    base = parts[1][:-3]
    if base not in _DATED_BASES:
        return None
    try:
        day = datetime.strptime(parts[2], "%y%m%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    expiry = expiry_ms(day.year, day.month)
    if datetime.fromtimestamp(expiry / 1000, tz=UTC).date() != day.date():
        return None
    return _dated_spec(base, expiry)


def index_symbols() -> list[tuple[str, str]]:
    """Index tickers the exchange publishes: ``(symbol, base)``.

    ``in_<base>usd`` is the real-time index, ``rr_<base>usd`` the daily
    reference rate, for each coin with inverse contracts.
    """
    out: list[tuple[str, str]] = []
    for p in _INVERSE:
        out += [(f"in_{p.base.lower()}usd", p.base), (f"rr_{p.base.lower()}usd", p.base)]
    return out
