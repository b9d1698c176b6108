"""With a known key and secret, neither shows up anywhere a user could see it."""

from __future__ import annotations

import base64
import logging
import sys
import traceback
from typing import Any

import httpx
import pytest

import kfresearch
from kfresearch.sim.routing import Context, make_route
from kfresearch.sim.transport import SimTransport

KEY = "PUBLICKEYxyz1234567890abcdefghijklmnopqrstuvwxyzABCDEFGH"
SECRET = base64.b64encode(
    b"my very secret secret bytes, sixty-four of them, exactly!!!!!!!!"
).decode()


def _leaks(text: str) -> list[str]:
    return [name for name, value in (("key", KEY), ("secret", SECRET)) if value in text]


def _bad_server(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"result": "error", "error": "authenticationError"})


def _verbose(exc: BaseException) -> str:
    text = "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())
    from IPython.core.ultratb import VerboseTB

    return text + VerboseTB(theme_name="nocolor").text(type(exc), exc, exc.__traceback__)


def test_repr_and_str_of_client_hide_key_and_secret() -> None:
    client = kfresearch.Client("live", key=KEY, secret=SECRET)
    for text in (
        repr(client),
        str(client),
        repr(client._core.credentials),
        repr(client._core.auth),
    ):
        assert _leaks(text) == []
    assert "PUBL…" in repr(client)


def test_exceptions_logs_and_verbose_tracebacks_hide_key_and_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = kfresearch.Client(
        "live", key=KEY, secret=SECRET, transport=httpx.MockTransport(_bad_server)
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(kfresearch.AuthenticationError) as caught:
        client.request("GET", "/derivatives/api/v3/accounts", private=True)
    assert _leaks(str(caught.value)) == []
    assert _leaks(repr(caught.value)) == []
    assert _leaks(_verbose(caught.value)) == []
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "'authent': '********'" in logged  # the signed headers were logged, masked
    assert _leaks(logged) == []


def test_a_malformed_secret_error_does_not_echo_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KFRESEARCH_API_KEY", KEY)
    monkeypatch.setenv("KFRESEARCH_API_SECRET", "%%%" + SECRET)
    with pytest.raises(kfresearch.CredentialsError) as caught:
        kfresearch.Client("live")
    shown = str(caught.value) + _verbose(caught.value)
    assert SECRET[3:23] not in shown


def test_sim_key_failure_traceback_is_clean(make_exchange: Any) -> None:
    def accounts(ctx: Context) -> dict[str, Any]:
        return {}

    exchange = make_exchange(
        [make_route("GET", "/derivatives/api/v3/accounts", accounts, private=True)]
    )
    client = kfresearch.Client(
        "sim", base_url="http://sim.test", key=KEY, secret=SECRET, transport=SimTransport(exchange)
    )
    try:
        client.request("GET", "/derivatives/api/v3/accounts", private=True)
    except kfresearch.AuthenticationError:
        exc = sys.exc_info()[1]
        assert exc is not None
        assert _leaks(_verbose(exc)) == []
    else:  # pragma: no cover
        pytest.fail("an unknown key must be rejected")


def test_a_secret_given_as_bytes_works_and_stays_masked() -> None:
    client = kfresearch.Client("live", key=KEY, secret=SECRET.encode())
    assert client.has_credentials
    assert client._core.credentials is not None
    assert client._core.credentials.secret.reveal() == SECRET
    assert _leaks(repr(client)) == []
    assert _leaks(repr(client._core.credentials)) == []


@pytest.mark.parametrize("bad", [b"\xff\xfe" + SECRET.encode(), 987654321, ["a", "list"]])
def test_a_secret_of_the_wrong_type_is_refused_without_showing_it(bad: Any) -> None:
    with pytest.raises(kfresearch.CredentialsError, match="must be base64 text") as caught:
        kfresearch.Client("live", key=KEY, secret=bad)
    # the frames of kfresearch only (this test's own frame holds ``bad``, of course)
    inner = caught.value.with_traceback(caught.value.__traceback__.tb_next)  # type: ignore[union-attr]
    shown = str(inner) + _verbose(inner)
    assert SECRET not in shown
    assert "987654321" not in shown
    assert "'list'" not in shown
    assert not isinstance(caught.value, AttributeError)


def test_pprint_of_credentials_masks_the_key() -> None:
    import dataclasses
    import pprint

    from kfresearch.credentials import Credentials, Secret

    creds = Credentials(KEY, Secret(SECRET))
    for text in (pprint.pformat(creds), pprint.pformat(vars(creds)),
                 pprint.pformat([creds, {"k": creds.key}]), repr(creds.key)):
        assert _leaks(text) == [], text
        assert "PUBL…" in text
    assert str(creds.key) == KEY  # the whole key is still there for signing
    assert dataclasses.fields(creds)[0].name == "key"


def _ok_server(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"result": "success", "openOrders": []})


def _everything_shown(trace: Any) -> str:
    """Every way a trace can be looked at: reprs, text, HTML, curl, the frame."""
    parts = [repr(trace), trace._repr_html_(), trace.summary()]
    frame = trace.frame()
    parts += [frame.to_string(), frame.to_csv(), frame.to_html()]
    for record in trace:
        parts += [repr(record), str(record), record._repr_html_(), str(vars(record))]
        if record.kind == "http":
            parts.append(record.curl())
    return "\n".join(parts)


def test_traces_html_and_curl_never_show_the_secret_or_the_whole_key() -> None:
    client = kfresearch.Client(
        "live", key=KEY, secret=SECRET, transport=httpx.MockTransport(_ok_server)
    )
    with client.trace() as trace:
        client.request("GET", "/derivatives/api/v3/openorders", private=True)
        client.request("GET", "/derivatives/api/v3/tickers")
    shown = _everything_shown(trace)
    assert _leaks(shown) == []
    assert "PUBL…" in shown
    assert "Authent" in shown
    assert "$KFRESEARCH_API_SECRET" in trace[0].curl()


def test_a_traced_stream_never_shows_the_secret_or_the_whole_key() -> None:
    from kfresearch.credentials import Credentials, Secret
    from kfresearch.environments import resolve_environment
    from kfresearch.sim.exchange import SimExchange
    from kfresearch.stream import Stream

    exchange = SimExchange(seed=2)
    stream = Stream(resolve_environment("sim"), credentials=Credentials(KEY, Secret(SECRET)),
                    sim=exchange, heartbeat=False)
    with kfresearch.Client("sim", exchange=exchange).trace() as trace:
        with pytest.raises(kfresearch.SubscriptionError):  # a key this exchange never issued
            stream.subscribe("fills")
        stream.close()
    sent = [record.text for record in trace.ws if record.direction == "sent"]
    assert any('"api_key":"PUBL…"' in text for text in sent)
    assert any('"signed_challenge"' in text for text in sent)
    assert _leaks(_everything_shown(trace)) == []
