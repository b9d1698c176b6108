"""Shared fixtures of the client tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kfresearch import queries


@pytest.fixture(scope="module")
def small_pages() -> Iterator[None]:
    """History pages of 100 elements (the reference pages by 1,000): many pages and
    sub-ranges from a short range. A module asks for it with
    ``pytestmark = pytest.mark.usefixtures("small_pages")``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(queries, "HISTORY_PAGE", 100)
        yield
