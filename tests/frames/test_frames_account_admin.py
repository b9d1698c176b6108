"""Notifications, subaccounts and the CSV account log as frames (issue 20).

The documented bodies (``shared/reference/examples``) for notifications and
subaccounts; for the CSV, the simulator's export read against its JSON
account log, and a hand-written export in the exchange's column layout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

import kfresearch
from kfresearch import frames
from kfresearch.frames.core import TIME_DTYPE
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange


def test_notifications_of_the_documented_body(example: Callable[..., Any]) -> None:
    df = frames.notifications(example("notifications.kraken-doc.json", "NotificationsSuccessExample"))
    assert df.index.name == "time"
    assert df.index.dtype == TIME_DTYPE
    assert df.index.is_monotonic_increasing
    assert df["type"].tolist() == ["settlement", "general"]  # 2018 before 2022
    assert df["priority"].tolist() == ["medium", "low"]
    assert df["is_downtime"].tolist() == [False, False]
    assert df["expected_downtime_minutes"].isna().all()
    assert str(df["expected_downtime_minutes"].dtype) == "Int64"
    assert df.attrs["server_time"] == pd.Timestamp("2018-06-29T15:22:05.187Z")


def test_an_empty_notice_board_is_an_empty_frame_with_the_columns() -> None:
    empty = frames.notifications({"result": "success", "notifications": []})
    full = frames.notifications(
        {
            "notifications": [
                {"type": "maintenance", "priority": "high", "note": "x",
                 "effectiveTime": "2026-11-02T06:00:00Z", "expectedDowntimeMinutes": 30}
            ]
        }
    )
    assert empty.empty
    assert empty.dtypes.to_dict() == full.dtypes.to_dict()
    assert full["is_downtime"].tolist() == [True]


def test_subaccounts_of_the_documented_body(example: Callable[..., Any]) -> None:
    df = frames.subaccounts(example("subaccounts.kraken-doc.json"))
    assert df.index.tolist() == ["7f5c528e-2285-45f0-95f5-83d53d4bfcd2"]
    row = df.iloc[0]
    assert row["flex_portfolio_value"] == 1646.58
    assert row["flex_available_margin"] == 1543.91
    assert df["flex_margin_equity"].dtype == "float64"
    assert [c["currency"] for c in row["flex_currencies"]][:2] == ["eth", "usdt"]
    assert {a["name"] for a in row["futures_accounts"]} >= {"f-xbt:usd", "f-eth:usd"}
    assert df.attrs["master_account_uid"] == "ba598ca1-65c1-4f48-927d-0e2b647d627a"


CSV = (
    "uid,dateTime,account,type,symbol,contract,change,new balance,new average entry price,"
    "trade price,mark price,funding rate,realized pnl,fee,realized funding,collateral,"
    "conversion spread percentage,liquidation fee,position uid\n"
    "c2,2026-06-06 12:07:02,flex,futures trade,usd,pf_xbtusd,-10.9843,0,,60997,,,"
    "-10.3438,0.6405,,,,,\n"
    "c1,2026-06-06 12:07:02,flex,futures trade,pf_xbtusd,pf_xbtusd,0.021,0,"
    "60504.4396551724,60997,,,,,,,,,\n"
    "c0,2026-06-06 10:21:47,flex,funding rate change,usd,pf_xbtusd,-0.0002,0,,,,9.2e-07,"
    ",0,-0.0002,,,,\n"
)


def test_a_csv_export_reads_into_the_account_log_frame() -> None:
    df = frames.account_log_csv(CSV)
    assert list(df.columns) == list(frames.account_log({"logs": []}).columns)
    assert df["booking_uid"].tolist() == ["c0", "c1", "c2"]  # oldest first, export order kept
    assert df["is_position_leg"].tolist() == [False, True, False]
    assert df["old_balance"].tolist() == pytest.approx([0.0002, -0.021, 10.9843])
    assert df["change"].tolist() == pytest.approx([-0.0002, 0.021, -10.9843])
    assert df.loc[df["booking_uid"] == "c2", "realized_pnl"].item() == -10.3438
    assert df["id"].isna().all()
    assert "position_uid" not in df.columns  # an export column nobody fills


def test_the_simulators_csv_gives_the_json_frame_but_ids() -> None:
    exchange = SimExchange(seed=11, clock=SimClock.fixed("2026-11-01T00:00:00Z"))
    kf = kfresearch.Client("sim", exchange=exchange)
    for side in ("buy", "sell", "buy"):
        kf.request(
            "POST",
            "/derivatives/api/v3/sendorder",
            {"orderType": "mkt", "symbol": "PF_XBTUSD", "side": side, "size": 0.01},
        )
        exchange.advance("1h")
    from_json, from_csv = kf.account_log(), kf.account_log_csv()
    assert len(from_json) == len(from_csv) > 4
    assert list(from_csv.columns) == list(from_json.columns)
    differ = {c for c in from_json.columns if from_json[c].dtype != from_csv[c].dtype}
    assert differ == {"id"}
    # times lose their milliseconds; the export has no execution nor old entry price
    assert (from_csv.index == from_json.index.floor("s")).all()
    lost = {"id", "execution", "old_average_entry_price"}
    same = [c for c in from_json.columns if c not in lost]
    pd.testing.assert_frame_equal(
        from_csv[same].reset_index(drop=True),
        from_json[same].reset_index(drop=True),
        check_exact=False,
        rtol=1e-9,
    )
    assert from_csv[list(lost)].isna().all().all()


def test_the_clients_notifications_and_subaccounts_on_the_simulator() -> None:
    exchange = SimExchange(seed=11, clock=SimClock.fixed("2026-11-01T00:00:00Z"))
    kf = kfresearch.Client("sim", exchange=exchange)
    assert kf.notifications().empty
    exchange.notifications.post(
        "Upgrade",
        type="maintenance",
        priority="high",
        effective_time_ms=1_793_512_800_000,
        expected_downtime_minutes=30,
    )
    notices = kf.notifications()
    assert notices.index.tolist() == [pd.Timestamp("2026-11-01T06:00:00Z")]
    assert notices["is_downtime"].tolist() == [True]
    assert notices["expected_downtime_minutes"].tolist() == [30]
    subs = kf.subaccounts()
    assert subs.empty
    assert subs.attrs["master_account_uid"] == kf.account_log().attrs["account_uid"]
