"""Where the stream runs: the caller's event loop, or a loop of its own in a thread.

In JupyterLab the kernel runs an asyncio loop on the main thread while cells
execute; the stream's tasks run on that loop, between and during cells that
``await`` (never ``nest_asyncio``). Async code (``async with kf.stream()``)
gets the same: its running loop. A plain script has no running loop, so the
stream starts one in a daemon thread and blocking calls wait on it.

Example
-------
>>> runner = LoopRunner.background()
>>> async def answer() -> int:
...     return 42
>>> runner.call(answer(), timeout=5)
42
>>> runner.stop()
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from kfresearch.errors import StreamError

__all__ = ["LoopRunner"]

T = TypeVar("T")


class LoopRunner:
    """An event loop the stream's coroutines run on (see the module docstring)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, thread: threading.Thread | None) -> None:
        self.loop = loop
        self.thread = thread
        self._thread_id: int | None = thread.ident if thread is not None else threading.get_ident()

    @classmethod
    def current(cls) -> LoopRunner | None:
        """The loop running in this thread (a Jupyter kernel, async code), if any."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        return cls(loop, None)

    @classmethod
    def background(cls) -> LoopRunner:
        """A new loop running in a daemon thread named ``kfresearch-stream``."""
        loop = asyncio.new_event_loop()
        started = threading.Event()

        def main() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(started.set)
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
                loop.close()

        # daemon: an interpreter that exits without closing the stream must not hang
        # (an atexit hook closes it cleanly first)
        thread = threading.Thread(target=main, name="kfresearch-stream", daemon=True)
        thread.start()
        started.wait()
        return cls(loop, thread)

    @property
    def owns_thread(self) -> bool:
        return self.thread is not None

    def in_loop_thread(self) -> bool:
        """Whether the caller runs on the loop's thread (then it must not block)."""
        return threading.get_ident() == self._thread_id

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None) -> T:
        """Run ``coro`` on the loop and wait for its result, from another thread.

        Raises
        ------
        StreamError
            On the loop's own thread (waiting there would block the loop
            forever: ``await`` instead), or when ``timeout`` passes.
        """
        if self.in_loop_thread():
            coro.close()
            raise StreamError(
                "this call waits for the stream, which runs on this thread's event loop: "
                "`await` it (in a notebook: `await s.sync()`, `await s.subscribe(...)`)"
            )
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            if future.done():  # the coroutine's own TimeoutError (RequestTimeoutError is one)
                raise
            future.cancel()
            raise StreamError(f"the stream did not answer within {timeout:g} s") from None

    def stop(self) -> None:
        """Stop and close a loop this runner started (nothing for a borrowed loop)."""
        if self.thread is None or self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        if threading.current_thread() is not self.thread:
            self.thread.join()

    def __repr__(self) -> str:
        where = f"thread {self.thread.name}" if self.thread else "the caller's loop"
        return f"<LoopRunner on {where}>"
