"""The shared machinery of kfresearch.frames: names, flattening, converters, the builder, API."""

from __future__ import annotations

import doctest
import inspect
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

import kfresearch.frames as frames
import kfresearch.timeparse as timeparse
from kfresearch.frames import account, history, market, paged, pages
from kfresearch.frames import core as _core
from kfresearch.frames.core import Col, FrameSpec, build, flatten, to_snake, to_time

UTC = "datetime64[ns, UTC]"


@pytest.mark.parametrize(
    ("name", "snake"),
    [
        ("markPrice", "mark_price"),
        ("order_id", "order_id"),
        ("cliOrdId", "cli_ord_id"),
        ("vol24h", "vol24h"),
        ("isUnderlyingMarketClosed", "is_underlying_market_closed"),
        ("realizedPnL", "realized_pnl"),
        ("orderID", "order_id"),
        ("XBT", "xbt"),
        ("takerOrder.limitPrice", "taker_order_limit_price"),
        ("new balance", "new_balance"),
        ("FI_XBTUSD_171215", "fi_xbtusd_171215"),
    ],
)
def test_to_snake(name: str, snake: str) -> None:
    assert to_snake(name) == snake


def test_flatten_is_column_wise_and_keeps_lists() -> None:
    flat = flatten(
        [
            {"a": 1, "b": {"c": "x", "d": [1, 2]}},
            None,
            {"a": 2, "e": True},
        ]
    )
    assert flat == {
        "a": [1, None, 2],
        "b.c": ["x", None, None],
        "b.d": [[1, 2], None, None],
        "e": [None, None, True],
    }
    assert flatten([{"a": {"b": 1}}], stop=frozenset({"a"})) == {"a": [{"b": 1}]}
    assert flatten([{"a": {"b": 1, "c": 2}}], skip=("a.c",)) == {"a.b": [1]}


def test_to_time_accepts_every_documented_form() -> None:
    values = [
        "2016-02-26T12:09:38.830Z",
        "2025-10-21T08:42:03.057503Z",
        "2022-06-28T00:00:00Z",
        "2022-06-28T02:00:00+02:00",
        1769618176659,
        "1769618176659",
        None,
        "",
    ]
    out = to_time(values)
    assert str(out.dtype) == UTC
    assert out.tolist()[:6] == [
        pd.Timestamp("2016-02-26T12:09:38.830Z"),
        pd.Timestamp("2025-10-21T08:42:03.057503Z"),
        pd.Timestamp("2022-06-28T00:00:00Z"),
        pd.Timestamp("2022-06-28T00:00:00Z"),
        pd.Timestamp(1769618176659, unit="ms", tz="UTC"),
        pd.Timestamp(1769618176659, unit="ms", tz="UTC"),
    ]
    assert out.iloc[6:].isna().all()
    assert to_time(["1769618176659", "1769618176660"]).iloc[1].value == 1769618176660 * 10**6
    assert to_time(["2025-10-21T08:42:03.057503Z"]).iloc[0].microsecond == 57503


SPEC = FrameSpec(
    name="demo",
    columns=(
        Col("time", "time", "ts"),
        Col("price", "float", ("px", "price")),
        Col("n", "Int", "n"),
        Col("flag", "bool", "flag", default=True),
        Col("name", "lower", "name"),
        Col("double", "float", None),
    ),
    index="time",
    unique="name",
    derive=lambda df: df.assign(double=df["price"] * 2),
)


def test_build_applies_the_spec() -> None:
    records = [
        {"ts": 2000, "px": "1.5", "n": "3", "flag": False, "name": "B", "extraField": "7"},
        {"ts": 1000, "price": 2, "name": "A", "listy": [1]},
        {"ts": 3000, "px": "", "price": "4", "name": "B"},
    ]
    df = build(SPEC, flatten(records), 3, attrs={"server_time": pd.Timestamp(0, tz="UTC")})
    assert df.index.name == "time"
    assert df.index.is_monotonic_increasing
    assert df["name"].tolist() == ["a", "b"]  # de-duplicated on name, last kept, lower-cased
    assert df["price"].tolist() == [2.0, 4.0]  # coalesced: px "" falls back to price
    assert df["double"].tolist() == [4.0, 8.0]
    assert df["flag"].tolist() == [True, True]  # missing → default
    assert str(df["n"].dtype) == "Int64"
    assert df.columns.tolist()[:5] == ["price", "n", "flag", "name", "double"]
    assert {"extra_field", "listy"} <= set(df.columns)
    assert df.attrs["server_time"] == pd.Timestamp(0, tz="UTC")


def test_build_empty_gives_declared_dtypes() -> None:
    df = build(SPEC, {}, 0)
    assert df.index.name == "time"
    assert str(df.index.dtype) == UTC
    assert df.dtypes.astype(str).to_dict() == {
        "price": "float64",
        "n": "Int64",
        "flag": "bool",
        "name": "str",
        "double": "float64",
    }


def test_unknown_fields_get_inferred_dtypes() -> None:
    spec = FrameSpec(name="u", columns=(Col("a", "float", "a"),))
    df = build(
        spec,
        flatten(
            [
                {
                    "a": 1,
                    "numStr": "1.5",
                    "count": 3,
                    "flag": True,
                    "text": "x",
                    "eventTime": "2024-01-01T00:00:00Z",
                    "blank": None,
                },
                {
                    "a": 2,
                    "numStr": "",
                    "count": 4,
                    "flag": False,
                    "text": "",
                    "eventTime": "1704067200000",
                    "blank": None,
                },
            ]
        ),
        2,
    )
    assert str(df["num_str"].dtype) == "float64"
    assert np.isnan(df["num_str"].iloc[1])
    assert str(df["count"].dtype) == "int64"
    assert str(df["flag"].dtype) == "bool"
    assert str(df["text"].dtype) == "str"
    assert pd.isna(df["text"].iloc[1])
    assert str(df["event_time"].dtype) == UTC
    assert df["event_time"].iloc[0] == df["event_time"].iloc[1]
    assert str(df["blank"].dtype) == "float64"


def test_combine_pages() -> None:
    pages = [{"candles": [1]}, {"candles": [2, 3], "more_candles": False}]
    assert frames.combine_pages(pages, "candles") == [1, 2, 3]
    assert frames.combine_pages({"candles": [4]}, "candles") == [4]
    with pytest.raises(ValueError, match="page 1"):
        frames.combine_pages([{"candles": []}, "oops"], "candles")


def test_spec_rejects_duplicate_columns() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        FrameSpec(name="x", columns=(Col("a", "float", "a"), Col("a", "str", "b")))


# --------------------------------------------------------------------------- public API

PUBLIC = {
    "account_log": history.ACCOUNT_LOG,
    "account_log_csv": history.ACCOUNT_LOG_FROM_CSV,
    "accounts": account.ACCOUNTS,
    "candles": market.CANDLES,
    "executions": history.EXECUTIONS,
    "fee_schedules": market.FEE_SCHEDULES,
    "fills": account.FILLS,
    "funding_rates": market.FUNDING_RATES,
    "instruments": market.INSTRUMENTS,
    "leverage": account.LEVERAGE,
    "notifications": account.NOTIFICATIONS,
    "open_orders": account.OPEN_ORDERS,
    "order_history": history.ORDER_HISTORY,
    "orderbook": market.ORDERBOOK,
    "pnl_preferences": account.PNL_PREFERENCES,
    "positions": account.POSITIONS,
    "positions_history": history.POSITIONS_HISTORY,
    "subaccounts": account.SUBACCOUNTS,
    "term_structure": market.TERM_STRUCTURE,
    "tickers": market.TICKERS,
    "trades": market.TRADES,
}


def test_all_is_sorted_and_complete() -> None:
    assert frames.__all__ == sorted(frames.__all__)
    public = {
        name
        for name, obj in vars(frames).items()
        if not name.startswith("_")
        and callable(obj)
        and not inspect.ismodule(obj)
        and getattr(obj, "__module__", "").startswith("kfresearch.frames")
    }
    assert set(frames.__all__) == public
    assert set(frames.__all__) == set(PUBLIC) | {"combine_pages", "to_snake"}


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_docstring_lists_every_column(name: str) -> None:
    doc = inspect.getdoc(getattr(frames, name)) or ""
    assert "Returns" in doc
    assert "Examples" in doc
    missing = [c for c in PUBLIC[name].names if c not in doc]
    assert not missing, f"{name} docstring does not mention {missing}"


@pytest.mark.parametrize(
    "module", [_core, market, account, history, paged, pages, timeparse], ids=lambda m: m.__name__
)
def test_docstring_examples_run(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


def test_arrow_fast_path_matches_pandas_conversion(monkeypatch: pytest.MonkeyPatch) -> None:
    records = [{"s": "a", "n": 1}, {"s": "", "n": "x"}, {"s": None, "n": None}]
    spec = FrameSpec(name="s", columns=(Col("s", "str", "s"), Col("n", "str", "n")))
    fast = build(spec, flatten(records), 3)
    monkeypatch.setattr(_core, "_ARROW", None)
    slow = build(spec, flatten(records), 3)
    pd.testing.assert_frame_equal(fast, slow)
    assert fast["s"].isna().tolist() == [False, True, True]
    assert fast["n"].tolist()[:2] == ["1", "x"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([True, False, True], [True, False, True]),
        ([1, 0], [True, False]),  # 0/1 pack like bools
        ([2, 1], [False, True]),  # other integers are not flags: default
        (["true", "False", None], [True, False, False]),
        ([True, "x"], [True, False]),
        ([], []),
    ],
)
def test_bool_conversion_fast_and_slow_paths_agree(values: list, expected: list) -> None:
    out = _core.convert(Col("f", "bool", "f"), values, len(values))
    assert out.dtype == np.bool_
    assert out.tolist() == expected


def test_float_conversion_treats_empty_strings_as_missing() -> None:
    out = _core.to_float(["1.5", "", 2, None, "1e-3"])
    np.testing.assert_array_equal(out, [1.5, np.nan, 2.0, np.nan, 0.001])
    coerced = _core.to_float(["1", "abc", {"a": 1}])  # not numbers at all → NaN, no error
    np.testing.assert_array_equal(coerced, [1.0, np.nan, np.nan])


@pytest.mark.parametrize("arrow", [True, False])
def test_cased_text_with_and_without_arrow(monkeypatch: pytest.MonkeyPatch, arrow: bool) -> None:
    if not arrow:
        monkeypatch.setattr(_core, "_ARROW", None)
    lower = _core.convert(Col("s", "lower", "s"), ["Buy", "", None, "SELL"], 4)
    assert pd.Series(lower).tolist()[:1] + pd.Series(lower).tolist()[3:] == ["buy", "sell"]
    assert pd.Series(lower).isna().tolist() == [False, True, True, False]
    assert lower.dtype == _core.STR_DTYPE
    mixed = _core.convert(Col("s", "upper", "s"), ["xbt", 5], 2)  # a number becomes text
    assert pd.Series(mixed).tolist() == ["XBT", "5"]


def test_missing_columns_are_typed_and_empty_of_values() -> None:
    assert pd.Series(_core.convert(Col("s", "str", "s"), None, 3)).isna().all()
    ints = _core.convert(Col("i", "Int", "i"), None, 3)
    assert str(ints.dtype) == "Int64"
    assert ints.isna().all()
    assert len(ints) == 3


@pytest.mark.parametrize("arrow", [True, False])
def test_repeat_str(monkeypatch: pytest.MonkeyPatch, arrow: bool) -> None:
    if not arrow:
        monkeypatch.setattr(_core, "_ARROW", None)
    out = _core.repeat_str(("bid", "ask"), (2, 1))
    assert out.dtype == _core.STR_DTYPE
    assert list(out) == ["bid", "bid", "ask"]


def test_typed_arrays_and_lists_concatenate_and_coalesce() -> None:
    parts = [
        ({"t": np.array([3, 4]), "p": np.array([1.0, 2.0]), "s": ["a", "b"]}, 2),
        ({"t": np.array([5]), "p": [None], "s": ["c"]}, 1),
        ({"s": ["d"]}, 1),
    ]
    flat, n = _core.concat_flat(parts)
    assert n == 4
    assert flat["t"] == [3, 4, 5, None]  # a page without the field pads with None
    assert flat["p"] == [1.0, 2.0, None, None]
    typed, _ = _core.concat_flat([parts[0], ({"t": np.array([5]), "p": np.array([3.0])}, 1)])
    assert typed["t"].dtype == np.int64
    assert typed["t"].tolist() == [3, 4, 5]
    # a NaN in a typed column is a gap the next source fills; complete ints are kept as they are
    assert _core._coalesce(np.array([1.0, np.nan]), np.array([7.0, 8.0])) == [1.0, 8.0]
    ints = np.array([1, 2])
    assert _core._coalesce(ints, [9, 9]) is ints
    converted = _core.convert(Col("s", "str", "s"), pd.array(["a", ""], dtype=_core.STR_DTYPE), 2)
    assert pd.Series(converted).isna().tolist() == [False, True]  # "" is missing here too
