"""In a Jupyter kernel the stream is a task on the kernel's own loop (no thread, no
nest_asyncio), runs between cells, and stops cleanly when the kernel shuts down."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from stream_helpers import Served

pytestmark = pytest.mark.slow

# the only line a healthy kernel writes on stderr (jupyter_client's TCP transport)
_KERNEL_NOISE = "Kernel is running over TCP without encryption"


def _run(client: Any, code: str) -> list[str]:
    """Execute ``code`` in the kernel; return what it printed; fail on an error."""
    printed: list[str] = []
    errors: list[str] = []

    def hook(message: dict[str, Any]) -> None:
        content = message["content"]
        if message["msg_type"] == "stream":
            printed.append(content["text"])
        elif message["msg_type"] == "error":
            errors.append("\n".join(content["traceback"]))

    client.execute_interactive(code, output_hook=hook, timeout=60)
    assert not errors, errors[0]
    return "".join(printed).split()


def test_a_stream_in_a_kernel(tmp_path: Path, served: Served) -> None:
    jupyter_client = pytest.importorskip("jupyter_client")
    marker = tmp_path / "at_exit.json"
    stderr_path = tmp_path / "kernel-stderr.txt"
    env = {**os.environ, "PYTHONWARNINGS": "always", "PYTHONUNBUFFERED": "1"}
    manager = jupyter_client.KernelManager(kernel_name="python3")
    with stderr_path.open("w") as stderr:
        manager.start_kernel(stderr=stderr, env=env)
        client = manager.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=60)
            # registered before kfresearch.stream is imported, so it runs after the stream's
            # own exit hook (atexit is last in, first out): it sees what the hook left
            _run(client, f"""
import asyncio, atexit, json
def _report():
    loop = s._runner.loop
    left = [t.get_name() for t in asyncio.all_tasks(loop)
            if not t.done() and t.get_name().startswith("kfresearch")]
    json.dump({{"status": s.status, "net": net.status, "tasks": left}},
              open({str(marker)!r}, "w"))
atexit.register(_report)
""")
            printed = _run(client, f"""
import threading, kfresearch
kf = kfresearch.connect("sim")
s = kf.stream()
sub = s.subscribe("book", ["PF_XBTUSD"])
net = kfresearch.Client("sim", base_url={served.url!r}).stream()
net_sub = net.subscribe("book", "PF_ETHUSD")
print(sub.status, net_sub.status, s._runner.thread is None,
      any(t.name == "kfresearch-stream" for t in threading.enumerate()))
""")
            # a plain call cannot block the kernel's loop: nothing is live yet
            assert printed == ["pending", "pending", "True", "False"]
            time.sleep(1.0)  # the kernel is idle: its loop runs the stream
            printed = _run(client, "print(sub.status, net_sub.status, "
                                   "s.book('PF_XBTUSD').status)")
            assert printed == ["live", "live", "live"]
            printed = _run(client, """
kf.sim.advance(60_000)
await s.sync()
print(s.book("PF_XBTUSD").frame().equals(kf.orderbook("PF_XBTUSD", depth=25)),
      s.stats()["book_deltas"] > 0)
try:
    s.subscribe("book", "PF_NOPE").status
    await s.subscribe("book", "PF_NOPE")
except kfresearch.SubscriptionError as error:
    print(type(error).__name__)
""")
            assert printed == ["True", "True", "SubscriptionError"]
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=False)
    report = json.loads(marker.read_text())
    assert report == {"status": "closed", "net": "closed", "tasks": []}
    noise = [line for line in stderr_path.read_text().splitlines()
             if line.strip() and _KERNEL_NOISE not in line]
    # a refused subscription is logged once, as a warning: nothing else
    assert [line for line in noise if "PF_NOPE" not in line] == []
