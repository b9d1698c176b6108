"""``kfresearch download``, ``store info|repair`` and ``record`` on the simulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from kfresearch.cli import main


@pytest.fixture(autouse=True)
def _fixed_sim(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KFRESEARCH_SIM_SEED", "42")
    monkeypatch.setenv("KFRESEARCH_SIM_NOW", "2026-11-01T00:00:00Z")
    monkeypatch.setenv("TQDM_DISABLE", "1")


def test_download_then_info_then_repair(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path / "data")
    args = ["download", "candles", "PF_XBTUSD", "--resolution", "1h", "--since", "3d"]
    assert main([*args, "--to", data, "--env", "sim"]) == 0
    out = capsys.readouterr().out
    assert "candles symbol=PF_XBTUSD tick_type=trade resolution=1h: fetched 3 days (72 rows" in out
    assert main([*args, "--to", data, "--env", "sim"]) == 0
    assert "fetched 0 (0 rows in 0 batches), already there 3 days" in capsys.readouterr().out
    assert (
        main(["download", "funding", "PF_XBTUSD", "--since", "2d", "--to", data, "--env", "sim"])
        == 0
    )
    assert "funding_rates symbol=PF_XBTUSD: fetched 2 days (48 rows" in capsys.readouterr().out
    assert main(["download", "account-log", "--since", "1d", "--to", data, "--env", "sim"]) == 0
    assert "account_log: fetched" in capsys.readouterr().out
    assert (
        main(["download", "trades", "PF_XBTUSD", "--since", "10m", "--to", data, "--env", "sim"])
        == 0
    )
    assert "trades symbol=PF_XBTUSD: fetched 9 min" in capsys.readouterr().out
    earlier = ["download", "candles", "PF_XBTUSD", "--resolution", "1h", "--since", "10d"]
    assert main([*earlier, "--until", "8d", "--to", data, "--env", "sim"]) == 0
    capsys.readouterr()

    assert main(["store", "info", data]) == 0
    info = capsys.readouterr().out
    assert "candles PF_XBTUSD     trade         1h" in info
    assert "holes in candles PF_XBTUSD: 2026-10-24 00:00:00 → 2026-10-29 00:00:00" in info
    assert "funding_rates" in info
    assert "MB" in info

    victim = next((tmp_path / "data" / "candles").rglob("*.parquet"))
    victim.write_bytes(victim.read_bytes()[:50])
    assert main(["store", "repair", data, "--env", "sim"]) == 0
    repaired = capsys.readouterr().out
    assert str(victim) in repaired
    assert "re-fetched" in repaired
    assert main(["store", "repair", data, "--env", "sim"]) == 0
    assert "every file reads back whole" in capsys.readouterr().out


def test_download_without_a_symbol_says_what_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["download", "trades", "--to", str(tmp_path), "--env", "sim"]) == 2
    assert "needs a SYMBOL" in capsys.readouterr().err


def test_info_of_an_empty_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["store", "info", str(tmp_path)]) == 0
    assert "no series stored" in capsys.readouterr().out


def test_record_book_snapshots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    args = ["record", "PF_XBTUSD", "PF_ETHUSD", "--book", "--to", str(data), "--env", "sim"]
    assert main([*args, "--duration", "0.3", "--every", "1", "--depth", "3"]) == 0
    out = capsys.readouterr().out
    # the suite's simulator clock stands still: each book's first snapshot only
    assert "recorded PF_XBTUSD, PF_ETHUSD: 2 book snapshots (12 rows), 0 trades" in out
    assert list((data / "book" / "symbol=PF_ETHUSD").rglob("*.parquet"))
    assert main(["record", "PF_XBTUSD", "--to", str(data), "--env", "sim"]) == 2
    assert "--trades, --book or both" in capsys.readouterr().err


def test_import_kfresearch_loads_no_store_engine() -> None:
    import subprocess
    import sys

    code = (
        "import sys, kfresearch, kfresearch.store, kfresearch.cli\n"
        "heavy = {'duckdb', 'polars', 'dask', 'distributed', 'tqdm'} & set(sys.modules)\n"
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
