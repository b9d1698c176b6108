"""The contract vocabulary: symbols, linear vs inverse, units, order-type prices, decimals."""

from __future__ import annotations

import numpy as np
import pytest

from kfresearch import contracts
from kfresearch.contracts import (
    LIMIT_TYPES,
    ORDER_TYPES,
    TRIGGER_TYPES,
    Symbol,
    check_symbol,
    currency_decimals,
    decimals,
    index_pair,
    kind,
    kinds,
    order_prices,
    price_unit,
    settlement_currency,
    size_unit,
    split_symbol,
)
from kfresearch.errors import ValidationError


@pytest.mark.parametrize(
    ("symbol", "price", "size", "settles", "what"),
    [
        ("PF_XBTUSD", "USD", "XBT", "USD", "linear"),
        ("pf_ethusd", "USD", "ETH", "USD", "linear"),
        ("FF_XBTUSD_261225", "USD", "XBT", "USD", "linear"),
        ("PI_XBTUSD", "USD", "USD", "XBT", "inverse"),
        ("FI_XBTUSD_261127", "USD", "USD", "XBT", "inverse"),
        ("in_xbtusd", "USD", "contracts", "USD", "index"),
        ("rr_ethusd", "USD", "contracts", "USD", "index"),
        ("PV_XRPXBT", "XBT", "contracts", "XBT", "vanilla"),
        ("WHATEVER", "USD", "contracts", "", None),
        (None, "USD", "contracts", "", None),
    ],
)
def test_units_follow_the_symbol(
    symbol: str | None, price: str, size: str, settles: str, what: str | None
) -> None:
    assert price_unit(symbol) == price
    assert size_unit(symbol) == size
    assert settlement_currency(symbol) == settles
    assert kind(symbol) == what


def test_split_and_vectorised_kinds() -> None:
    assert split_symbol("FI_XBTUSD_261225") == Symbol("FI", "XBT", "USD", "261225")
    assert split_symbol("PF_SOLUSD") == Symbol("PF", "SOL", "USD")
    assert split_symbol("nonsense") is None
    got = kinds(["PF_XBTUSD", "PI_XBTUSD", "in_xbtusd", None, "cash"])
    assert list(got) == ["linear", "inverse", "index", None, None]
    assert np.array_equal(kinds(["PI_ETHUSD", "PF_ETHUSD"]) == "inverse", [True, False])
    assert index_pair("in_xbtusd") == "XBTUSD"
    assert index_pair("PF_XBTUSD") is None


def test_order_type_prices_are_one_table() -> None:
    assert set(ORDER_TYPES) == {"lmt", "post", "ioc", "fok", "mkt", "stp", "take_profit",
                                "trailing_stop"}
    assert LIMIT_TYPES == {"lmt", "post", "ioc", "fok"}
    assert TRIGGER_TYPES == {"stp", "take_profit", "trailing_stop"}
    assert order_prices("mkt").limit_price == "forbidden"
    assert order_prices("stp").limit_price == "optional"
    assert order_prices("take_profit").stop_price == "required"
    assert order_prices("trailing_stop").trailing == "required"
    assert {t for t in ORDER_TYPES if contracts.takes_limit_price(t)} == \
        LIMIT_TYPES | {"stp", "take_profit"}
    assert {t for t in ORDER_TYPES if contracts.takes_stop_price(t)} == {"stp", "take_profit"}


def test_the_ticket_uses_the_same_table() -> None:
    from kfresearch.widgets import ticket

    assert ticket._USES_LIMIT == {"lmt", "ioc", "fok", "stp", "take_profit"}
    assert ticket._USES_STOP == {"stp", "take_profit"}


@pytest.mark.parametrize(
    ("step", "places"), [(1.0, 0), (0.5, 1), (0.0001, 4), (100.0, 0), (1e-8, 8), (0.25, 2)]
)
def test_decimals(step: float, places: int) -> None:
    assert decimals(step) == places


def test_currency_decimals() -> None:
    assert currency_decimals("USD") == 2
    assert currency_decimals("xbt") == 8


def test_check_symbol_suggests() -> None:
    assert check_symbol("pf_xbtusd", ["PF_XBTUSD"]) == "PF_XBTUSD"
    with pytest.raises(ValidationError, match="did you mean PF_ETHUSD"):
        check_symbol("PF_ETHUSDT", ["PF_ETHUSD", "PF_XBTUSD"])


def test_one_vocabulary_no_copies() -> None:
    """HOURS_PER_YEAR, the prefix tables and _decimals live only in contracts (the
    simulator keeps its own copy on purpose)."""
    import pathlib

    import kfresearch

    root = pathlib.Path(kfresearch.__file__).parent
    for path in root.rglob("*.py"):
        if "sim" in path.relative_to(root).parts or path.name == "contracts.py":
            continue
        text = path.read_text()
        assert "24 * 365" not in text, path
        assert "def _decimals" not in text, path
        assert '"PI_", "FI_"' not in text, path
        assert '("PI", "FI")' not in text, path


@pytest.mark.parametrize("module_name", ["kfresearch.contracts", "kfresearch.plans",
                                         "kfresearch.frames.pages", "kfresearch.endpoints"])
def test_docstring_examples_run(module_name: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module_name))
    assert result.attempted > 0
    assert result.failed == 0
