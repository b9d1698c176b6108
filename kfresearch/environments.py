"""Where requests go: the ``live``, ``demo`` and ``sim`` environments, or any base URL.

Resolution order (design.md): explicit ``env`` argument > ``KFRESEARCH_ENV`` >
``demo``. A ``base_url`` argument points any environment at a server that
speaks the API (``kfresearch sim serve`` or a compatible one).

===========  =====================================================  ===========
name         what answers                                           real money
===========  =====================================================  ===========
``live``     Kraken Futures, ``https://futures.kraken.com``         yes
``demo``     kfresearch's local paper exchange (Kraken retired its  no
             own demo host on 2026-07-14, reference §0). Until the
             paper exchange on the real market lands, it is served
             by the in-process simulator with the real clock.
``sim``      the in-process simulator: synthetic, seeded, offline   no
===========  =====================================================  ===========

Environments build their exchange; the client does not. An environment
served by kfresearch itself names a *factory* (``"module:function"``,
imported only when a client connects, so ``import kfresearch`` stays light):
``factory(env, shared)`` returns an :class:`ExchangeParts` (the httpx
transport, the provisioned credentials, the exchange handle ``kf.sim``).
``kfresearch.sim.environments`` provides ``sim`` (a fresh seeded exchange for
each client, unless ``shared`` is given: ``connect("sim", exchange=kf.sim)``)
and ``demo``. :func:`build_exchange` runs the factory.

Example
-------
>>> resolve_environment("live").rest_url
'https://futures.kraken.com/derivatives/api/v3'
>>> resolve_environment("sim", base_url="http://127.0.0.1:8765").ws_url
'ws://127.0.0.1:8765/ws/v1'
>>> resolve_environment("live").uws_public_url
'wss://uws.kraken.com/v2/public'
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from kfresearch.errors import ConfigurationError

if TYPE_CHECKING:
    import httpx

    from kfresearch.credentials import Credentials

__all__ = [
    "ENVIRONMENTS",
    "RETIRED_DEMO_URL",
    "V3_DECOMMISSION_DATE",
    "Environment",
    "ExchangeFactory",
    "ExchangeParts",
    "build_exchange",
    "resolve_environment",
]

ENV_VAR = "KFRESEARCH_ENV"
DEFAULT_ENV = "demo"
#: Kraken's own demo host; retired on 2026-07-14 (now a 301 to a marketing page).
RETIRED_DEMO_URL = "https://demo-futures.kraken.com"
#: Kraken switches off the Derivatives REST and WebSocket v1 APIs on this date.
V3_DECOMMISSION_DATE = "2027-03-01"
#: Host name of the in-process simulator: ``.invalid`` never resolves, so a
#: request that escaped the in-process transport could not reach anything.
IN_PROCESS_URL = "http://sim.kfresearch.invalid"


@dataclass(frozen=True)
class Environment:
    """One place the API lives.

    Attributes
    ----------
    name : str
        ``"live"``, ``"demo"`` or ``"sim"``.
    base_url : str
        Scheme and host (and port); every endpoint path is absolute under it.
    in_process : bool
        Served by the simulator inside this Python process (no sockets).
    real_money : bool
        Orders here trade real funds: the live safety gates apply.
    keys_help : str
        Where keys for this environment come from.
    spot_base_url : str
        Host of the Spot REST API that issues Unified WebSocket tokens
        (``https://api.kraken.com`` on live); empty: ``base_url``.
    uws_base_url : str
        Host of the Unified WebSocket (``wss://uws.kraken.com`` on live);
        empty: ``base_url`` with a ``ws``/``wss`` scheme.
    factory : str or None
        ``"module:function"`` of the :data:`ExchangeFactory` that builds the
        exchange (kfresearch's own environments), or None (a remote exchange).
    """

    name: str
    base_url: str
    in_process: bool
    real_money: bool
    keys_help: str
    spot_base_url: str = ""
    uws_base_url: str = ""
    factory: str | None = None

    @property
    def rest_url(self) -> str:
        """Base of the v3 trading and market-data API."""
        return f"{self.base_url}/derivatives/api/v3"

    @property
    def charts_url(self) -> str:
        return f"{self.base_url}/api/charts/v1"

    @property
    def history_url(self) -> str:
        return f"{self.base_url}/api/history/v3"

    @property
    def auth_url(self) -> str:
        return f"{self.base_url}/api/auth/v1"

    @property
    def ws_url(self) -> str:
        """The WebSocket v1 endpoint (``wss://`` for https hosts)."""
        scheme, rest = self.base_url.split("://", 1)
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/ws/v1"

    @property
    def spot_url(self) -> str:
        """Base of the Spot REST API (``GetWebSocketsToken``)."""
        return self.spot_base_url or self.base_url

    def _uws(self, path: str) -> str:
        if self.uws_base_url:
            return f"{self.uws_base_url}{path}"
        scheme, rest = self.base_url.split("://", 1)
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest}{path}"

    @property
    def uws_public_url(self) -> str:
        """The Unified WebSocket's public endpoint (market data)."""
        return self._uws("/v2/public")

    @property
    def uws_private_url(self) -> str:
        """The Unified WebSocket's private endpoint (account data and trading)."""
        return self._uws("/v2/private")

    @property
    def provisions_keys(self) -> bool:
        """sim and demo make their own local key pairs; live needs the user's."""
        return not self.real_money

    def __str__(self) -> str:
        return self.name


ENVIRONMENTS: dict[str, Environment] = {
    "live": Environment(
        "live",
        "https://futures.kraken.com",
        in_process=False,
        real_money=True,
        keys_help=(
            "for protocol='v3' make a Futures (Derivatives) API key at https://futures.kraken.com "
            "(Settings > API keys); for protocol='uws' a Kraken API key with the 'Access "
            "WebSocket API' permission at https://www.kraken.com (Settings > API); the two are "
            "different keys"
        ),
        spot_base_url="https://api.kraken.com",
        uws_base_url="wss://uws.kraken.com",
    ),
    "demo": Environment(
        "demo",
        IN_PROCESS_URL,
        in_process=True,
        real_money=False,
        keys_help="demo provisions its own local paper-trading keys; nothing to set",
        factory="kfresearch.sim.environments:demo",
    ),
    "sim": Environment(
        "sim",
        IN_PROCESS_URL,
        in_process=True,
        real_money=False,
        keys_help="sim provisions its own keys: `kfresearch sim keys` prints them",
        factory="kfresearch.sim.environments:sim",
    ),
}


def resolve_environment(
    env: str | Environment | None = None, *, base_url: str | None = None
) -> Environment:
    """The environment to use: argument > ``KFRESEARCH_ENV`` > ``demo``.

    ``base_url`` (``"http://127.0.0.1:8765"``) keeps the environment's name and
    safety rules but sends requests to that server over the network.

    Raises
    ------
    ConfigurationError
        An unknown environment name or a base URL that is not http(s).
    """
    if isinstance(env, Environment):
        chosen = env
    else:
        name = (env or os.environ.get(ENV_VAR) or DEFAULT_ENV).strip().lower()
        if name not in ENVIRONMENTS:
            raise ConfigurationError(
                f"unknown environment {name!r}: use one of 'demo' (paper trading, the "
                f"default), 'sim' (offline simulator) or 'live' (real money), or pass "
                f"base_url= for a server of your own"
            )
        chosen = ENVIRONMENTS[name]
    if base_url is None:
        return chosen
    parts = urlsplit(base_url.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigurationError(
            f"base_url {base_url!r} is not an http(s) URL like 'http://127.0.0.1:8765'"
        )
    if parts.path.rstrip("/") not in {"", "/"}:
        raise ConfigurationError(
            f"base_url {base_url!r} has a path; give only scheme, host and port "
            "(endpoint paths such as /derivatives/api/v3 are added by kfresearch)"
        )
    if base_url.startswith(RETIRED_DEMO_URL):
        raise ConfigurationError(
            "demo-futures.kraken.com was retired on 2026-07-14; use env='demo' (the local "
            "paper exchange) or env='sim'"
        )
    # a server of one's own (``kfresearch sim serve``) serves the token and the UWS too
    return replace(
        chosen,
        base_url=f"{parts.scheme}://{parts.netloc}",
        in_process=False,
        spot_base_url="",
        uws_base_url="",
    )


@dataclass(frozen=True)
class ExchangeParts:
    """What an environment's factory hands the client.

    Attributes
    ----------
    transport : httpx transport or None
        Serves both :class:`httpx.Client` and :class:`httpx.AsyncClient` (an
        in-process exchange); None: the network.
    credentials : Credentials or None
        The key pair the environment provisions (used when the user gives none).
    spot_credentials : Credentials or None
        The Kraken (spot-style) key pair it provisions for the Unified WebSocket.
    exchange : Any
        The in-process exchange (``kf.sim``), or None when it is served elsewhere.
    random_bits : callable or None
        Where client order ids draw their random bits (``getrandbits``): seeded
        for ``sim`` so notebook outputs repeat; None: the operating system's.
    """

    transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None
    credentials: Credentials | None
    spot_credentials: Credentials | None = None
    exchange: Any = None
    random_bits: Callable[[int], int] | None = None


ExchangeFactory = Callable[[Environment, Any, Mapping[str, Any]], ExchangeParts]
"""``factory(env, shared, options)``: the parts of ``env``'s exchange; ``shared`` is an
exchange the user passed to share (``connect("sim", exchange=kf.sim)``) or None for a fresh
one; ``options`` are the environment's own arguments of ``connect`` (``demo``: ``account``,
``balance``), None when not given."""


def build_exchange(
    env: Environment, shared: Any = None, options: Mapping[str, Any] | None = None
) -> ExchangeParts | None:
    """Run ``env``'s factory (None for an environment without one, such as ``live``).

    Raises
    ------
    ConfigurationError
        ``shared`` was given for an environment kfresearch does not build.
    """
    if env.factory is None:
        if shared is not None:
            raise ConfigurationError(
                f"exchange= shares an exchange kfresearch runs (env='sim' or 'demo'); "
                f"env {env.name!r} at {env.base_url} is not one: leave exchange= out"
            )
        return None
    module, _, name = env.factory.partition(":")
    factory: ExchangeFactory = getattr(importlib.import_module(module), name)
    return factory(env, shared, options or {})
