"""A download's pages handed to a frame builder as they arrive.

A paginated download (``kf.trades`` over a day, an account's executions)
receives its pages one batch at a time. :func:`page_reader` says how a
builder wants them: ``read`` turns a page into what the frame needs of it as
soon as it arrives (for :func:`~kfresearch.frames.trades`, its decoded
columns: the page's bytes can go), and ``build`` makes the frame from those,
in page order. The frame is the one ``build(pages)`` gives. A builder that
cannot read a page on its own keeps the page itself until the end.

Example
-------
>>> from kfresearch import frames
>>> reader = page_reader(frames.trades, sort="asc")
>>> parts = [reader.read(b'{"elements": [], "continuationToken": null}')]
>>> len(reader.build(iter(parts)))
0
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd

from kfresearch.frames.market import read_trades_page, trades

__all__ = ["PageReader", "page_reader"]


@dataclass(frozen=True)
class PageReader:
    """How one builder takes a download's pages as they arrive (see :func:`page_reader`)."""

    #: a page (bytes or decoded JSON) → what the frame keeps of it
    read: Callable[[Any], Any]
    #: ``read``'s results, oldest page first → the frame (consumed one at a time)
    build: Callable[[Iterator[Any]], pd.DataFrame]


# Builders that read a page on its own, and how. The private histories
# (``executions``, ``order_history``) arrive as decoded JSON, and their frames
# flatten every element at once (a field's columns are decided over all rows),
# so their pages are kept whole.
_READERS: dict[Callable[..., pd.DataFrame], Callable[[Any], Any]] = {
    trades: read_trades_page,
}


def _kept(page: Any) -> Any:
    return page


def page_reader(build: Callable[..., pd.DataFrame], **options: Any) -> PageReader:
    """The :class:`PageReader` of ``build`` called with ``options`` (``sort="asc"`` …).

    ``reader.build(iter(map(reader.read, pages)))`` equals ``build(pages, **options)``.
    """
    read = _READERS.get(build)
    if read is None:
        return PageReader(_kept, lambda parts: build(list(parts), **options))
    return PageReader(read, lambda parts: build(parts, **options))
