"""What the widgets tell the user: panels in step with the ticket, an honest preview and
result line, and numbers with their units rounded to the contract."""

from __future__ import annotations

import re
from typing import Any

import pytest

import kfresearch

pytest.importorskip("ipywidgets")

from kfresearch.widgets import OrdersPanel, OrderTicket, PositionsPanel, _events


def cells(panel: Any) -> list[str]:
    return [str(getattr(c, "value", "")) for c in panel.table.children]


def test_panels_refresh_when_the_ticket_fills(kf: kfresearch.Client, acct: Any) -> None:
    positions, orders = PositionsPanel(kf), OrdersPanel(kf)
    ticket = OrderTicket(kf, "PF_ETHUSD")
    assert repr(positions) == "PositionsPanel(env='sim', positions=0)"
    ticket.order_type.value = "mkt"
    ticket.size.value = 0.5
    ticket.submit_button.click()
    assert "PF_ETHUSD" in acct.positions
    assert repr(positions) == "PositionsPanel(env='sim', positions=1)"  # no Refresh click
    assert set(positions.close_buttons) == {"PF_ETHUSD"}
    ticket.order_type.value = "lmt"
    ticket.limit_price.value = 1000
    ticket.submit_button.click()
    assert repr(orders) == "OrdersPanel(env='sim', orders=1)"
    assert ticket.last_result is not None
    assert set(orders.cancel_buttons) == {ticket.last_result.order_id}


def test_ticket_and_other_panels_follow_a_panel(kf: kfresearch.Client, acct: Any) -> None:
    kf.place_order("PF_ETHUSD", "buy", 0.5, "mkt")
    ticket = OrderTicket(kf, "PF_ETHUSD")
    first, second = PositionsPanel(kf), PositionsPanel(kf)
    assert ticket.context is not None
    assert ticket.context.position == 0.5
    first.close_buttons["PF_ETHUSD"].click()
    assert acct.positions == {}
    assert ticket.context.position == 0.0  # the ticket reloaded its position
    assert repr(second) == "PositionsPanel(env='sim', positions=0)"


def test_widgets_on_another_client_are_not_told(kf: kfresearch.Client, ex: Any) -> None:
    other = kfresearch.Client("sim", exchange=ex)
    panel = PositionsPanel(other)
    before = panel.refreshes
    ticket = OrderTicket(kf, "PF_ETHUSD")
    ticket.order_type.value = "mkt"
    ticket.size.value = 0.1
    ticket.submit_button.click()
    assert panel.refreshes == before
    other.close()


def test_closed_widgets_stop_listening(kf: kfresearch.Client) -> None:
    panel = PositionsPanel(kf)
    ticket = OrderTicket(kf, "PF_ETHUSD")
    assert _events.announce(kf, sender=None) == 2
    panel.close()
    ticket.close()
    assert _events.announce(kf, sender=None) == 0
    kept = OrdersPanel(kf)
    assert _events.announce(kf, sender=None) == 1
    assert _events.announce(kf, sender=kept) == 0  # the sender refreshes itself


def test_preview_shows_the_error_not_numbers_for_an_invalid_size(kf: kfresearch.Client) -> None:
    ticket = OrderTicket(kf, "PF_ETHUSD")
    assert "notional" in ticket.preview_html.value
    ticket.size.value = -1
    preview = ticket.preview_html.value
    for estimate in ("notional", "margin", "fee", "position"):
        assert estimate not in preview
    assert "not estimated" in preview
    assert "size" in preview
    assert "positive" in preview
    assert "best bid / ask" in preview  # the market is still shown
    ticket.size.value = 0.5
    assert "est. initial margin" in ticket.preview_html.value


def test_result_line_says_the_order_filled(kf: kfresearch.Client) -> None:
    ticket = OrderTicket(kf, "PF_ETHUSD")
    ticket.order_type.value = "mkt"
    ticket.size.value = 0.5
    ticket.submit_button.click()
    result = ticket.last_result
    assert result is not None
    assert result.filled == 0.5
    text = ticket.result.value
    assert "Accepted: the order rests on the book" not in text
    average = f"{result.avg_fill_price:,.1f}"  # PF_ETHUSD's tick is 0.1
    assert f"Filled 0.5 at {average} USD. (buy 0.5 PF_ETHUSD mkt, order id" in text


def test_result_line_says_the_stop_waits(kf: kfresearch.Client) -> None:
    ticket = OrderTicket(kf, "PF_XBTUSD")
    ticket.sell_button.click()
    ticket.order_type.value = "stp"
    ticket.limit_price.value = 0
    ticket.stop_price.value = 70000
    ticket.submit_button.click()
    assert "Waiting for its trigger: mark price at 70,000 USD." in ticket.result.value


def test_result_line_says_the_rest_of_an_ioc_was_cancelled(kf: kfresearch.Client) -> None:
    book = kf.orderbook("PF_ETHUSD", depth=1)
    ask = book[book["side"] == "ask"].iloc[0]
    ticket = OrderTicket(kf, "PF_ETHUSD")
    ticket.order_type.value = "ioc"
    ticket.limit_price.value = float(ask["price"])
    ticket.size.value = float(ask["size"]) + 1
    ticket.submit_button.click()
    text = ticket.result.value
    assert re.search(r"Partly filled: [\d.,]+ of [\d.,]+ at [\d,]+\.\d USD; the other "
                     r"[\d.]+ was cancelled\.", text), text


def test_panel_numbers_have_units_and_the_contract_rounding(kf: kfresearch.Client) -> None:
    kf.place_order("PF_ETHUSD", "buy", 0.5, "mkt")
    kf.place_order("PI_XBTUSD", "sell", 12500, "mkt")
    kf.place_order("PF_XBTUSD", "buy", 0.001, limit_price=70000)
    positions = PositionsPanel(kf)
    frame = positions.frame
    shown = cells(positions)
    eth = frame.loc["PF_ETHUSD"]
    assert f"{eth['mark_price']:,.1f} USD" in shown  # the 0.1 tick, not 2,647.3404
    assert f"{eth['entry_price']:,.1f} USD" in shown
    assert f"{eth['unrealized_pnl']:+,.2f} USD" in shown  # cents, not -0.12978875
    inverse = frame.loc["PI_XBTUSD"]
    assert "-12,500" in shown  # USD contracts with a thousands separator
    assert f"{inverse['unrealized_pnl']:+,.8f} XBT" in shown  # inverse PnL is in the coin
    assert "12,500.00 USD" in shown or "-12,500.00 USD" in shown  # notional
    long_decimals = [t for t in shown if re.search(r"\.\d{3,}", t) and not t.endswith(" XBT")]
    assert long_decimals == []
    orders = OrdersPanel(kf)
    assert "70,000 USD" in cells(orders)
    assert "0.001" in cells(orders)
