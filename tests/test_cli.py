"""The kfresearch command."""

from __future__ import annotations

import importlib
import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import kfresearch
from kfresearch.cli import main
from kfresearch.sim.keys import provisioned_keys, provisioned_spot_keys


def test_sim_keys_json_for_scripts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "keys", "--json"]) == 0
    keys = json.loads(capsys.readouterr().out)
    assert set(keys) == {"full", "read_only", "spot_full", "spot_read_only"}
    assert keys["full"]["key"] == provisioned_keys()["full"].credentials.key
    assert (
        keys["read_only"]["secret"] == provisioned_keys()["read_only"].credentials.secret.reveal()
    )
    spot = provisioned_spot_keys()["read_only"].credentials
    assert keys["spot_read_only"] == {"key": spot.key, "secret": spot.secret.reveal()}


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

    assert cli.GROUPS == ("doctor", "market", "store", "sim", "demo", "watch")
    for name in cli.GROUPS:
        module = importlib.import_module(f"kfresearch.cli.{name}")
        assert callable(module.register)
    parser = cli.build_parser()
    lines = (
        ["doctor"],
        ["tickers"],
        ["book", "X"],
        ["candles", "X"],
        ["download", "candles", "X", "--to", "d"],
        ["store", "info", "d"],
        ["record", "X", "--book", "--to", "d"],
        ["sim", "keys"],
        ["watch", "book", "X"],
    )
    for line in lines:
        assert callable(parser.parse_args(line).run), line


def test_a_closed_pipe_ends_quietly() -> None:
    # `kfresearch tickers | head -3`: the reader goes away before the table is written
    process = subprocess.Popen(
        [sys.executable, "-m", "kfresearch.cli", "tickers", "--env", "sim"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.close()
    err = process.stderr.read()
    assert process.wait(timeout=60) == 1
    assert "Traceback" not in err
    assert "BrokenPipeError" not in err


def test_numbers_print_by_column(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tickers", "--env", "sim"]) == 0
    out = capsys.readouterr().out
    assert "e+0" not in out  # no scientific notation
    assert ".000000" not in out
    with kfresearch.Client("sim") as kf:
        tickers = kf.tickers()
    xbt = next(line for line in out.splitlines() if line.startswith("PF_XBTUSD "))
    # the price on its 1 USD tick with separators, the volume as an exact decimal
    assert f"{tickers.loc['PF_XBTUSD', 'last']:,.0f}" in xbt.split()
    assert f"{tickers.loc['PF_XBTUSD', 'vol24h']:,.4f}".rstrip("0").rstrip(".") in xbt.split()
    doge = next(line for line in out.splitlines() if line.startswith("PF_DOGEUSD "))
    assert f"{tickers.loc['PF_DOGEUSD', 'vol24h']:,.0f}" in doge.split()  # was 1.192701e+08

    assert main(["book", "PF_XBTUSD", "--env", "sim", "--depth", "5"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]
    for _, _, _, price, size, cum_size, cum_notional, currency in rows:
        assert re.fullmatch(r"\d{2},\d{3}", price), price  # PF_XBTUSD's tick is 1
        assert re.fullmatch(r"\d+\.\d{1,4}|\d+", size), size
        assert re.fullmatch(r"[\d,]+(\.\d{1,4})?", cum_size), cum_size  # no float noise
        assert re.fullmatch(r"[\d,]+\.\d\d", cum_notional), cum_notional  # USD to the cent
        assert currency == "USD"
    assert main(["book", "PI_XBTUSD", "--env", "sim", "--depth", "5"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]
    for *_, cum_notional, currency in rows:
        assert re.fullmatch(r"\d+\.\d{8}", cum_notional), cum_notional  # coin to the satoshi
        assert currency == "XBT"


def test_trades_instruments_and_funding(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["instruments", "--env", "sim"]) == 0
    lines = capsys.readouterr().out.splitlines()
    eth = next(line.split() for line in lines if line.startswith("PF_ETHUSD "))
    assert eth[1:4] == ["flexible_futures", "ETH", "USD"]
    assert eth[4] == "0.1"  # tick size

    assert main(["trades", "pf_ethusd", "--env", "sim", "--since", "10m"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["side", "price", "size", "usd_value"]
    assert len(lines) > 10
    target = tmp_path / "trades.csv"
    assert main(["trades", "PF_ETHUSD", "--env", "sim", "--since", "10m", "--csv",
                 str(target)]) == 0
    trades = pd.read_csv(target, index_col="time", parse_dates=True)
    assert len(trades) == len(lines) - 2
    assert {"price", "size", "side", "uid"} <= set(trades.columns)  # every column in files

    assert main(["funding", "PF_XBTUSD", "--env", "sim", "--since", "1d"]) == 0
    out = capsys.readouterr().out
    assert "funding_rate_annualised" in out
    target = tmp_path / "funding.parquet"
    assert main(["funding", "PF_XBTUSD", "--env", "sim", "--since", "1d", "--parquet",
                 str(target)]) == 0
    funding = pd.read_parquet(target)
    assert len(funding) in {24, 25}
    assert set(funding.index.to_series().diff().dropna()) == {pd.Timedelta(hours=1)}


def test_serve_on_a_busy_port_says_so_before_announcing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        assert main(["sim", "serve", "--port", str(port)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing announced
    assert f"port {port}" in captured.err
    assert "in use" in captured.err
    assert "--port" in captured.err
