"""The client's Unified WebSocket book: the checksum from the exact wire text (§6).

A second implementation of the rule, written plainly here from the reference's words
(no shared code with :mod:`kfresearch.checksum`), is the oracle: it keeps its own book
from the same messages and computes the checksum each message carries; the client's
book must accept every one of them, and refuse a message whose checksum is not its book's.
"""

from __future__ import annotations

import random
import zlib
from decimal import Decimal

from kfresearch.stream.book import LiveBook
from kfresearch.stream.events import BookLevels
from kfresearch.stream.uws import KrakenUWS

VECTOR_ASKS = [("45285.21000000", "1.5"), ("45286.41545719", "53")]
VECTOR_BIDS = [("45282.11000000", "0.45"), ("45281.01000000", "0.0001")]


def plain_strip(text: str) -> str:
    """The reference's words: every '.' removed, then the leading zeros."""
    return text.replace(".", "").lstrip("0")


def plain_checksum(asks: dict[Decimal, tuple[str, str]],
                   bids: dict[Decimal, tuple[str, str]]) -> int:
    """CRC-32 over the top 10 asks (lowest first) then the top 10 bids (highest first)."""
    text = ""
    for price in sorted(asks)[:10]:
        p, q = asks[price]
        text += plain_strip(p) + plain_strip(q)
    for price in sorted(bids, reverse=True)[:10]:
        p, q = bids[price]
        text += plain_strip(p) + plain_strip(q)
    return zlib.crc32(text.encode()) & 0xFFFFFFFF


def plain_is_zero(qty: str) -> bool:
    """Deleted only when the quantity has no non-zero digit (the exponent does not count)."""
    mantissa = qty.lower().split("e")[0]
    return not any(c in "123456789" for c in mantissa)


def test_the_reference_vector() -> None:
    asks = {Decimal(p): (p, q) for p, q in VECTOR_ASKS}
    bids = {Decimal(p): (p, q) for p, q in VECTOR_BIDS}
    assert plain_checksum(asks, bids) == 252777935
    book = LiveBook("PF_XBTUSD", depth=10)
    assert book.apply_levels(BookLevels("PF_XBTUSD", True, 0, VECTOR_BIDS, VECTOR_ASKS,
                                        252777935)) == "applied"
    assert book.best_ask == 45285.21
    assert book.best_bid == 45282.11


def _qty(rng: random.Random) -> str:
    """A quantity as an exchange may write it: plain, trailing zeros, scientific."""
    value = rng.choice([rng.randint(1, 99999) / 10**rng.randint(0, 6), rng.randint(1, 9)])
    style = rng.random()
    if style < 0.25:
        return f"{Decimal(str(value)):.8f}"  # trailing zeros
    if style < 0.45:
        return f"{rng.randint(1, 99)}e-0{rng.randint(5, 8)}"  # 5.1e-05 style
    if style < 0.55:
        return f"{rng.randint(1, 9)}.{rng.randint(0, 9)}E-5"
    return repr(value)


def _price(rng: random.Random, mid: int, side: int) -> str:
    ticks = rng.randint(1, 40)
    value = Decimal(mid + side * ticks) / 2
    return f"{value:.2f}" if rng.random() < 0.3 else str(value.normalize())


def _zero(rng: random.Random) -> str:
    return rng.choice(["0", "0.0", "0.00000000", "0e-8", "0.0E+0"])


def _message(kind: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]],
             checksum: int) -> str:
    """A book message as sent: prices and quantities are JSON numbers written as given."""
    def side(levels: list[tuple[str, str]]) -> str:
        return "[" + ",".join(f'{{"price":{p},"qty":{q}}}' for p, q in levels) + "]"

    return (f'{{"channel":"book","type":"{kind}","data":[{{"symbol":"PF_XBTUSD",'
            f'"bids":{side(bids)},"asks":{side(asks)},"checksum":{checksum},'
            '"timestamp":"2026-11-01T00:00:00.000000Z"}]}')


def test_thousands_of_updates_agree_with_a_plain_implementation() -> None:
    rng = random.Random(7)
    mid = 2 * 97000
    oracle: dict[str, dict[Decimal, tuple[str, str]]] = {"bids": {}, "asks": {}}
    book = LiveBook("PF_XBTUSD", depth=25)
    uws = KrakenUWS()
    refused = 0
    for n in range(3000):
        changes: dict[str, list[tuple[str, str]]] = {"bids": [], "asks": []}
        for side, sign in (("bids", -1), ("asks", 1)):
            for _ in range(rng.randint(0, 4) if n else 30):
                price = _price(rng, mid, sign)
                key = Decimal(price)
                # the same price may come back spelt another way: the wire's text wins
                if key in oracle[side] and rng.random() < 0.4:
                    changes[side].append((price, _zero(rng)))
                else:
                    changes[side].append((price, _qty(rng)))
        for side, levels in changes.items():
            for price, qty in levels:
                if plain_is_zero(qty):
                    oracle[side].pop(Decimal(price), None)
                else:
                    oracle[side][Decimal(price)] = (price, qty)
            keep = sorted(oracle[side], reverse=side == "bids")[:25]
            oracle[side] = {p: oracle[side][p] for p in keep}
        checksum = plain_checksum(oracle["asks"], oracle["bids"])
        wrong = n > 0 and rng.random() < 0.01
        text = _message("snapshot" if n == 0 else "update", changes["bids"], changes["asks"],
                        (checksum + 1) % 2**32 if wrong else checksum)
        event = uws.parse(text)
        assert isinstance(event, BookLevels)
        outcome = book.apply_levels(event)
        if wrong:
            assert outcome == "checksum"
            refused += 1
            # a fresh snapshot (what resubscribing brings) makes the book whole again
            snapshot = uws.parse(_message("snapshot", list(oracle["bids"].values()),
                                          list(oracle["asks"].values()), checksum))
            assert isinstance(snapshot, BookLevels)
            assert book.apply_levels(snapshot) == "applied"
        else:
            assert outcome == "applied", n
        if n % 100:
            continue
        bids, asks = book.levels()
        assert bids[:, 0].tolist() == sorted((float(p) for p in oracle["bids"]), reverse=True)
        assert asks[:, 0].tolist() == sorted(float(p) for p in oracle["asks"])
    assert 10 <= refused <= 60
    written = [q for side in oracle.values() for _, q in side.values()]
    assert any("e" in q.lower() for q in written)  # scientific notation was in the book
    assert any(q.endswith("0") and "." in q for q in written)  # and trailing zeros
    assert book.stats()["checksum"] == refused


def test_a_level_is_deleted_only_when_its_quantity_has_no_digit_but_zero() -> None:
    book = LiveBook("PF_XBTUSD", depth=10)
    asks = {Decimal("100.5"): ("100.5", "5e-05")}
    bids = {Decimal("99.5"): ("99.5", "0.10")}
    assert book.apply_levels(BookLevels(
        "PF_XBTUSD", True, 0, [("99.5", "0.10")], [("100.5", "5e-05")],
        plain_checksum(asks, bids))) == "applied"
    assert book.best_ask == 100.5  # 5e-05 is not zero, though it starts with a zero digit
    del asks[Decimal("100.5")]
    assert book.apply_levels(BookLevels(
        "PF_XBTUSD", False, 1, [], [("100.5", "0e-8")], plain_checksum(asks, bids))) == "applied"
    assert len(book) == 1
