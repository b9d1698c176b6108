"""The answer of a stream call that may have to wait: :class:`Waitable`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Generator
from typing import Any

__all__ = ["Waitable", "retrieve_exception"]

log = logging.getLogger("kfresearch.stream")


class Waitable:
    """The answer of a stream call that may have to wait.

    In a plain script the call has already waited (it blocked); in a notebook
    or async code, where blocking the loop would freeze the stream, it has not:
    ``await`` it. Awaiting an already finished one returns at once.

    Examples
    --------
    >>> await s.sync()          # notebook                                   # doctest: +SKIP
    >>> s.sync()                # script: returns when done                  # doctest: +SKIP
    """

    def __init__(self, future: asyncio.Future[Any] | None = None, *, what: str = "") -> None:
        self._future = future
        self._what = what
        if future is not None:
            future.add_done_callback(retrieve_exception)

    @property
    def done(self) -> bool:
        return self._future is None or self._future.done()

    def __await__(self) -> Generator[Any, None, None]:
        return self._wait().__await__()

    async def _wait(self) -> None:
        if self._future is not None:
            await self._future

    def __repr__(self) -> str:
        if self.done:
            return f"<{self._what or 'stream call'}: done>"
        return f"<{self._what or 'stream call'}: running; `await` it to wait until it is done>"


def retrieve_exception(future: asyncio.Future[Any]) -> None:
    """Mark a task's exception retrieved: an un-awaited failure is logged, not printed
    as "exception was never retrieved" at garbage collection."""
    if not future.cancelled() and (exc := future.exception()) is not None:
        log.debug("stream call failed: %r", exc)
