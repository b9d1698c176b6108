"""Client and AsyncClient are twins: one declaration per method, same names, signatures and
docstrings; the async ones are coroutine functions returning the same types."""

from __future__ import annotations

import inspect
from typing import Any

import pandas as pd
import pytest

import kfresearch
from kfresearch import AsyncClient, Client
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange

# The differences the two clients have by design, and nothing else.
ONLY_SYNC = {"close", "__enter__", "__exit__"}
ONLY_ASYNC = {"aclose", "__aenter__", "__aexit__"}
# Same name and parameters, different return type and words: a thread vs a task.
DIFFERENT_RESULT = {"keep_alive": ("DeadMansSwitch", "AsyncDeadMansSwitch")}
DUNDERS = {"__enter__", "__exit__", "__aenter__", "__aexit__"}
# No I/O of their own, so one function serves both: the stream's waiting calls block in a
# script and are awaited on a running loop, whichever client made it; a trace is a plain
# ``with`` block in sync and async code alike.
SHARED = {"stream", "trace"}


def _public(cls: type) -> set[str]:
    return {n for n in dir(cls) if not n.startswith("_")} | (DUNDERS & set(dir(cls)))


def test_same_public_names_apart_from_closing_and_context_managers() -> None:
    sync, async_ = _public(Client), _public(AsyncClient)
    assert sync - async_ == ONLY_SYNC
    assert async_ - sync == ONLY_ASYNC
    # the drifted ones of issue 11 exist on both sides now
    assert {"doctor", "keep_alive", "request", "preview_order"} <= sync & async_


@pytest.mark.parametrize("name", sorted((_public(Client) & _public(AsyncClient)) - DUNDERS))
def test_same_signature_and_docstring(name: str) -> None:
    sync, async_ = getattr(Client, name), getattr(AsyncClient, name)
    if isinstance(inspect.getattr_static(Client, name), property):
        assert inspect.getattr_static(Client, name) is inspect.getattr_static(AsyncClient, name)
        return
    if name in SHARED:
        assert inspect.getattr_static(Client, name) is inspect.getattr_static(AsyncClient, name)
        parameters = inspect.signature(sync).parameters.values()
        assert all(p.kind is not p.VAR_KEYWORD for p in parameters), name  # no **kwargs
        return
    assert callable(sync)
    assert not inspect.iscoroutinefunction(sync), name
    assert inspect.iscoroutinefunction(async_), name
    s, a = inspect.signature(sync), inspect.signature(async_)
    assert list(s.parameters.values()) == list(a.parameters.values()), name
    assert all(p.kind is not p.VAR_KEYWORD for p in s.parameters.values()), name  # no **kwargs
    assert (sync.__doc__ or "").strip(), f"Client.{name} has no docstring"
    assert (async_.__doc__ or "").strip(), f"AsyncClient.{name} has no docstring"
    if name in DIFFERENT_RESULT:
        assert (s.return_annotation, a.return_annotation) == DIFFERENT_RESULT[name]
        return
    assert s.return_annotation == a.return_annotation != inspect.Signature.empty, name
    assert sync.__doc__ == async_.__doc__, name


def test_methods_are_real_functions_on_each_class() -> None:
    """help(), Jupyter's shift-tab and IDEs see a function with the declaration's signature."""
    for cls in (Client, AsyncClient):
        method = vars(cls)["candles"]
        assert inspect.isfunction(method)
        assert method.__qualname__ == f"{cls.__name__}.candles"
        params = list(inspect.signature(method).parameters)
        assert params[:5] == ["self", "symbol", "resolution", "since", "until"]
    assert "OHLCV candles" in (Client.candles.__doc__ or "")
    text = pydoc_text(Client)
    assert "candles(self, symbol: 'str', resolution: 'str' = '1h'" in text
    assert "async candles(self, symbol" in pydoc_text(AsyncClient)


def pydoc_text(cls: type) -> str:
    import pydoc

    return pydoc.plaintext.document(cls)


def test_constructors_spell_out_their_parameters() -> None:
    expected = ["env", "key", "secret", "base_url", "allow_trading", "timeout", "retry",
                "limiter", "exchange", "transport", "protocol", "uws_key", "uws_secret", "account",
                "balance"]
    for made in (Client, AsyncClient, kfresearch.connect):
        params = inspect.signature(made).parameters
        assert list(params) == expected, made
        assert all(p.kind is not p.VAR_KEYWORD for p in params.values())


def test_no_since_or_until_is_typed_any() -> None:
    for cls in (Client, AsyncClient):
        for name in dir(cls):
            if name.startswith("_") or not callable(getattr(cls, name)):
                continue
            for param in inspect.signature(getattr(cls, name)).parameters.values():
                if param.name in {"since", "until", "process_before"}:
                    assert param.annotation == "TimeLike | None", (cls, name, param)


@pytest.fixture(scope="module")
def exchange() -> SimExchange:
    return SimExchange(seed=5, clock=SimClock.fixed("2026-11-01T00:00:00Z"))


CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("tickers", (), {}),
    ("candles", ("PF_XBTUSD", "1h"), {"since": "1d"}),
    ("order_context", ("PF_XBTUSD",), {}),
    ("preview_order", ("PF_XBTUSD", "buy", 0.001, "mkt"), {}),
    ("place_order", ("PF_XBTUSD", "buy", 0.001, "mkt"), {}),
    ("order_status", (), {}),
    ("cancel_all_after", (0,), {}),
    ("doctor", (), {}),
    ("request", ("GET", "/derivatives/api/v3/tickers/PF_XBTUSD"), {}),
]


@pytest.mark.anyio
async def test_async_returns_awaitables_of_the_same_types(exchange: SimExchange) -> None:
    kf = Client("sim", exchange=exchange)
    async with AsyncClient("sim", exchange=exchange) as akf:
        for name, args, kwargs in CALLS:
            sync = getattr(kf, name)(*args, **kwargs)
            pending = getattr(akf, name)(*args, **kwargs)
            assert inspect.isawaitable(pending), name
            async_ = await pending
            assert type(sync) is type(async_), name
            if isinstance(sync, pd.DataFrame):
                assert list(sync.columns) == list(async_.columns), name
                assert sync.attrs["env"] == async_.attrs["env"] == "sim"
    kf.close()
