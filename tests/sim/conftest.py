"""Fixtures shared by the simulator tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from served import Served, serve


@pytest.fixture(scope="session")
def upstream() -> Iterator[Served]:
    """``kfresearch sim serve`` (seed 7, clock fixed at 2026-11-01): the stand-in for the live
    exchange that ``demo`` takes its prices from. Shared by every test that needs one served:
    demo only reads its public data, so no test changes what another sees."""
    with serve(seed=7, speed=None) as served:
        yield served
