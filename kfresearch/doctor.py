"""``kfresearch doctor``: is this environment usable, and are the keys right?

Checks, for the chosen environment: the host answers (and how fast), the
clock skew against the server's time, whether credentials are present and
accepted (the exchange's key-check endpoint, reference §4.26, then a private
read) and what they may do, and the known traps: a Spot key used for Futures,
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

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Literal

from kfresearch.endpoints import ACCOUNTS, CHECK_KEY, INSTRUMENTS_STATUS
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


def plan_doctor(env: Environment, has_credentials: bool) -> Plan[DoctorReport]:
    """Every check against ``env``; never raises for a failed check (it is reported)."""
    report = DoctorReport(env.name, env.base_url)
    report.add("environment", "info", _describe(env.name, env.in_process))

    started = time.monotonic()
    try:
        body = (yield [Call(INSTRUMENTS_STATUS)])[0]
    except KFError as exc:
        report.add("host", "fail", f"{env.base_url} did not answer usefully: {exc}")
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
        report.add("clock", "warn", "the answer carried no serverTime")
    elif env.in_process:
        report.add("clock", "info", f"simulated clock at {server.isoformat()}")
    else:
        skew = (datetime.now(UTC) - server).total_seconds() - rtt / 2
        status: Status = "ok" if abs(skew) < _MAX_SKEW_S else "warn"
        report.add("clock", status, f"local clock is {skew:+.2f} s from the server's")

    yield from _check_credentials(env, has_credentials, report)

    if env.name == "live":
        days = (date.fromisoformat(V3_DECOMMISSION_DATE) - datetime.now(UTC).date()).days
        report.add(
            "api retirement",
            "warn",
            f"Kraken switches off the Derivatives REST and WebSocket v1 APIs on "
            f"{V3_DECOMMISSION_DATE} ({days} days from today); kfresearch keeps its transports "
            "swappable for the Unified WebSocket",
        )
    if env.name == "demo":
        report.add(
            "demo host",
            "info",
            f"Kraken retired {RETIRED_DEMO_URL} on 2026-07-14; 'demo' is kfresearch's local "
            "paper exchange and orders never leave this machine",
        )
    return report


def _describe(name: str, in_process: bool) -> str:
    where = "in this Python process" if in_process else "over the network"
    risk = {
        "live": "REAL MONEY: orders need allow_trading=True",
        "demo": "paper trading, no real money",
        "sim": "offline synthetic market, no real money",
    }.get(name, "")
    return f"{name} ({where}); {risk}"


def _check_credentials(
    env: Environment, has_credentials: bool, report: DoctorReport
) -> Plan[None]:
    if not has_credentials:
        report.add(
            "credentials",
            "warn" if env.real_money else "info",
            "none found: public data works; set KFRESEARCH_API_KEY and KFRESEARCH_API_SECRET "
            f"for private calls ({env.keys_help})",
        )
        return
    try:
        details = (yield [Call(CHECK_KEY)])[0]
    except AuthenticationError:
        report.add(
            "credentials",
            "fail",
            "the exchange rejected the key or signature. Check that this is a Futures key "
            "pair made on futures.kraken.com: a Spot (kraken.com) key looks similar but never "
            "works on the Futures API. Also check the secret was copied whole.",
        )
        return
    except KFError as exc:
        report.add("credentials", "warn", f"the key check endpoint did not answer: {exc}")
        details = None
    permissions = details.get("permissions") if isinstance(details, dict) else None
    if isinstance(permissions, dict):
        granted = ", ".join(name for name, allowed in permissions.items() if allowed) or "none"
        report.add("credentials", "ok", f"accepted; permissions: {granted}")
    elif details is not None:
        fields = ", ".join(sorted(details)) if isinstance(details, dict) else type(details).__name__
        report.add("credentials", "ok", f"accepted; key details: {fields}")
    try:
        yield [Call(ACCOUNTS)]
        report.add("private read", "ok", "accounts endpoint answered")
    except KFError as exc:
        report.add("private read", "fail", str(exc))
