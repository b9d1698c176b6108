"""The order path's shortcuts give what the long way gives (issue 18: one order's cost).

Each shortcut on the way of an order (the matcher's shallow look at the book,
the cached spellings of ids, times and decimals, the request encoding, the
answer's time) is checked against the plain computation it replaces.
"""

from __future__ import annotations

import random
import uuid
from urllib.parse import quote, urlencode

import pytest

import kfresearch
from kfresearch.endpoints import _text, encode_params
from kfresearch.orders.rules import parse_time
from kfresearch.ratelimit import RateLimiter
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.formats import dec, iso, uuid4_text
from kfresearch.timeparse import to_timestamp

SYMBOL = "PF_XBTUSD"


def test_uuid4_text_is_the_text_of_a_version_4_uuid() -> None:
    rng = random.Random(1)
    for bits in [0, 2**128 - 1, *(rng.getrandbits(128) for _ in range(2_000))]:
        assert uuid4_text(bits) == str(uuid.UUID(int=bits, version=4))


def test_dec_keyed_by_the_float_keeps_close_numbers_apart() -> None:
    assert dec(0.1 + 0.2) == "0.30000000000000004"
    assert dec(0.3) == "0.3"
    assert dec(0.1 + 0.2, 10) == "0.3"
    assert dec(-0.0) == dec(0.0) == "0"
    assert dec(1) == dec(1.0) == dec(True) == "1"
    assert dec(1e-9) == "0.000000001"
    assert dec(88000.0) == "88000"


def test_iso_of_a_time_asked_again_is_the_same_text() -> None:
    first = [iso(1_793_491_200_123 + 60_000 * i) for i in range(100)]
    again = [iso(float(1_793_491_200_123 + 60_000 * i)) for i in range(100)]
    assert first == again
    assert first[0] == "2026-11-01T00:00:00.123Z"
    assert iso(-1) == "1969-12-31T23:59:59.999Z"


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-01T00:00:00.123Z",
        "2026-11-01T00:00:00Z",
        "2024-02-29T23:59:59.999999Z",
        "2024-02-29T23:59:59.1Z",
        "1970-01-01T00:00:00.000Z",
        "2262-04-12T00:00:00.000Z",  # past what pandas holds in ns: None both ways
        "1600-01-01T00:00:00.000Z",
        "2026-02-30T00:00:00.000Z",  # no such day
        "2026-11-01T24:00:00.000Z",
    ],
)
def test_parse_time_of_an_exchange_time_is_to_timestamps(text: str) -> None:
    try:
        expected = to_timestamp(text)
    except ValueError:
        expected = None
    got = parse_time(text)
    if expected is None:
        assert got is None
    else:
        assert got is not None
        assert (got, got.unit, got.tz) == (expected, expected.unit, expected.tz)


def test_encode_params_is_urlencode_with_quote() -> None:
    rng = random.Random(9)
    alphabet = "abcXYZ019_.-~ /%&=+äé€日\u2028"
    for _ in range(3_000):
        params: dict[str, object] = {}
        for _ in range(rng.randrange(1, 6)):
            name = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 6)))
            params[name] = rng.choice([
                "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 8))),
                rng.random() * 10 ** rng.randrange(-8, 8),
                rng.randrange(-1000, 1000),
                rng.random() < 0.5,
                ["a b", 3],
            ])
        pairs = []
        for name, value in params.items():
            items = value if isinstance(value, list) else [value]
            pairs.extend((name, _text(item)) for item in items)
        assert encode_params(params) == urlencode(pairs, quote_via=quote)


def test_a_market_order_past_the_top_of_the_book_fills_as_on_the_whole_book() -> None:
    """The matcher looks at the top level first: an order larger than it walks the
    whole book, level by level, as if it had read all 25 levels at once."""
    ex = SimExchange(seed=42, clock=SimClock.fixed("2026-11-01T00:00:00Z"))
    kf = kfresearch.Client("sim", exchange=ex, limiter=RateLimiter.unlimited())
    now = ex.clock.now_ms()
    _, asks = ex.market.book(SYMBOL, now, 25)
    size = round(asks[0][1] + asks[1][1] + asks[2][1] / 2, 4)
    result = kf.place_order(SYMBOL, "buy", size, "mkt")
    account = ex.engine.accounts[ex.keys[ex.credentials("full").key].account_id]
    fills = [(f.price, f.quantity) for f in account.fills]
    third = round(size - asks[0][1] - asks[1][1], 4)
    assert fills == [asks[0], asks[1], (asks[2][0], third)]
    assert result.filled == size
