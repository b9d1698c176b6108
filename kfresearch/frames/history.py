"""Private history frames (``https://futures.kraken.com/api/history/v3``).

Bodies: ``{"accountUid", "len", "elements": [{"uid", "timestamp", "event":
{<Kind>: {…}}}], "continuationToken"}`` (account log: ``{"accountUid",
"logs": […]}``). Every function takes one body or a sequence of page bodies,
concatenates them, sorts by time and drops duplicates.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from kfresearch.contracts import settlement_currencies
from kfresearch.frames.core import (
    STR_DTYPE,
    Col,
    Flat,
    FrameSpec,
    Prepare,
    Sort,
    as_pages,
    build,
    col,
    exchange_seq,
    flatten,
    flatten_events,
    last_attr,
    pages_attrs,
    payload,
)

__all__ = [
    "ACCOUNT_LOG_CSV_FIELDS",
    "account_log",
    "account_log_csv",
    "executions",
    "order_history",
    "positions_history",
]


def _element_pages(
    body_or_pages: Any,
    spec: FrameSpec,
    *,
    sort: Sort | None,
    prepare: Prepare | None = None,
    skip: tuple[str, ...] = (),
    keep: frozenset[str] | None = None,
) -> tuple[Flat, int, dict[str, Any]]:
    pages = as_pages(body_or_pages, name=spec.name)
    elements: list[Any] = []
    account_uids: list[Any] = []
    for page in pages:
        records = payload(page, "elements", name=spec.name)
        elements.extend(records)
        account_uids.extend([page.get("accountUid")] * len(records))
    flat = flatten_events(
        elements,
        stop=spec.stop,
        skip=spec.drop + skip,
        keep=spec.needed if keep is None else keep,
        prepare=prepare,
        extra={"element.account_uid": account_uids},
    )
    flat["seq"] = exchange_seq(flat["element.timestamp"], len(elements), sort)
    attrs = pages_attrs(pages)
    attrs["account_uid"] = last_attr(pages, "accountUid")
    attrs["continuation_token"] = last_attr(pages, "continuationToken")
    return flat, len(elements), attrs


# --------------------------------------------------------------------------- orders


def _new_order_as_order(payloads: list[Any], _: Flat) -> tuple[list[Any], Flat]:
    """``OrderUpdated`` carries ``newOrder``/``oldOrder``: read ``newOrder`` as ``order``."""
    renamed = [
        {**p, "order": p["newOrder"]} if type(p) is dict and "newOrder" in p and "order" not in p
        else p
        for p in payloads
    ]
    return renamed, {}


def _split_percent(df: pd.DataFrame, column: str, unit: str) -> None:
    """Move values whose unit column says ``Percent`` into ``<column>_pct``."""
    percent = (df[unit].str.lower() == "percent").fillna(False).to_numpy(dtype=bool)
    values = df[column].to_numpy(dtype=np.float64)
    df[column + "_pct"] = np.where(percent, values, np.nan)
    df[column] = np.where(percent, np.nan, values)


def _derive_order_history(df: pd.DataFrame) -> pd.DataFrame:
    _split_percent(df, "trailing_stop_max_deviation", "trailing_stop_unit")
    _split_percent(df, "limit_price_offset", "limit_price_offset_unit")
    return df


ORDER_HISTORY = FrameSpec(
    name="order_history",
    columns=(
        Col("time", "time", "element.timestamp"),
        Col("seq", "int", "seq"),
        Col("kind", "str", "element.kind"),
        Col("order_id", "str", "order.uid"),
        Col("cli_ord_id", "str", "order.clientId"),
        Col("symbol", "str", "order.tradeable"),
        Col("side", "lower", "order.direction"),
        Col("order_type", "str", "order.orderType"),
        Col("quantity", "float", "order.quantity", unit="contracts"),
        Col("filled", "float", "order.filled", unit="contracts"),
        Col("limit_price", "float", "order.limitPrice", unit="quote"),
        Col("reduce_only", "bool", "order.reduceOnly"),
        Col("order_time", "time", "order.timestamp"),
        Col("last_update_time", "time",
            "order.lastUpdateTimestamp"),
        Col("reason", "str", "reason"),
        Col("reduced_quantity", "float", "reducedQuantity", unit="contracts"),
        Col("old_quantity", "float", "oldOrder.quantity", unit="contracts"),
        Col("old_filled", "float", "oldOrder.filled", unit="contracts"),
        Col("old_limit_price", "float", "oldOrder.limitPrice", unit="quote"),
        Col("order_error", "str", "orderError"),
        Col("trigger_price", "float",
            "order.triggerOptions.triggerPrice", unit="quote"),
        Col("trigger_signal", "str",
            "order.triggerOptions.triggerSignal"),
        Col("trigger_side", "str",
            "order.triggerOptions.triggerSide"),
        Col("trailing_stop_max_deviation", "float",
            "order.triggerOptions.trailingStopOptions.maxDeviation", unit="quote"),
        Col("trailing_stop_max_deviation_pct", "float", None, unit="pct"),
        Col("trailing_stop_unit", "str",
            "order.triggerOptions.trailingStopOptions.unit"),
        Col("limit_price_offset", "float",
            "order.triggerOptions.limitPriceOffset.priceOffset", unit="quote"),
        Col("limit_price_offset_pct", "float", None, unit="pct"),
        Col("limit_price_offset_unit", "str",
            "order.triggerOptions.limitPriceOffset.unit"),
        Col("algo_id", "str", "algoId"),
        Col("origin", "str", "origin"),
        Col("account_uid", "str", ("order.accountUid", "element.account_uid")),
        Col("account_id", "str", "order.accountId"),
        Col("event_uid", "str", "element.uid"),
    ),
    index="time",
    unique="event_uid",
    strip=("order.triggerOptions.", "order."),
    drop=("oldOrder", "newOrder"),
    derive=_derive_order_history,
    order_by=("seq",),
)


def order_history(body_or_pages: Any, sort: Sort | None = None) -> pd.DataFrame:
    """Order events from ``GET /api/history/v3/orders`` (and ``/triggers``).

    Parameters
    ----------
    body_or_pages : dict or sequence of dict
        One body or several page bodies; concatenated, sorted by time and
        de-duplicated by the element uid.
    sort : {"asc", "desc"}, optional
        The ``sort`` the pages were asked with (read from their times when
        omitted; the exchange's default is ``"desc"``).

    Returns
    -------
    pandas.DataFrame
        Sorted ``DatetimeIndex`` named ``time`` (event time,
        datetime64[ns, UTC]), one row per event. Order fields come from
        ``order`` (``newOrder`` for ``OrderUpdated``):

        ============================  ==================  ==========================================
        column                        dtype               meaning / unit
        ============================  ==================  ==========================================
        seq                           int64               the event's place in the exchange's
                                                          order, oldest first: rows that share a
                                                          time are sorted by it (the pages' order,
                                                          read in their ``sort``)
        kind                          str                 OrderPlaced, OrderUpdated, OrderCancelled,
                                                          OrderRejected, OrderTriggerPlaced, …
        order_id                      str                 order uid
        cli_ord_id                    str                 ``clientId`` ("" → NaN)
        symbol                        str                 ``tradeable``
        side                          str                 ``buy`` / ``sell`` (lower-cased
                                                          ``direction``)
        order_type                    str                 Limit, IoC, Post, Market, …
        quantity                      float64             open (unfilled) contracts after the event
        filled                        float64             contracts filled so far
        limit_price                   float64             "" (market/stop) → NaN
        reduce_only                   bool
        order_time                    datetime64[ns,UTC]  order placement time
        last_update_time              datetime64[ns,UTC]
        reason                        str                 new_user_order, full_fill,
                                                          cancelled_by_user …
        reduced_quantity              float64             reduce-only trim ("" → NaN)
        old_quantity, old_filled      float64             ``OrderUpdated``: the order before
                                                          the event
        old_limit_price               float64             ``OrderUpdated``
        order_error                   str                 ``OrderRejected``
        trigger_price                 float64             trigger orders
        trigger_signal, trigger_side  str                 MarkPrice/LastPrice/SpotPrice; Above/Below
        trailing_stop_max_deviation   float64             trailing stops whose unit is
                                                          QuoteCurrency (USD)
        …_max_deviation_pct           float64             ``trailing_stop_max_deviation_pct``:
                                                          those whose unit is Percent (percent)
        trailing_stop_unit            str                 Percent / QuoteCurrency, as given
        limit_price_offset            float64             trailing stops, QuoteCurrency (USD)
        limit_price_offset_pct        float64             trailing stops, Percent (percent)
        limit_price_offset_unit       str                 as given
        algo_id, origin               str                 ("Pro UI", "Unknown Origin" …)
        account_uid                   str                 order's ``accountUid`` (else the body's)
        account_id                    str                 trigger orders
        event_uid                     str                 history element uid
        ============================  ==================  ==========================================

        ``oldOrder``'s other fields repeat the new order and are not kept.
        Fields the exchange adds later follow, snake_cased (``spotData`` →
        ``spot_data``). ``attrs``: ``account_uid``, ``continuation_token``
        (last page), ``server_time`` when sent.

    Examples
    --------
    >>> body = {"accountUid": "a1", "len": "1", "elements": [{"uid": "e1",
    ...     "timestamp": "1761036123057", "event": {"OrderPlaced": {"order": {
    ...         "uid": "o1", "tradeable": "PF_LTCUSD", "direction": "Buy", "quantity": "0.1",
    ...         "filled": "0", "timestamp": "1761036123057", "limitPrice": "50",
    ...         "orderType": "Limit", "clientId": "", "reduceOnly": False},
    ...     "reason": "new_user_order", "reducedQuantity": ""}}}]}
    >>> order_history(body)[["kind", "side", "limit_price", "reason"]].to_dict("records")
    [{'kind': 'OrderPlaced', 'side': 'buy', 'limit_price': 50.0, 'reason': 'new_user_order'}]
    """
    flat, n, attrs = _element_pages(
        body_or_pages, ORDER_HISTORY, sort=sort, prepare=_new_order_as_order
    )
    return build(ORDER_HISTORY, flat, n, attrs=attrs)


# --------------------------------------------------------------------------- executions

_ORDER = "execution.order."


_OWN = ("execution.order", "execution.orderData", "execution.executionType")


def _own_orders(payloads: list[Any], flat: Flat) -> tuple[list[Any], Flat]:
    """The account's own order, its order data and role for every execution.

    ``execution.order`` / ``orderData`` / ``executionType`` when the body has
    them; otherwise the maker or taker order (and its ``…OrderData``) whose
    ``accountUid`` is the page's ``accountUid``. No payload is copied.
    """
    accounts = flat["element.account_uid"]
    roles: list[str | None] = []
    orders: list[Any] = []
    datas: list[Any] = []
    for p, account in zip(payloads, accounts, strict=True):
        ex = p.get("execution") if type(p) is dict else None
        if type(ex) is not dict:
            roles.append(None)
            orders.append(None)
            datas.append(None)
            continue
        raw = ex.get("executionType")
        role = raw.lower() if isinstance(raw, str) and raw else None
        own, data = ex.get("order"), ex.get("orderData")
        if own is None:
            maker, taker = ex.get("makerOrder"), ex.get("takerOrder")
            if role is None and account is not None:
                if type(maker) is dict and maker.get("accountUid") == account:
                    role = "maker"
                elif type(taker) is dict and taker.get("accountUid") == account:
                    role = "taker"
            if role == "maker":
                own = maker
                data = ex.get("makerOrderData") if data is None else data
            elif role == "taker":
                own = taker
                data = ex.get("takerOrderData") if data is None else data
        roles.append(role)
        orders.append(own)
        datas.append(data)
    columns: Flat = {"execution.executionType": roles}
    skip = EXECUTIONS.drop
    columns.update(flatten(orders, prefix=_ORDER, skip=skip, stop=EXECUTIONS.stop))
    columns.update(flatten(datas, prefix="execution.orderData.", skip=skip, stop=EXECUTIONS.stop))
    return payloads, columns


def _usd_factor(currency: pd.Series, price: pd.Series) -> np.ndarray[Any, Any]:
    """What turns an amount in ``currency`` into USD: 1 for USD, ``price`` for a coin."""
    usd = (currency == "USD").fillna(False).to_numpy(dtype=bool)
    known = currency.notna().to_numpy(dtype=bool)
    return np.where(usd, 1.0, np.where(known, price.to_numpy(dtype=np.float64), np.nan))


def _derive_executions(df: pd.DataFrame) -> pd.DataFrame:
    df["currency"] = pd.array(settlement_currencies(df["symbol"]), dtype=STR_DTYPE)
    df["fee_usd"] = df["fee"] * _usd_factor(df["currency"], df["mark_price"])
    return df


EXECUTIONS = FrameSpec(
    name="executions",
    columns=(
        Col("time", "time", ("execution.timestamp", "element.timestamp")),
        Col("seq", "int", "seq"),
        Col("uid", "str", "execution.uid"),
        Col("symbol", "str", _ORDER + "tradeable"),
        Col("side", "lower", _ORDER + "direction"),
        Col("role", "lower", "execution.executionType"),
        Col("price", "float", "execution.price", unit="quote"),
        Col("size", "float", "execution.quantity", unit="contracts"),
        Col("currency", "str", None),
        Col("fee", "float", "execution.orderData.fee", unit="ccy:currency"),
        Col("fee_usd", "float", None, unit="usd"),
        Col("position_size", "float", "execution.orderData.positionSize", unit="contracts"),
        Col("fee_calculation_info", "object", "execution.orderData.feeCalculationInfo"),
        Col("mark_price", "float", "execution.markPrice", unit="quote"),
        Col("usd_value", "float", "execution.usdValue", unit="usd"),
        Col("limit_filled", "bool", "execution.limitFilled"),
        Col("order_id", "str", _ORDER + "uid"),
        Col("cli_ord_id", "str", _ORDER + "clientId"),
        Col("order_type", "str", _ORDER + "orderType"),
        Col("limit_price", "float", _ORDER + "limitPrice", unit="quote"),
        Col("reduce_only", "bool", _ORDER + "reduceOnly"),
        Col("order_quantity", "float", _ORDER + "quantity", unit="contracts"),
        Col("order_filled", "float", _ORDER + "filled", unit="contracts"),
        Col("order_time", "time", _ORDER + "timestamp"),
        Col("position_uid", "str", _ORDER + "positionUid"),
        Col("taker_reduced_quantity", "float", "takerReducedQuantity", unit="contracts"),
        Col("account_uid", "str", (_ORDER + "accountUid", "element.account_uid")),
        Col("event_uid", "str", "element.uid"),
    ),
    index="time",
    unique="uid",
    strip=(_ORDER, "execution.orderData.", "execution."),
    drop=("element.kind", _ORDER + "lastUpdateTimestamp", "execution.oldTakerOrder",
          "execution.makerOrder", "execution.takerOrder", "execution.makerOrderData",
          "execution.takerOrderData"),
    stop=frozenset({"execution.orderData.feeCalculationInfo"}),
    derive=_derive_executions,
    order_by=("seq",),
)


def executions(body_or_pages: Any, sort: Sort | None = None) -> pd.DataFrame:
    """The account's executions from ``GET /api/history/v3/executions``.

    Accepts both documented shapes: ``event.execution.execution.order`` (the
    account's own order, with ``executionType`` and ``orderData``) and
    ``makerOrder``/``takerOrder`` with ``makerOrderData``/``takerOrderData``,
    where the account's side is the order whose ``accountUid`` is the body's.

    Parameters
    ----------
    body_or_pages : dict or sequence of dict
        One body or several page bodies; concatenated, sorted by time and
        de-duplicated by execution uid.
    sort : {"asc", "desc"}, optional
        The ``sort`` the pages were asked with (read from their times when
        omitted; the exchange's default is ``"desc"``).

    Returns
    -------
    pandas.DataFrame
        Sorted ``DatetimeIndex`` named ``time`` (execution time, datetime64[ns, UTC]);
        executions that share a time are in the order they executed (``seq``):

        ======================  ==================  ============================================
        column                  dtype               meaning / unit
        ======================  ==================  ============================================
        seq                     int64               execution order, oldest first (the pages'
                                                    order, read in their ``sort``)
        uid                     str                 execution uid
        symbol                  str                 ``tradeable`` of the account's order
        side                    str                 the account's side, ``buy`` / ``sell``
        role                    str                 ``maker`` / ``taker``
        price                   float64             quote currency
        size                    float64             contracts (``quantity``)
        currency                str                 settlement currency of ``symbol``: ``USD``
                                                    (PF_/FF_) or the base coin (PI_/FI_)
        fee                     float64             fee paid for this fill (``orderData.fee``),
                                                    in ``currency``
        fee_usd                 float64             ``fee`` in USD at the execution's
                                                    ``mark_price`` (coin × mark)
        position_size           float64             position after the fill (``positionSize``)
        fee_calculation_info    object              list, as given
        mark_price              float64             mark at execution
        usd_value               float64             USD value of the fill
        limit_filled            bool
        order_id                str                 the account's order uid
        cli_ord_id              str                 ``clientId`` ("" → NaN)
        order_type              str                 Limit, IoC, Post, Market, Liquidation, …
        limit_price             float64
        reduce_only             bool
        order_quantity          float64             the order's open quantity
        order_filled            float64             the order's filled quantity
        order_time              datetime64[ns,UTC]  order placement time
        position_uid            str                 when sent
        taker_reduced_quantity  float64             "" → NaN
        account_uid             str
        event_uid               str                 history element uid
        ======================  ==================  ============================================

        The counterparty's order is not kept. Fields the exchange adds later
        follow, snake_cased (``regulatoryData`` …). ``attrs``: ``account_uid``,
        ``continuation_token``, ``server_time`` when sent.

    Examples
    --------
    >>> body = {"accountUid": "me", "elements": [{"uid": "e1", "timestamp": 1790422737272,
    ...     "event": {"execution": {"execution": {"uid": "x1", "timestamp": 1790422737272,
    ...         "quantity": "0.0288", "price": "84186", "executionType": "maker",
    ...         "order": {"uid": "o1", "tradeable": "PF_XBTUSD", "direction": "Buy"},
    ...         "orderData": {"fee": "0.48", "positionSize": "0.0288"}},
    ...     "takerReducedQuantity": ""}}}]}
    >>> executions(body)[["side", "role", "price", "fee", "currency"]].to_dict("records")
    [{'side': 'buy', 'role': 'maker', 'price': 84186.0, 'fee': 0.48, 'currency': 'USD'}]
    """
    flat, n, attrs = _element_pages(
        body_or_pages, EXECUTIONS, sort=sort, prepare=_own_orders, skip=_OWN, keep=frozenset()
    )
    return build(EXECUTIONS, flat, n, attrs=attrs)


# --------------------------------------------------------------------------- account log

_CONTRACT_ASSET = r"^(?:pf|pi|ff|fi|pv|fv)_"


def _derive_log(df: pd.DataFrame) -> pd.DataFrame:
    df["change"] = df["new_balance"] - df["old_balance"]
    asset = df["asset"].str.lower()
    same = (asset == df["contract"].str.lower()).fillna(False).to_numpy(dtype=bool)
    looks = asset.str.match(_CONTRACT_ASSET).fillna(False).to_numpy(dtype=bool)
    leg = same | looks
    df["is_position_leg"] = leg
    df["currency"] = df["asset"].str.upper().mask(leg).astype(STR_DTYPE)
    factor = _usd_factor(df["currency"], df["mark_price"])
    for name in ("change", "realized_pnl", "fee", "realized_funding"):
        df[name + "_usd"] = df[name] * factor
    return df


ACCOUNT_LOG = FrameSpec(
    name="account_log",
    columns=(
        Col("time", "time", "date"),
        col("id", "int"),
        col("booking_uid", "str"),
        col("info", "str"),
        col("asset", "str"),
        Col("is_position_leg", "bool", None),
        Col("currency", "str", None),
        col("margin_account", "str"),
        col("contract", "str"),
        col("collateral", "str"),
        col("execution", "str"),
        col("old_balance", "float", unit="ccy:currency"),
        col("new_balance", "float", unit="ccy:currency"),
        Col("change", "float", None, unit="ccy:currency"),
        col("realized_pnl", "float", unit="ccy:currency"),
        col("fee", "float", unit="ccy:currency"),
        col("realized_funding", "float", unit="ccy:currency"),
        Col("change_usd", "float", None, unit="usd"),
        Col("realized_pnl_usd", "float", None, unit="usd"),
        Col("fee_usd", "float", None, unit="usd"),
        Col("realized_funding_usd", "float", None, unit="usd"),
        col("funding_rate", "float", unit="ccy:currency"),
        col("mark_price", "float", unit="quote"),
        col("trade_price", "float", unit="quote"),
        col("old_average_entry_price", "float", unit="quote"),
        col("new_average_entry_price", "float", unit="quote"),
        col("liquidation_fee", "float", unit="ccy:currency"),
        Col("conversion_spread_pct", "float", "conversion_spread_percentage", unit="pct"),
        col("exchange_rate", "float", unit="number"),
        col("conversion_fee", "float", unit="ccy:currency"),
        col("exchange_rate_from", "str"),
    ),
    index="time",
    unique="booking_uid",
    derive=_derive_log,
    order_by=("id",),
)


def account_log(body_or_pages: Any) -> pd.DataFrame:
    """Ledger entries from ``GET /api/history/v3/account-log``.

    Parameters
    ----------
    body_or_pages : dict or sequence of dict
        One body or several page bodies with ``logs[]``; concatenated,
        sorted by time (then ``id``) and de-duplicated by ``booking_uid``.

    Returns
    -------
    pandas.DataFrame
        Sorted ``DatetimeIndex`` named ``time`` (the entry's ``date``,
        datetime64[ns, UTC]); entries that share a time are in ``id`` order,
        the order the exchange booked them. Amounts are in the row's
        ``currency`` (USD, XBT …: one log mixes them), so sum the ``…_usd``
        columns across currencies. A ``funding rate change`` row is stamped
        at the **end** of the hour it pays for: it joins
        :func:`funding_rates` on that frame's ``period_end``.

        ============================  =======  =====================================================
        column                        dtype    meaning / unit
        ============================  =======  =====================================================
        id                            int64    entry id (starts at 1)
        booking_uid                   str
        info                          str      futures trade, funding rate change, conversion,
                                               transfer …
        asset                         str      currency (``usd``) or, on position legs, the contract
        is_position_leg               bool     derived: ``asset`` is a contract (``pf_dogeusd``):
                                               the row moves a position size, not cash; filter
                                               these out for cash flows
        currency                      str      derived: the currency of the row's amounts
                                               (upper-cased ``asset``); NaN on position legs
        margin_account                str      ``flex``, ``fi_xbtusd`` …
        contract                      str      lower-case contract, when the entry has one
        collateral                    str
        execution                     str      execution uid of trade entries
        old_balance, new_balance      float64  wallet balance in ``currency`` (position size in
                                               contracts on position legs)
        change                        float64  derived new_balance − old_balance
        realized_pnl                  float64  in ``currency``, gross of fees
        fee                           float64  in ``currency``
        realized_funding              float64  in ``currency``
        change_usd, realized_pnl_usd  float64  derived: the amount in USD at the row's
        fee_usd, realized_funding_usd          ``mark_price`` (the contract's mark when the entry
                                               was booked): × 1 for USD rows, coin × mark for
                                               coin rows; NaN where a coin row has no mark
                                               (transfers, conversions) and on position legs
        funding_rate                  float64  absolute, as given (``currency`` per contract)
        mark_price, trade_price       float64  quote currency
        old_average_entry_price       float64  position legs
        new_average_entry_price       float64  position legs
        liquidation_fee               float64  in ``currency``
        conversion_spread_pct         float64  percent, as given (the exchange's
                                               ``conversion_spread_percentage``)
        exchange_rate                 float64  with ``conversion_details=true``
        conversion_fee                float64  with ``conversion_details=true``
        exchange_rate_from            str      with ``conversion_details=true``
        ============================  =======  =====================================================

        Fields the exchange adds later follow, snake_cased. ``attrs``:
        ``account_uid``, ``server_time`` when sent.

    Examples
    --------
    >>> body = {"accountUid": "a1", "logs": [
    ...     {"id": 9, "booking_uid": "b9", "date": "2026-08-11T19:55:24.251Z", "asset": "usd",
    ...      "contract": "pf_dogeusd", "info": "futures trade", "old_balance": 0.0077,
    ...      "new_balance": 0, "realized_pnl": -0.0042, "fee": 0.0035},
    ...     {"id": 6, "booking_uid": "b6", "date": "2026-08-11T19:55:24.251Z",
    ...      "asset": "pf_dogeusd", "contract": "pf_dogeusd", "info": "futures trade",
    ...      "old_balance": 100, "new_balance": 0}]}
    >>> account_log(body)[["id", "is_position_leg", "currency", "change"]].values.tolist()
    [[6, True, nan, -100.0], [9, False, 'USD', -0.0077]]
    """
    pages = as_pages(body_or_pages, name="account_log")
    records: list[Any] = []
    for page in pages:
        records.extend(payload(page, "logs", name="account_log"))
    attrs = pages_attrs(pages)
    attrs["account_uid"] = last_attr(pages, "accountUid")
    return build(ACCOUNT_LOG, flatten(records), len(records), attrs=attrs)


# The CSV export's columns and the account-log field each one is (the export has
# no id, execution, old balance nor old entry price; it adds ``change``).
ACCOUNT_LOG_CSV_FIELDS: dict[str, str] = {
    "uid": "booking_uid",
    "dateTime": "date",
    "account": "margin_account",
    "type": "info",
    "symbol": "asset",
    "contract": "contract",
    "change": "change",
    "new balance": "new_balance",
    "new average entry price": "new_average_entry_price",
    "trade price": "trade_price",
    "mark price": "mark_price",
    "funding rate": "funding_rate",
    "realized pnl": "realized_pnl",
    "fee": "fee",
    "realized funding": "realized_funding",
    "collateral": "collateral",
    "conversion spread percentage": "conversion_spread_percentage",
    "liquidation fee": "liquidation_fee",
    "position uid": "position_uid",
    "exchange rate": "exchange_rate",
    "exchange rate from": "exchange_rate_from",
    "conversion fee": "conversion_fee",
}
# The same frame without ids (the export has none): rows that share a time keep
# the export's order (the sort by time is stable).
ACCOUNT_LOG_FROM_CSV = dataclasses.replace(
    ACCOUNT_LOG,
    name="account_log_csv",
    columns=tuple(Col("id", "Int", "id") if c.name == "id" else c for c in ACCOUNT_LOG.columns),
    order_by=(),
)


def _csv_records(text: str) -> list[dict[str, Any]]:
    rows = list(csv.DictReader(io.StringIO(text)))
    records = []
    for row in reversed(rows):  # the export lists the newest entry first
        record: dict[str, Any] = {
            ACCOUNT_LOG_CSV_FIELDS.get(name, name): (value if value != "" else None)
            for name, value in row.items()
            if name is not None
        }
        change, new = record.pop("change", None), record.get("new_balance")
        if change is not None and new is not None:
            record["old_balance"] = float(new) - float(change)
        records.append(record)
    # an export column no entry fills says nothing: keep the frame's own columns only
    filled = {k for r in records for k, v in r.items() if v is not None}
    return [{k: v for k, v in r.items() if k in filled} for r in records]


def account_log_csv(text: str | bytes) -> pd.DataFrame:
    """The CSV account log (``GET /api/history/v3/accountlogcsv``) as :func:`account_log`'s frame.

    Parameters
    ----------
    text : str or bytes
        The CSV as the exchange sends it: a header row (``uid``, ``dateTime``,
        ``account``, ``type``, ``symbol``, ``contract``, ``change``, ``new
        balance`` … see :data:`ACCOUNT_LOG_CSV_FIELDS`), newest entry first.

    Returns
    -------
    pandas.DataFrame
        The columns and dtypes of :func:`account_log`, with two differences the
        export imposes: ``id`` is the nullable ``Int64`` (the CSV has no ids:
        all ``<NA>``) and ``execution`` and ``old_average_entry_price`` are
        missing values. ``old_balance`` is ``new balance − change``; times
        have whole seconds (the export drops the milliseconds). Rows are
        oldest first; export columns no row fills are not kept.

        Columns, in this order, with the dtypes and units of :func:`account_log`:
        ``id``, ``booking_uid``, ``info``, ``asset``, ``is_position_leg``, ``currency``,
        ``margin_account``, ``contract``, ``collateral``, ``execution``,
        ``old_balance``, ``new_balance``, ``change``, ``realized_pnl``, ``fee``,
        ``realized_funding``, ``change_usd``, ``realized_pnl_usd``, ``fee_usd``,
        ``realized_funding_usd``, ``funding_rate``, ``mark_price``, ``trade_price``,
        ``old_average_entry_price``, ``new_average_entry_price``, ``liquidation_fee``,
        ``conversion_spread_pct``, ``exchange_rate``, ``conversion_fee``,
        ``exchange_rate_from``.

    Examples
    --------
    >>> text = (
    ...     "uid,dateTime,account,type,symbol,contract,change,new balance,fee\\n"
    ...     "b2,2026-08-11 19:55:24,flex,futures trade,usd,pf_dogeusd,-0.0077,0,0.0035\\n"
    ...     "b1,2026-08-11 19:55:24,flex,futures trade,pf_dogeusd,pf_dogeusd,-100,0,\\n")
    >>> account_log_csv(text)[["booking_uid", "is_position_leg", "old_balance"]].values.tolist()
    [['b1', True, 100.0], ['b2', False, 0.0077]]
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if not isinstance(text, str):
        raise ValueError(
            f"frames.account_log_csv takes the CSV text of the response, got {type(text).__name__}"
        )
    records = _csv_records(text)
    return build(ACCOUNT_LOG_FROM_CSV, flatten(records), len(records), attrs={})


# --------------------------------------------------------------------------- positions history

def _derive_positions_history(df: pd.DataFrame) -> pd.DataFrame:
    df["currency"] = pd.array(settlement_currencies(df["symbol"]), dtype=STR_DTYPE)
    price = df["execution_price"].fillna(df["settlement_price"])
    factor = _usd_factor(df["currency"], price)
    # a fee without its currency is in the settlement currency, like the PnL;
    # one in a third currency has no price here
    fee_currency = df["fee_currency"].str.upper().replace("BTC", "XBT").fillna(df["currency"])
    known = ((fee_currency == df["currency"]) | (fee_currency == "USD")).fillna(False)
    df["realized_pnl_usd"] = df["realized_pnl"] * factor
    df["fee_usd"] = df["fee"] * _usd_factor(fee_currency.where(known), price)
    df["realized_funding_usd"] = df["realized_funding"] * factor
    return df


POSITIONS_HISTORY = FrameSpec(
    name="positions_history",
    columns=(
        Col("time", "time", ("element.timestamp", "timestamp")),
        Col("seq", "int", "seq"),
        Col("symbol", "str", "tradeable"),
        Col("update_reason", "str", "updateReason"),
        Col("position_change", "str", "positionChange"),
        col("oldPosition", "float", unit="contracts"),
        col("newPosition", "float", unit="contracts"),
        col("oldAverageEntryPrice", "float", unit="quote"),
        col("newAverageEntryPrice", "float", unit="quote"),
        col("executionUid", "str"),
        col("executionPrice", "float", unit="quote"),
        col("executionSize", "float", unit="contracts"),
        col("tradeType", "str"),
        col("fillTime", "time"),
        Col("currency", "str", None),
        col("fee", "float", unit="ccy:fee_currency"),
        col("feeCurrency", "str"),
        col("realizedPnL", "float", unit="ccy:currency"),
        col("realizedFunding", "float", unit="ccy:currency"),
        Col("realized_pnl_usd", "float", None, unit="usd"),
        Col("fee_usd", "float", None, unit="usd"),
        Col("realized_funding_usd", "float", None, unit="usd"),
        col("fundingRealizationTime", "time"),
        col("settlementPrice", "float", unit="quote"),
        Col("account_uid", "str", ("accountUid", "element.account_uid")),
        Col("event_uid", "str", "element.uid"),
    ),
    index="time",
    unique="event_uid",
    drop=("element.kind",),
    derive=_derive_positions_history,
    order_by=("seq",),
)


def _wrap_flat_updates(page: Mapping[str, Any]) -> Mapping[str, Any]:
    """Elements sent as bare position updates (no ``event``) read like wrapped ones."""
    elements = page.get("elements")
    if not isinstance(elements, list) or all(
        not isinstance(e, Mapping) or "event" in e for e in elements
    ):
        return page
    wrapped = [
        {"uid": e.get("uid"), "timestamp": e.get("timestamp"), "event": {"PositionUpdate": e}}
        if isinstance(e, Mapping) and "event" not in e
        else e
        for e in elements
    ]
    return {**page, "elements": wrapped}


def positions_history(body_or_pages: Any, sort: Sort | None = None) -> pd.DataFrame:
    """Position change events from ``GET /api/history/v3/positions``.

    Parameters
    ----------
    body_or_pages : dict or sequence of dict
        One body or several page bodies; concatenated, sorted by time and
        de-duplicated by the element uid. Elements may wrap the update
        (``{uid, timestamp, event: {PositionUpdate: {…}}}``) or be the bare
        update (``{tradeable, oldPosition, …, timestamp}``).
    sort : {"asc", "desc"}, optional
        The ``sort`` the pages were asked with (read from their times when
        omitted; the exchange's default is ``"desc"``).

    Returns
    -------
    pandas.DataFrame
        Sorted ``DatetimeIndex`` named ``time`` (event time, datetime64[ns, UTC]);
        events that share a time are in the exchange's order (``seq``):

        =========================================  ==================  =============================
        column                                     dtype               meaning / unit
        =========================================  ==================  =============================
        seq                                        int64               the event's place in the
                                                                       exchange's order, oldest
                                                                       first
        symbol                                     str                 ``tradeable``
        update_reason                              str                 trade, fundingRealisation, …
        position_change                            str                 open, close, increase, …
        old_position, new_position                 float64             signed contracts
        old_average_entry_price                    float64
        new_average_entry_price                    float64
        execution_uid                              str
        execution_price, execution_size            float64
        trade_type                                 str                 userExecution, liquidation, …
        fill_time                                  datetime64[ns,UTC]
        currency                                   str                 settlement currency of
                                                                       ``symbol`` (``USD`` or the
                                                                       base coin)
        fee                                        float64             in ``fee_currency``
        fee_currency                               str
        realized_pnl                               float64             in ``currency``, gross of
                                                                       fees
        realized_funding                           float64             in ``currency``
        realized_pnl_usd, fee_usd,                 float64             the amounts in USD at the
        realized_funding_usd                                           event's execution (or
                                                                       settlement) price; NaN for
                                                                       coin amounts of funding
                                                                       realisations (no price)
        funding_realization_time                   datetime64[ns,UTC]
        settlement_price                           float64
        account_uid, event_uid                     str
        =========================================  ==================  =============================

        Fields the exchange adds later follow, snake_cased. ``attrs``:
        ``account_uid``, ``continuation_token``.

    Examples
    --------
    >>> body = {"elements": [{"uid": "e1", "timestamp": 1789646492483, "event": {
    ...     "PositionUpdate": {"tradeable": "PF_DOGEUSD", "oldPosition": "250",
    ...     "newPosition": "0", "realizedPnL": "0.05", "positionChange": "close"}}}]}
    >>> positions_history(body)[["new_position", "realized_pnl"]].iloc[0].tolist()
    [0.0, 0.05]
    """
    pages = [_wrap_flat_updates(page) for page in as_pages(body_or_pages, name="positions_history")]
    flat, n, attrs = _element_pages(pages, POSITIONS_HISTORY, sort=sort)
    return build(POSITIONS_HISTORY, flat, n, attrs=attrs)

