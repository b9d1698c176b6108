"""The auth service's key check (reference §4.26), as the simulator answers it.

Kraken documents ``GET /api/auth/v1/api-keys/v3/check`` as "verifies a key and
signature and returns key details" with 401 on a bad key or signature, but the
reference does not give the details' fields. The simulator answers with the
access level it knows; ``kfresearch doctor`` shows whatever fields come back.
"""

from __future__ import annotations

from kfresearch.sim.routing import Context, Route, make_route

__all__ = ["check_key"]


def check_key(ctx: Context) -> dict[str, object]:
    return {
        "status": "ok",
        "accountUid": ctx.account_id,
        "permissions": {
            "read": True,
            "trade": ctx.key_can_trade,
            "withdraw": False,
        },
    }


ROUTES: tuple[Route, ...] = (
    make_route("GET", "/api/auth/v1/api-keys/v3/check", check_key, private=True),
)
