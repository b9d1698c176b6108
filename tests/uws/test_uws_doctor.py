"""``doctor`` on both protocols: which key each protocol needs, each key checked its own way,
and a key put in the other kind's variables named as such."""

from __future__ import annotations

import subprocess
import sys

import pytest

import kfresearch
from kfresearch.doctor import DoctorReport
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange

NOW = "2026-11-01T00:00:00Z"


@pytest.fixture
def ex() -> SimExchange:
    return SimExchange(seed=2, clock=SimClock.fixed(NOW))


def checks(report: DoctorReport) -> dict[str, tuple[str, str]]:
    return {c.name: (c.status, c.detail) for c in report.checks}


@pytest.mark.parametrize("protocol", ["v3", "uws"])
def test_both_keys_are_checked_and_the_protocol_says_which_it_needs(
    ex: SimExchange, protocol: str
) -> None:
    report = kfresearch.Client("sim", exchange=ex, protocol=protocol).doctor()
    found = checks(report)
    assert report.ok
    needs = "KFRESEARCH_UWS_API_KEY" if protocol == "uws" else "KFRESEARCH_API_KEY"
    assert found["protocol"][0] == "info"
    assert found["protocol"][1].startswith(protocol)
    assert needs in found["protocol"][1]
    assert found["derivatives key"][0] == "ok"
    assert "accepted by v3" in found["derivatives key"][1]
    assert found["uws key"] == ("ok", "accepted: GetWebSocketsToken gave a WebSocket token")
    assert found["private read"][0] == "ok"
    assert ("Unified WebSocket" in found["private read"][1]) == (protocol == "uws")


def test_a_spot_key_in_the_derivatives_variables_is_named(ex: SimExchange) -> None:
    spot = ex.uws.spot_credentials("full")
    report = kfresearch.Client("sim", exchange=ex, key=spot.key, secret=spot.secret,
                               protocol="v3").doctor()
    status, detail = checks(report)["derivatives key"]
    assert status == "fail"
    assert "hold a Kraken spot-style key" in detail
    assert "KFRESEARCH_UWS_API_KEY" in detail  # where it belongs
    assert not report.ok


def test_a_derivatives_key_in_the_uws_variables_is_named(ex: SimExchange) -> None:
    futures = ex.credentials("full")
    report = kfresearch.Client("sim", exchange=ex, uws_key=futures.key, uws_secret=futures.secret,
                               protocol="uws").doctor()
    status, detail = checks(report)["uws key"]
    assert status == "fail"
    assert "hold a Derivatives (Kraken Futures) key" in detail
    assert "KFRESEARCH_API_KEY" in detail
    assert checks(report)["derivatives key"][0] == "ok"  # the provisioned one, in its place


def test_the_command_reports_both_keys() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kfresearch.cli", "doctor", "--env", "sim", "--protocol", "uws"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[  ok] derivatives key" in done.stdout
    assert "[  ok] uws key" in done.stdout
    assert "protocol         uws" in done.stdout
