"""Which protocol a client speaks (v3 or the Unified WebSocket), chosen by the date, and the
second kind of key pair it holds for the Unified WebSocket."""

from __future__ import annotations

import base64
import warnings
from datetime import date

import pytest

import kfresearch
from kfresearch.credentials import Secret
from kfresearch.errors import ConfigurationError, SunsetWarning
from kfresearch.protocols import choose
from kfresearch.sim.clock import SimClock
from kfresearch.sim.exchange import SimExchange

SECRET = base64.b64encode(b"s" * 64).decode()
UWS_SECRET = base64.b64encode(b"u" * 64).decode()


@pytest.mark.parametrize(
    ("requested", "env", "on", "protocol", "warned"),
    [
        (None, "live", date(2026, 12, 31), "v3", False),
        (None, "live", date(2027, 1, 1), "v3", True),
        (None, "sim", date(2027, 2, 28), "v3", True),
        (None, "live", date(2027, 3, 1), "uws", False),
        (None, "sim", date(2027, 3, 2), "uws", False),
        ("v3", "live", date(2027, 3, 2), "v3", True),  # switched off there: said plainly
        ("v3", "sim", date(2027, 3, 2), "v3", False),  # the simulator serves both
        ("uws", "live", date(2026, 11, 1), "uws", False),
        (" UWS ", "demo", date(2026, 11, 1), "uws", False),
    ],
)
def test_the_date_chooses_the_protocol(
    requested: str | None, env: str, on: date, protocol: str, warned: bool
) -> None:
    chosen, warning = choose(requested, env, on)
    assert chosen == protocol
    assert (warning is not None) == warned
    if warning is not None:
        assert "2027-03-01" in warning


def test_a_bad_protocol_is_refused_with_the_choices() -> None:
    with pytest.raises(ConfigurationError, match=r"'v3'.*'uws'"):
        choose("rest", "sim", date(2026, 11, 1))


def test_the_environment_variable_chooses_when_the_argument_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KFRESEARCH_PROTOCOL", "uws")
    assert choose(None, "live", date(2026, 11, 1)) == ("uws", None)
    assert choose("v3", "live", date(2026, 11, 1)) == ("v3", None)


def test_connect_live_on_2027_03_02_picks_the_unified_websocket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("kfresearch.protocols._wall_today", lambda: date(2027, 3, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and says nothing: uws is the right choice
        kf = kfresearch.connect("live")
    assert kf.protocol == "uws"
    kf.close()


def test_connect_live_in_january_2027_warns_with_the_date(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("kfresearch.protocols._wall_today", lambda: date(2027, 1, 15))
    with pytest.warns(SunsetWarning, match=r"2027-03-01 \(45 days") as caught:
        kf = kfresearch.connect("live")
    assert kf.protocol == "v3"
    assert caught[0].filename == __file__  # points at the user's line, not kfresearch's
    kf.close()


def test_the_simulators_clock_is_the_in_process_date() -> None:
    after = SimExchange(seed=1, clock=SimClock.fixed("2027-03-02T00:00:00Z"))
    before = SimExchange(seed=1, clock=SimClock.fixed("2026-11-01T00:00:00Z"))
    assert kfresearch.Client("sim", exchange=after).protocol == "uws"
    assert kfresearch.Client("sim", exchange=before).protocol == "v3"


def test_each_key_pair_comes_from_its_own_variables_and_prints_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KFRESEARCH_API_KEY", "derivatives-key")
    monkeypatch.setenv("KFRESEARCH_API_SECRET", SECRET)
    monkeypatch.setenv("KFRESEARCH_UWS_API_KEY", "spot-style-key")
    monkeypatch.setenv("KFRESEARCH_UWS_API_SECRET", UWS_SECRET)
    kf = kfresearch.connect("live", protocol="uws")
    core = kf._core
    assert core.credentials is not None
    assert core.spot_credentials is not None
    assert (core.credentials.key, core.credentials.kind) == ("derivatives-key", "derivatives")
    assert (core.spot_credentials.key, core.spot_credentials.kind) == ("spot-style-key", "spot")
    assert core.spot_credentials.secret.reveal() == UWS_SECRET
    shown = repr(core.spot_credentials) + str(core.spot_credentials) + repr(kf) + repr(vars(core))
    assert UWS_SECRET not in shown
    assert SECRET not in shown
    assert "spot-style-key" not in repr(core.spot_credentials)  # shortened: 'spot…'
    kf.close()


def test_arguments_win_over_the_variables_and_a_pair_needs_both_halves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KFRESEARCH_UWS_API_KEY", "from-env")
    monkeypatch.setenv("KFRESEARCH_UWS_API_SECRET", UWS_SECRET)
    kf = kfresearch.connect("live", uws_key="from-arg", uws_secret=Secret(UWS_SECRET),
                            protocol="uws")
    assert kf._core.spot_credentials is not None
    assert kf._core.spot_credentials.key == "from-arg"
    assert kf._core.credentials is None  # the spot key is never used as a Derivatives key
    kf.close()
    with pytest.raises(kfresearch.CredentialsError, match="KFRESEARCH_UWS_API_SECRET"):
        kfresearch.connect("live", uws_key="half", protocol="uws")


def test_the_argument_beats_the_environment_variable_on_connect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KFRESEARCH_SIM_NOW", "2027-03-02T00:00:00Z")
    monkeypatch.setenv("KFRESEARCH_PROTOCOL", "uws")
    with kfresearch.connect("sim", protocol="v3") as kf:
        assert kf.protocol == "v3"
    monkeypatch.setenv("KFRESEARCH_PROTOCOL", "v3")
    with kfresearch.connect("sim", protocol="uws") as kf:
        assert kf.protocol == "uws"
    with kfresearch.connect("sim") as kf:  # no argument: the variable, not the date
        assert kf.protocol == "v3"
