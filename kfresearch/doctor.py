"""``kfresearch doctor``: is this environment usable, and are the keys right?

Checks, for the chosen environment and protocol: the host answers (and how
fast), the clock skew against the server's time, which key each protocol
needs and whether each key pair present is accepted (the Derivatives key by
the v3 key check, reference §4.26; the Kraken spot-style key by
``GetWebSocketsToken``, kraken-unified-ws.md §1.3), a private read, and the
known traps: a key of the wrong kind (each refused key is tried the other
kind's way: a spot key that the token endpoint accepts is named as such),
Kraken's retired demo host, and the 2027-03-01 decommission of the v3 API.

Example
-------
>>> report = kfresearch.connect("sim").doctor()
>>> report.ok
True

The checks are a plan (:mod:`kfresearch.plans`): ``await AsyncClient(...).doctor()``
runs the same ones.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Literal

from kfresearch.endpoints import (
    ACCOUNTS,
    CHECK_KEY,
    INSTRUMENTS,
    INSTRUMENTS_STATUS,
    WEBSOCKETS_TOKEN,
)
from kfresearch.environments import RETIRED_DEMO_URL, V3_DECOMMISSION_DATE
from kfresearch.errors import AuthenticationError, KFError
from kfresearch.plans import Call, Plan

if TYPE_CHECKING:
    from kfresearch.environments import Environment

__all__ = ["Check", "DoctorReport", "plan_doctor"]

Status = Literal["ok", "warn", "fail", "info"]
_MAX_SKEW_S = 5.0


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str


@dataclass
class DoctorReport:
    """The doctor's findings; ``ok`` is False when any check failed."""

    env: str
    base_url: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.status != "fail" for check in self.checks)

    def add(self, name: str, status: Status, detail: str) -> None:
        self.checks.append(Check(name, status, detail))

    def __str__(self) -> str:
        width = max((len(c.name) for c in self.checks), default=0)
        lines = [f"kfresearch doctor: env={self.env} base_url={self.base_url}"]
        lines += [f"  [{c.status:>4}] {c.name:<{width}}  {c.detail}" for c in self.checks]
        lines.append("result: " + ("OK" if self.ok else "PROBLEMS FOUND"))
        return "\n".join(lines)

    __repr__ = __str__


def _server_time(body: object) -> datetime | None:
    if isinstance(body, dict) and isinstance(body.get("serverTime"), str):
        return datetime.fromisoformat(body["serverTime"].replace("Z", "+00:00"))
    return None


def plan_doctor(
    env: Environment, protocol: str = "v3", *, derivatives: bool, spot: bool = False
) -> Plan[DoctorReport]:
    """Every check against ``env`` on ``protocol``; never raises for a failed check.

    ``derivatives`` and ``spot`` say which key pairs the client holds.
    """
    report = DoctorReport(env.name, env.base_url)
    report.add("environment", "info", _describe(env.name, env.in_process))
    report.add("protocol", "info", _PROTOCOLS.get(protocol, protocol))

    started = time.monotonic()
    try:
        body = (yield [Call(INSTRUMENTS if protocol == "uws" else INSTRUMENTS_STATUS)])[0]
    except KFError as exc:
        where = env.uws_public_url if protocol == "uws" else env.base_url
        report.add("host", "fail", f"{where} did not answer usefully: {exc}")
        return report
    rtt = time.monotonic() - started
    # in-process there is no network: a timing would only add noise to saved notebooks
    report.add(
        "host",
        "ok",
        "answered (in-process)" if env.in_process else f"answered in {rtt * 1000:.0f} ms",
    )

    server = _server_time(body)
    if server is None:
        report.add("clock", "info" if protocol == "uws" else "warn",
                   "the answer carried no server time")
    elif env.in_process:
        report.add("clock", "info", f"simulated clock at {server.isoformat()}")
    else:
        skew = (datetime.now(UTC) - server).total_seconds() - rtt / 2
        status: Status = "ok" if abs(skew) < _MAX_SKEW_S else "warn"
        report.add("clock", status, f"local clock is {skew:+.2f} s from the server's")

    yield from _check_keys(env, protocol, derivatives, spot, report)
    try:
        yield [Call(ACCOUNTS)]
        report.add("private read", "ok", "accounts answered"
                   + (" over the Unified WebSocket" if protocol == "uws" else ""))
    except KFError as exc:
        needed = spot if protocol == "uws" else derivatives
        report.add("private read", "fail" if needed else "info", str(exc))

    if env.name == "live":
        days = (date.fromisoformat(V3_DECOMMISSION_DATE) - datetime.now(UTC).date()).days
        if days > 0:
            report.add(
                "api retirement",
                "warn" if protocol == "v3" else "info",
                f"Kraken switches off the Derivatives REST and WebSocket v1 APIs on "
                f"{V3_DECOMMISSION_DATE} ({days} days from today); protocol='uws' (the Unified "
                "WebSocket) is the way on from there, with a Kraken spot-style key",
            )
    if env.name == "demo":
        report.add(
            "demo host",
            "info",
            f"Kraken retired {RETIRED_DEMO_URL} on 2026-07-14; 'demo' is kfresearch's local "
            "paper exchange and orders never leave this machine",
        )
    return report


_PROTOCOLS = {
    "v3": "v3: the Derivatives REST API and WebSocket v1 (switched off on "
    f"{V3_DECOMMISSION_DATE}); needs a Derivatives (Kraken Futures) key: KFRESEARCH_API_KEY / "
    "KFRESEARCH_API_SECRET",
    "uws": "uws: the Unified WebSocket; needs a Kraken spot-style key with 'Access WebSocket "
    "API': KFRESEARCH_UWS_API_KEY / KFRESEARCH_UWS_API_SECRET (the History API's account "
    "calls still sign with the Derivatives key)",
}
_DERIVATIVES_VARS = "KFRESEARCH_API_KEY / KFRESEARCH_API_SECRET"
_SPOT_VARS = "KFRESEARCH_UWS_API_KEY / KFRESEARCH_UWS_API_SECRET"


def _describe(name: str, in_process: bool) -> str:
    where = "in this Python process" if in_process else "over the network"
    risk = {
        "live": "REAL MONEY: orders need allow_trading=True",
        "demo": "paper trading, no real money",
        "sim": "offline synthetic market, no real money",
    }.get(name, "")
    return f"{name} ({where}); {risk}"


def _works(call: Call) -> Plan[object | KFError | None]:
    """The body of ``call``, or the error it raised (an :class:`AuthenticationError` when
    the exchange refused the key)."""
    try:
        body: object = (yield [call])[0]
    except KFError as exc:
        return exc
    return body


def _check_keys(
    env: Environment, protocol: str, derivatives: bool, spot: bool, report: DoctorReport
) -> Plan[None]:
    """Each key pair checked with its own scheme; a refused one is tried with the other
    scheme, which tells a key of the wrong kind (a spot key in the Derivatives variables,
    or the other way round)."""
    needed = "spot" if protocol == "uws" else "derivatives"
    if derivatives:
        answer = yield from _works(Call(CHECK_KEY))
        if isinstance(answer, AuthenticationError):
            other = yield from _works(Call(_TOKEN_WITH_DERIVATIVES_KEY))
            if not isinstance(other, KFError):
                report.add(
                    "derivatives key",
                    "fail" if needed == "derivatives" else "warn",
                    f"{_DERIVATIVES_VARS} hold a Kraken spot-style key, not a Derivatives "
                    "(Kraken Futures) key: v3 refuses it, the Unified WebSocket's token "
                    f"accepts it. Move it to {_SPOT_VARS} (protocol='uws') and make a "
                    "Derivatives key on futures.kraken.com for v3.",
                )
            else:
                report.add(
                    "derivatives key",
                    "fail" if needed == "derivatives" else "warn",
                    "the exchange rejected the key or signature. Check that this is a Futures "
                    "key pair made on futures.kraken.com: a Spot (kraken.com) key looks "
                    "similar but never works on the Futures API. Also check the secret was "
                    "copied whole.",
                )
        elif isinstance(answer, KFError):
            report.add("derivatives key", "warn",
                       f"the key check endpoint did not answer: {answer}")
        else:
            report.add("derivatives key", "ok", "accepted by v3; " + _permissions(answer))
    else:
        report.add(
            "derivatives key",
            "warn" if needed == "derivatives" and env.real_money else "info",
            f"none found ({_DERIVATIVES_VARS}): needed for protocol='v3' and the History API; "
            f"{env.keys_help}",
        )
    if spot:
        answer = yield from _works(Call(WEBSOCKETS_TOKEN))
        if isinstance(answer, AuthenticationError):
            other = yield from _works(Call(_CHECK_WITH_SPOT_KEY))
            wrong_kind = not isinstance(other, KFError)
            report.add(
                "uws key",
                "fail" if needed == "spot" else "warn",
                f"{_SPOT_VARS} hold a Derivatives (Kraken Futures) key: the Unified "
                "WebSocket's token needs a Kraken spot-style key (kraken.com, Settings > API, "
                f"with 'Access WebSocket API'). Move this one to {_DERIVATIVES_VARS} for v3."
                if wrong_kind
                else f"GetWebSocketsToken refused the key ({answer.error}): check that it is a "
                "Kraken key with the 'Access WebSocket API' permission and that the secret "
                "was copied whole.",
            )
        elif isinstance(answer, KFError):
            report.add("uws key", "warn", f"the token endpoint did not answer: {answer}")
        else:
            report.add("uws key", "ok", "accepted: GetWebSocketsToken gave a WebSocket token")
    else:
        report.add(
            "uws key",
            "warn" if needed == "spot" and env.real_money else "info",
            f"none found ({_SPOT_VARS}): needed for protocol='uws' (account data and "
            f"trading on the Unified WebSocket); {env.keys_help}",
        )


def _permissions(details: object) -> str:
    permissions = details.get("permissions") if isinstance(details, dict) else None
    if isinstance(permissions, dict):
        granted = ", ".join(name for name, allowed in permissions.items() if allowed) or "none"
        return f"permissions: {granted}"
    if isinstance(details, dict):
        return "key details: " + ", ".join(sorted(details))
    return "accepted"


# the cross-checks: each key pair signed the other kind's way
_TOKEN_WITH_DERIVATIVES_KEY = dataclasses.replace(
    WEBSOCKETS_TOKEN, name="websockets_token (derivatives key)", key_kind="derivatives"
)
_CHECK_WITH_SPOT_KEY = dataclasses.replace(
    CHECK_KEY, name="check_key (uws key)", key_kind="spot"
)
