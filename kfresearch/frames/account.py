"""Account frames: wallets, positions, orders, fills, preferences, notices, subaccounts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from kfresearch.contracts import kinds, settlement_currencies, settlement_currency
from kfresearch.frames.core import (
    STR_DTYPE,
    Col,
    FrameSpec,
    as_pages,
    build,
    col,
    exchange_seq,
    flatten,
    pages_attrs,
    payload,
)
from kfresearch.frames.market import fee_schedules, tickers

__all__ = [
    "accounts",
    "fills",
    "leverage",
    "notifications",
    "open_orders",
    "pnl_preferences",
    "positions",
    "subaccounts",
]


# --------------------------------------------------------------------------- accounts

def _no_fees_yet(df: pd.DataFrame) -> pd.DataFrame:
    for name in ("fee_schedule_uid", "fee_volume_usd", "fee_tier", "maker_fee", "taker_fee"):
        df[name] = np.nan  # filled by accounts() from the fee schedules, when given
    return df


ACCOUNTS = FrameSpec(
    name="accounts",
    columns=(
        Col("account", "str", "account"),
        col("type", "str"),
        Col("currency", "upper", "currency"),
        Col("quantity", "float", ("quantity", "balance"), unit="ccy:currency"),
        col("value", "float", unit="usd"),
        Col("collateral_value", "float", ("collateralValue", "collateral"), unit="usd"),
        col("available", "float", unit="ccy:currency"),
        col("haircut", "float", unit="fraction"),
        col("balanceValue", "float", unit="usd"),
        Col("portfolio_value", "float", ("portfolioValue", "auxiliary.pv"), unit="ccy:currency"),
        col("marginEquity", "float", unit="usd"),
        Col("available_margin", "float", ("availableMargin", "auxiliary.af"),
            unit="ccy:currency"),
        Col("initial_margin", "float", ("initialMargin", "marginRequirements.im"),
            unit="ccy:currency"),
        col("initialMarginWithOrders", "float", unit="usd"),
        Col("maintenance_margin", "float", ("maintenanceMargin", "marginRequirements.mm"),
            unit="ccy:currency"),
        Col("liquidation_threshold", "float", "marginRequirements.lt", unit="ccy:currency"),
        Col("termination_threshold", "float", "marginRequirements.tt", unit="ccy:currency"),
        Col("pnl", "float", ("pnl", "auxiliary.pnl"), unit="ccy:currency"),
        Col("unrealized_funding", "float", ("unrealizedFunding", "auxiliary.funding"),
            unit="ccy:currency"),
        col("totalUnrealized", "float", unit="usd"),
        col("totalUnrealizedAsMargin", "float", unit="usd"),
        Col("usd", "float", "auxiliary.usd", unit="usd"),
        Col("trigger_estimate_im", "float", "triggerEstimates.im", unit="quote"),
        Col("trigger_estimate_mm", "float", "triggerEstimates.mm", unit="quote"),
        Col("trigger_estimate_lt", "float", "triggerEstimates.lt", unit="quote"),
        Col("trigger_estimate_tt", "float", "triggerEstimates.tt", unit="quote"),
        col("balances", "object"),
        col("portfolioMarginBreakdown", "object"),
        Col("fee_schedule_uid", "str", None),
        Col("fee_volume_usd", "float", None, unit="usd"),
        Col("fee_tier", "Int", None),
        Col("maker_fee", "float", None, unit="fraction"),
        Col("taker_fee", "float", None, unit="fraction"),
    ),
    stop=frozenset({"balances", "portfolioMarginBreakdown", "isolated", "cross"}),
    derive=_no_fees_yet,
)


def _account_rows(name: str, wallet: Mapping[str, Any]) -> list[dict[str, Any]]:
    kind = wallet.get("type")
    if kind == "cashAccount" or (name == "cash" and "currencies" not in wallet):
        balances = wallet.get("balances") or {}
        head = {k: v for k, v in wallet.items() if k != "balances"}
        return [
            {**head, "account": name, "currency": cur, "quantity": amount}
            for cur, amount in balances.items()
        ]
    if "currencies" in wallet:  # multi-collateral flex wallet: summary row + one per currency
        head = {k: v for k, v in wallet.items() if k != "currencies"}
        rows: list[dict[str, Any]] = [{**head, "account": name, "currency": "USD"}]
        for cur, fields in (wallet.get("currencies") or {}).items():
            extra = fields if isinstance(fields, Mapping) else {"quantity": fields}
            rows.append({"account": name, "type": kind, "currency": cur, **extra})
        return rows
    row = {**wallet, "account": name}  # single-collateral margin wallet (fi_xbtusd …)
    currency = wallet.get("currency")
    balances = wallet.get("balances")
    if currency is not None and isinstance(balances, Mapping):
        row["quantity"] = balances.get(currency, balances.get(str(currency).lower()))
    return [row]


def _wallet_of(symbol: str) -> str | None:
    """The margin wallet a contract trades in: ``flex`` (linear), ``fi_<base>usd`` (inverse)."""
    currency = settlement_currency(symbol)
    if not currency:
        return None
    return "flex" if currency == "USD" else f"fi_{currency.lower()}usd"


def _wallet_schedules(
    schedules: pd.DataFrame, instruments_body: Mapping[str, Any] | None
) -> dict[str, str] | str | None:
    """Fee schedule uid by wallet (from the instruments' ``feeScheduleUid``); the one
    schedule's uid when there is only one; None when it cannot be told."""
    uids = list(dict.fromkeys(schedules["uid"].dropna().tolist()))
    by_wallet: dict[str, str] = {}
    listed = payload(instruments_body or {}, "instruments", name="accounts", required=False)
    for inst in listed or []:
        uid, symbol = inst.get("feeScheduleUid"), inst.get("symbol")
        wallet = _wallet_of(str(symbol)) if symbol else None
        if uid and wallet:  # a perpetual's schedule wins over its dated siblings'
            if wallet not in by_wallet or str(symbol).upper().startswith("P"):
                by_wallet[wallet] = str(uid)
    if by_wallet:
        return by_wallet
    return uids[0] if len(uids) == 1 else None


def _add_fees(
    frame: pd.DataFrame,
    fee_schedules_body: Mapping[str, Any],
    fee_volumes_body: Mapping[str, Any] | None,
    instruments_body: Mapping[str, Any] | None,
) -> None:
    """Fill the fee columns of the margin wallets' rows (the flex summary, each fi_… wallet)."""
    schedules = fee_schedules(fee_schedules_body).sort_values(["uid", "usd_volume"])
    volumes = payload(fee_volumes_body or {}, "volumesByFeeSchedule", name="accounts",
                      required=False) or {}
    mapping = _wallet_schedules(schedules, instruments_body)
    margin_wallet = frame["type"].isin(["marginAccount", "multiCollateralMarginAccount"])
    margin_wallet &= frame["quantity"].isna() | (frame["account"] != "flex")
    rows: dict[str, list[Any]] = {k: [] for k in ("uid", "volume", "tier", "maker", "taker")}
    for account, wanted in zip(frame["account"], margin_wallet, strict=True):
        uid = mapping.get(str(account)) if isinstance(mapping, dict) else mapping
        tiers = schedules[schedules["uid"] == uid]
        if not wanted or uid is None or tiers.empty:
            for values in rows.values():
                values.append(None)
            continue
        volume = float(volumes.get(uid, 0.0))
        reached = tiers[tiers["usd_volume"] <= volume]
        tier = reached.iloc[-1] if len(reached) else tiers.iloc[0]
        for key, value in zip(rows, (uid, volume, tier["tier"], tier["maker_fee"],
                                     tier["taker_fee"]), strict=True):
            rows[key].append(value)
    frame["fee_schedule_uid"] = pd.array(rows["uid"], dtype=STR_DTYPE)
    frame["fee_volume_usd"] = pd.array(rows["volume"], dtype="Float64").to_numpy(np.float64,
                                                                               na_value=np.nan)
    frame["fee_tier"] = pd.array(rows["tier"], dtype="Int64")
    for key in ("maker", "taker"):
        frame[f"{key}_fee"] = pd.array(rows[key], dtype="Float64").to_numpy(np.float64,
                                                                             na_value=np.nan)


def accounts(
    body: Mapping[str, Any],
    fee_schedules_body: Mapping[str, Any] | None = None,
    fee_volumes_body: Mapping[str, Any] | None = None,
    instruments_body: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Wallets from ``GET /derivatives/api/v3/accounts`` as tidy rows.

    Rows: one per currency of the ``cash`` wallet; one per single-collateral
    margin wallet (``fi_xbtusd`` …, in its own ``currency``); for the
    multi-collateral ``flex`` wallet one summary row (the wallet's margin
    fields, all in USD, so ``currency`` is ``USD``; ``quantity`` NaN) plus
    one row per collateral currency. A field a wallet does not have is NaN.
    Every amount is in the row's ``currency`` unless its column says USD.

    Parameters
    ----------
    body : dict
        Body of ``GET /accounts``.
    fee_schedules_body : dict, optional
        Body of ``GET /feeschedules``: adds the margin wallets' fee tier and rates.
    fee_volumes_body : dict, optional
        Body of ``GET /feeschedules/volumes`` (the account's 30-day volumes);
        without it the volume is taken as 0 (the first tier).
    instruments_body : dict, optional
        Body of ``GET /instruments``: which schedule each wallet's contracts
        use (``feeScheduleUid``). Not needed when there is only one schedule.

    Returns
    -------
    pandas.DataFrame
        RangeIndex, in the body's wallet order:

        ===========================  =======  =====================================================
        column                       dtype    meaning / unit
        ===========================  =======  =====================================================
        account                      str      wallet name: ``cash``, ``flex``, ``fi_xbtusd`` …
        type                         str      cashAccount, marginAccount,
                                              multiCollateralMarginAccount
        currency                     str      upper-cased (``XBT``): the currency of the row's
                                              amounts; ``USD`` on the flex summary row
        quantity                     float64  amount held in ``currency`` (cash balance, flex
                                              quantity, margin wallet's balance of its currency);
                                              NaN on the flex summary row
        value                        float64  flex currency rows: USD value
        collateral_value             float64  USD after haircut (flex rows and flex summary)
        available                    float64  flex currency rows: amount available
        haircut                      float64  when the exchange sends it
        balance_value                float64  flex summary, USD
        portfolio_value              float64  flex: balance + unrealised PnL (USD); margin
                                              wallets: ``auxiliary.pv`` (wallet currency)
        margin_equity                float64  flex, USD
        available_margin             float64  flex: margin equity − initial margin (USD);
                                              margin wallets: ``auxiliary.af`` (wallet currency)
        initial_margin               float64  flex ``initialMargin`` / margin ``im``
        initial_margin_with_orders   float64  flex, USD
        maintenance_margin           float64  flex ``maintenanceMargin`` / margin ``mm``
        liquidation_threshold        float64  margin wallets ``lt``
        termination_threshold        float64  margin wallets ``tt``
        pnl                          float64  unrealised PnL (flex USD; margin wallet currency)
        unrealized_funding           float64  flex ``unrealizedFunding`` / margin ``funding``
        total_unrealized             float64  flex, USD
        total_unrealized_as_margin   float64  flex, USD
        usd                          float64  margin wallets ``auxiliary.usd``
        trigger_estimate_im          float64  margin wallets ``triggerEstimates.im`` (a price)
        trigger_estimate_mm          float64  ``triggerEstimates.mm``
        trigger_estimate_lt          float64  ``triggerEstimates.lt``
        trigger_estimate_tt          float64  ``triggerEstimates.tt``
        balances                     object   margin wallets: the raw ``balances`` dict
                                              (currencies and position sizes by contract)
        portfolio_margin_breakdown   object   flex (options), when sent
        fee_schedule_uid             str      margin wallets (flex summary, fi_…): the fee
                                              schedule of the contracts they margin
        fee_volume_usd               float64  the account's 30-day USD volume on that schedule
        fee_tier                     Int64    the tier that volume reaches (0 = first)
        maker_fee, taker_fee         float64  the account's rates in that tier: **fractions**
                                              of notional (0.0002 = 2 bp), what a fee model
                                              should start from
        ===========================  =======  =====================================================

        The fee columns are filled when ``fee_schedules_body`` is given (else
        NaN), from ``/feeschedules``: Kraken says its values no longer match
        the fees charged on the live exchange since 2026-06-22 (reference
        §0); the simulator charges them.

        Fields the exchange adds later follow, snake_cased. ``attrs["server_time"]``.

    Examples
    --------
    >>> body = {"result": "success", "accounts": {
    ...     "cash": {"type": "cashAccount", "balances": {"xbt": "1.5"}},
    ...     "flex": {"type": "multiCollateralMarginAccount", "availableMargin": 100.0,
    ...              "currencies": {"USD": {"quantity": 100.0, "value": 100.0,
    ...                                     "collateral": 100.0, "available": 100.0}}}}}
    >>> accounts(body)[["account", "currency", "quantity", "available_margin"]].values.tolist()
    [['cash', 'XBT', 1.5, nan], ['flex', 'USD', nan, 100.0], ['flex', 'USD', 100.0, nan]]
    """
    wallets = payload(body, "accounts", name="accounts")
    if not isinstance(wallets, Mapping):
        raise ValueError("frames.accounts: 'accounts' is not an object of wallets")
    records: list[dict[str, Any]] = []
    for name, wallet in wallets.items():
        if isinstance(wallet, Mapping):
            records.extend(_account_rows(str(name), wallet))
    frame = build(ACCOUNTS, flatten(records, stop=ACCOUNTS.stop), len(records),
                  attrs=pages_attrs([body]))
    if fee_schedules_body is not None and len(frame):
        _add_fees(frame, fee_schedules_body, fee_volumes_body, instruments_body)
    return frame


# --------------------------------------------------------------------------- positions


def _derive_positions(df: pd.DataFrame) -> pd.DataFrame:
    short = (df["side"] == "short").fillna(False).to_numpy(dtype=bool)
    absolute = df["size"].abs()
    df["abs_size"] = absolute
    df["size"] = np.where(short, -absolute, absolute)
    df["is_inverse"] = kinds(df["symbol"]) == "inverse"
    df["currency"] = pd.array(settlement_currencies(df["symbol"]), dtype=STR_DTYPE)
    for name in ("mark_price", "notional", "unrealized_pnl_usd", "unrealized_funding_usd"):
        df[name] = np.nan  # filled from tickers
    return df


POSITIONS = FrameSpec(
    name="positions",
    columns=(
        col("symbol", "str"),
        col("side", "lower"),
        col("size", "float", unit="contracts"),
        Col("abs_size", "float", None, unit="contracts"),
        Col("entry_price", "float", "price", unit="quote"),
        col("fillTime", "time"),
        Col("currency", "str", None),
        col("unrealizedFunding", "float", unit="ccy:currency"),
        col("pnlCurrency", "str"),
        col("maxFixedLeverage", "float", unit="times"),
        Col("is_inverse", "bool", None),
        Col("mark_price", "float", None, unit="quote"),
        Col("notional", "float", None, unit="usd"),
        # computed from the tickers' mark; an exchange-sent unrealizedPnl fills the gaps
        col("unrealizedPnl", "float", unit="ccy:currency"),
        Col("unrealized_pnl_usd", "float", None, unit="usd"),
        Col("unrealized_funding_usd", "float", None, unit="usd"),
        col("greeks", "object"),
    ),
    index="symbol",
    stop=frozenset({"greeks"}),
    derive=_derive_positions,
)


def positions(
    body: Mapping[str, Any], tickers_body: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """Open positions from ``GET /derivatives/api/v3/openpositions``.

    Parameters
    ----------
    body : dict
        Body with ``openPositions[]``.
    tickers_body : dict, optional
        Body of ``GET /tickers``: fills ``mark_price``, ``notional``,
        ``unrealized_pnl`` and the ``…_usd`` columns (NaN without it, or for
        symbols it lacks).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``symbol`` (str). ``unrealized_pnl`` and
        ``unrealized_funding`` are in the contract's settlement ``currency``
        (USD for PF_, the coin for PI_), so sum their ``…_usd`` twins across
        contract types:

        ======================  ==================  ================================================
        column                  dtype               meaning / unit
        ======================  ==================  ================================================
        side                    str                 ``long`` / ``short``
        size                    float64             **signed** contracts: + long, − short (the
                                                    exchange sends the absolute size and the side)
        abs_size                float64             contracts
        entry_price             float64             average entry price (exchange ``price``), USD
        fill_time               datetime64[ns,UTC]  last fill (deprecated by Kraken, still sent)
        currency                str                 settlement currency: ``USD`` (PF_/FF_) or
                                                    the base coin (PI_/FI_: ``XBT``)
        unrealized_funding      float64             in ``currency``, as given (perpetuals; NaN
                                                    otherwise)
        pnl_currency            str                 multi-collateral PnL currency, when sent
        max_fixed_leverage      float64             isolated positions, when sent (times)
        is_inverse              bool                PI_/FI_ contract (sizes in USD, PnL in coin)
        mark_price              float64             from ``tickers_body``
        notional                float64             signed, USD: linear size × mark; inverse size
                                                    (USD contracts of 1 USD each)
        unrealized_pnl          float64             in ``currency``, from the mark (reference
                                                    §7.3): linear (mark − entry) × size; inverse
                                                    (1/entry − 1/mark) × size. Without a mark:
                                                    the exchange's ``unrealizedPnl`` if it sends
                                                    one (undocumented), else NaN
        unrealized_pnl_usd      float64             ``unrealized_pnl`` in USD at the mark (coin ×
                                                    mark for inverse contracts)
        unrealized_funding_usd  float64             ``unrealized_funding`` in USD at the mark
        greeks                  object              options (demo only)
        ======================  ==================  ================================================

        No liquidation price or distance: ``/openpositions`` sends no
        liquidation threshold, and computing one needs the wallet's margin
        state and tiers (the WebSocket ``open_positions`` feed carries
        ``liquidation_threshold``). Fields the exchange adds later follow.
        ``attrs["server_time"]``.

    Examples
    --------
    >>> pos = {"result": "success", "openPositions": [
    ...     {"side": "short", "symbol": "PF_XBTUSD", "price": "30000", "size": "0.5"},
    ...     {"side": "long", "symbol": "PI_XBTUSD", "price": "25000", "size": "10000"}]}
    >>> tick = {"result": "success", "tickers": [{"symbol": "PF_XBTUSD", "markPrice": "29000"},
    ...                                          {"symbol": "PI_XBTUSD", "markPrice": "31250"}]}
    >>> df = positions(pos, tick)
    >>> cols = ["currency", "notional", "unrealized_pnl", "unrealized_pnl_usd"]
    >>> df[cols].round(8).values.tolist()
    [['USD', -14500.0, 500.0, 500.0], ['XBT', 10000.0, 0.08, 2500.0]]
    """
    records = payload(body, "openPositions", name="positions")
    flat = flatten(records, stop=POSITIONS.stop)
    n = len(records)
    frame = build(POSITIONS, flat, n, attrs=pages_attrs([body]))
    if tickers_body is not None and len(frame):
        marks = tickers(tickers_body)["mark_price"]
        marks.index = marks.index.str.upper()
        marks = marks[~marks.index.duplicated()]
        mark = pd.Series(frame.index.str.upper(), index=frame.index).map(marks).astype(float)
        entry, size = frame["entry_price"], frame["size"]
        inverse = frame["is_inverse"].to_numpy(dtype=bool)
        frame["mark_price"] = mark
        frame["notional"] = np.where(inverse, size, size * mark)
        with np.errstate(divide="ignore", invalid="ignore"):
            computed = np.where(inverse, (1.0 / entry - 1.0 / mark) * size, (mark - entry) * size)
        pnl = np.where(np.isnan(computed), frame["unrealized_pnl"], computed)
        to_usd = np.where(inverse, mark, 1.0)
        frame["unrealized_pnl"] = pnl
        frame["unrealized_pnl_usd"] = pnl * to_usd
        frame["unrealized_funding_usd"] = frame["unrealized_funding"] * to_usd
    return frame


# --------------------------------------------------------------------------- orders, fills

OPEN_ORDERS = FrameSpec(
    name="open_orders",
    columns=(
        col("order_id", "str"),
        col("cliOrdId", "str"),
        col("symbol", "str"),
        col("side", "lower"),
        col("orderType", "str"),
        col("status", "str"),
        col("limitPrice", "float", unit="quote"),
        col("stopPrice", "float", unit="quote"),
        col("filledSize", "float", unit="contracts"),
        col("unfilledSize", "float", unit="contracts"),
        col("reduceOnly", "bool"),
        col("triggerSignal", "str"),
        col("receivedTime", "time"),
        col("lastUpdateTime", "time"),
    ),
    index="order_id",
)


def open_orders(body: Mapping[str, Any]) -> pd.DataFrame:
    """Resting orders from ``GET /derivatives/api/v3/openorders``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``order_id`` (str):

        ================  ==================  ==================================================
        column            dtype               meaning / unit
        ================  ==================  ==================================================
        cli_ord_id        str                 client order id (NaN if not set)
        symbol            str
        side              str                 ``buy`` / ``sell``
        order_type        str                 lmt, stop/stp, take_profit
        status            str                 untouched, partiallyFilled
        limit_price       float64             quote currency
        stop_price        float64             stop orders
        filled_size       float64             contracts
        unfilled_size     float64             contracts
        reduce_only       bool                missing → False
        trigger_signal    str                 mark, last, spot (stop orders)
        received_time     datetime64[ns,UTC]
        last_update_time  datetime64[ns,UTC]
        ================  ==================  ==================================================

        Fields the exchange adds later follow, snake_cased. ``attrs["server_time"]``.

    Examples
    --------
    >>> body = {"result": "success", "openOrders": [{"order_id": "o1", "symbol": "PF_LTCUSD",
    ...         "side": "buy", "orderType": "lmt", "limitPrice": "50", "unfilledSize": "0.1",
    ...         "filledSize": "0", "receivedTime": "2025-10-21T08:42:03.057503Z",
    ...         "status": "untouched", "reduceOnly": False}]}
    >>> open_orders(body).loc["o1", ["limit_price", "unfilled_size"]].tolist()
    [50.0, 0.1]
    """
    records = payload(body, "openOrders", name="open_orders")
    return build(OPEN_ORDERS, flatten(records), len(records), attrs=pages_attrs([body]))


FILLS = FrameSpec(
    name="fills",
    columns=(
        Col("time", "time", "fillTime"),
        Col("seq", "int", "seq"),
        col("fill_id", "str"),
        col("symbol", "str"),
        col("side", "lower"),
        col("order_id", "str"),
        col("cliOrdId", "str"),
        col("size", "float", unit="contracts"),
        col("price", "float", unit="quote"),
        col("fillType", "str"),
    ),
    index="time",
    unique="fill_id",
    order_by=("seq",),
)


def fills(body_or_pages: Any) -> pd.DataFrame:
    """The account's recent fills from ``GET /derivatives/api/v3/fills``.

    Parameters
    ----------
    body_or_pages : dict or sequence of dict
        Body (or pages, e.g. walked back with ``lastFillTime``) with ``fills[]``,
        newest first as the exchange sends them; pages are concatenated,
        sorted and de-duplicated by ``fill_id``.

    Returns
    -------
    pandas.DataFrame
        Sorted ``DatetimeIndex`` named ``time`` (the fill time, datetime64[ns, UTC]);
        fills that share a time are in the order they executed (``seq``), so
        replaying the rows top to bottom rebuilds the position and its
        realised PnL:

        ==========  =======  ===========================================================
        column      dtype    meaning / unit
        ==========  =======  ===========================================================
        seq         int64    execution order, oldest first (the exchange lists fills
                             newest first; ``seq`` reverses that list)
        fill_id     str
        symbol      str
        side        str      ``buy`` / ``sell``
        order_id    str
        cli_ord_id  str      NaN if not set
        size        float64  contracts
        price       float64  quote currency
        fill_type   str      maker, taker, liquidation, assignor, assignee, …
        ==========  =======  ===========================================================

        No fees here (the endpoint has none): see :func:`executions` or
        :func:`account_log`. ``attrs["server_time"]``.

    Examples
    --------
    >>> body = {"result": "success", "fills": [{"fill_id": "f1", "symbol": "PF_LTCUSD",
    ...         "side": "buy", "order_id": "o1", "size": "0.1", "price": "68.54",
    ...         "fillTime": "2024-02-06T22:24:34.849Z", "fillType": "taker"}]}
    >>> fills(body)[["price", "size"]].iloc[0].tolist()
    [68.54, 0.1]
    """
    pages = as_pages(body_or_pages, name="fills")
    records: list[Any] = []
    for page in pages:
        records.extend(payload(page, "fills", name="fills"))
    flat = flatten(records)
    flat["seq"] = exchange_seq(None, len(records), "desc")
    return build(FILLS, flat, len(records), attrs=pages_attrs(pages))


# --------------------------------------------------------------------------- preferences

LEVERAGE = FrameSpec(
    name="leverage",
    columns=(col("symbol", "str"), col("maxLeverage", "float", unit="times")),
    index="symbol",
)


def leverage(body: Mapping[str, Any]) -> pd.DataFrame:
    """Isolated-margin leverage settings from ``GET /leveragepreferences``.

    Symbols listed are isolated at ``max_leverage``; symbols not listed use
    cross margin. The body of ``PUT /leveragepreferences`` (no list) gives an
    empty frame.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``symbol`` (str); ``max_leverage`` float64 (times, e.g. 10.0).

    Examples
    --------
    >>> leverage({"result": "success", "leveragePreferences": [
    ...     {"symbol": "PF_XBTUSD", "maxLeverage": 10.0}]})["max_leverage"].tolist()
    [10.0]
    """
    records = payload(body, "leveragePreferences", name="leverage", required=False) or []
    return build(LEVERAGE, flatten(records), len(records), attrs=pages_attrs([body]))


PNL_PREFERENCES = FrameSpec(
    name="pnl_preferences",
    columns=(col("symbol", "str"), col("pnlCurrency", "str")),
    index="symbol",
)


def pnl_preferences(body: Mapping[str, Any]) -> pd.DataFrame:
    """PnL currency preferences from ``GET /pnlpreferences``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``symbol`` (str); ``pnl_currency`` str (``USD``, ``BTC`` …).
        The body of ``PUT /pnlpreferences`` (no list) gives an empty frame.

    Examples
    --------
    >>> pnl_preferences({"result": "success", "preferences": [
    ...     {"symbol": "PF_XBTUSD", "pnlCurrency": "BTC"}]})["pnl_currency"].tolist()
    ['BTC']
    """
    records = payload(body, "preferences", name="pnl_preferences", required=False) or []
    return build(PNL_PREFERENCES, flatten(records), len(records), attrs=pages_attrs([body]))


# --------------------------------------------------------------------------- notifications


def _downtime(df: pd.DataFrame) -> pd.DataFrame:
    # "maintenance" + "high" means downtime at effectiveTime (reference §4.17)
    df["is_downtime"] = ((df["type"] == "maintenance") & (df["priority"] == "high")).to_numpy(
        dtype=bool, na_value=False
    )
    return df


NOTIFICATIONS = FrameSpec(
    name="notifications",
    columns=(
        Col("time", "time", "effectiveTime"),
        col("type", "str"),
        col("priority", "str"),
        col("note", "str"),
        Col("is_downtime", "bool", None),
        col("expectedDowntimeMinutes", "Int", unit="number"),
    ),
    index="time",
    derive=_downtime,
    order_by=(),
)


def notifications(body: Mapping[str, Any]) -> pd.DataFrame:
    """The exchange's notices from ``GET /notifications`` (reference §4.17).

    Returns
    -------
    pandas.DataFrame
        Sorted ``DatetimeIndex`` named ``time`` (``effectiveTime``, UTC):
        ``type`` str (``maintenance``, ``settlement``, ``market``, ``general``,
        ``new_feature``, ``bug_fix``), ``priority`` str (``low``, ``medium``,
        ``high``), ``note`` str, ``is_downtime`` bool (derived: a high-priority
        maintenance notice means downtime at ``time``) and
        ``expected_downtime_minutes`` Int64 (minutes; ``<NA>`` when none is
        expected). Notices that share a time keep the exchange's order.

    Examples
    --------
    >>> notifications({"result": "success", "notifications": [
    ...     {"type": "maintenance", "priority": "high", "note": "Upgrade",
    ...      "effectiveTime": "2026-11-02T06:00:00Z", "expectedDowntimeMinutes": 30}]}
    ... )[["is_downtime", "expected_downtime_minutes"]].values.tolist()
    [[True, 30]]
    """
    records = payload(body, "notifications", name="notifications")
    return build(NOTIFICATIONS, flatten(records), len(records), attrs=pages_attrs([body]))


# --------------------------------------------------------------------------- subaccounts

_FLEX = "flexAccount."
SUBACCOUNTS = FrameSpec(
    name="subaccounts",
    columns=(
        col("accountUid", "str"),
        col("email", "str"),
        col("fullName", "str"),
        *(
            col(_FLEX + field, "float", "flex_" + name, unit="usd")
            for field, name in (
                ("portfolioValue", "portfolio_value"),
                ("balanceValue", "balance_value"),
                ("collateralValue", "collateral_value"),
                ("marginEquity", "margin_equity"),
                ("availableMargin", "available_margin"),
                ("initialMargin", "initial_margin"),
                ("initialMarginWithOrders", "initial_margin_with_orders"),
                ("maintenanceMargin", "maintenance_margin"),
                ("pnl", "pnl"),
                ("unrealizedFunding", "unrealized_funding"),
            )
        ),
        col(_FLEX + "currencies", "object", "flex_currencies"),
        col("holdingAccounts", "object"),
        col("futuresAccounts", "object"),
    ),
    index="account_uid",
    strip=(_FLEX,),
    stop=frozenset({_FLEX + "currencies", "holdingAccounts", "futuresAccounts"}),
)


def subaccounts(body: Mapping[str, Any]) -> pd.DataFrame:
    """The subaccounts of the master account from ``GET /subaccounts`` (reference §4.23).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``account_uid`` (str): ``email``, ``full_name`` (str), the
        multi-collateral wallet's ``flex_portfolio_value``,
        ``flex_balance_value``, ``flex_collateral_value``,
        ``flex_margin_equity``, ``flex_available_margin``,
        ``flex_initial_margin``, ``flex_initial_margin_with_orders``,
        ``flex_maintenance_margin``, ``flex_pnl``, ``flex_unrealized_funding``
        (float64, USD), and as given (lists of dicts) ``flex_currencies``,
        ``holding_accounts`` and ``futures_accounts``. ``attrs`` has
        ``master_account_uid``. An account without subaccounts gives an empty frame.

    Examples
    --------
    >>> df = subaccounts({"result": "success", "masterAccountUid": "m", "subaccounts": [
    ...     {"accountUid": "s1", "email": "a@b", "fullName": None, "holdingAccounts": [],
    ...      "futuresAccounts": [], "flexAccount": {"portfolioValue": 1646.58,
    ...      "availableMargin": 1543.91, "currencies": []}}]})
    >>> df.loc["s1", ["flex_portfolio_value", "flex_available_margin"]].tolist(), df.attrs[
    ...     "master_account_uid"]
    ([1646.58, 1543.91], 'm')
    """
    records = payload(body, "subaccounts", name="subaccounts")
    attrs = pages_attrs([body])
    attrs["master_account_uid"] = body.get("masterAccountUid")
    flat = flatten(records, stop=SUBACCOUNTS.stop)
    return build(SUBACCOUNTS, flat, len(records), attrs=attrs)
