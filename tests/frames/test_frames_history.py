"""Private-history frames on bodies built in the shapes of reference §4.7 and §4.25.

The orders and account-log bodies follow recorded 2024–2026 responses (ccxt's
static test data): decimals as strings, timestamps as epoch-ms strings,
``""`` for absent values. Each test also runs with every number stringified.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from frame_asserts import UTC, assert_dtypes, assert_same_schema

from kfresearch import frames

ACCOUNT = "406142dd-7c5c-4a8b-acbc-5f16eca30009"
Convert = Callable[[Any], Any]


def ms(value: int) -> pd.Timestamp:
    return pd.Timestamp(value, unit="ms", tz="UTC")


# --------------------------------------------------------------------------- order history


def order(uid: str, *, quantity: str, filled: str, limit: str, ts: str, **extra: Any) -> Any:
    return {
        "uid": uid,
        "accountUid": ACCOUNT,
        "tradeable": "PF_ETHUSD",
        "direction": "Buy",
        "quantity": quantity,
        "filled": filled,
        "timestamp": ts,
        "limitPrice": limit,
        "orderType": "Limit",
        "clientId": "",
        "reduceOnly": False,
        "lastUpdateTimestamp": ts,
        **extra,
    }


ORDERS_BODY = {
    "accountUid": ACCOUNT,
    "len": "4",
    "continuationToken": "MTc2OTYxODEwMjAwMC8x",
    "elements": [
        {
            "uid": "e-updated",
            "timestamp": "1769618176659",
            "event": {
                "OrderUpdated": {
                    "oldOrder": order(
                        "o1", quantity="0.001", filled="0", limit="3003.1", ts="1769618102000"
                    ),
                    "newOrder": order(
                        "o1", quantity="0", filled="0.001", limit="3003.1", ts="1769618102000"
                    ),
                    "reason": "full_fill",
                    "reducedQuantity": "0",
                    "algoId": "",
                    "origin": "Unknown Origin",
                }
            },
        },
        {
            "uid": "e-placed",
            "timestamp": "1769618102000",
            "event": {
                "OrderPlaced": {
                    "order": order(
                        "o1",
                        quantity="0.001",
                        filled="0",
                        limit="3003.1",
                        ts="1769618102000",
                        spotData="x",
                    ),
                    "reason": "new_user_order",
                    "reducedQuantity": "",
                    "algoId": "",
                    "origin": "Pro UI",
                }
            },
        },
        {
            "uid": "e-cancel",
            "timestamp": "1769618289619",
            "event": {
                "OrderCancelled": {
                    "order": order(
                        "o2",
                        quantity="0.5",
                        filled="0",
                        limit="2900",
                        ts="1769618282039",
                        clientId="mine-1",
                    ),
                    "reason": "cancelled_by_user",
                }
            },
        },
        {
            "uid": "e-trigger",
            "timestamp": "1769618122503",
            "event": {
                "OrderTriggerPlaced": {
                    "order": order(
                        "o3",
                        quantity="0.001",
                        filled="0",
                        limit="",
                        ts="1769618122503",
                        accountId="198024",
                        triggerOptions={
                            "triggerPrice": "3004.1",
                            "triggerSignal": "MarkPrice",
                            "triggerSide": "Above",
                        },
                    ),
                    "reason": "new_user_order",
                }
            },
        },
    ],
}

ORDER_DTYPES = {
    "kind": "str",
    "order_id": "str",
    "cli_ord_id": "str",
    "symbol": "str",
    "side": "str",
    "order_type": "str",
    "quantity": "float64",
    "filled": "float64",
    "limit_price": "float64",
    "reduce_only": "bool",
    "order_time": UTC,
    "last_update_time": UTC,
    "reason": "str",
    "reduced_quantity": "float64",
    "old_quantity": "float64",
    "old_filled": "float64",
    "trigger_price": "float64",
    "trigger_signal": "str",
    "account_uid": "str",
    "event_uid": "str",
}


def test_order_history(maybe_strings: Convert) -> None:
    df = frames.order_history(maybe_strings(ORDERS_BODY))
    assert df.index.name == "time"
    assert str(df.index.dtype) == UTC
    assert_dtypes(df, ORDER_DTYPES)
    assert df["kind"].tolist() == [
        "OrderPlaced",
        "OrderTriggerPlaced",
        "OrderUpdated",
        "OrderCancelled",
    ]
    assert df.index[0] == ms(1769618102000)
    placed, trigger, updated, cancelled = (df.iloc[i] for i in range(4))
    assert placed["order_id"] == "o1"
    assert placed["side"] == "buy"
    assert placed["limit_price"] == 3003.1
    assert placed["quantity"] == 0.001
    assert np.isnan(placed["reduced_quantity"])  # "" → NaN
    assert pd.isna(placed["cli_ord_id"])  # "" → NaN
    assert placed["spot_data"] == "x"  # a field the schema does not know is kept
    assert updated["order_id"] == "o1"  # from newOrder
    assert updated["quantity"] == 0.0
    assert updated["filled"] == 0.001
    assert updated["old_quantity"] == 0.001
    assert updated["old_filled"] == 0.0
    assert updated["reason"] == "full_fill"
    assert updated["origin"] == "Unknown Origin"
    assert cancelled["cli_ord_id"] == "mine-1"
    assert cancelled["order_time"] == ms(1769618282039)
    assert np.isnan(trigger["limit_price"])
    assert trigger["trigger_price"] == 3004.1
    assert trigger["trigger_signal"] == "MarkPrice"
    assert trigger["trigger_side"] == "Above"
    assert trigger["account_id"] == "198024"
    assert (df["account_uid"] == ACCOUNT).all()
    assert df.attrs["continuation_token"] == "MTc2OTYxODEwMjAwMC8x"
    assert df.attrs["account_uid"] == ACCOUNT


def test_order_history_empty_has_full_schema() -> None:
    body = {**ORDERS_BODY, "elements": ORDERS_BODY["elements"][:1]}
    full = frames.order_history(body)
    assert_same_schema(
        frames.order_history({"accountUid": ACCOUNT, "len": "0", "elements": []}), full
    )


# --------------------------------------------------------------------------- executions


def own_execution(uid: str, ts: int, role: str, fee: str, position: str) -> Any:
    """Private ``/executions`` element: the account's own ``order`` (spec shape)."""
    return {
        "uid": f"el-{uid}",
        "timestamp": ts,
        "event": {
            "execution": {
                "execution": {
                    "uid": uid,
                    "order": {
                        "uid": f"o-{uid}",
                        "accountUid": ACCOUNT,
                        "tradeable": "PF_XBTUSD",
                        "direction": "Sell",
                        "quantity": "0",
                        "filled": "0.0288",
                        "timestamp": ts - 1000,
                        "limitPrice": "84186",
                        "orderType": "Post",
                        "clientId": "cli-1",
                        "reduceOnly": False,
                        "lastUpdateTimestamp": ts,
                        "positionUid": "pos-1",
                    },
                    "timestamp": ts,
                    "quantity": "0.0288",
                    "price": "84186",
                    "markPrice": "84190.74043291174",
                    "limitFilled": True,
                    "usdValue": "2424.56",
                    "executionType": role,
                    "orderData": {
                        "fee": fee,
                        "positionSize": position,
                        "feeCalculationInfo": [{"feeRate": "0.0002"}],
                    },
                },
                "takerReducedQuantity": "",
            }
        },
    }


def maker_taker_execution(uid: str, ts: int, mine: str) -> Any:
    """Private ``/executions`` element with makerOrder/takerOrder (+…OrderData), §4.25."""
    other = "ffffffff-0000-0000-0000-000000000000"
    maker_acc, taker_acc = (ACCOUNT, other) if mine == "maker" else (other, ACCOUNT)
    return {
        "uid": f"el-{uid}",
        "timestamp": str(ts),
        "event": {
            "Execution": {
                "execution": {
                    "uid": uid,
                    "makerOrder": {
                        "uid": f"m-{uid}",
                        "accountUid": maker_acc,
                        "tradeable": "PF_ETHUSD",
                        "direction": "Buy",
                        "quantity": "1",
                        "filled": "0.5",
                        "timestamp": str(ts - 5000),
                        "limitPrice": "3000",
                        "orderType": "Post",
                        "clientId": "maker-cli",
                        "reduceOnly": False,
                    },
                    "takerOrder": {
                        "uid": f"t-{uid}",
                        "accountUid": taker_acc,
                        "tradeable": "PF_ETHUSD",
                        "direction": "Sell",
                        "quantity": "0.5",
                        "filled": "0.5",
                        "timestamp": str(ts),
                        "limitPrice": "2970",
                        "orderType": "IoC",
                        "clientId": "",
                        "reduceOnly": True,
                    },
                    "makerOrderData": {"fee": "0.3", "positionSize": "0.5"},
                    "takerOrderData": {"fee": "0.75", "positionSize": "-0.5"},
                    "timestamp": str(ts),
                    "quantity": "0.5",
                    "price": "3000",
                    "markPrice": "3000.5",
                    "limitFilled": False,
                    "usdValue": "1500",
                },
                "takerReducedQuantity": "",
            }
        },
    }


EXECUTION_DTYPES = {
    "uid": "str",
    "symbol": "str",
    "side": "str",
    "role": "str",
    "price": "float64",
    "size": "float64",
    "fee": "float64",
    "position_size": "float64",
    "fee_calculation_info": "object",
    "mark_price": "float64",
    "usd_value": "float64",
    "limit_filled": "bool",
    "order_id": "str",
    "cli_ord_id": "str",
    "order_type": "str",
    "limit_price": "float64",
    "reduce_only": "bool",
    "order_quantity": "float64",
    "order_filled": "float64",
    "order_time": UTC,
    "position_uid": "str",
    "taker_reduced_quantity": "float64",
    "account_uid": "str",
    "event_uid": "str",
}


def test_executions_own_order_shape(maybe_strings: Convert) -> None:
    t0 = 1790422737272
    body = maybe_strings(
        {
            "accountUid": ACCOUNT,
            "len": 2,
            "elements": [
                own_execution("x2", t0 + 5, "taker", "1.21", "-0.0576"),
                own_execution("x1", t0, "maker", "0.48", "-0.0288"),
            ],
        }
    )
    df = frames.executions(body)
    assert df.index.name == "time"
    assert_dtypes(df, EXECUTION_DTYPES)
    assert df["uid"].tolist() == ["x1", "x2"]
    first = df.iloc[0]
    assert df.index[0] == ms(t0)
    assert first["symbol"] == "PF_XBTUSD"
    assert first["side"] == "sell"
    assert first["role"] == "maker"
    assert first["price"] == 84186.0
    assert first["size"] == 0.0288
    assert first["fee"] == 0.48
    assert first["position_size"] == -0.0288
    assert first["usd_value"] == 2424.56
    assert first["order_id"] == "o-x1"
    assert first["cli_ord_id"] == "cli-1"
    assert first["order_type"] == "Post"
    assert first["position_uid"] == "pos-1"
    assert first["order_time"] == ms(t0 - 1000)
    assert first["fee_calculation_info"][0]["feeRate"] in ("0.0002", 0.0002)
    assert df.iloc[1]["role"] == "taker"


def test_executions_maker_taker_shape(maybe_strings: Convert) -> None:
    t0 = 1769618176659
    body = maybe_strings(
        {
            "accountUid": ACCOUNT,
            "elements": [
                maker_taker_execution("a", t0, "maker"),
                maker_taker_execution("b", t0 + 1, "taker"),
            ],
            "continuationToken": "next",
        }
    )
    df = frames.executions(body)
    assert_dtypes(df, EXECUTION_DTYPES)
    maker, taker = df.iloc[0], df.iloc[1]
    assert maker["role"] == "maker"
    assert maker["side"] == "buy"
    assert maker["fee"] == 0.3
    assert maker["position_size"] == 0.5
    assert maker["order_id"] == "m-a"
    assert maker["cli_ord_id"] == "maker-cli"
    assert maker["limit_price"] == 3000.0
    assert taker["role"] == "taker"
    assert taker["side"] == "sell"
    assert taker["fee"] == 0.75
    assert taker["position_size"] == -0.5
    assert taker["order_id"] == "t-b"
    assert pd.isna(taker["cli_ord_id"])
    assert taker["reduce_only"]
    assert taker["order_type"] == "IoC"
    assert df["account_uid"].tolist() == [ACCOUNT, ACCOUNT]
    assert not any(c.startswith(("maker_", "taker_order")) for c in df.columns)
    assert df.attrs["continuation_token"] == "next"


def test_executions_pages_sorted_and_deduplicated() -> None:
    t0 = 1769618176659
    p1 = {
        "accountUid": ACCOUNT,
        "elements": [
            maker_taker_execution("b", t0 + 1, "taker"),
            maker_taker_execution("a", t0, "maker"),
        ],
    }
    p2 = {
        "accountUid": ACCOUNT,
        "elements": [
            maker_taker_execution("a", t0, "maker"),
            maker_taker_execution("c", t0 - 1, "maker"),
        ],
    }
    df = frames.executions([p1, p2])
    assert df["uid"].tolist() == ["c", "a", "b"]


def test_executions_empty_has_full_schema() -> None:
    full = frames.executions(
        {
            "accountUid": ACCOUNT,
            "elements": [own_execution("x1", 1790422737272, "maker", "0.48", "-0.0288")],
        }
    )
    empty = frames.executions({"accountUid": ACCOUNT, "len": "0", "elements": []})
    assert_same_schema(empty, full)
    full_mt = frames.executions(
        {"accountUid": ACCOUNT, "elements": [maker_taker_execution("a", 1769618176659, "maker")]}
    )
    assert_same_schema(empty, full_mt)


# --------------------------------------------------------------------------- account log

LOG_BODY = {
    "accountUid": "f92fc7de-2fce-4265-b806-4f3c1efb37ee",
    "logs": [
        {
            "asset": "usd",
            "booking_uid": "10ca244e",
            "contract": "pf_dogeusd",
            "date": "2026-08-11T19:55:24.251Z",
            "execution": "a59b8e24",
            "fee": 0.0035,
            "funding_rate": 1.129880786375e-06,
            "id": 9,
            "info": "futures trade",
            "margin_account": "flex",
            "mark_price": 0.07091471613,
            "new_balance": 0,
            "old_balance": 0.0077,
            "realized_funding": None,
            "realized_pnl": -0.0042,
            "trade_price": 0.070914,
        },
        {
            "asset": "pf_dogeusd",
            "booking_uid": "628c1448",
            "contract": "pf_dogeusd",
            "date": "2026-08-11T19:55:24.251Z",
            "execution": "a59b8e24",
            "fee": None,
            "funding_rate": None,
            "id": 6,
            "info": "futures trade",
            "margin_account": "flex",
            "mark_price": 0.07091471613,
            "new_balance": 0,
            "old_balance": 100,
            "realized_funding": None,
            "realized_pnl": None,
            "trade_price": 0.070914,
            "new_average_entry_price": 0.07085,
        },
        {
            "asset": "usdt",
            "booking_uid": "36e3bc00",
            "contract": None,
            "date": "2026-08-11T19:55:24.251Z",
            "execution": None,
            "fee": None,
            "funding_rate": None,
            "id": 7,
            "info": "conversion",
            "margin_account": "flex",
            "mark_price": None,
            "new_balance": 24.98878873,
            "old_balance": 24.9964965,
            "realized_funding": None,
            "realized_pnl": None,
            "trade_price": None,
            "conversion_spread_pct": 0,
        },
        {
            "asset": "usd",
            "booking_uid": "72d0ea87",
            "contract": "pf_xrpusd",
            "date": "2026-08-10T16:00:00.000Z",
            "execution": None,
            "fee": None,
            "funding_rate": 5.44e-06,
            "id": 2,
            "info": "funding rate change",
            "margin_account": "flex",
            "mark_price": 1.01013,
            "new_balance": 1068.0355,
            "old_balance": 1068.0239,
            "realized_funding": 0.0116,
            "realized_pnl": None,
            "trade_price": None,
        },
    ],
}

LOG_DTYPES = {
    "id": "int64",
    "booking_uid": "str",
    "info": "str",
    "asset": "str",
    "is_position_leg": "bool",
    "margin_account": "str",
    "contract": "str",
    "execution": "str",
    "old_balance": "float64",
    "new_balance": "float64",
    "change": "float64",
    "realized_pnl": "float64",
    "fee": "float64",
    "realized_funding": "float64",
    "funding_rate": "float64",
    "mark_price": "float64",
    "trade_price": "float64",
    "new_average_entry_price": "float64",
    "conversion_spread_pct": "float64",
}


def test_account_log(maybe_strings: Convert) -> None:
    df = frames.account_log(maybe_strings(LOG_BODY))
    assert df.index.name == "time"
    assert str(df.index.dtype) == UTC
    assert_dtypes(df, LOG_DTYPES)
    assert df["id"].tolist() == [2, 6, 7, 9]  # by time, then id
    assert df["is_position_leg"].tolist() == [False, True, False, False]
    assert df.index[0] == pd.Timestamp("2026-08-10T16:00:00Z")
    funding = df.iloc[0]
    assert funding["realized_funding"] == 0.0116
    assert funding["change"] == pytest.approx(1068.0355 - 1068.0239)
    leg = df.iloc[1]
    assert leg["change"] == -100.0
    assert leg["new_average_entry_price"] == 0.07085
    cash = df.iloc[3]
    # the cash leg obeys change = realized_pnl − fee + realized_funding (funding absent here)
    assert cash["change"] == pytest.approx(cash["realized_pnl"] - cash["fee"])
    assert pd.isna(df.iloc[2]["contract"])
    assert df.attrs["account_uid"] == "f92fc7de-2fce-4265-b806-4f3c1efb37ee"
    cash_only = df[~df["is_position_leg"]]
    assert len(cash_only) == 3


def test_account_log_pages_dedupe() -> None:
    first = {"accountUid": "a", "logs": LOG_BODY["logs"][:2]}
    second = {"accountUid": "a", "logs": LOG_BODY["logs"][1:]}
    df = frames.account_log([first, second])
    assert df["id"].tolist() == [2, 6, 7, 9]


def test_account_log_empty_has_full_schema() -> None:
    full = frames.account_log(LOG_BODY)
    assert_same_schema(frames.account_log({"accountUid": "a", "logs": []}), full)


def test_account_log_requires_ids() -> None:
    with pytest.raises(ValueError, match=r"account_log\.id"):
        frames.account_log({"logs": [{"date": "2026-08-10T16:00:00.000Z", "asset": "usd"}]})


# --------------------------------------------------------------------------- positions history


def test_positions_history(maybe_strings: Convert) -> None:
    body = maybe_strings(
        {
            "accountUid": ACCOUNT,
            "elements": [
                {
                    "uid": "e1",
                    "timestamp": 1789646492483,
                    "event": {
                        "PositionUpdate": {
                            "accountUid": ACCOUNT,
                            "tradeable": "PF_DOGEUSD",
                            "oldPosition": "250",
                            "oldAverageEntryPrice": "0.08085",
                            "newPosition": "0",
                            "newAverageEntryPrice": "0.08085",
                            "fillTime": 1789643150594,
                            "fee": "0.01013125",
                            "feeCurrency": "USD",
                            "realizedPnL": "0.05",
                            "positionChange": "close",
                            "executionUid": "7bfe252a",
                            "executionPrice": "0.08105",
                            "executionSize": "250",
                            "tradeType": "userExecution",
                            "fundingRealizationTime": 1789646492483,
                            "realizedFunding": "-0.00000764284",
                            "timestamp": 1789646492483,
                            "updateReason": "trade",
                        }
                    },
                }
            ],
        }
    )
    df = frames.positions_history(body)
    assert_dtypes(
        df,
        {
            "symbol": "str",
            "old_position": "float64",
            "new_position": "float64",
            "fill_time": UTC,
            "fee": "float64",
            "realized_pnl": "float64",
            "realized_funding": "float64",
            "funding_realization_time": UTC,
            "position_change": "str",
            "execution_size": "float64",
        },
    )
    row = df.iloc[0]
    assert df.index[0] == ms(1789646492483)
    assert row["old_position"] == 250.0
    assert row["realized_pnl"] == 0.05
    assert row["realized_funding"] == pytest.approx(-0.00000764284)
    assert row["fill_time"] == ms(1789643150594)
    assert row["position_change"] == "close"
    empty = frames.positions_history({"elements": []})
    assert_same_schema(empty, df)
