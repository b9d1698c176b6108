"""kf.trace(): every request and WebSocket message of a block, checked against the
simulator's own request log; what each record holds; HTML, text and curl."""

from __future__ import annotations

import asyncio
import doctest
import importlib
import json
import re
import subprocess
from collections import Counter
from typing import Any

import pandas as pd
import pytest

import kfresearch
from kfresearch.auth import rest_signature
from kfresearch.ratelimit import RateLimiter
from kfresearch.sim.exchange import SimExchange
from kfresearch.sim.faults import Fault
from kfresearch.trace import COLUMNS, RECORDERS, HttpRecord, Trace, WsRecord
from kfresearch.trace.records import masked_text


def _client(ex: SimExchange, cls: Any = kfresearch.Client, **kwargs: Any) -> Any:
    client = cls("sim", exchange=ex, **kwargs)
    client._sleep = (lambda s: None) if cls is kfresearch.Client else _no_wait
    return client


async def _no_wait(seconds: float) -> None:
    return None


def _http_log(ex: SimExchange, start: int) -> list[tuple[str, str]]:
    return [(e.method, e.target) for e in list(ex.request_log)[start:] if e.method != "WS"]


def _targets(trace: Trace) -> list[tuple[str, str]]:
    return [(r.method, r.path + (f"?{r.query}" if r.query else "")) for r in trace.http]


def test_a_trace_holds_every_request_of_the_block_in_the_order_sent(ex: SimExchange) -> None:
    kf = _client(ex)
    ex.add_fault(Fault("status", path="/tickers/PF_ETHUSD", count=2))  # two 503s, then a retry
    ex.add_fault(Fault("drop_before", path="/instruments/status", count=1))
    kf.tickers()  # outside the block: not recorded
    start = len(ex.request_log)
    with kf.trace() as t:
        kf.accounts()
        kf.candles("PF_XBTUSD", "1m", since="3d", progress=False)  # three pages
        kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=50_000)
        kf.request("GET", "/derivatives/api/v3/tickers/PF_ETHUSD")
        kf.request("GET", "/derivatives/api/v3/instruments/status")
        with pytest.raises(kfresearch.NotFoundError):
            kf.request("GET", "/derivatives/api/v3/tickers/f_xbtusd_240628")
    kf.tickers()  # after the block: not recorded
    logged = _http_log(ex, start)[: len(t.http)]
    assert len(ex.request_log) - start == len(t) + 1  # + the tickers after the block
    assert _targets(t) == logged
    assert len(t) >= 12
    attempts = [(r.path.rsplit("/", 1)[-1], r.attempt, r.status) for r in t.http if r.attempt > 1
                or r.status != 200]
    assert ("PF_ETHUSD", 1, 503) in attempts
    assert ("PF_ETHUSD", 3, 200) in attempts
    assert ("status", 1, None) in attempts  # the dropped connection: a record with no answer
    dropped = next(r for r in t.http if r.status is None)
    assert dropped.error == "ConnectError"
    assert dropped.answer is None
    assert t.http[-1].error == "notFound"
    assert t.http[-1].status == 404


def test_the_async_client_is_traced_too_even_with_concurrent_requests(ex: SimExchange) -> None:
    async def run() -> Trace:
        kf = _client(ex, kfresearch.AsyncClient)
        with kf.trace() as t:
            await kf.candles("PF_XBTUSD", "1m", since="4d", progress=False)  # pages at once
            await asyncio.gather(kf.accounts(), kf.open_orders(), kf.positions())
        await kf.aclose()
        return t

    start = len(ex.request_log)
    t = asyncio.run(run())
    assert Counter(_targets(t)) == Counter(_http_log(ex, start))
    assert len(t.http) >= 8


def test_a_stream_is_traced_message_by_message(ex: SimExchange) -> None:
    kf = _client(ex)
    start = len(ex.request_log)
    with kf.trace() as t:
        s = kf.stream()
        s.subscribe("open_orders")
        s.subscribe("book", ["PF_XBTUSD"])
        ex.advance("5s")
        s.sync()
        received = s.stats()["messages"]
        s.close()
    sent = [r for r in t.ws if r.direction == "sent"]
    logged = [e.body for e in list(ex.request_log)[start:] if e.method == "WS"]
    assert [r.text for r in sent] == [masked_text(text) for text in logged]
    assert len([r for r in t.ws if r.direction == "received"]) == received
    names = [r.name for r in t.ws]
    assert {"challenge", "subscribe", "subscribed", "book_snapshot", "book"} <= set(names)
    assert all("DIK2…" in r.text for r in sent if "api_key" in r.text)
    frame = t.frame()
    assert set(frame["kind"]) == {"ws"}
    assert set(frame["method"]) == {"SEND", "RECV"}


def test_a_record_shows_what_went_on_the_wire_and_what_came_back(ex: SimExchange) -> None:
    kf = _client(ex)
    creds = ex.credentials("full")
    with kf.trace() as t:
        kf.open_orders()
        kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=50_000, client_order_id="t-1")
    first, order = t.http[0], t.http[-1]
    assert (first.method, first.path, first.status, first.result) == (
        "GET", "/derivatives/api/v3/openorders", 200, "success")
    assert first.header("APIKey") == creds.key[:4] + "…"
    nonce, authent = first.header("Nonce"), first.header("Authent")
    assert nonce is not None
    assert authent is not None
    assert authent == rest_signature(creds.secret, "", nonce, first.path)
    assert first.answer["openOrders"] == []
    assert (first.pool, first.cost) == ("derivatives", 2.0)
    assert order.request_body.startswith("orderType=lmt&symbol=PF_XBTUSD&side=buy")
    assert order.post_data == order.request_body  # a POST sends its parameters in the body
    assert order.answer["sendStatus"]["status"] == "placed"
    assert order.cost == 10.0
    assert order.pool_before is not None
    assert order.pool_after is not None
    assert order.elapsed >= 0
    assert order.sent_at > 1.7e9
    assert repr(order) == "<HttpRecord POST /derivatives/api/v3/sendorder → 200 success>"


def test_pool_levels_follow_the_clients_limiter(ex: SimExchange) -> None:
    clock = [0.0]
    kf = _client(ex, limiter=RateLimiter(clock=lambda: clock[0]))
    with kf.trace() as t:
        for _ in range(3):
            kf.accounts()
    levels = [(r.pool_before, r.pool_after) for r in t.http if r.pool]
    # accounts() also reads the fee volumes: six private requests of cost 2, no refill
    assert levels == [(500.0 - 2 * i, 498.0 - 2 * i) for i in range(6)]


def test_the_frame_has_the_documented_columns_and_dtypes(ex: SimExchange) -> None:
    empty = Trace().frame()
    assert list(empty.columns) == list(COLUMNS)
    assert empty.index.name == "seq"
    kf = _client(ex)
    with kf.trace() as t:
        kf.tickers()
        kf.open_orders()
    frame = t.frame()
    assert list(frame.columns) == list(COLUMNS)
    assert {name: str(dtype) for name, dtype in frame.dtypes.items()} == {
        name: str(pd.Series([], dtype=dtype).dtype) for name, dtype in COLUMNS.items()}
    assert frame["status"].tolist() == [200, 200]
    assert frame.loc[0, "pool"] is pd.NA or pd.isna(frame.loc[0, "pool"])  # public: free
    assert frame.loc[1, "cost"] == 2.0
    assert frame.loc[1, "signed"]


def test_traces_nest_stop_and_record_nothing_when_closed(ex: SimExchange) -> None:
    kf = _client(ex)
    with kf.trace() as outer:
        kf.tickers()
        with kf.trace() as inner:
            kf.open_orders()
        kf.positions()  # two requests: positions and tickers
    kf.tickers()
    assert (len(outer), len(inner)) == (4, 1)
    assert RECORDERS == []
    assert outer[1] is inner[0]  # one record, seen by both
    assert repr(outer) == "<Trace: 4 HTTP requests>"
    paused = kf.trace().start()
    kf.tickers()
    paused.stop()
    kf.tickers()
    assert len(paused) == 1
    assert not paused.recording


def test_nothing_is_recorded_or_built_while_no_trace_is_open(
    ex: SimExchange, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a record was built with no trace open")

    monkeypatch.setattr("kfresearch.transport.record_http", boom)
    monkeypatch.setattr("kfresearch.stream.stream.record_ws", boom)
    kf = _client(ex)
    kf.accounts()
    s = kf.stream()
    s.subscribe("book", ["PF_XBTUSD"])
    s.close()


def test_html_and_text_are_stable_readable_and_escaped(ex: SimExchange) -> None:
    kf = _client(ex)
    with kf.trace() as t:
        kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=50_000)
        with pytest.raises(kfresearch.NotFoundError):
            kf.request("GET", "/derivatives/api/v3/tickers/<b>")
    order, missing = t.http[-2], t.http[-1]
    html = order._repr_html_()
    assert html == order._repr_html_()
    assert not re.search(r"\bid=|<script", html)
    assert "POST /derivatives/api/v3/sendorder" in html
    assert "&quot;sendStatus&quot;" in html
    assert "cost 10 on the derivatives pool" in html
    assert "&lt;b&gt;" in missing._repr_html_()
    assert "<b>" not in missing._repr_html_()
    assert "the simulator says why" in missing._repr_html_()
    text = str(order)
    assert text.splitlines()[0].startswith("POST http://sim.kfresearch.invalid/")
    assert "HTTP 200" in text
    assert '"status": "placed"' in text
    assert "ms" not in text.split("HTTP 200")[0]  # no timings in the text form
    assert "<table" in t._repr_html_()
    assert "1 answered with an error" in t._repr_html_()


def test_curl_of_a_public_request_is_one_command(ex: SimExchange) -> None:
    kf = _client(ex)
    with kf.trace() as t:
        kf.orderbook("PF_XBTUSD")
    book = next(r for r in t.http if "orderbook" in r.path)
    assert book.curl() == (
        "curl -X GET 'http://sim.kfresearch.invalid/derivatives/api/v3/orderbook?symbol=PF_XBTUSD'"
    )


def test_curl_signs_in_the_shell_with_the_secret_from_a_variable(ex: SimExchange) -> None:
    kf = _client(ex)
    creds = ex.credentials("full")
    with kf.trace() as t:
        kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=50_000)
    order = t.http[-1]
    command = order.curl()
    assert creds.secret.reveal() not in command
    assert creds.key not in command
    assert '"APIKey: $KFRESEARCH_API_KEY"' in command
    assert "--data-raw" in command
    # run the signing lines with a fixed nonce: the shell computes the exchange's Authent
    script = command.replace("NONCE=$(date +%s%6N)", "NONCE=1700000000000000")
    script = script[: script.index("curl -X")] + 'printf %s "$AUTHENT"'
    out = subprocess.run(
        ["bash", "-c", script],
        env={"KFRESEARCH_API_SECRET": creds.secret.reveal(), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=True,
    ).stdout
    assert out == rest_signature(creds.secret, order.request_body, "1700000000000000", order.path)


def test_records_of_other_transports_enter_through_the_hook() -> None:
    from kfresearch.trace import record_ws

    with Trace() as t:
        record_ws("sent", "wss://example.test/v2", b'{"method":"subscribe","api_key":"ABCDEFG"}',
                  1.0)
    record = t[0]
    assert isinstance(record, WsRecord)
    assert record.text.endswith('"api_key":"ABCD…"}')
    assert not isinstance(record, HttpRecord)
    assert record.name == "subscribe"  # a Unified WebSocket request is named by its method


@pytest.mark.parametrize("module_name", ["kfresearch.auth", "kfresearch.transport",
                                         "kfresearch.trace.records", "kfresearch.sim.diagnosis"])
def test_docstring_examples_run(module_name: str) -> None:
    result = doctest.testmod(importlib.import_module(module_name))
    assert result.attempted > 0
    assert result.failed == 0


def test_unified_websocket_requests_are_traced_with_the_token_shortened() -> None:
    # the UWS client's own socket (uws/link.py) feeds traces through the same hook
    from kfresearch.uws.link import Link

    token = "G38a1tGFzqGiUCmnegBcm8d4nfP3tytiNQz6tkCBYXY"
    url = "wss://ws-auth.kraken.com/v2"

    class Answering:
        def __init__(self) -> None:
            self.inbox: asyncio.Queue[str] = asyncio.Queue()

        async def send(self, text: str) -> None:
            request = json.loads(text)
            self.inbox.put_nowait(json.dumps({"method": request["method"], "success": True,
                                              "req_id": request["req_id"], "result": {}}))

        async def recv(self) -> str:
            return await self.inbox.get()

        async def close(self) -> None:
            return None

    async def run() -> Trace:
        link = Link(Answering(), lambda push: None, name="private", url=url)
        with Trace() as trace:
            answer = await link.request("subscribe", {"channel": "executions", "token": token},
                                        timeout=5)
            await asyncio.sleep(0)
        assert answer.success
        await link.close()
        return trace

    trace = asyncio.run(run())
    assert [(r.direction, r.url, r.name) for r in trace.ws] == [
        ("sent", url, "subscribe"), ("received", url, "subscribe")
    ]
    assert token not in repr(trace.frame().to_dict()) + "".join(r.text for r in trace.ws)
    assert '"token":"G38a…"' in trace.ws[0].text
