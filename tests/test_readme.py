"""The README's quick start runs as written (on the simulator)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_quick_start_runs(capsys: pytest.CaptureFixture[str]) -> None:
    block = re.search(r"## Quick start\n\n```python\n(.*?)```", README.read_text(), re.S)
    assert block is not None
    namespace: dict[str, object] = {}
    exec(compile(block.group(1), "README quick start", "exec"), namespace)  # noqa: S102
    assert "result: OK" in capsys.readouterr().out
    assert len(namespace["candles"]) > 700  # type: ignore[arg-type]


def test_live_data_example_runs() -> None:
    import asyncio
    import textwrap

    import kfresearch

    block = re.search(r"## Live data \(WebSocket\)\n\n```python\n(.*?)```", README.read_text(),
                      re.S)
    assert block is not None
    body = textwrap.indent(block.group(1), "    ")
    source = f"async def example(kf):\n{body}    await s.close()\n    return s\n"
    namespace: dict[str, object] = {}
    exec(compile(source, "README live data", "exec"), namespace)  # noqa: S102
    stream = asyncio.run(namespace["example"](kfresearch.connect("sim")))  # type: ignore[operator]
    assert stream.status == "closed"
    assert stream.stats()["book_snapshots"] == 1


def test_seeing_the_wire_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    import kfresearch
    import kfresearch.auth

    block = re.search(r"## Seeing the wire\n\n```python\n(.*?)```", README.read_text(), re.S)
    assert block is not None
    namespace: dict[str, object] = {"kf": kfresearch.connect("sim"), "kfresearch": kfresearch}
    exec(compile(block.group(1), "README seeing the wire", "exec"), namespace)  # noqa: S102
    assert "$KFRESEARCH_API_SECRET" in capsys.readouterr().out
    assert namespace["sent"].path == "/derivatives/api/v3/sendorder"  # type: ignore[attr-defined]
