"""``kfresearch watch``, and the stream against ``kfresearch sim serve`` itself."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest
from stream_helpers import wait_until

import kfresearch
from kfresearch.cli import main


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def sim_serve() -> Iterator[str]:
    """``kfresearch sim serve`` in its own process, its clock 20 times faster than real."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "kfresearch.cli", "sim", "serve", "--port", str(port),
         "--seed", "7", "--now", "2026-11-01T00:00:00Z", "--speed", "20"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/derivatives/api/v3/instruments/status", timeout=1):  # noqa: S310
                break
        except OSError:
            time.sleep(0.2)
    else:  # pragma: no cover
        process.kill()
        pytest.fail("kfresearch sim serve did not start")
    yield url
    process.send_signal(signal.SIGINT)
    process.wait(timeout=20)


def test_a_stream_against_sim_serve(sim_serve: str) -> None:
    kf = kfresearch.Client("sim", base_url=sim_serve)
    with kf.stream() as s:
        s.subscribe("book", ["PF_XBTUSD"])
        s.subscribe("trade", "PF_XBTUSD")
        s.subscribe("fills")
        wait_until(lambda: s.stats()["book_deltas"] > 100, what="deltas")
        book = s.book("PF_XBTUSD")
        stats = s.stats()
        assert book.status == "live"
        assert book.best_bid < book.best_ask
        assert (stats["gaps"], stats["crossed"], stats["resyncs"]) == (0, 0, 0)
        assert stats["authentications"] == 1
        assert len(s.trades("PF_XBTUSD")) > 0


def test_watch_book_prints_screens(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["watch", "book", "pf_xbtusd", "--env", "sim", "--count", "2",
                 "--interval", "0.01", "--depth", "3"])
    out = capsys.readouterr().out
    assert code == 0
    screens = [s for s in out.split("\n\n") if s.strip()]
    assert len(screens) == 2
    for screen in screens:
        lines = screen.splitlines()
        assert lines[0].startswith("PF_XBTUSD book · sim · ")
        assert [line.split()[0] for line in lines[2:]] == ["ask"] * 3 + ["bid"] * 3


def test_watch_trades_and_ticker(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["watch", "trades", "PF_XBTUSD", "--env", "sim", "--count", "1",
                 "--rows", "4"]) == 0
    trades = capsys.readouterr().out.strip().splitlines()
    assert trades[0].startswith("PF_XBTUSD trades · sim")
    assert len(trades) == 2 + 4
    assert main(["watch", "ticker", "PF_ETHUSD", "--env", "sim", "--count", "1"]) == 0
    ticker = capsys.readouterr().out
    assert "mark" in ticker
    assert "funding (annual)" in ticker


def test_watch_an_unknown_symbol(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["watch", "book", "PF_NOPE", "--env", "sim", "--count", "1"]) == 2
    assert "PF_NOPE" in capsys.readouterr().err


def test_watch_until_ctrl_c(sim_serve: str) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "kfresearch.cli", "watch", "book", "PF_XBTUSD", "--env", "sim",
         "--base-url", sim_serve, "--interval", "0.1", "--depth", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert process.stdout is not None
    headers = 0
    while headers < 3:
        line = process.stdout.readline()
        assert line, "watch stopped early"
        headers += line.startswith("PF_XBTUSD book")
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 0
    assert err == ""
