"""Account-administration routes of the simulated exchange (reference §4.17, §4.23, §4.24, §4.26).

What the simulated account has, it answers from the engine's state:

* ``GET /notifications``: the notices posted on the exchange's board
  (:mod:`~kfresearch.sim.notifications`, also sent on ``notifications_auth``);
* ``GET /subaccounts``: the account itself as master, with no subaccounts
  (a retail account's answer); ``/subaccount/{uid}/trading-enabled`` is 404,
  as for any uid that is not a subaccount;
* ``GET /unwindqueue``: each open position with its percentile in the unwind
  queue (the simulator's rule: by unrealised return on margin, see
  :func:`unwind_percentile`);
* ``POST /transfer``: moves collateral between the account's own wallets
  (``cash``, ``flex``, ``fi_*``) as long as the source keeps its margin;
  ``/transfer/subaccount`` only between the account and itself;
* ``GET|PUT /self-trade-strategy``: stored; matching always rejects the taker
  (``REJECT_TAKER``), the only strategy that differs for an account without
  subaccounts is ``CANCEL_MAKER_SELF``, which the simulator does not model;
* ``GET /assignmentprogram/current|history``: no programs.

What it does not have, it answers the way the exchange answers an account
without the feature: ``POST /withdrawal`` needs a withdrawal key (the
simulator provisions none: ``authenticationError``); the assignment program's
changes, portfolio margining and RFQs (demo-only features, §4.24) answer
``Unavailable``; ``/api/stats/v1/rebates/self-market-share`` answers HTTP 204
(market shares not aggregated: the account trades no rebate contracts).
"""

from __future__ import annotations

from typing import Any

from kfresearch.sim.engine import Engine
from kfresearch.sim.routing import Answer, Context, Route, SimError, iso, make_route

__all__ = ["SELF_TRADE_STRATEGIES", "unwind_percentile"]

V3 = "/derivatives/api/v3"
SELF_TRADE_STRATEGIES = frozenset(
    {"REJECT_TAKER", "CANCEL_MAKER_SELF", "CANCEL_MAKER_CHILD", "CANCEL_MAKER_ANY"}
)
# Unwind-queue percentiles (reference §4.24: 20, 40, 80 or 100) by the
# position's unrealised return on its initial margin: (below this return, percentile).
UNWIND_BUCKETS = ((0.0, 20), (0.25, 40), (1.0, 80))


def _engine(ctx: Context) -> Engine:
    engine: Engine = ctx.exchange.engine
    return engine


def _account_id(ctx: Context) -> str:
    if ctx.account_id is None:
        raise SimError("authenticationError")
    return ctx.account_id


def _unavailable(ctx: Context) -> dict[str, Any]:
    """A feature the simulated account does not have (§5.1 ``Unavailable``)."""
    raise SimError("Unavailable")


# ------------------------------------------------------------ notifications


def notifications(ctx: Context) -> dict[str, Any]:
    """``notifications[]``: what was posted on the exchange's notice board, oldest first.

    The same notices as the ``notifications_auth`` feed; the simulator posts
    none by itself (a test or a lesson posts them with
    ``exchange.notifications.post(...)``).
    """
    rows = []
    for notice in ctx.exchange.notifications.since(0):
        row: dict[str, Any] = {
            "type": notice.type,
            "priority": notice.priority,
            "note": notice.note,
            "effectiveTime": iso(notice.effective_time_ms),
        }
        if notice.expected_downtime_minutes is not None:
            row["expectedDowntimeMinutes"] = notice.expected_downtime_minutes
        rows.append(row)
    return {"notifications": rows}


# --------------------------------------------------------------- subaccounts


def subaccounts(ctx: Context) -> dict[str, Any]:
    """The account as ``masterAccountUid`` and its subaccounts: none."""
    acc = _engine(ctx).account(_account_id(ctx), ctx.now_ms)
    return {"masterAccountUid": acc.uid, "subaccounts": []}


def subaccount_trading(ctx: Context) -> dict[str, Any]:
    """404 ``notFound``: the account has no subaccount by that uid (the spec's 404)."""
    raise SimError("notFound", status=404)


# ------------------------------------------------------------------ transfers


def transfer(ctx: Context) -> dict[str, Any]:
    """Move ``amount`` of ``unit`` from wallet ``fromAccount`` to ``toAccount``.

    Errors (reference §5.1): ``invalidAmount`` (not a positive number),
    ``invalidAccount`` (no such wallet, or the same one twice),
    ``invalidUnit`` (a currency the wallets cannot hold), ``insufficientFunds``
    (more than the source holds, or than it can spare given its margin).
    """
    try:
        amount = float(ctx.require("amount"))
    except ValueError:
        raise SimError("invalidAmount") from None
    problem = _engine(ctx).transfer(
        _account_id(ctx),
        ctx.require("fromAccount"),
        ctx.require("toAccount"),
        ctx.require("unit"),
        amount,
        ctx.now_ms,
    )
    if problem is not None:
        raise SimError(problem)
    return {}


def transfer_subaccount(ctx: Context) -> dict[str, Any]:
    """A transfer naming the users: only the account's own uid is a user it can name."""
    acc = _engine(ctx).account(_account_id(ctx), ctx.now_ms)
    if {ctx.require("fromUser"), ctx.require("toUser")} != {acc.uid}:
        raise SimError("invalidAccount")
    return transfer(ctx)


def withdrawal(ctx: Context) -> dict[str, Any]:
    """Unreachable with the provisioned keys (none may withdraw); ``Unavailable`` otherwise."""
    return _unavailable(ctx)


# -------------------------------------------------------------- unwind queue


def unwind_percentile(pnl: float, initial_margin: float) -> int:
    """The simulator's unwind-queue percentile of a position (20, 40, 80 or 100).

    Kraken ranks profitable, leveraged positions first; the reference gives
    no formula, so the simulator buckets the unrealised return on initial
    margin: below 0 → 20, below 25 % → 40, below 100 % → 80, else 100.

    >>> unwind_percentile(-5.0, 100.0), unwind_percentile(50.0, 100.0), unwind_percentile(300, 100)
    (20, 80, 100)
    """
    ratio = pnl / initial_margin if initial_margin > 0 else 0.0
    return next((p for top, p in UNWIND_BUCKETS if ratio < top), 100)


def unwind_queue(ctx: Context) -> dict[str, Any]:
    """``queue[]``: ``{symbol, percentile}`` for each open position, newest fill first."""
    engine = _engine(ctx)
    acc = engine.account(_account_id(ctx), ctx.now_ms)
    risks = engine.position_risks(acc, ctx.now_ms)
    return {
        "queue": [
            {"symbol": r.spec.symbol, "percentile": unwind_percentile(r.pnl, r.initial_margin)}
            for r in risks
        ]
    }


# --------------------------------------------------------- self-trade strategy


def self_trade_strategy(ctx: Context) -> dict[str, Any]:
    """``strategy``: ``REJECT_TAKER`` unless set."""
    acc = _engine(ctx).account(_account_id(ctx), ctx.now_ms)
    return {"strategy": acc.self_trade_strategy}


def set_self_trade_strategy(ctx: Context) -> dict[str, Any]:
    """Store ``strategy`` (one of :data:`SELF_TRADE_STRATEGIES`); answers it back."""
    strategy = ctx.require("strategy").upper()
    if strategy not in SELF_TRADE_STRATEGIES:
        raise SimError("invalidArgument")
    _engine(ctx).set_self_trade_strategy(_account_id(ctx), strategy, ctx.now_ms)
    return {"strategy": strategy}


# ----------------------------------------------- features the account lacks


def assignment_programs(ctx: Context) -> dict[str, Any]:
    """``participants[]``: the account takes part in no assignment program."""
    return {"participants": []}


def self_market_share(ctx: Context) -> Answer:
    """HTTP 204: market shares not aggregated (the account trades no rebate contracts)."""
    return Answer(b"", status=204, content_type="text/plain")


ROUTES: tuple[Route, ...] = (
    make_route("GET", f"{V3}/notifications", notifications, private=True, cost=2),
    make_route("GET", f"{V3}/subaccounts", subaccounts, private=True, cost=2),
    make_route(
        "PUT",
        f"{V3}/subaccount/{{subaccountUid}}/trading-enabled",
        subaccount_trading,
        trading=True,
        cost=2,
        required=("tradingEnabled",),
    ),
    make_route(
        "GET",
        f"{V3}/subaccount/{{subaccountUid}}/trading-enabled",
        subaccount_trading,
        trading=True,
        cost=2,
    ),
    make_route(
        "POST",
        f"{V3}/transfer",
        transfer,
        trading=True,
        cost=10,
        required=("fromAccount", "toAccount", "unit", "amount"),
    ),
    make_route(
        "POST",
        f"{V3}/transfer/subaccount",
        transfer_subaccount,
        trading=True,
        cost=10,
        required=("fromUser", "toUser", "fromAccount", "toAccount", "unit", "amount"),
    ),
    make_route(
        "POST",
        f"{V3}/withdrawal",
        withdrawal,
        withdrawal=True,
        cost=100,
        required=("currency", "amount"),
    ),
    make_route("GET", f"{V3}/unwindqueue", unwind_queue, private=True, cost=200),
    make_route("GET", f"{V3}/self-trade-strategy", self_trade_strategy, private=True, cost=2),
    make_route(
        "PUT",
        f"{V3}/self-trade-strategy",
        set_self_trade_strategy,
        trading=True,
        cost=2,
        required=("strategy",),
    ),
    make_route("GET", f"{V3}/assignmentprogram/history", assignment_programs, private=True, cost=2),
    make_route("GET", f"{V3}/assignmentprogram/current", assignment_programs, private=True, cost=2),
    make_route(
        "POST",
        f"{V3}/assignmentprogram/add",
        _unavailable,
        private=True,
        cost=2,
        required=("contractType", "acceptLong", "acceptShort", "timeFrame", "enabled"),
    ),
    make_route(
        "POST",
        f"{V3}/assignmentprogram/delete",
        _unavailable,
        private=True,
        cost=2,
        required=("id",),
    ),
    make_route("GET", f"{V3}/portfolio-margining/parameters", _unavailable, private=True, cost=2),
    make_route(
        "POST",
        f"{V3}/portfolio-margining/simulate",
        _unavailable,
        private=True,
        cost=2,
        required=("json",),
    ),
    make_route("GET", f"{V3}/rfqs", _unavailable),
    make_route("GET", f"{V3}/rfqs/open-offers", _unavailable, private=True, cost=2),
    make_route("GET", f"{V3}/rfqs/{{rfqUid}}", _unavailable),
    make_route("POST", f"{V3}/rfqs/{{rfqUid}}/place-offer", _unavailable, private=True, cost=2),
    make_route("PUT", f"{V3}/rfqs/{{rfqUid}}/replace-offer", _unavailable, private=True, cost=2),
    make_route("DELETE", f"{V3}/rfqs/{{rfqUid}}/cancel-offer", _unavailable, private=True, cost=2),
    make_route("GET", "/api/stats/v1/rebates/self-market-share", self_market_share, private=True),
)
