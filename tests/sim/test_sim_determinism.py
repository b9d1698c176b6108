"""Same seed and clock give byte-identical answers; memory stays bounded."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange

NOW = "2026-11-01T00:00:00Z"
PATHS = [
    "/derivatives/api/v3/tickers",
    "/api/charts/v1/trade/PF_XBTUSD/1m?from=1793404800&to=1793491200",
    "/api/history/v3/market/PF_ETHUSD/executions?count=500",
    "/derivatives/api/v3/orderbook?symbol=PI_XBTUSD",
    "/derivatives/api/v4/historicalfundingrates?symbol=PF_SOLUSD",
]


def _answers(seed: int) -> list[bytes]:
    exchange = SimExchange(seed=seed, clock=SimClock.fixed(NOW))
    return [exchange.handle("GET", path, {}, b"").body for path in PATHS]


def test_same_seed_and_clock_give_identical_bytes_and_another_seed_differs() -> None:
    first, second, other = _answers(42), _answers(42), _answers(43)
    assert first == second
    for mine, theirs in zip(first, other, strict=True):
        assert mine != theirs


def test_serving_30_days_of_minutes_for_10_instruments_stays_under_300_mb() -> None:
    script = textwrap.dedent(
        """
        from kfresearch.sim.clock import SimClock
        from kfresearch.sim.exchange import SimExchange
        ex = SimExchange(seed=42, clock=SimClock.fixed("2026-11-01T00:00:00Z"))
        symbols = [s.symbol for s in ex.market.instruments(ex.clock.now_ms())][:10]
        now_s = ex.clock.now_ms() // 1000
        rows = 0
        for symbol in symbols:
            start = now_s - 30 * 86400
            while start < now_s:
                body = ex.handle("GET", f"/api/charts/v1/trade/{symbol}/1m?from={start}", {}, b"").body
                rows += body.count(b'"time"')
                start += 2000 * 60
        # VmHWM is this process image's own peak; ru_maxrss would carry the parent's
        # peak across fork+exec on Linux (a whole pytest session's)
        peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status")
                       if line.startswith("VmHWM:"))
        print(len(symbols), rows, peak_kb // 1024)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
    )
    instruments, rows, peak_mb = (int(x) for x in out.stdout.split())
    assert instruments == 10
    assert rows >= 10 * 43_200
    assert peak_mb < 300, f"peak RSS {peak_mb} MB"
