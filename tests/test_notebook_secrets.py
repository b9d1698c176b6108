"""No saved notebook holds key material."""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path

import pytest

from kfresearch.sim.keys import provisioned_keys

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
# a Kraken Futures secret is base64 of 64 bytes or more: 86+ characters
LONG_BASE64 = re.compile(r"[A-Za-z0-9+/]{86,}={0,2}")
# ... except a signature shown where it is sent (kf.trace() shows Authent, notebooks 12-16):
# an HMAC-SHA512 is as long as a secret, but it is made for one request and reveals nothing
SIGNATURE_LABELS = ("Authent: ", '"signed_challenge":"', '"signed_challenge": "')


def _secrets() -> list[str]:
    values = [k.credentials.secret.reveal() for k in provisioned_keys().values()]
    values += [k.credentials.key for k in provisioned_keys().values()]
    env = os.environ.get("KFRESEARCH_API_SECRET")
    if env:
        values.append(env)
    return values


def test_there_are_notebooks() -> None:
    assert len(NOTEBOOKS) >= 8


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_holds_no_key_material(path: Path) -> None:
    text = path.read_text()
    for value in _secrets():
        assert value not in text, f"{path.name} holds a key or secret"
    notebook = json.loads(text)
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            shown = json.dumps({k: v for k, v in output.get("data", {}).items() if "plotly" not in k})
            shown += "".join(output.get("text", ""))
            for found in LONG_BASE64.finditer(shown):
                candidate = found.group()
                if shown[: found.start()].endswith(SIGNATURE_LABELS):
                    continue
                try:
                    decoded = base64.b64decode(candidate, validate=True)
                except ValueError:
                    continue
                assert len(decoded) < 64, f"{path.name}: an output holds base64 that looks like a secret"


def test_the_check_can_fail(tmp_path: Path) -> None:
    leaked = tmp_path / "leak.ipynb"
    secret = provisioned_keys()["full"].credentials.secret.reveal()
    leaked.write_text(json.dumps({"cells": [{"outputs": [{"text": secret}]}]}))
    with pytest.raises(AssertionError, match="holds a key or secret"):
        test_notebook_holds_no_key_material(leaked)


def test_a_labelled_signature_passes_and_the_same_base64_unlabelled_does_not(
    tmp_path: Path,
) -> None:
    value = base64.b64encode(bytes(range(64))).decode()
    shown = tmp_path / "shown.ipynb"
    shown.write_text(json.dumps({"cells": [{"outputs": [{"text": f"Authent: {value}"}]}]}))
    test_notebook_holds_no_key_material(shown)
    bare = tmp_path / "bare.ipynb"
    bare.write_text(json.dumps({"cells": [{"outputs": [{"text": f"secret = {value}"}]}]}))
    with pytest.raises(AssertionError, match="looks like a secret"):
        test_notebook_holds_no_key_material(bare)
