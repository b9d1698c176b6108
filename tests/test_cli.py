"""The kfresearch command."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pandas as pd
import pytest

import kfresearch
from kfresearch.cli import main
from kfresearch.sim.keys import provisioned_keys


def test_sim_keys_json_for_scripts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "keys", "--json"]) == 0
    keys = json.loads(capsys.readouterr().out)
    assert set(keys) == {"full", "read_only"}
    assert keys["full"]["key"] == provisioned_keys()["full"].credentials.key
    assert (
        keys["read_only"]["secret"] == provisioned_keys()["read_only"].credentials.secret.reveal()
    )


def test_doctor_on_the_simulator(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--env", "sim"]) == 0
    out = capsys.readouterr().out
    assert "result: OK" in out
    assert "permissions: read, trade" in out


def test_book_and_candles_commands(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["book", "pf_xbtusd", "--env", "sim", "--depth", "3"]) == 0
    out = capsys.readouterr().out
    assert out.count("bid") == 3
    assert out.count("ask") == 3
    target = tmp_path / "c.parquet"
    assert (
        main(["candles", "PF_ETHUSD", "--env", "sim", "--since", "2d", "--parquet", str(target)])
        == 0
    )
    frame = pd.read_parquet(target)
    assert len(frame) in {48, 49}  # 49 when the sim clock stands inside an hour
    assert set(frame.index.to_series().diff().dropna()) == {pd.Timedelta(hours=1)}
    assert frame.index.name == "time"


def test_unknown_symbol_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["book", "XBT", "--env", "sim"]) == 2
    assert "did you mean" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"kfresearch {kfresearch.__version__}"


def test_every_group_registers_through_the_table() -> None:
    from kfresearch import cli

    assert cli.GROUPS == ("doctor", "market", "sim")
    for name in cli.GROUPS:
        module = importlib.import_module(f"kfresearch.cli.{name}")
        assert callable(module.register)
    parser = cli.build_parser()
    for line in (["doctor"], ["tickers"], ["book", "X"], ["candles", "X"], ["sim", "keys"]):
        assert callable(parser.parse_args(line).run), line
