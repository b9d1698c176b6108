"""Environments, credentials and the public API surface."""

from __future__ import annotations

import base64
import inspect
import pickle
from pathlib import Path

import pytest

import kfresearch
from kfresearch.credentials import Credentials, Secret, load_credentials
from kfresearch.environments import resolve_environment
from kfresearch.errors import ConfigurationError, CredentialsError

GOOD = base64.b64encode(b"x" * 64).decode()


def test_all_is_sorted_and_matches_the_public_names() -> None:
    assert kfresearch.__all__ == sorted(kfresearch.__all__)
    public = {
        name
        for name in dir(kfresearch)
        if not name.startswith("_") and not inspect.ismodule(getattr(kfresearch, name))
    }
    assert set(kfresearch.__all__) - {"__version__"} == public
    for name in kfresearch.__all__:  # every lazy name resolves to its object
        assert getattr(kfresearch, name) is not None
    assert "TimeoutError" not in kfresearch.__all__  # never shadow the builtin


def test_result_types_are_exported_at_the_top_level() -> None:
    from kfresearch import orders, trading

    for name in ("BatchResult", "OrderPreview", "CancelAllResult", "SwitchStatus",
                 "OrderContext", "OrderResult", "InstrumentRules"):
        assert getattr(kfresearch, name) is getattr(orders, name)
    assert kfresearch.DeadMansSwitch is trading.DeadMansSwitch
    assert set(orders.__all__) == {
        "BatchResult", "Cancel", "CancelAllResult", "Edit", "Instruction", "InstrumentRules",
        "OrderContext", "OrderPreview", "OrderResult", "Send", "SwitchStatus", "Trailing",
    }


def test_environment_resolution_order(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_environment().name == "demo"
    monkeypatch.setenv("KFRESEARCH_ENV", "live")
    assert resolve_environment().name == "live"
    assert resolve_environment("sim").name == "sim"


def test_environment_urls() -> None:
    live = resolve_environment("live")
    assert live.rest_url == "https://futures.kraken.com/derivatives/api/v3"
    assert live.charts_url == "https://futures.kraken.com/api/charts/v1"
    assert live.history_url == "https://futures.kraken.com/api/history/v3"
    assert live.ws_url == "wss://futures.kraken.com/ws/v1"
    assert live.real_money
    assert not live.in_process
    served = resolve_environment("sim", base_url="http://127.0.0.1:8765/")
    assert served.base_url == "http://127.0.0.1:8765"
    assert served.ws_url == "ws://127.0.0.1:8765/ws/v1"
    assert not served.in_process
    assert not served.real_money
    # a live environment keeps its safety rules behind a custom URL
    assert resolve_environment("live", base_url="http://127.0.0.1:1").real_money


@pytest.mark.parametrize(
    ("env", "base_url", "message"),
    [
        ("paper", None, "unknown environment 'paper'"),
        ("sim", "ftp://x", r"not an http\(s\) URL"),
        ("sim", "http://h/derivatives/api/v3", "has a path"),
        ("demo", "https://demo-futures.kraken.com", "retired on 2026-07-14"),
    ],
)
def test_bad_environments_say_what_to_do(env: str, base_url: str | None, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        resolve_environment(env, base_url=base_url)


def test_credentials_resolution_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"KFRESEARCH_API_KEY=file-key\nKFRESEARCH_API_SECRET={GOOD}\n")
    assert load_credentials(cwd=tmp_path).key == "file-key"  # type: ignore[union-attr]
    monkeypatch.setenv("KFRESEARCH_API_KEY", "env-key")
    monkeypatch.setenv("KFRESEARCH_API_SECRET", GOOD)
    assert load_credentials(cwd=tmp_path).key == "env-key"  # type: ignore[union-attr]
    assert load_credentials("arg-key", GOOD, cwd=tmp_path).key == "arg-key"  # type: ignore[union-attr]
    monkeypatch.delenv("KFRESEARCH_API_KEY")
    monkeypatch.delenv("KFRESEARCH_API_SECRET")
    assert load_credentials(cwd=tmp_path / "nowhere") is None


def test_malformed_secret_is_rejected_when_the_client_is_made() -> None:
    with pytest.raises(CredentialsError, match="not valid base64") as caught:
        kfresearch.connect("live", key="k", secret="not base64 at all!")
    assert "not base64 at all" not in str(caught.value)


def test_half_a_pair_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KFRESEARCH_API_KEY", "only-key")
    with pytest.raises(CredentialsError, match="secret is missing"):
        load_credentials()


def test_secret_and_key_are_masked() -> None:
    secret = Secret(GOOD)
    creds = Credentials("PUBLICKEY123", secret)
    for text in (repr(secret), str(secret), f"{secret}", repr(creds), str(creds)):
        assert GOOD not in text
        assert "PUBLICKEY123" not in text
    assert "PUBL" in repr(creds)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(secret)


def test_sim_and_demo_need_no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KFRESEARCH_API_KEY", "live-key-should-not-be-used")
    monkeypatch.setenv("KFRESEARCH_API_SECRET", GOOD)
    kf = kfresearch.connect("sim")
    assert kf.has_credentials
    assert "live" not in repr(kf)
    assert repr(kf).startswith(
        "<kfresearch.Client env='sim' base_url='http://sim.kfresearch.invalid'"
    )
