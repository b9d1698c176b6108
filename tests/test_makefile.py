"""``make lab``: JupyterLab keeps its random token unless the user sets TOKEN."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def lab_command(*args: str, env: dict[str, str] | None = None) -> str:
    """The ``jupyter lab`` command ``make -n lab`` would run (nothing is started)."""
    clean = {k: v for k, v in os.environ.items() if k != "TOKEN"} | (env or {})
    out = subprocess.run(
        ["make", "-n", "--no-print-directory", "lab", *args],
        cwd=ROOT, env=clean, capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    command = out[out.index("jupyter lab"):]
    return command.replace("\\\n", " ")


def test_lab_keeps_jupyters_random_token_by_default() -> None:
    command = lab_command()
    assert "--ServerApp.ip=127.0.0.1" in command
    assert "token" not in command  # no --IdentityProvider.token='' : Jupyter makes one up


def test_lab_uses_the_token_the_user_sets() -> None:
    assert "--IdentityProvider.token='secret'" in lab_command("TOKEN=secret")
    assert "--IdentityProvider.token='secret'" in lab_command(env={"TOKEN": "secret"})


def test_an_explicit_empty_token_turns_it_off() -> None:
    assert "--IdentityProvider.token=''" in lab_command("TOKEN=")
