"""Compare cases fairly: each run in a fresh process, the cases in turn (A, B, A, B, ...).

Every benchmark module that compares approaches runs each measurement in a
child process (``python -m bench.<module> <case> [args]``) that prints one JSON
object of figures on its last line. :func:`interleave` starts the children
round by round, one per case in turn, so a machine that changes speed during
the run moves every case alike; :func:`ratios` pairs the rounds. Report the
median and the spread (min–max), never the best run.

Example
-------
>>> summary([3.0, 1.0, 2.0], scale=1000, unit="ms")
'2000 ms (1000–3000)'
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

NOW = "2026-11-01T00:00:00Z"
SEED = "42"


def env() -> dict[str, str]:
    """The children's environment: the simulator's seed and clock fixed, no progress bars."""
    return {
        **os.environ,
        "KFRESEARCH_SIM_SEED": SEED,
        "KFRESEARCH_SIM_NOW": NOW,
        "TQDM_DISABLE": "1",
    }


def child(module: str, args: Sequence[str], timeout: float = 900) -> dict[str, Any]:
    """Run ``python -m module *args`` in a fresh process; its last line of output, as JSON."""
    out = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", module, *args],
        env=env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if out.returncode:
        raise RuntimeError(f"{module} {' '.join(args)} failed:\n{out.stderr}")
    figures: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def interleave(
    module: str, cases: Mapping[str, Sequence[str]], rounds: int, *, warmup: bool = True
) -> dict[str, list[dict[str, Any]]]:
    """Per case, the figures of each round; within a round every case runs once, in turn.

    ``cases`` maps a case's name to the child's arguments. With ``warmup`` one
    round runs first and is not kept (file caches, the server's caches).
    """
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in cases}
    for index in range(rounds + (1 if warmup else 0)):
        for name, args in cases.items():
            figures = child(module, args)
            if index or not warmup:
                results[name].append(figures)
        print(f"  round {index + (0 if warmup else 1)}/{rounds} done", file=sys.stderr, flush=True)
    return results


def column(runs: Sequence[Mapping[str, Any]], key: str) -> list[float]:
    return [float(run[key]) for run in runs]


def ratios(a: Sequence[float], b: Sequence[float]) -> list[float]:
    """``a / b`` round by round (the rounds paired as they ran)."""
    return [x / y for x, y in zip(a, b, strict=True)]


def summary(values: Sequence[float], *, scale: float = 1.0, unit: str = "", digits: int = 0) -> str:
    """``median (min–max)`` of ``values`` times ``scale``, with ``unit``."""
    low, mid, high = (scale * v for v in (min(values), statistics.median(values), max(values)))
    suffix = f" {unit}" if unit else ""
    return f"{mid:.{digits}f}{suffix} ({low:.{digits}f}–{high:.{digits}f})"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve_sim(port: int, *extra: str) -> subprocess.Popen[bytes]:
    """``kfresearch sim serve`` on loopback (seed and clock fixed); returns once it listens."""
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
            *extra,
        ],
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return server
        time.sleep(0.1)
    server.kill()
    raise RuntimeError("the simulator did not start")


def machine() -> str:
    """Python and load average, for the line above a table."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load average {load:.1f}"
