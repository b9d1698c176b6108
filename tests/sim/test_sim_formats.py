"""The simulator's fast text formats give exactly what the slower reference formatting gives."""

from __future__ import annotations

import hashlib
import random
import uuid

import numpy as np
import pytest

from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.formats import dec


def numpy_dec(value: float, digits: int | None) -> str:
    """``dec`` as numpy writes it: the reference."""
    number = round(value, digits) if digits is not None else value
    text = np.format_float_positional(number, trim="-", unique=True)
    return "0" if text in {"-0", "0."} else text


def test_dec_writes_what_numpy_writes() -> None:
    rng = random.Random(7)
    values = [0.0, -0.0, 1e-9, 1e-5, 1e-4, 88000.0, 0.1 + 0.2, 1e16, 1e17, -5.5, 3.0]
    values += [rng.uniform(-1e6, 1e6) for _ in range(2000)]
    values += [10 ** rng.randint(-12, 20) * rng.random() for _ in range(2000)]
    for value in values:
        for digits in (None, 0, 2, 8):
            assert dec(value, digits) == numpy_dec(value, digits), (value, digits)


@pytest.mark.parametrize("role", ["trade", "maker", "event"])
def test_trade_uids_are_the_version_4_uuids_of_their_digest(role: str) -> None:
    market = SimExchange(seed=42, clock=SimClock.fixed("2026-11-01T00:00:00Z")).market
    for trade_id in (0, 1, 12_345, 10**12):
        digest = hashlib.blake2b(
            repr((42, role, "PF_XBTUSD", trade_id)).encode(), digest_size=16
        ).digest()
        expected = str(uuid.UUID(bytes=digest, version=4))
        assert market.trade_uid("pf_xbtusd", trade_id, role) == expected
