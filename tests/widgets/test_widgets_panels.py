"""Open-orders and positions panels, driven from Python."""

from __future__ import annotations

import time
from typing import Any

import pytest

import kfresearch

pytest.importorskip("ipywidgets")

from kfresearch.widgets import OrdersPanel, PositionsPanel


def test_orders_panel_cancel_buttons(kf: kfresearch.Client, acct: Any) -> None:
    a = kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=70000)
    b = kf.place_order("PF_ETHUSD", "sell", 0.01, limit_price=9000)
    panel = OrdersPanel(kf)
    assert set(panel.cancel_buttons) == {a.order_id, b.order_id}
    assert repr(panel) == "OrdersPanel(env='sim', orders=2)"
    texts = [getattr(c, "value", "") for c in panel.table.children]
    assert "PF_ETHUSD" in texts
    assert "70,000 USD" in texts
    panel.cancel_buttons[a.order_id].click()
    assert list(acct.open_orders) == [b.order_id]
    assert "cancelled" in panel.status.value
    assert set(panel.cancel_buttons) == {b.order_id}
    kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=69000)
    panel.refresh_button.click()
    assert len(panel.cancel_buttons) == 2
    panel.cancel_all_button.click()
    assert acct.open_orders == {}
    assert "2 orders cancelled" in panel.status.value
    assert panel.cancel_buttons == {}
    assert repr(panel) == "OrdersPanel(env='sim', orders=0)"


def test_orders_panel_shows_a_cancel_that_came_too_late(kf: kfresearch.Client) -> None:
    order = kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=70000)
    panel = OrdersPanel(kf)
    kf.cancel_order(order.order_id)  # somebody else was faster
    panel.cancel_buttons[order.order_id].click()
    assert "Not cancelled: notFound" in panel.status.value


def test_positions_panel_close_button(kf: kfresearch.Client, acct: Any) -> None:
    kf.place_order("PF_XBTUSD", "buy", 0.01, "mkt")
    kf.place_order("PF_ETHUSD", "sell", 0.1, "mkt")
    panel = PositionsPanel(kf)
    assert set(panel.close_buttons) == {"PF_XBTUSD", "PF_ETHUSD"}
    assert repr(panel) == "PositionsPanel(env='sim', positions=2)"
    panel.close_buttons["PF_ETHUSD"].click()
    assert set(acct.positions) == {"PF_XBTUSD"}
    closing = acct.fills[-1]
    assert (closing.side, closing.quantity, closing.symbol) == ("buy", 0.1, "PF_ETHUSD")
    assert set(panel.close_buttons) == {"PF_XBTUSD"}
    assert "filled 0.1" in panel.status.value


def test_positions_panel_on_live_asks_twice(make_live_sim: Any, acct: Any) -> None:
    kf = make_live_sim(allow_trading=True)
    kf.place_order("PF_XBTUSD", "buy", 0.01, "mkt")
    panel = PositionsPanel(kf)
    panel.close_buttons["PF_XBTUSD"].click()
    assert "Confirm close" == panel.close_buttons["PF_XBTUSD"].description
    assert "PF_XBTUSD" in acct.positions
    panel.close_buttons["PF_XBTUSD"].click()
    assert "PF_XBTUSD" not in acct.positions


def test_panel_errors_are_shown(kf: kfresearch.Client, monkeypatch: Any) -> None:
    panel = OrdersPanel(kf)

    def broken() -> Any:
        raise kfresearch.NetworkError("no route to the exchange")

    monkeypatch.setattr(kf, "open_orders", broken)
    panel.refresh_button.click()
    assert "no route to the exchange" in panel.status.value


@pytest.mark.parametrize("cls", [OrdersPanel, PositionsPanel])
def test_timed_refresh_stops_when_closed(kf: kfresearch.Client, cls: Any) -> None:
    panel = cls(kf, refresh_interval=0.02)
    assert panel.running
    deadline = time.monotonic() + 5
    while panel.refreshes < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert panel.refreshes >= 4
    panel.close()
    assert not panel.running
    count = panel.refreshes
    time.sleep(0.1)
    assert panel.refreshes == count
