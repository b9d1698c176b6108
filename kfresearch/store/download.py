"""Fetch what a series lacks, batch by batch, committing each batch as it arrives.

Interrupted downloads resume by construction: each batch is committed (files,
then manifest) before the next is fetched, and the next run asks only for
what the manifest does not cover. Rows younger than the kind's settle time
(the bucket still open, trades of the last minute) are never stored, so a
stored range never changes later.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pandas as pd

from kfresearch.errors import KFError
from kfresearch.queries import between
from kfresearch.store.intervals import DAY_MS, Range, intersect, subtract
from kfresearch.store.kinds import Kind
from kfresearch.store.manifest import Series, times_ms
from kfresearch.store.summary import Summary

if TYPE_CHECKING:
    from kfresearch.client import Client

__all__ = ["batches", "ensure", "gaps_of"]


def batches(missing: list[Range], batch_ms: int) -> Iterator[Range]:
    """Cut each missing range into batches ending on UTC midnights, at most ``batch_ms`` long.

    >>> list(batches([(0, 3 * DAY_MS + 5)], DAY_MS))[-2:]
    [(172800000, 259200000), (259200000, 259200005)]
    """
    days = max(1, batch_ms // DAY_MS)
    for start, end in missing:
        while start < end:
            cut = min(end, (start // DAY_MS + days) * DAY_MS)
            yield start, cut
            start = cut


def gaps_of(frame: pd.DataFrame, span: Range, gap_ms: int | None) -> list[Range]:
    """The parts of ``span`` the exchange has no data for: all of it when ``frame`` is empty,
    else a start or an end at least ``gap_ms`` away from the first or last row.
    """
    if gap_ms is None:
        return []
    start, end = span
    if not len(frame):
        return [span]
    times = times_ms(frame)
    out: list[Range] = []
    if int(times[0]) - start >= gap_ms:
        out.append((start, int(times[0])))
    if end - int(times[-1]) > 2 * gap_ms:
        out.append((int(times[-1]) + gap_ms, end))
    return out


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _bar(enabled: bool, description: str, total: int) -> Any:
    # TQDM_DISABLE is tqdm's own switch; its notebook widget bar does not read it. tqdm is
    # not even imported then: it reads TQDM_* variables once, when first imported.
    if not enabled or os.environ.get("TQDM_DISABLE", "") not in {"", "0", "false"}:
        return _NoBar()
    from tqdm.auto import tqdm

    # explicit: tqdm's own default comes from TQDM_DISABLE as it was when tqdm was imported
    return tqdm(total=total, desc=description, unit="batch", disable=False)


def ensure(
    kf: Client,
    series: Series,
    kind: Kind,
    span: Range,
    *,
    progress: bool = True,
) -> Summary:
    """Make the store cover ``span`` of ``series`` (already cut to what is final).

    Returns
    -------
    Summary
        What was fetched, what was there, and the gaps in ``span``.

    Raises
    ------
    KFError
        When a request fails after the client's retries; every batch before
        it is stored, and the error's note says to run the call again.
    """
    summary = Summary(series=_label(series), asked=[span] if span[1] > span[0] else [])
    if kind.fetch is None or not summary.asked:
        return summary
    with series.locked() as manifest:
        missing = subtract(summary.asked, manifest.covered)
    summary.already = intersect(summary.asked, manifest.covered)
    todo = list(batches(missing, kind.batch_ms(series.keys)))
    bar = _bar(progress, _label(series), len(todo))
    try:
        for start, end in todo:
            frame = between(kind.fetch(kf, series.keys, start, end), start, end)
            gaps = gaps_of(frame, (start, end), kind.gap_ms(series.keys))
            with series.locked() as manifest:
                summary.rows += series.commit(
                    manifest, frame, (start, end), gaps, kind.compression
                )
            summary.fetched.append((start, end))
            summary.batches += 1
            bar.update(1)
    except KFError as exc:
        exc.add_note(
            f"{summary.batches} of {len(todo)} batches of {_label(series)} are stored in "
            f"{series.path}; run the same call again to fetch only the rest"
        )
        raise
    finally:
        bar.close()
    summary.gaps = intersect(summary.asked, series.load().gaps)
    return summary


def _label(series: Series) -> str:
    keys = " ".join(f"{k}={v}" for k, v in series.keys.items())
    return f"{series.kind} {keys}".strip()
