"""A `kfresearch sim serve` process on loopback, and raw signed HTTP against it.

Tests that check the simulator the way other people's clients see it use
these helpers: a real server process, real sockets, requests signed by the
reference's recipe (§2), no kfresearch client in between.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
from loopback import free_port

from kfresearch.auth import rest_signature
from kfresearch.credentials import Credentials
from kfresearch.sim.keys import provisioned_keys

NOW = "2026-11-01T00:00:00Z"


@dataclass
class Served:
    """A running server: its base URL and process."""

    url: str
    process: subprocess.Popen[str]

    @property
    def ws_url(self) -> str:
        return self.url.replace("http", "ws", 1) + "/ws/v1"

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, object] | None = None,
        *,
        key: Credentials | None = None,
        nonce: str = "",
    ) -> httpx.Response:
        """Send ``method path`` with ``params`` in the query, signed with ``key`` if given."""
        query = urlencode(params or {}, doseq=True)
        headers = {}
        if key is not None:
            headers = {"APIKey": key.key, "Authent": rest_signature(key.secret, query, nonce, path)}
            if nonce:
                headers["Nonce"] = nonce
        target = f"{self.url}{path}" + (f"?{query}" if query else "")
        return httpx.request(method, target, headers=headers, timeout=30)


def full_key() -> Credentials:
    return provisioned_keys()["full"].credentials


@contextmanager
def serve(seed: int = 7, speed: float | None = 20.0) -> Iterator[Served]:
    """Run ``kfresearch sim serve`` with a seed, from 2026-11-01, until the block ends.

    ``speed`` runs the clock that many times faster; None keeps it fixed.
    """
    port = free_port()
    pace = ["--speed", f"{speed:g}"] if speed else []
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kfresearch.cli",
            "sim",
            "serve",
            "--port",
            str(port),
            "--seed",
            str(seed),
            "--now",
            NOW,
            *pace,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/derivatives/api/v3/instruments/status", timeout=1):  # noqa: S310
                break
        except OSError:
            time.sleep(0.2)
    else:  # pragma: no cover
        process.kill()
        raise RuntimeError(f"the server did not start: {process.stdout.read() if process.stdout else ''}")
    try:
        yield Served(url, process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
