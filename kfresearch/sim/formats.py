"""How the exchange writes numbers and times in its bodies, and how it says no.

:func:`dec` and :func:`iso` are the two spellings every body of the
simulator shares (decimals as strings, ISO-8601 times with milliseconds),
:func:`uuid4_text` the spelling of its ids;
:class:`SimError` is an error answer carrying the exchange's own error
string. The engine, the order parsers and the route handlers all use them,
so they live below all of those.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import numpy as np

__all__ = ["SimError", "dec", "iso", "uuid4_text"]


class SimError(Exception):
    """An error answer, rendered the way the route's service renders errors.

    ``error`` is the exchange's string (``"invalidArgument"``,
    ``"requiredArgumentMissing"``, ``"notFound"`` …); ``status`` the HTTP
    status (the v3 API answers most errors with 200). ``body`` overrides the
    rendered body entirely when the exchange's shape is special. ``why`` says
    in plain words what was wrong, for a learner: the exchange never sends
    it; the simulator logs it and adds it as the ``X-Sim-Why`` header
    (:mod:`kfresearch.sim.diagnosis`).
    """

    def __init__(
        self, error: str, status: int = 200, body: Any = None, why: str | None = None
    ) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.body = body
        self.why = why


def dec(value: float | int, digits: int | None = None) -> str:
    """A decimal as the live API sends it in strings: no exponent, no trailing zeros.

    >>> dec(88000.0), dec(1e-9), dec(0.1 + 0.2, 10)
    ('88000', '0.000000001', '0.3')
    """
    return _dec(float(value), digits)


@lru_cache(maxsize=4096)  # an order's bodies write the same sizes and prices many times
def _dec(number: float, digits: int | None) -> str:
    if digits is not None:
        number = round(number, digits)
    text = repr(number)  # the shortest digits that read back, as numpy's unique=True
    if "e" in text or "n" in text:  # an exponent (or nan/inf): numpy writes it out
        text = np.format_float_positional(number, trim="-", unique=True)
    elif text.endswith(".0"):
        text = text[:-2]
    return "0" if text in {"-0", "0."} else text


def iso(ms: int | float) -> str:
    """ISO-8601 UTC with milliseconds, as v3 bodies carry: ``2026-11-25T11:45:12.123Z``.

    >>> iso(1_793_491_200_123)
    '2026-11-01T00:00:00.123Z'
    """
    return _iso(int(ms))


@lru_cache(maxsize=64)  # an order's answer, events and history bodies all carry its time
def _iso(ms: int) -> str:
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def uuid4_text(bits: int) -> str:
    """``str(uuid.UUID(int=bits, version=4))`` without the UUID object (the engine's ids).

    >>> uuid4_text(0)
    '00000000-0000-4000-8000-000000000000'
    """
    bits = (bits & ~(0xC000 << 48)) | (0x8000 << 48)  # the variant (RFC 4122)
    bits = (bits & ~(0xF000 << 64)) | (4 << 76)  # the version
    text = f"{bits:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
