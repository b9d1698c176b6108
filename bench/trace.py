"""What the wire inspector costs while no trace is open: the transports against the same
code before the hook, in fresh processes, interleaved.

Run with ``make bench`` or ``.venv/bin/python -m bench.trace [--rounds N] [--base REV]``.

Two workloads, each timed inside a fresh interpreter in CPU time of its thread
(``time.thread_time``; wall clock would time the neighbours on a shared machine):

* **rest**: 3,000 signed private requests (``GET openorders``, cost 2) through a
  blocking :class:`~kfresearch.Client` on an ``httpx.MockTransport`` that answers at
  once, so the client's own path (plan, rate limiter, signing, httpx, decoding) is
  all that is timed; median per request.
* **ws**: 200,000 book-delta messages read by a stream (``Stream._read``: the
  message hook, parse and dispatch) from a socket that hands them over at once;
  time per message.

Variants, run in turn within each round (A, B, C, A, B, C, …):

* **base**: this checkout with the hook cut out (the ``RECORDERS`` tests of
  ``transport.py`` and ``stream/stream.py`` removed from a copy in a temporary
  directory), so that the hook is the only difference; ``--base REV`` compares with a
  git revision instead (``git archive REV kfresearch``);
* **inactive**: this checkout, no trace open (the case that must cost nothing);
* **active**: this checkout inside ``with Trace():``, for scale.

The table gives medians over rounds, the range (min–max), and the ratio to
``base`` taken round by round.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUESTS = 3_000
MESSAGES = 200_000
VARIANTS = ("base", "inactive", "active")


# -- the child: one measurement in a fresh process ------------------------------------
def _rest(active: bool) -> float:
    import time

    import httpx

    import kfresearch
    from kfresearch.ratelimit import RateLimiter

    body = b'{"result":"success","openOrders":[],"serverTime":"2026-11-01T00:00:00.000Z"}'
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    clock = iter(range(0, 10**9, 10))  # the pool refills between requests: never a wait
    kf = kfresearch.Client("live", key="benchkey", secret="AAAA" * 22, transport=transport,
                           limiter=RateLimiter(clock=lambda: float(next(clock))))
    trace = None
    if active:
        from kfresearch.trace import Trace

        trace = Trace().start()
    for _ in range(200):  # warm up
        kf.request("GET", "/derivatives/api/v3/openorders", private=True)
    times = []
    for _ in range(REQUESTS):
        start = time.thread_time()
        kf.request("GET", "/derivatives/api/v3/openorders", private=True)
        times.append(time.thread_time() - start)
    if trace is not None:
        trace.stop()
    return statistics.median(times)


def _ws(active: bool) -> float:
    import asyncio
    import time

    from kfresearch.environments import resolve_environment
    from kfresearch.stream import Stream
    from kfresearch.stream.connection import SocketClosed

    texts = [
        f'{{"feed":"book","product_id":"PF_XBTUSD","side":"{"buy" if i % 2 else "sell"}",'
        f'"seq":{i},"price":{86000 + i % 50},"qty":{i % 7},"timestamp":{1793491200000 + i}}}'
        for i in range(MESSAGES)
    ]

    class Feed:
        def __init__(self) -> None:
            self.items = iter(texts)

        async def recv(self) -> str:
            for item in self.items:
                return item
            raise SocketClosed("done")

        async def send(self, text: str) -> None:
            return None

        async def close(self) -> None:
            return None

    stream = Stream(resolve_environment("live"))
    trace = None
    if active:
        from kfresearch.trace import Trace

        trace = Trace().start()

    async def read() -> float:
        start = time.thread_time()
        await stream._read(Feed())
        return time.thread_time() - start

    seconds = asyncio.run(read())
    if trace is not None:
        trace.stop()
    return seconds / MESSAGES


def child(case: str, active: bool) -> None:
    seconds = _rest(active) if case == "rest" else _ws(active)
    print(f"{seconds!r}")


# -- the parent: rounds of fresh processes ---------------------------------------------
def export(rev: str) -> str:
    """The package as of ``rev`` in a temporary directory (for ``PYTHONPATH``)."""
    where = tempfile.mkdtemp(prefix="kfresearch-base-")
    archive = subprocess.run(  # noqa: S603
        ["git", "-C", str(ROOT), "archive", rev, "kfresearch"],  # noqa: S607
        check=True, capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", where], input=archive, check=True)  # noqa: S603, S607
    return where


#: what :func:`without_hook` cuts, per file: (the text, what replaces it)
_HOOK = {
    "transport.py": [
        ("            traced = bool(RECORDERS)  # the only cost of tracing while no trace is open\n"
         "            before = self.limiter.level(endpoint.pool) if traced else None\n", ""),
        ("            if traced:\n                sent_at, started", "            if False:\n"
         "                sent_at, started"),
        ("            if traced:\n                self._record(", "            if False:\n"
         "                self._record("),
    ],
    "stream/stream.py": [("if RECORDERS:", "if False:")],
}


def without_hook() -> str:
    """This checkout's package with the trace hook cut out, in a temporary directory.

    ``if False:`` blocks are dropped by the compiler, so the copy runs exactly the
    code of this checkout minus the hook. Fails if the hook's code changed shape.
    """
    where = Path(tempfile.mkdtemp(prefix="kfresearch-nohook-"))
    shutil.copytree(ROOT / "kfresearch", where / "kfresearch",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name, cuts in _HOOK.items():
        path = where / "kfresearch" / name
        text = path.read_text()
        for old, new in cuts:
            if old not in text:
                raise SystemExit(f"bench.trace: the hook in {name} changed; update _HOOK")
            text = text.replace(old, new)
        path.write_text(text)
    return str(where)


def run_once(case: str, variant: str, base_path: str) -> float:
    env = dict(os.environ, TQDM_DISABLE="1")
    path = base_path if variant == "base" else str(ROOT)
    env["PYTHONPATH"] = path + os.pathsep + str(ROOT)  # bench itself comes from ROOT
    code = f"from bench.trace import child; child({case!r}, {variant == 'active'!r})"
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True,
        cwd=tempfile.gettempdir(),
    ).stdout
    return float(out.strip().splitlines()[-1])


def report(case: str, unit: str, scale: float, times: dict[str, list[float]]) -> list[str]:
    base = times["base"]
    lines = []
    for variant in VARIANTS:
        values = times[variant]
        ratios = [a / b for a, b in zip(values, base, strict=True)]
        lines.append(
            f"| {case} | {variant} | {statistics.median(values) * scale:.2f} {unit} | "
            f"{min(values) * scale:.2f}–{max(values) * scale:.2f} | "
            f"{statistics.median(ratios):.3f}x | {min(ratios):.3f}–{max(ratios):.3f}x |"
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--base", help="a git revision as the baseline instead of this "
                        "checkout without the hook")
    args = parser.parse_args(argv)
    base_path = export(args.base) if args.base else without_hook()
    print(f"python {sys.version.split()[0]}, {args.rounds} interleaved rounds, fresh processes, "
          f"base {args.base or 'this checkout without the hook'}")
    print("| workload | variant | median | min–max | ratio to base: median | min–max |")
    print("|---|---|---|---|---|---|")
    for case, unit, scale in (("rest", "µs/request", 1e6), ("ws", "µs/message", 1e6)):
        for variant in VARIANTS:  # warm the file cache once; not counted
            run_once(case, variant, base_path)
        times: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
        for _ in range(args.rounds):
            for variant in VARIANTS:
                times[variant].append(run_once(case, variant, base_path))
        print("\n".join(report(case, unit, scale, times)), flush=True)


if __name__ == "__main__":
    main()
