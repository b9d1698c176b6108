"""The order ticket, driven from Python: set values, click, look at the simulator."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import pytest

import kfresearch
from kfresearch.sim.exchange import SimExchange

pytest.importorskip("ipywidgets")

from kfresearch.widgets import OrderTicket

BID, ASK = 79099.0, 79102.0


def sends(recorder: Any) -> int:
    return recorder.paths().count("sendorder")


def test_widgets_are_imported_lazily() -> None:
    code = (
        "import sys, kfresearch, kfresearch.widgets; "
        "assert 'ipywidgets' not in sys.modules, 'eager'; "
        "kfresearch.widgets.OrderTicket; assert 'ipywidgets' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_ticket_starts_from_the_market(kf: kfresearch.Client) -> None:
    ticket = OrderTicket(kf, "pf_xbtusd")
    assert ticket.symbol.value == "PF_XBTUSD"
    assert "PF_ETHUSD" in ticket.symbol.options
    assert "SIM · synthetic prices" in ticket.badge.value
    assert "available margin 100,000.00 USD" in ticket.margin.value
    assert ticket.limit_price.value == BID  # a passive price to start with
    assert ticket.size.value == 0.0001  # the contract step
    preview = ticket.preview_html.value
    assert "79,099 / 79,102 USD" in preview
    assert "notional" in preview
    assert "est. fee" in preview
    assert ticket.result.value == ""
    assert repr(ticket) == (
        "OrderTicket(env='sim', symbol='PF_XBTUSD', side='buy', order_type='lmt', "
        "size=0.0001, limit_price=79099.0)"
    )


def test_submit_places_the_order_and_shows_the_result(kf: kfresearch.Client, acct: Any) -> None:
    ticket = OrderTicket(kf, "PF_XBTUSD")
    ticket.size.value = 0.002
    ticket.limit_price.value = 70000
    ticket.submit_button.click()
    result = ticket.last_result
    assert result is not None
    assert result.status == "placed"
    order = acct.open_orders[result.order_id]
    assert (order.side, order.quantity, order.limit_price, order.order_type) == (
        "buy", 0.002, 70000.0, "lmt")
    assert "Resting on the book at 70,000 USD; nothing filled yet." in ticket.result.value
    assert result.order_id in ticket.result.value
    assert "#1a7f37" in ticket.result.value  # shown as a success


def test_sell_market_order(kf: kfresearch.Client, acct: Any) -> None:
    ticket = OrderTicket(kf, "PF_XBTUSD")
    ticket.sell_button.click()
    assert ticket.side == "sell"
    assert ticket.sell_button.button_style == "danger"
    ticket.order_type.value = "mkt"
    assert ticket.limit_row.layout.display == "none"
    # only the price rows hide: every other row keeps its own layout and stays visible
    hidden = [c for c in ticket.children if c.layout.display == "none"]
    assert set(hidden) == {ticket.limit_row, ticket.stop_row, ticket.trailing_row,
                           ticket.trigger_row, ticket.confirm_box}
    ticket.size.value = 0.01
    ticket.submit_button.click()
    assert ticket.last_result is not None
    assert ticket.last_result.filled == 0.01
    assert acct.positions["PF_XBTUSD"].size == -0.01
    assert "0 → -0.01" not in ticket.preview_html.value  # the position was refreshed
    assert "-0.01 → -0.02" in ticket.preview_html.value


def test_invalid_input_shows_the_field_error_and_sends_nothing(
    kf: kfresearch.Client, recorder: Any, acct: Any
) -> None:
    ticket = OrderTicket(kf, "PF_XBTUSD")
    ticket.size.value = 0.00015
    error = ticket.field_errors["size"].value
    assert "not a multiple of the 0.0001 contract step" in error  # inline, while typing
    ticket.submit_button.click()
    assert "Not sent" in ticket.result.value
    assert "nearest valid: 0.0001 or 0.0002" in (
        ticket.result.value)
    assert sends(recorder) == 0
    assert acct.orders == {}
    ticket.size.value = 0.0002
    assert ticket.field_errors["size"].value == ""


def test_stop_order_needs_its_trigger(kf: kfresearch.Client, recorder: Any, acct: Any) -> None:
    ticket = OrderTicket(kf, "PF_XBTUSD")
    ticket.order_type.value = "stp"
    assert ticket.stop_row.layout.display is None
    assert ticket.trigger_row.layout.display is None
    ticket.limit_price.value = 0
    ticket.submit_button.click()
    assert "stop_price (the trigger price) is required" in ticket.field_errors["stop_price"].value
    assert sends(recorder) == 0
    ticket.sell_button.click()
    ticket.stop_price.value = 70000
    ticket.trigger_signal.value = "last"
    ticket.submit_button.click()
    order = acct.orders[ticket.last_result.order_id]
    assert (order.order_type, order.stop_price, order.trigger_signal, order.limit_price) == (
        "stp", 70000.0, "last", None)


def test_prices_snap_to_the_tick_and_step_by_ticks(kf: kfresearch.Client) -> None:
    ticket = OrderTicket(kf, "PF_XBTUSD")
    ticket.limit_price.value = 70000.4
    assert ticket.limit_price.value == 70000.0
    assert "snapped 70000.4 to the 1 tick" in ticket.field_errors["limit_price"].value
    ticket.limit_up.click()
    ticket.limit_up.click()
    ticket.limit_down.click()
    assert ticket.limit_price.value == 70001.0
    assert ticket.field_errors["limit_price"].value == ""
    ticket.use_ask.click()
    assert ticket.limit_price.value == ASK
    ticket.use_bid.click()
    assert ticket.limit_price.value == BID
    ticket.use_mark.click()
    assert ticket.limit_price.value == 79101.0  # mark 79100.78 on the 1.0 tick


def test_notional_converts_to_contracts(kf: kfresearch.Client) -> None:
    ticket = OrderTicket(kf, "PF_XBTUSD")
    ticket.limit_price.value = 80000
    ticket.notional.value = 1000
    assert ticket.size.value == 0.0125  # 1000 USD / 80000, down to the 0.0001 step
    ticket.size.value = 0.5
    assert ticket.notional.value == 40000.0
    ticket.symbol.value = "PI_XBTUSD"  # inverse: one contract is 1 USD
    ticket.notional.value = 250
    assert ticket.size.value == 250.0
    assert "USD contracts" in ticket.size_unit.value
    assert " XBT" in ticket.margin.value


def test_exchange_rejection_is_shown(kf: kfresearch.Client) -> None:
    ticket = OrderTicket(kf, "PF_XBTUSD")
    ticket.post_only.value = True
    ticket.limit_price.value = ASK
    ticket.submit_button.click()
    assert "Rejected: postWouldExecute" in ticket.result.value
    assert "buy below the best ask" in ticket.result.value
    assert ticket.last_result is None


def test_unknown_symbol_is_a_field_error(kf: kfresearch.Client) -> None:
    ticket = OrderTicket(kf, "PF_XBTUSDX")
    assert "did you mean PF_XBTUSD" in ticket.field_errors["symbol"].value
    ticket.submit_button.click()
    assert "Not sent" in ticket.result.value


def test_callback_errors_are_shown_not_lost(kf: kfresearch.Client, monkeypatch: Any,
                                            caplog: Any) -> None:
    ticket = OrderTicket(kf, "PF_XBTUSD")

    def broken(symbol: str) -> Any:
        raise RuntimeError("feed went away")

    monkeypatch.setattr(kf, "order_context", broken)
    ticket.refresh_button.click()
    assert "RuntimeError: feed went away" in ticket.result.value
    assert "feed went away" in caplog.text


def test_live_needs_the_typed_symbol(make_live_sim: Any, recorder: Any, acct: Any) -> None:
    kf = make_live_sim(allow_trading=True)
    ticket = OrderTicket(kf, "PF_XBTUSD")
    assert "LIVE" in ticket.badge.value
    assert "#cf222e" in ticket.badge.value
    ticket.size.value = 0.001
    ticket.limit_price.value = 70000
    ticket.submit_button.click()
    assert ticket.confirm_box.layout.display == "flex"
    assert "type PF_XBTUSD" in ticket.result.value
    assert sends(recorder) == 0
    ticket.confirm_text.value = "PF_ETHUSD"
    ticket.confirm_button.click()
    assert "type the symbol PF_XBTUSD exactly" in ticket.result.value
    assert sends(recorder) == 0
    ticket.limit_price.value = 70001  # changing the order cancels the confirmation
    assert ticket.confirm_box.layout.display == "none"
    ticket.confirm_button.click()
    assert sends(recorder) == 0
    ticket.submit_button.click()
    ticket.confirm_text.value = "PF_XBTUSD"
    ticket.confirm_button.click()
    assert sends(recorder) == 1
    assert ticket.last_result is not None
    assert acct.orders[ticket.last_result.order_id].limit_price == 70001.0


def test_live_without_opt_in_shows_the_gate(make_live_sim: Any, recorder: Any) -> None:
    ticket = OrderTicket(make_live_sim(allow_trading=False), "PF_XBTUSD")
    assert "trading disabled" in ticket.badge.value
    ticket.size.value = 0.001
    ticket.limit_price.value = 70000
    ticket.submit_button.click()
    ticket.confirm_text.value = "PF_XBTUSD"
    ticket.confirm_button.click()
    assert "nothing was sent" in ticket.result.value
    assert sends(recorder) == 0


def test_timed_refresh_stops_when_closed(kf: kfresearch.Client, ex: SimExchange) -> None:
    ticket = OrderTicket(kf, "PF_XBTUSD", refresh_interval=0.02)
    refresher = ticket._refresher
    assert refresher is not None
    assert refresher.running
    deadline = time.monotonic() + 5
    while refresher.runs < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert refresher.runs >= 3
    ticket.close()
    assert not refresher.running
    runs = refresher.runs
    time.sleep(0.1)
    assert refresher.runs == runs
