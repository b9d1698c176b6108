"""Public channels of the simulator's Unified WebSocket (reference §1.6, §1.8, §6).

Each subscription samples the market at every tick and pushes what changed:

* ``ticker``: Spot v2 fields (``symbol, bid, bid_qty, ask, ask_qty, last,
  volume, vwap, low, high, change, change_pct, timestamp``; 24 h statistics,
  ``change_pct`` in percent) on every tick with new trades (``event_trigger``
  ``trades``, the default) or a new best bid/offer (``bbo``). The
  derivatives extras were not seen in the reference; the simulator sends
  them under v3's names in snake_case (a guess, agreed with the client):
  ``tag``, ``pair``, ``last_qty``, ``last_time``, ``open`` (24 h ago),
  ``volume_quote``, ``mark_price``, ``index_price``, ``open_interest``,
  ``suspended``, ``post_only`` and, for perpetuals, ``funding_rate``,
  ``funding_rate_prediction``, ``relative_funding_rate``,
  ``relative_funding_rate_prediction``, ``next_funding_rate_time``.
* ``book``: a snapshot of ``depth`` levels then updates with the levels that
  changed, and ``checksum`` on both (:mod:`kfresearch.checksum`, computed
  from the very texts sent). The market draws 100 levels a side, the book
  v3 ``/orderbook`` shows: depths 500 and 1000 get those 100. A level is
  deleted by qty ``0.0`` only when it left the book; a level pushed below
  the subscribed depth by better ones is not deleted: the client truncates
  (§1.6).
* ``trade``: ``symbol, side, price, qty, ord_type, trade_id, timestamp``; the
  snapshot (off by default) is the last 50 trades.
* ``ohlc``: ``symbol, open, high, low, close, trades, volume, vwap,
  interval_begin, interval, timestamp`` plus ``tick_type`` (``trade``,
  ``mark`` or ``spot``; mark and spot candles have no trades: ``trades``,
  ``volume`` and ``vwap`` are 0). The snapshot holds the candles begun in the
  last 24 hours (at least one, at most 720). Updates resend the current
  candle when it changed, and the previous one once more when a new one
  begins.
* ``instrument``: ``data`` is an object ``{"assets": [...], "pairs": [...]}``
  as in Spot v2; ``pairs`` are the listed contracts with Spot v2 field names
  where Spot v2 has them, and every field of v3 ``/instruments`` in
  snake_case (``contract_value_trade_precision``, ``margin_levels`` …).

Prices and quantities are written as :mod:`kfresearch.sim.uws.wire` says.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kfresearch.checksum import book_checksum
from kfresearch.sim.instruments import InstrumentSpec
from kfresearch.sim.market.book import BOOK_LEVELS
from kfresearch.sim.public_api import instrument_json
from kfresearch.sim.uws import wire
from kfresearch.sim.uws.protocol import UwsError, check_fields

__all__ = [
    "BOOK_DEPTHS",
    "OHLC_INTERVALS",
    "PUBLIC_CHANNELS",
    "PublicSubscription",
    "subscribe_public",
]

BOOK_DEPTHS = (10, 25, 100, 500, 1000)
#: minutes -> the market's resolution (21600 minutes = 15 days: 15 daily candles)
OHLC_INTERVALS = {
    1: "1m",
    5: "5m",
    15: "15m",
    30: "30m",
    60: "1h",
    240: "4h",
    1440: "1d",
    10080: "1w",
    21600: "1d",
}
TICK_TYPES = ("trade", "mark", "spot")
TRADE_SNAPSHOT = 50
OHLC_SNAPSHOT_SPAN_MS = 86_400_000
OHLC_SNAPSHOT_MAX = 720
MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
COMMON_FIELDS = ("channel", "symbol", "snapshot", "asset_class", "token")
Message = dict[str, Any]


def _push(channel: str, kind: str, data: Any) -> Message:
    return {"channel": channel, "type": kind, "data": data}


@dataclass
class PublicSubscription:
    """One public subscription; :meth:`snapshot` and :meth:`updates` make its pushes."""

    channel: str
    symbol: str | None
    market: Any
    spec: InstrumentSpec | None

    @property
    def key(self) -> tuple[Any, ...]:
        """What identifies the subscription on a connection (resubscribing it is refused)."""
        return (self.channel, self.symbol)

    def result(self, snapshot: bool) -> Message:
        """The subscribe acknowledgement's ``result``."""
        body: Message = {"channel": self.channel}
        if self.symbol is not None:
            body["symbol"] = self.symbol
        return body | {"snapshot": snapshot}

    def matches_unsubscribe(self, params: dict[str, Any]) -> bool:
        return True

    def snapshot(self, now: int) -> list[Message]:
        raise NotImplementedError

    def updates(self, now: int) -> list[Message]:
        raise NotImplementedError

    def start(self, now: int) -> None:
        """Begin from ``now`` without a snapshot."""

    # -- helpers ------------------------------------------------------------------------
    @property
    def _spec(self) -> InstrumentSpec:
        if self.spec is None:
            raise ValueError(f"the {self.channel} channel has no contract")
        return self.spec

    @property
    def _symbol(self) -> str:
        return self._spec.symbol

    def _price(self, value: float) -> Any:
        return wire.price(value, self._spec.tick_decimals)


# ---------------------------------------------------------------------------- ticker


@dataclass
class TickerSubscription(PublicSubscription):
    event_trigger: str = "trades"
    _last_trade_ms: int = 0
    _bbo: tuple[float, ...] = ()

    def result(self, snapshot: bool) -> Message:
        return super().result(snapshot) | {"event_trigger": self.event_trigger}

    def snapshot(self, now: int) -> list[Message]:
        return [_push("ticker", "snapshot", [self._ticker(now)])]

    def start(self, now: int) -> None:
        self._ticker(now)

    def updates(self, now: int) -> list[Message]:
        stats = self.market.stats_24h(self._symbol, now)
        bids, asks = self.market.book(self._symbol, now, 1)
        bbo = (bids[0][0], bids[0][1], asks[0][0], asks[0][1])
        changed = (
            bbo != self._bbo if self.event_trigger == "bbo"
            else stats.last_time_ms > self._last_trade_ms
        )
        return [_push("ticker", "update", [self._ticker(now)])] if changed else []

    def _ticker(self, now: int) -> Message:
        symbol = self._symbol
        stats = self.market.stats_24h(symbol, now)
        bids, asks = self.market.book(symbol, now, 1)
        self._bbo = (bids[0][0], bids[0][1], asks[0][0], asks[0][1])
        self._last_trade_ms = stats.last_time_ms
        trades = self.market.trades(symbol, now - DAY_MS + 1, now + 1)
        volume = float(np.sum(trades.size))
        vwap = float(np.sum(trades.size * trades.price) / volume) if volume > 0 else stats.last
        digits = self._spec.tick_decimals
        extras: Message = {
            "mark_price": round(self.market.mark_price(symbol, now), digits + 6),
            "index_price": round(self.market.index_price(symbol, now), digits + 2),
            "open_interest": wire.qty(self.market.open_interest(symbol, now)),
        }
        if self._spec.is_perpetual:
            hour = now // HOUR_MS * HOUR_MS
            absolute, relative = self.market.funding_rate(symbol, hour)
            next_absolute, next_relative = self.market.funding_prediction(symbol, now)
            extras |= {
                "funding_rate": absolute,
                "funding_rate_prediction": next_absolute,
                "relative_funding_rate": relative,
                "relative_funding_rate_prediction": next_relative,
                "next_funding_rate_time": wire.rfc3339(hour + HOUR_MS),
            }
        return {
            "symbol": symbol,
            "tag": self._spec.tag,
            "pair": self._spec.pair,
            "bid": self._price(bids[0][0]),
            "bid_qty": wire.qty(bids[0][1]),
            "ask": self._price(asks[0][0]),
            "ask_qty": wire.qty(asks[0][1]),
            "last": self._price(stats.last),
            "last_qty": wire.qty(stats.last_size),
            "last_time": wire.rfc3339(stats.last_time_ms),
            "open": self._price(stats.open),
            "volume": wire.qty(round(stats.volume, self._spec.precision)),
            "volume_quote": round(stats.volume_quote, 6),
            "vwap": round(vwap, self._spec.tick_decimals + 2),
            "low": self._price(stats.low),
            "high": self._price(stats.high),
            "change": round(stats.last - stats.open, self._spec.tick_decimals),
            "change_pct": round(stats.change_pct, 2),
            **extras,
            "suspended": False,
            "post_only": self._spec.post_only,
            "timestamp": wire.rfc3339(now),
        }


# ------------------------------------------------------------------------------ book


@dataclass
class BookSubscription(PublicSubscription):
    depth: int = 10
    bids: dict[float, float] = field(default_factory=dict)  # the client's view
    asks: dict[float, float] = field(default_factory=dict)

    def result(self, snapshot: bool) -> Message:
        return super().result(snapshot) | {"depth": self.depth}

    def matches_unsubscribe(self, params: dict[str, Any]) -> bool:
        # the unsubscribe must repeat the subscribed depth (§6); 10 when not given
        return bool(params.get("depth", 10) == self.depth)

    def _full(self, now: int) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        # the market draws BOOK_LEVELS levels a side (what v3 /orderbook shows): a deeper
        # subscription gets those, so every depth shows the same book as REST
        depth = min(self.depth, BOOK_LEVELS)
        return self.market.book(self._symbol, now, depth)  # type: ignore[no-any-return]

    def start(self, now: int) -> None:
        bids, asks = self._full(now)
        self.bids, self.asks = dict(bids), dict(asks)

    def snapshot(self, now: int) -> list[Message]:
        self.start(now)
        entry = {
            "symbol": self._symbol,
            "bids": [self._level(p, q) for p, q in self._sorted_bids()],
            "asks": [self._level(p, q) for p, q in self._sorted_asks()],
            "checksum": self.checksum(),
            "timestamp": wire.rfc3339(now),
        }
        return [_push("book", "snapshot", [entry])]

    def updates(self, now: int) -> list[Message]:
        bids, asks = self._full(now)
        # a deeper look tells a level that left the book from one pushed below the depth
        deep_bids, deep_asks = self.market.book(self._symbol, now, BOOK_LEVELS)
        sides = []
        for view, new, deep in ((self.bids, dict(bids), dict(deep_bids)),
                                (self.asks, dict(asks), dict(deep_asks))):
            gone = [(p, 0.0) for p in sorted(view) if p not in new and p not in deep]
            changed = [(p, q) for p, q in sorted(new.items()) if view.get(p) != q]
            sides.append(gone + changed)
            for p, _ in gone:
                del view[p]
            view.update(changed)
        self._truncate()
        if not sides[0] and not sides[1]:
            return []
        entry = {
            "symbol": self._symbol,
            "bids": [self._level(p, q) for p, q in sides[0]],
            "asks": [self._level(p, q) for p, q in sides[1]],
            "checksum": self.checksum(),
            "timestamp": wire.rfc3339(now),
        }
        return [_push("book", "update", [entry])]

    def _truncate(self) -> None:
        for view, keep in ((self.bids, self._sorted_bids()), (self.asks, self._sorted_asks())):
            kept = {p for p, _ in keep}
            for price in [p for p in view if p not in kept]:
                del view[price]

    def _sorted_bids(self) -> list[tuple[float, float]]:
        return sorted(self.bids.items(), reverse=True)[: self.depth]

    def _sorted_asks(self) -> list[tuple[float, float]]:
        return sorted(self.asks.items())[: self.depth]

    def _level(self, price: float, qty: float) -> Message:
        return {"price": self._price(price), "qty": wire.qty(qty)}

    def checksum(self) -> int:
        """The checksum of the client's view, from the texts the wire carries."""
        decimals = self._spec.tick_decimals
        asks = [(wire.price_text(p, decimals), wire.qty_text(q)) for p, q in self._sorted_asks()]
        bids = [(wire.price_text(p, decimals), wire.qty_text(q)) for p, q in self._sorted_bids()]
        return book_checksum(asks, bids)


def corrupt_book_update(message: Message) -> Message:
    """A book update with the best ask's quantity spoiled (the ``ws_corrupt`` fault).

    The checksum stays the true book's, so a client that applies the update
    computes another one. A snapshot, or an update of another channel, is
    returned unchanged.
    """
    if message.get("channel") != "book" or message.get("type") != "update":
        return message
    entry = dict(message["data"][0])
    asks = list(entry["asks"])
    wrong = {"price": None, "qty": wire.qty(123456.0)}
    if asks:
        wrong["price"] = asks[0]["price"]
        asks[0] = wrong
    else:
        bids = list(entry["bids"])
        if not bids:
            return message
        wrong["price"] = bids[0]["price"]
        entry["bids"] = [wrong, *bids[1:]]
    entry["asks"] = asks
    return {**message, "data": [entry]}


# ----------------------------------------------------------------------------- trade


@dataclass
class TradeSubscription(PublicSubscription):
    _last_ms: int = 0

    def start(self, now: int) -> None:
        self._last_ms = now

    def snapshot(self, now: int) -> list[Message]:
        self._last_ms = now
        trades = self.market.trades(
            self._symbol, now - DAY_MS, now + 1, limit=TRADE_SNAPSHOT, descending=True
        )
        rows = [self._trade(trades, i) for i in reversed(range(len(trades.time_ms)))]
        return [_push("trade", "snapshot", rows)]

    def updates(self, now: int) -> list[Message]:
        if now <= self._last_ms:
            return []
        trades = self.market.trades(self._symbol, self._last_ms + 1, now + 1)
        self._last_ms = now
        if not len(trades.time_ms):
            return []
        rows = [self._trade(trades, i) for i in range(len(trades.time_ms))]
        return [_push("trade", "update", rows)]

    def _trade(self, trades: Any, i: int) -> Message:
        return {
            "symbol": self._symbol,
            "side": "buy" if trades.buy[i] else "sell",
            "price": self._price(float(trades.price[i])),
            "qty": wire.qty(float(trades.size[i])),
            "ord_type": "market",
            "trade_id": int(trades.trade_id[i]),
            "timestamp": wire.rfc3339(int(trades.time_ms[i])),
        }


# ------------------------------------------------------------------------------ ohlc


@dataclass
class OhlcSubscription(PublicSubscription):
    interval: int = 1
    tick_type: str = "trade"
    _sent: dict[int, tuple[float, ...]] = field(default_factory=dict)  # begin -> values

    @property
    def key(self) -> tuple[Any, ...]:
        return (self.channel, self.symbol, self.interval, self.tick_type)

    def result(self, snapshot: bool) -> Message:
        return super().result(snapshot) | {"interval": self.interval, "tick_type": self.tick_type}

    def matches_unsubscribe(self, params: dict[str, Any]) -> bool:
        return params.get("interval") == self.interval and (
            params.get("tick_type", "trade") == self.tick_type
        )

    @property
    def _span(self) -> int:
        return self.interval * MINUTE_MS

    def _begin(self, t: int) -> int:
        if self.interval == 10080:  # the market's weeks start on Monday 00:00 UTC
            monday = 4 * DAY_MS
            return (t - monday) // self._span * self._span + monday
        return t // self._span * self._span

    def start(self, now: int) -> None:
        self._sent = {}
        for entry in self._candles(self._begin(now), now):
            self._remember(entry)

    def snapshot(self, now: int) -> list[Message]:
        first = max(self._begin(now - OHLC_SNAPSHOT_SPAN_MS) + self._span,
                    self._begin(now) - (OHLC_SNAPSHOT_MAX - 1) * self._span)
        first = min(first, self._begin(now))
        entries = self._candles(first, now)
        self._sent = {}
        for entry in entries[-2:]:
            self._remember(entry)
        return [_push("ohlc", "snapshot", [e[1] for e in entries])]

    def updates(self, now: int) -> list[Message]:
        known = min(self._sent) if self._sent else self._begin(now)
        out = []
        for entry in self._candles(max(known, self._begin(now) - self._span), now):
            begin, body, values = entry
            if self._sent.get(begin) != values:
                out.append(body)
                self._remember(entry)
        for begin in [b for b in self._sent if b < self._begin(now) - self._span]:
            del self._sent[begin]
        return [_push("ohlc", "update", out)] if out else []

    def _remember(self, entry: tuple[int, Message, tuple[float, ...]]) -> None:
        self._sent[entry[0]] = entry[2]

    def _candles(self, first: int, now: int) -> list[tuple[int, Message, tuple[float, ...]]]:
        """Candles beginning in ``[first, now]``: (begin, wire body, values compared)."""
        resolution = OHLC_INTERVALS[self.interval]
        bars, _ = self.market.candles(
            self._symbol, self.tick_type, resolution, now,
            from_ms=first, to_ms=now, limit=OHLC_SNAPSHOT_MAX * 15,
        )
        if not len(bars):
            return []
        begins = np.array([self._begin(int(t)) for t in bars.time_ms], dtype=np.int64)
        out: list[tuple[int, Message, tuple[float, ...]]] = []
        for begin in sorted({int(b) for b in begins}):
            rows = np.flatnonzero(begins == begin)
            o, c = float(bars.open[rows[0]]), float(bars.close[rows[-1]])
            h, lo = float(np.max(bars.high[rows])), float(np.min(bars.low[rows]))
            count, volume, vwap = self._trade_stats(begin, now)
            values = (o, h, lo, c, count, volume)
            body = {
                "symbol": self._symbol,
                "open": self._price(o),
                "high": self._price(h),
                "low": self._price(lo),
                "close": self._price(c),
                "trades": count,
                "volume": wire.qty(volume),
                "vwap": vwap,
                "interval_begin": wire.rfc3339(begin),
                "interval": self.interval,
                "tick_type": self.tick_type,
                "timestamp": wire.rfc3339(now),
            }
            out.append((begin, body, values))
        return out

    def _trade_stats(self, begin: int, now: int) -> tuple[int, float, float]:
        """(trades, volume, vwap) of the candle beginning at ``begin``, up to ``now``."""
        if self.tick_type != "trade":
            return 0, 0.0, 0.0
        trades = self.market.trades(self._symbol, begin, min(begin + self._span, now + 1))
        volume = float(np.sum(trades.size))
        if volume <= 0:
            return 0, 0.0, 0.0
        vwap = float(np.sum(trades.size * trades.price) / volume)
        size = round(volume, self._spec.precision)
        return len(trades.time_ms), size, round(vwap, self._spec.tick_decimals + 2)


# ------------------------------------------------------------------------ instrument


@dataclass
class InstrumentSubscription(PublicSubscription):
    _listed: tuple[str, ...] = ()

    def start(self, now: int) -> None:
        self._listed = tuple(s.symbol for s in self.market.instruments(now))

    def snapshot(self, now: int) -> list[Message]:
        return [_push("instrument", "snapshot", self._data(now))]

    def updates(self, now: int) -> list[Message]:
        listed = tuple(s.symbol for s in self.market.instruments(now))
        if listed == self._listed:
            return []
        return [_push("instrument", "update", self._data(now))]

    def _data(self, now: int) -> Message:
        specs = self.market.instruments(now)
        self._listed = tuple(s.symbol for s in specs)
        currencies = sorted({s.settlement_currency for s in specs})
        assets = [
            {"id": code, "status": "enabled", "precision": 8 if code != "USD" else 4,
             "precision_display": 8 if code != "USD" else 2, "borrowable": False,
             "collateral_value": 1.0, "margin_rate": 0.0}
            for code in currencies
        ]
        return {"assets": assets, "pairs": [_pair(s) for s in specs]}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _snaked(value: Any) -> Any:
    if isinstance(value, dict):
        return {_snake(k): _snaked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_snaked(v) for v in value]
    return value


def _pair(spec: InstrumentSpec) -> Message:
    """A contract: Spot v2 names where Spot v2 has the field, then v3's in snake_case."""
    initial = spec.margin_levels[0].initial if spec.margin_levels else 1.0
    body: Message = {
        "symbol": spec.symbol,
        "base": spec.base,
        "quote": spec.quote,
        "status": "online",
        "qty_precision": spec.precision,
        "qty_increment": spec.size_step,
        "qty_min": spec.size_step,
        "price_precision": spec.tick_decimals,
        "price_increment": spec.tick_size,
        "tick_size": spec.tick_size,
        "cost_precision": 2,
        "cost_min": 0.0,
        "marginable": True,
        "has_index": True,
        "margin_initial": initial,
        "position_limit_long": spec.max_position_size,
        "position_limit_short": spec.max_position_size,
    }
    for name, value in _snaked(instrument_json(spec)).items():
        body.setdefault(name, value)
    for name, ms in (("opening_date", spec.opening_date_ms),
                     ("last_trading_time", spec.last_trading_time_ms)):
        if ms is not None:
            body[name] = wire.rfc3339(ms)
    return body


# --------------------------------------------------------------------- subscribing


def _flag(params: dict[str, Any], name: str, default: bool) -> bool:
    value = params.get(name, default)
    if not isinstance(value, bool):
        raise UwsError.of("invalid", f"{name} must be true or false")
    return value


def _ticker(params: dict[str, Any], base: dict[str, Any]) -> PublicSubscription:
    trigger = params.get("event_trigger", "trades")
    if trigger not in {"trades", "bbo"}:
        raise UwsError.of("invalid", "event_trigger must be trades or bbo")
    return TickerSubscription(**base, event_trigger=trigger)


def _book(params: dict[str, Any], base: dict[str, Any]) -> PublicSubscription:
    depth = params.get("depth", 10)
    if depth not in BOOK_DEPTHS or isinstance(depth, bool):
        raise UwsError.of("invalid", f"depth must be one of {', '.join(map(str, BOOK_DEPTHS))}")
    return BookSubscription(**base, depth=int(depth))


def _ohlc(params: dict[str, Any], base: dict[str, Any]) -> PublicSubscription:
    interval = params.get("interval")
    if interval is None:
        raise UwsError.of("missing", "interval")
    if interval not in OHLC_INTERVALS or isinstance(interval, bool):
        raise UwsError.of(
            "invalid", f"interval must be one of {', '.join(map(str, OHLC_INTERVALS))}"
        )
    tick_type = params.get("tick_type", "trade")
    if tick_type not in TICK_TYPES:
        raise UwsError.of("invalid", "tick_type must be trade, mark or spot")
    return OhlcSubscription(**base, interval=int(interval), tick_type=tick_type)


Factory = Callable[[dict[str, Any], dict[str, Any]], PublicSubscription]

#: channel -> (extra fields it accepts, whether it takes symbols, snapshot default, factory)
PUBLIC_CHANNELS: dict[str, tuple[tuple[str, ...], bool, bool, Factory]] = {
    "ticker": (("event_trigger",), True, True, _ticker),
    "book": (("depth",), True, True, _book),
    "trade": ((), True, False, lambda p, b: TradeSubscription(**b)),
    "ohlc": (("interval", "tick_type"), True, True, _ohlc),
    "instrument": ((), False, True, lambda p, b: InstrumentSubscription(**b)),
}


def subscribe_public(
    params: dict[str, Any], market: Any, now: int
) -> tuple[list[PublicSubscription | UwsError], bool]:
    """The subscriptions a public ``subscribe`` (or ``unsubscribe``) asks for, one per
    symbol (a refused symbol gives a :class:`UwsError` in its place), and ``snapshot``.

    Raises
    ------
    UwsError
        A field is unknown or invalid (the whole request is refused).
    """
    channel = params["channel"]
    extra, takes_symbols, default_snapshot, factory = PUBLIC_CHANNELS[channel]
    check_fields(params, COMMON_FIELDS + extra)
    snapshot = _flag(params, "snapshot", default_snapshot)
    if not takes_symbols:
        if "symbol" in params:
            raise UwsError.of("unsupported", "symbol")
        return [factory(params, {"channel": channel, "symbol": None,
                                 "market": market, "spec": None})], snapshot
    symbols = params.get("symbol")
    if not isinstance(symbols, list) or not symbols:
        raise UwsError.of("missing", "symbol")
    out: list[PublicSubscription | UwsError] = []
    for symbol in symbols:
        spec = market.instrument(str(symbol), now) if isinstance(symbol, str) else None
        if spec is None:
            out.append(UwsError.of("symbol", symbol=symbol))
            continue
        base = {"channel": channel, "symbol": spec.symbol, "market": market, "spec": spec}
        out.append(factory(params, base))
    return out, snapshot
