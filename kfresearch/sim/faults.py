"""Fault injection for tests: latency, 5xx, dropped connections, 429 bursts, bad bodies.

A :class:`Fault` applies to requests whose path contains ``path`` (all when
None), either with a ``probability`` (seeded, so runs repeat) or to the next
``count`` matching requests (a schedule), optionally ``after`` letting some
matching requests through first.

=================  ============================================================
kind               effect
=================  ============================================================
``latency``        answer after ``seconds`` more
``status``         answer HTTP ``status`` (503 by default) without processing
``rate_limit``     answer HTTP 429 ``text/plain`` with ``rate-limit-reset``
``malformed``      answer HTTP 200 with a body that is not JSON
``drop_before``    the connection fails before the request is processed
``drop_after``     the request IS processed, then the connection drops
                   (the client sees a read timeout: the outcome is unknown)
``ws_drop``        WebSocket: the connection is cut instead of sending the
                   matching push (path ``/ws/v1/<feed>``, e.g. ``/ws/v1/book``;
                   Unified WebSocket ``/v2/public/<channel>``,
                   ``/v2/private/<channel>``)
``ws_skip``        WebSocket: the matching push is never sent, though its
                   ``seq`` was used (a book delta skipped is a ``seq`` gap)
``ws_close``       WebSocket: the server closes the connection with close code
                   ``code`` (1008 "policy violation" by default) instead of
                   sending the matching push
``ws_corrupt``     Unified WebSocket book: the matching update carries a wrong
                   quantity at the best ask while its ``checksum`` is the true
                   book's, so the client's checksum check fails
``ws_refuse``      WebSocket: the opening handshake to a matching path
                   (``/v2/public``, ``/v2/private``, ``/ws/v1``) is answered
                   with HTTP ``status`` instead of an upgrade
``ws_bad_token``   Unified WebSocket: the matching private request (path
                   ``/v2/private/<method or channel>``) is refused with
                   ``EAPI:Invalid token`` whatever its token
=================  ============================================================

HTTP requests only meet the HTTP kinds and WebSocket pushes only the
message kinds (:data:`HTTP_KINDS`, :data:`WS_KINDS`); handshakes meet
:data:`WS_UPGRADE_KINDS` and Unified WebSocket requests
:data:`WS_REQUEST_KINDS`. A rule without a path never leaks from one to another.

Example
-------
>>> faults = Faults(seed=1)
>>> faults.add(Fault("status", path="/tickers", count=2))
>>> [f.kind if f else None for f in (faults.pick("/derivatives/api/v3/tickers") for _ in range(3))]
['status', 'status', None]
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "HTTP_KINDS",
    "WS_KINDS",
    "WS_REQUEST_KINDS",
    "WS_UPGRADE_KINDS",
    "Fault",
    "FaultKind",
    "Faults",
]

FaultKind = Literal[
    "latency",
    "status",
    "rate_limit",
    "malformed",
    "drop_before",
    "drop_after",
    "ws_drop",
    "ws_skip",
    "ws_close",
    "ws_corrupt",
    "ws_refuse",
    "ws_bad_token",
]
HTTP_KINDS: frozenset[str] = frozenset(
    {"latency", "status", "rate_limit", "malformed", "drop_before", "drop_after"}
)
WS_KINDS: frozenset[str] = frozenset({"ws_drop", "ws_skip", "ws_close", "ws_corrupt"})
WS_UPGRADE_KINDS: frozenset[str] = frozenset({"ws_refuse"})
WS_REQUEST_KINDS: frozenset[str] = frozenset({"ws_bad_token"})


@dataclass
class Fault:
    kind: FaultKind
    path: str | None = None
    probability: float = 1.0
    count: int | None = None  # None: every matching request (by probability)
    after: int = 0  # let this many matching requests through first
    status: int = 503  # HTTP status of ``status`` and ``ws_refuse``
    seconds: float = 0.0  # latency, or rate-limit-reset for rate_limit
    code: int = 1008  # WebSocket close code of ``ws_close``

    def matches(self, path: str) -> bool:
        return self.path is None or self.path in path


@dataclass
class Faults:
    """The active faults of one simulated exchange."""

    seed: int = 0
    rules: list[Fault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self.rules.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def pick(self, path: str, kinds: frozenset[str] = HTTP_KINDS) -> Fault | None:
        """The fault of one of ``kinds`` that applies to this request or message, if any
        (consumes scheduled counts)."""
        with self._lock:
            for fault in self.rules:
                if fault.kind not in kinds or not fault.matches(path) or fault.count == 0:
                    continue
                if fault.after > 0:
                    fault.after -= 1
                    continue
                if fault.probability < 1.0 and self._rng.random() >= fault.probability:
                    continue
                if fault.count is not None:
                    fault.count -= 1
                return fault
        return None
