"""The :class:`Trace`: a ``with`` block that keeps every request and message on the wire."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Self, overload

from kfresearch.trace.hook import RECORDERS
from kfresearch.trace.records import HttpRecord, WsRecord

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["COLUMNS", "Trace"]

Record = HttpRecord | WsRecord

#: The columns of :meth:`Trace.frame`, in order, with their dtypes and units.
COLUMNS: dict[str, str] = {
    "time": "datetime64[ns, UTC]",  # when sent (HTTP) or sent/read (WebSocket)
    "kind": "str",  # "http" | "ws"
    "method": "str",  # GET/POST/PUT/DELETE; SEND/RECV for WebSocket messages
    "path": "str",
    "query": "str",  # as sent, without "?"
    "body": "str",  # form body, or the WebSocket message (api_key shortened)
    "signed": "bool",  # carried Authent (HTTP) or signed_challenge (WebSocket)
    "status": "Int64",  # HTTP status; <NA> for WebSocket or no answer
    "result": "str",  # envelope "result"; WebSocket: event or feed
    "error": "str",  # the exchange's error string (or transport failure); <NA> if none
    "pool": "str",  # "derivatives" | "history"; <NA> when free
    "cost": "float64",  # units of the pool
    "pool_before": "float64",  # units (client's model, before reserving the cost)
    "pool_after": "float64",  # units (after the answer)
    "waited_s": "float64",  # seconds waited for the pool before sending
    "elapsed_ms": "float64",  # milliseconds from send to answer
    "attempt": "Int64",  # 1 for the first try of a call
    "bytes": "int64",  # size of the answer (HTTP) or message
}


class Trace:
    """Everything kfresearch sends and receives while the block runs.

    Open one with ``kf.trace()`` (or ``kfresearch.trace.Trace()``). It records
    every REST request (each retry too) of every client in this process,
    blocking or async, and every WebSocket message of every stream, from any
    thread, until the block ends. Costs nothing when no trace is open.

    ``t[i]`` is one record (:class:`~kfresearch.trace.HttpRecord` or
    :class:`~kfresearch.trace.WsRecord`), shown in Jupyter as a request/answer
    pair; ``t[i].curl()`` gives it as a curl command; ``t.frame()`` is a
    DataFrame of all of them; ``t.http`` and ``t.ws`` split them by kind.
    Records keep the public key shortened and never hold the secret.

    Examples
    --------
    >>> with kf.trace() as t:                                              # doctest: +SKIP
    ...     kf.accounts()
    >>> t.frame()[["method", "path", "status", "cost", "pool_before", "pool_after"]]
    ...                                                                    # doctest: +SKIP
    """

    def __init__(self) -> None:
        self._records: list[Record] = []
        self._lock = threading.Lock()
        self._open = False

    # -- recording ------------------------------------------------------------------
    def add(self, record: Record) -> None:
        """Keep one record (called by :mod:`kfresearch.trace.hook`, from any thread)."""
        with self._lock:
            self._records.append(record)

    def start(self) -> Self:
        """Start recording (``with`` does it for you)."""
        if not self._open:
            RECORDERS.append(self)
            self._open = True
        return self

    def stop(self) -> Self:
        """Stop recording; what was recorded stays."""
        if self._open:
            RECORDERS.remove(self)
            self._open = False
        return self

    @property
    def recording(self) -> bool:
        """True while the trace is open."""
        return self._open

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- reading --------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[Record]:
        return iter(list(self._records))

    @overload
    def __getitem__(self, index: int) -> Record: ...

    @overload
    def __getitem__(self, index: slice) -> list[Record]: ...

    def __getitem__(self, index: int | slice) -> Record | list[Record]:
        return self._records[index]

    @property
    def http(self) -> list[HttpRecord]:
        """The REST requests, in the order their answers came."""
        return [r for r in self._records if isinstance(r, HttpRecord)]

    @property
    def ws(self) -> list[WsRecord]:
        """The WebSocket messages, in the order they were sent or read."""
        return [r for r in self._records if isinstance(r, WsRecord)]

    def frame(self) -> pd.DataFrame:
        """One row per record, in order (index ``seq``); columns and units in :data:`COLUMNS`.

        ``pool_before``/``pool_after`` are the client's model of the
        rate-limit pool in its units (500 for ``derivatives``, 100 for
        ``history``); ``waited_s`` is the time the client held the request
        back for the pool; ``elapsed_ms`` is send to answer.
        """
        import pandas as pd

        rows = [record.row() for record in self]
        frame = pd.DataFrame(rows, columns=list(COLUMNS)).astype(COLUMNS)
        frame.index = pd.RangeIndex(len(frame), name="seq")
        return frame

    def summary(self) -> str:
        """``"3 HTTP requests (1 error), 12 WebSocket messages"``."""
        http, ws = self.http, self.ws
        errors = sum(1 for record in http if record.error)
        text = f"{len(http)} HTTP request{'s' if len(http) != 1 else ''}"
        if errors:
            text += f" ({errors} answered with an error)"
        if ws:
            text += f", {len(ws)} WebSocket message{'s' if len(ws) != 1 else ''}"
        return text

    def __repr__(self) -> str:
        state = ", recording" if self._open else ""
        return f"<Trace: {self.summary()}{state}>"

    def _repr_html_(self) -> str:
        from kfresearch.trace.render import trace_html

        return trace_html(self)
