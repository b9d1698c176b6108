"""Environments build their exchange; the client does not (issue 13).

``sim`` builds a fresh seeded exchange for each client unless one is passed to
share; ``demo`` builds a paper exchange per client, all on one live source per
upstream (here a simulator standing in for the live exchange); ``live`` builds nothing.
"""

from __future__ import annotations

import httpx
import pytest

import kfresearch
from kfresearch.environments import ENVIRONMENTS, build_exchange, resolve_environment
from kfresearch.errors import ConfigurationError, ValidationError
from kfresearch.sim.exchange import SimExchange


def test_each_connect_sim_gets_a_fresh_exchange() -> None:
    first, second = kfresearch.connect("sim"), kfresearch.connect("sim")
    assert isinstance(first.sim, SimExchange)
    assert first.sim is not second.sim
    first.place_order("PF_XBTUSD", "buy", 0.01, limit_price=50_000, client_order_id="mine")
    assert len(first.open_orders()) == 1
    assert second.open_orders().empty  # another client's orders are not visible
    assert second.positions().empty
    # the same client order id is free on a fresh exchange
    again = second.place_order(
        "PF_XBTUSD", "buy", 0.01, limit_price=50_000, client_order_id="mine"
    )
    assert again.status == "placed"


def test_an_exchange_passed_in_is_shared() -> None:
    first = kfresearch.connect("sim")
    shared = kfresearch.connect("sim", exchange=first.sim)
    assert shared.sim is first.sim
    first.place_order("PF_XBTUSD", "buy", 0.01, limit_price=50_000)
    assert len(shared.open_orders()) == 1
    async_twin = kfresearch.AsyncClient("sim", exchange=first.sim)
    assert async_twin.sim is first.sim


def test_fresh_exchanges_repeat_their_client_order_ids() -> None:
    first, second = kfresearch.connect("sim"), kfresearch.connect("sim")
    ids = [first._new_client_order_id(), first._new_client_order_id()]
    assert [second._new_client_order_id(), second._new_client_order_id()] == ids
    # clients of one exchange draw from one stream: no id twice
    sharing = kfresearch.connect("sim", exchange=first.sim)
    assert sharing._new_client_order_id() not in ids


def test_demo_builds_a_paper_exchange_per_client_on_one_live_source(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kfresearch.sim.clock import SimClock
    from kfresearch.sim.demo import DemoExchange, live_source
    from kfresearch.sim.transport import SimTransport

    upstream = SimExchange(seed=42, clock=SimClock.fixed("2026-11-01T00:00:00Z"))
    url = "http://environments-upstream.kfresearch.invalid"
    live_source(url, http=httpx.Client(transport=SimTransport(upstream)))
    monkeypatch.setenv("KFRESEARCH_DEMO_UPSTREAM", url)
    first, second = kfresearch.connect("demo"), kfresearch.connect("demo")
    assert isinstance(first.sim, DemoExchange)
    assert first.sim is not second.sim
    assert first.sim.source is second.sim.source
    assert first.paper.name == "default"
    assert first._new_client_order_id() != second._new_client_order_id()


def test_a_name_resolves_to_a_factory_of_parts() -> None:
    assert ENVIRONMENTS["sim"].factory == "kfresearch.sim.environments:sim"
    assert ENVIRONMENTS["live"].factory is None
    parts = build_exchange(resolve_environment("sim"))
    assert parts is not None
    assert isinstance(parts.exchange, SimExchange)
    assert isinstance(parts.transport, httpx.BaseTransport)
    assert isinstance(parts.transport, httpx.AsyncBaseTransport)
    assert parts.credentials == parts.exchange.credentials("full")
    assert build_exchange(resolve_environment("live")) is None
    # a served simulator: its provisioned keys, the network as transport
    served = build_exchange(resolve_environment("sim", base_url="http://127.0.0.1:8765"))
    assert served is not None
    assert served.transport is None
    assert served.exchange is None
    assert served.credentials == parts.credentials


def test_exchange_is_refused_where_kfresearch_does_not_build_one() -> None:
    other = kfresearch.connect("sim").sim
    with pytest.raises(ConfigurationError, match="leave exchange= out"):
        kfresearch.connect("live", exchange=other)
    with pytest.raises(ConfigurationError, match="leave exchange= out"):
        kfresearch.connect("sim", base_url="http://127.0.0.1:8765", exchange=other)
    with pytest.raises(ConfigurationError, match=r"kf\.sim"):
        kfresearch.connect("sim", exchange="not an exchange")


def test_the_transport_must_suit_the_client() -> None:
    with pytest.raises(ValidationError, match="AsyncClient"):
        kfresearch.connect("sim", transport=httpx.AsyncHTTPTransport())  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="goes with Client"):
        kfresearch.AsyncClient("sim", transport=httpx.HTTPTransport())
    mocked = kfresearch.connect(
        "live", transport=httpx.MockTransport(lambda request: httpx.Response(503))
    )
    assert mocked.env.name == "live"
