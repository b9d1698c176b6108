"""The key pairs the simulator provisions: one full-access, one read-only, of each kind.

Derivatives keys (:func:`provisioned_keys`) sign the v3 REST API and the v1
WebSocket challenge; Kraken (spot-style) keys (:func:`provisioned_spot_keys`)
sign ``GetWebSocketsToken`` for the Unified WebSocket, with the "Access
WebSocket API" permission (the read-only one may not trade). All four belong
to the same simulated account, so an order placed over either API shows in both.

They are derived from fixed strings, so the in-process simulator, a served
``kfresearch sim serve`` and ``kfresearch sim keys`` agree without any file.
They unlock only the local simulator and are not secret outside it.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from kfresearch.credentials import Credentials, Secret

__all__ = ["SIM_ACCOUNT_ID", "SimKey", "provisioned_keys", "provisioned_spot_keys"]

SIM_ACCOUNT_ID = "6b8f0c52-5d5e-4e0a-9d3e-0c7d1f3a2b10"


@dataclass(frozen=True)
class SimKey:
    """A provisioned key: its credentials, whether it may trade, and its account."""

    name: str  # "full" | "read_only" (spot keys: "spot_full" | "spot_read_only")
    credentials: Credentials
    can_trade: bool
    account_id: str = SIM_ACCOUNT_ID


def _derive(name: str) -> Credentials:
    key = base64.b64encode(hashlib.sha256(f"kfresearch-sim-{name}-key".encode()).digest()).decode()
    secret = base64.b64encode(hashlib.sha512(f"kfresearch-sim-{name}-secret".encode()).digest())
    return Credentials(key.rstrip("=").replace("/", "A").replace("+", "B"), Secret(secret.decode()))


def provisioned_keys() -> dict[str, SimKey]:
    """``{"full": SimKey, "read_only": SimKey}``."""
    return {
        "full": SimKey("full", _derive("full"), can_trade=True),
        "read_only": SimKey("read_only", _derive("read-only"), can_trade=False),
    }


def provisioned_spot_keys() -> dict[str, SimKey]:
    """``{"full": SimKey, "read_only": SimKey}``: the Kraken (spot-style) keys for UWS."""
    return {
        "full": SimKey("spot_full", _derive("spot-full"), can_trade=True),
        "read_only": SimKey("spot_read_only", _derive("spot-read-only"), can_trade=False),
    }
