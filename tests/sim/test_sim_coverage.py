"""Every endpoint of the reference is served by `kfresearch sim serve` (issue 20).

The table in ``kfresearch/sim/README.md`` lists each served endpoint with the
reference's own spelling of it. Three checks tie it to the reference and to
the simulator: every spelling occurs in the reference; every endpoint the
reference names (``METHOD /path`` anywhere in §1 and §4, and the backticked
paths of §4) has a row; every row is served, in-process and over HTTP.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from served import Served, full_key, serve

import kfresearch.sim
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange

REFERENCE = (
    Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "kraken-futures-api.md"
)
TABLE = Path(kfresearch.sim.__file__).with_name("README.md")
# Paths the reference names that are not endpoints, and why.
NOT_ENDPOINTS = {
    "/derivatives/api/v3": "the base URL (§1)",
    "/api/v3/positions": '"There is **no** /api/v3/positions" (§4.10)',
    "/derivatives/api/v3/historicalfundingrates": "reported to answer 404 (§4.8)",
}
PATH_VALUES = {
    "symbol": "PF_XBTUSD",
    "tradeable": "PF_XBTUSD",
    "tick_type": "trade",
    "resolution": "1h",
    "analytics_type": "cvd",
    "subaccountUid": "7f5c528e-2285-45f0-95f5-83d53d4bfcd2",
    "rfqUid": "7f5c528e-2285-45f0-95f5-83d53d4bfcd2",
}


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    spelling: str  # the endpoint as the reference writes it
    fidelity: str

    @property
    def spelled_path(self) -> str:
        return self.spelling.split(" ")[-1]

    @property
    def spelled_methods(self) -> set[str]:
        return set(self.spelling.split(" ")[0].split("|")) if " " in self.spelling else set()


def table() -> list[Row]:
    rows = []
    for line in TABLE.read_text().splitlines():
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) != 4 or cells[0] in {"Method", "---"}:
            continue
        spelling = re.search(r"`([^`]+)`", cells[2])
        assert spelling is not None, f"no reference spelling in {line!r}"
        rows.append(Row(cells[0], cells[1], spelling.group(1), cells[3]))
    return rows


def named_in_reference() -> set[tuple[str, str]]:
    """(method or "", path) of every endpoint the reference names."""
    text = REFERENCE.read_text()
    section_1 = text[text.index("## 1. "):text.index("## 2. ")]
    section_4 = text[text.index("## 4. "):text.index("## 5. ")]
    found = {
        (m.group(1), m.group(2))
        for m in re.finditer(
            r"\b((?:GET|POST|PUT|DELETE)(?:\|(?:GET|POST|PUT|DELETE))*) "
            r"(?:https://futures\.kraken\.com)?(/[^\s`?,;)]*)",
            section_1 + section_4,
        )
    }
    found |= {("", m.group(1)) for m in re.finditer(r"`(/[^`\s?]*)`", section_4)}
    return found


ROWS = table()


@pytest.fixture(scope="module")
def sim() -> Iterator[Served]:
    with serve(seed=7, speed=None) as served:
        yield served


def test_the_table_lists_the_reference_endpoints() -> None:
    if not REFERENCE.is_file():
        pytest.skip(f"the reference is not at {REFERENCE}")
    text = REFERENCE.read_text()
    assert len(ROWS) > 70
    missing_spellings = sorted({r.spelling for r in ROWS if r.spelling not in text})
    assert missing_spellings == [], "table spellings not in the reference"
    unlisted = []
    for methods, path in sorted(named_in_reference()):
        if path in NOT_ENDPOINTS:
            continue
        wanted = set(methods.split("|")) if methods else set()
        if not any(
            path in {row.spelled_path, row.path} and (not wanted or row.method in wanted)
            for row in ROWS
        ):
            unlisted.append(f"{methods} {path}".strip())
    assert unlisted == [], f"endpoints of the reference without a row: {unlisted}"


def test_the_table_is_every_route_the_simulator_has() -> None:
    exchange = SimExchange(seed=7, clock=SimClock.fixed("2026-11-01T00:00:00Z"))
    routes = {(r.method, r.pattern) for r in exchange.routes}
    assert routes == {(row.method, row.path) for row in ROWS}


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.method} {r.path}" for r in ROWS])
def test_every_documented_endpoint_is_served(sim: Served, row: Row) -> None:
    path = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], row.path)
    exchange = SimExchange(seed=7, clock=SimClock.fixed("2026-11-01T00:00:00Z"))
    route = exchange.route_for(row.method, path)
    assert route is not None
    assert route.pattern == row.path
    params = {(n if isinstance(n, str) else n[0]): "1" for n in route.required}
    answer = sim.request(row.method, path, params, key=full_key() if route.private else None)
    assert answer.status_code != 405
    # a 404 only where the table documents one (a uid or a type that does not exist)
    assert answer.status_code != 404 or "404" in row.fidelity, answer.text
