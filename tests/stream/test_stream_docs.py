"""The stream package's public names and the examples in its docstrings."""

from __future__ import annotations

import doctest
import importlib

import pytest

import kfresearch.stream

MODULES = [
    "kfresearch.stream.book",
    "kfresearch.stream.candles",
    "kfresearch.stream.connection",
    "kfresearch.stream.protocol",
    "kfresearch.stream.runner",
    "kfresearch.stream.v1",
    "kfresearch.sim.notifications",
]


def test_every_public_name_is_there() -> None:
    names = kfresearch.stream.__all__
    assert len(names) == len(set(names))
    for name in names:
        assert getattr(kfresearch.stream, name) is not None, name


def test_importing_the_stream_does_not_import_plotly_or_websockets() -> None:
    import subprocess
    import sys

    code = ("import sys, kfresearch.stream; "
            "print(sorted(m for m in ('plotly', 'websockets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
