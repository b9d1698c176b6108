"""The history store: rows written per second, and reading a month back vs downloading it again.

Run with ``make bench`` (or ``.venv/bin/python -m bench.store``). Prints markdown tables.

* **write**: a fresh store downloads 30 days of 1-minute candles of three
  contracts from the in-process simulator (fetch, frame, Parquet, manifest per
  day); rows per second end to end, and of the store's commit alone (the same
  frames written again to a second store, nothing fetched).
* **read vs download**: one month (30 days, 43,200 rows) of ``PF_XBTUSD`` 1-minute
  candles, (A) read from the store (``Store(dir).read(...)``: 30 day files,
  checked and joined) vs (B) downloaded again from ``kfresearch sim serve`` on
  loopback (``Client("sim", base_url=...).candles(...)``, 22 charts pages).
  A and B alternate A, B, A, B…, each run in a fresh process that times only
  the operation (interpreter and imports excluded); medians and min–max spread.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NOW = "2026-11-01T00:00:00Z"
SEED = "42"
SYMBOLS = ("PF_XBTUSD", "PF_ETHUSD", "PF_SOLUSD")
DAYS = 30
RUNS = 7


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "KFRESEARCH_SIM_SEED": SEED,
        "KFRESEARCH_SIM_NOW": NOW,
        "TQDM_DISABLE": "1",
    }


def _read(root: str) -> float:
    import pyarrow.parquet  # noqa: F401 - imported by any reader before it reads; not timed

    from kfresearch.store import Store

    start = time.perf_counter()
    frame = Store(root).read(
        "candles",
        since="2026-10-02",
        until=NOW,
        symbol="PF_XBTUSD",
        tick_type="trade",
        resolution="1m",
    )
    elapsed = time.perf_counter() - start
    assert len(frame) == DAYS * 1440, len(frame)
    return elapsed


def _download(url: str) -> float:
    import kfresearch

    with kfresearch.Client("sim", base_url=url) as kf:
        start = time.perf_counter()
        frame = kf.candles("PF_XBTUSD", "1m", since="2026-10-02", until=NOW, progress=False)
        elapsed = time.perf_counter() - start
    assert len(frame) == DAYS * 1440, len(frame)
    return elapsed


def _write(root: str) -> tuple[float, float, int]:
    """(seconds end to end, seconds of the commits alone, rows) for DAYS x SYMBOLS of 1m."""
    import kfresearch
    from kfresearch.store import Store
    from kfresearch.store.manifest import Series

    kf = kfresearch.connect("sim")
    store = Store(Path(root) / "a", kf, progress=False)
    kf.instruments()
    start = time.perf_counter()
    rows = sum(
        store.download("candles", s, since=f"{DAYS}d", resolution="1m").rows for s in SYMBOLS
    )
    end_to_end = time.perf_counter() - start
    # the same frames again, into a fresh store: the commit path alone
    frames = {
        s: store.read("candles", symbol=s, tick_type="trade", resolution="1m") for s in SYMBOLS
    }
    day = 86_400_000
    first = int(frames[SYMBOLS[0]].index[0].value // 1_000_000)
    start = time.perf_counter()
    for symbol, frame in frames.items():
        series = Series(
            Path(root) / "b",
            "candles",
            {"symbol": symbol, "tick_type": "trade", "resolution": "1m"},
        )
        for d in range(DAYS):
            a, b = first + d * day, first + (d + 1) * day
            rows_of_day = frame.iloc[d * 1440 : (d + 1) * 1440]
            with series.locked() as manifest:
                series.commit(manifest, rows_of_day, (a, b), [])
    commits = time.perf_counter() - start
    return end_to_end, commits, rows


def _child(argv: list[str]) -> float:
    out = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bench.store", *argv], env=_env(), capture_output=True, text=True
    )
    if out.returncode:
        raise RuntimeError(out.stderr)
    return float(out.stdout.strip().splitlines()[-1])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _serve(port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "kfresearch.cli",
            "sim",
            "serve",
            "--port",
            str(port),
            "--seed",
            SEED,
            "--now",
            NOW,
        ],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return server
        time.sleep(0.1)
    server.kill()
    raise RuntimeError("the simulator did not start")


def _spread(values: list[float]) -> str:
    low, mid, high = (1000 * v for v in (min(values), statistics.median(values), max(values)))
    return f"{mid:.1f} ms ({low:.1f}–{high:.1f})"


def main() -> None:
    os.environ.update(_env())  # this process's simulator too: seed 42, clock fixed
    if len(sys.argv) > 2 and sys.argv[1] == "read":
        print(_read(sys.argv[2]))
        return
    if len(sys.argv) > 2 and sys.argv[1] == "download":
        print(_download(sys.argv[2]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        end_to_end, commits, rows = _write(tmp)
        print("| what | rows | seconds | rows per second |\n|---|---|---|---|")
        for what, seconds in (
            ("download into the store (in-process sim, 3 x 30 days of 1m)", end_to_end),
            ("store commits alone (same frames, one file + manifest per day)", commits),
        ):
            print(f"| {what} | {rows:,} | {seconds:.2f} | {rows / seconds:,.0f} |")
        store = str(Path(tmp) / "a")
        port = _free_port()
        server = _serve(port)
        try:
            url = f"http://127.0.0.1:{port}"
            _child(["download", url])  # warm the server's caches like a second download would
            reads, downloads = [], []
            for _ in range(RUNS):
                reads.append(_child(["read", store]))
                downloads.append(_child(["download", url]))
        finally:
            server.terminate()
            server.wait(timeout=10)
        ratios = [d / r for r, d in zip(reads, downloads, strict=True)]
        print("\n| one month of PF_XBTUSD 1m candles (43,200 rows) | median (min–max) |\n|---|---|")
        print(f"| (A) read from the store | {_spread(reads)} |")
        print(f"| (B) download from a served simulator | {_spread(downloads)} |")
        mid, low, high = statistics.median(ratios), min(ratios), max(ratios)
        print(f"| B / A, pair by pair | {mid:.0f}x ({low:.0f}–{high:.0f}) |")


if __name__ == "__main__":
    main()
