"""See the wire: every request and WebSocket message of a block, as the exchange saw it.

::

    with kf.trace() as t:
        kf.tickers()
        kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=80_000)
    t                     # a table of what was sent and what came back
    t[1]                  # one request/answer pair (HTML in Jupyter, text with print)
    t[1].curl()           # the same request as a curl command (secret in $KFRESEARCH_API_SECRET)
    t.frame()             # a DataFrame: method, path, status, error, cost, pool levels, timings

A trace records what every kfresearch client (blocking or async) and every
stream in this process sends and receives while it is open, from any thread:
retries are records of their own, and the rate-limit pool's level is noted
before and after each request. The public key is shortened (``DIK2…``) in
headers and messages; the signature is shown; the secret is never on the
wire, so never in a record. When no trace is open the transports pay one
empty-list test per request or message (``bench/trace.py`` measures it).

How a transport feeds traces: :mod:`kfresearch.trace.hook`.
"""

from __future__ import annotations

from kfresearch.trace.curl import curl
from kfresearch.trace.hook import RECORDERS, record_http, record_ws
from kfresearch.trace.recording import COLUMNS, Trace
from kfresearch.trace.records import HttpRecord, WsRecord

__all__ = [
    "COLUMNS",
    "RECORDERS",
    "HttpRecord",
    "Trace",
    "WsRecord",
    "curl",
    "record_http",
    "record_ws",
]
