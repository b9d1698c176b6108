"""Fixtures for the frame tests: documented example bodies and their all-strings twins.

The example bodies live beside the clone in ``../shared/reference/examples``
(``SOURCES.md`` there says where each comes from). Tests that need them are
skipped, with the path in the reason, when that folder is missing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "examples"


def stringify_numbers(value: Any) -> Any:
    """Rewrite every JSON number (not bools) as a decimal string, recursively.

    Floats are written in plain notation the way the live API does
    (``1.18588737106e-07`` → ``"0.000000118588737106"``).
    """
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    if isinstance(value, dict):
        return {k: stringify_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [stringify_numbers(v) for v in value]
    return value


def _load(name: str, label: str | None = None) -> Any:
    path = EXAMPLES / name
    if not path.exists():
        pytest.skip(f"example bodies not found at {EXAMPLES} (CI keeps ../shared beside the clone)")
    examples = json.loads(path.read_text(encoding="utf-8"))["examples"]
    if label is None:
        return next(iter(examples.values()))
    return examples[label]


@pytest.fixture(params=[False, True], ids=["numbers", "strings"])
def as_strings(request: pytest.FixtureRequest) -> bool:
    """Run a test on the documented body and on the same body with decimals as strings."""
    return bool(request.param)


@pytest.fixture
def example(as_strings: bool) -> Callable[..., Any]:
    """``example(file, label=None)`` → the documented body (strings variant too)."""

    def load(name: str, label: str | None = None) -> Any:
        body = _load(name, label)
        return stringify_numbers(body) if as_strings else body

    return load


@pytest.fixture
def raw_example() -> Callable[..., Any]:
    """``raw_example(file, label=None)`` → the documented body as published."""
    return _load


@pytest.fixture
def maybe_strings(as_strings: bool) -> Callable[[Any], Any]:
    """Apply :func:`stringify_numbers` to a constructed body in the strings variant."""

    def convert(body: Any) -> Any:
        return stringify_numbers(body) if as_strings else body

    return convert


@pytest.fixture
def all_examples(as_strings: bool) -> Callable[[str], list[Any]]:
    """``all_examples(file)`` → every labelled body of a file, in file order."""

    def load(name: str) -> list[Any]:
        _load(name)  # skips when the folder is missing
        examples = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))["examples"]
        bodies = list(examples.values())
        return [stringify_numbers(b) for b in bodies] if as_strings else bodies

    return load
