"""Which wire protocol a client speaks: the v3 REST API, or the Unified WebSocket.

Kraken switches off the Derivatives REST v3 and WebSocket v1 APIs on
2027-03-01 (reference kraken-unified-ws.md §0, §2). ``connect(protocol=…)``
chooses; without it, ``KFRESEARCH_PROTOCOL``; without that, the date on the
environment's clock (the simulator's settable clock in-process, the wall
clock elsewhere):

=======================  ==========  ===============================================
today                    default     warning
=======================  ==========  ===============================================
before 2027-01-01        ``v3``      none
2027-01-01 – 2027-02-28  ``v3``      :class:`~kfresearch.errors.SunsetWarning` naming
                                     2027-03-01 (when v3 was chosen by default, or on
                                     ``live``)
from 2027-03-01          ``uws``     a :class:`SunsetWarning` when ``v3`` is asked for
                                     on ``live`` (it is switched off there)
=======================  ==========  ===============================================

``sim`` and ``demo`` serve both protocols from the same local engine, so an
explicit ``protocol="v3"`` there is never warned about.

Example
-------
>>> choose(None, "sim", date(2026, 11, 1))
('v3', None)
>>> choose(None, "live", date(2027, 3, 2))[0]
'uws'
>>> print(choose(None, "live", date(2027, 2, 1))[1])  # doctest: +ELLIPSIS
Kraken switches off the Derivatives REST v3 and WebSocket v1 APIs on 2027-03-01 (28 days...
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Literal

from kfresearch.environments import V3_DECOMMISSION_DATE
from kfresearch.errors import ConfigurationError

if TYPE_CHECKING:
    from kfresearch.environments import Environment
    from kfresearch.sim.exchange import SimExchange

__all__ = ["PROTOCOLS", "PROTOCOL_VAR", "Protocol", "choose", "today"]

Protocol = Literal["v3", "uws"]
PROTOCOLS: tuple[Protocol, ...] = ("v3", "uws")
PROTOCOL_VAR = "KFRESEARCH_PROTOCOL"
SUNSET = date.fromisoformat(V3_DECOMMISSION_DATE)
WARN_FROM = date(2027, 1, 1)


def _wall_today() -> date:
    """Today (UTC) on the wall clock; tests replace it to stand on another day."""
    return datetime.now(UTC).date()


def today(env: Environment, sim: SimExchange | None = None) -> date:
    """The environment's today (UTC): the in-process simulator's clock, else the wall clock."""
    if env.in_process and sim is not None:
        return datetime.fromtimestamp(sim.clock.now_ms() / 1000, tz=UTC).date()
    return _wall_today()


def choose(requested: str | None, env_name: str, on: date) -> tuple[Protocol, str | None]:
    """The protocol to speak and the warning to give (None: none).

    ``requested`` is the ``protocol`` argument, else ``KFRESEARCH_PROTOCOL``,
    else None (by date, see the module docstring).

    Raises
    ------
    ConfigurationError
        ``requested`` is not ``"v3"`` or ``"uws"``.
    """
    explicit = requested if requested is not None else os.environ.get(PROTOCOL_VAR) or None
    if explicit is not None:
        name = str(explicit).strip().lower()
        if name not in PROTOCOLS:
            raise ConfigurationError(
                f"protocol {explicit!r} is not one of 'v3' (the Derivatives REST API, "
                f"switched off on {SUNSET}) or 'uws' (the Unified WebSocket)"
            )
        protocol: Protocol = "uws" if name == "uws" else "v3"
    else:
        protocol = "uws" if on >= SUNSET else "v3"
    if protocol == "uws" or (env_name in ("sim", "demo") and explicit is not None):
        return protocol, None
    if on >= SUNSET:
        if env_name != "live":
            return protocol, None
        return protocol, (
            f"Kraken switched off the Derivatives REST v3 and WebSocket v1 APIs on {SUNSET}: "
            "protocol='v3' on live will fail. Use protocol='uws' (the Unified WebSocket), "
            "with a Kraken spot-style key (KFRESEARCH_UWS_API_KEY / KFRESEARCH_UWS_API_SECRET)."
        )
    if on >= WARN_FROM and (explicit is None or env_name == "live"):
        days = (SUNSET - on).days
        return protocol, (
            f"Kraken switches off the Derivatives REST v3 and WebSocket v1 APIs on {SUNSET} "
            f"({days} days from {on}); this client speaks v3. From that day the default is "
            "protocol='uws' (the Unified WebSocket), which needs a Kraken spot-style key "
            "(KFRESEARCH_UWS_API_KEY / KFRESEARCH_UWS_API_SECRET): try it now with "
            "connect(..., protocol='uws')."
        )
    return protocol, None
