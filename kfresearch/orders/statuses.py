"""Order type aliases, signals, limits and the exchange's statuses in plain words.

Which prices each order type takes is said in :mod:`kfresearch.contracts`.

Part of :mod:`kfresearch.orders` (see its docstring for the rules).
"""

from __future__ import annotations

TYPE_ALIASES = {
    "limit": "lmt",
    "market": "mkt",
    "stop": "stp",
    "stop_loss": "stp",
    "takeprofit": "take_profit",
    "take-profit": "take_profit",
    "trailing": "trailing_stop",
    "trailing-stop": "trailing_stop",
    "post_only": "post",
    "post-only": "post",
}
SIGNALS = ("mark", "index", "last")
SIGNAL_ALIASES = {"spot": "index", "mark_price": "mark", "last_price": "last"}
#: Aggressive limit orders more than this far through the mark are rejected by the
#: exchange (``outsidePriceCollar``, reference §7.6). The exchange does not publish
#: its collar; this is the simulator's, used as a sanity check before sending.
PRICE_COLLAR = 0.10
#: Longest client order id accepted (the simulator's limit; Kraken publishes none).
MAX_CLIENT_ORDER_ID = 100
#: Trailing-stop deviation in percent (reference §4.12).
TRAILING_PERCENT_RANGE = (0.1, 50.0)
#: Fee rates used when the fee schedule is unknown (tier 0 of Kraken's schedule).
DEFAULT_MAKER_FEE = 0.0002
DEFAULT_TAKER_FEE = 0.0005
LOOKUP_RESENDS = 1  # sends with the same client order id after a lookup found nothing

# --------------------------------------------------------------------------- statuses

#: Every order status of the exchange (reference §4.12–§4.18) in plain words.
EXPLANATIONS: dict[str, str] = {
    "placed": "Accepted: the order rests on the book, has filled, or (a stop) waits for its "
    "trigger.",
    "partiallyFilled": "Accepted and partly filled; the rest is on the book.",
    "filled": "Accepted and completely filled.",
    "edited": "The order was changed as asked.",
    "cancelled": "The order was cancelled (part of it may have filled before).",
    "noOrdersToCancel": "There were no open orders to cancel.",
    "marketSuspended": "Trading in this market is suspended; wait until it resumes "
    "(kf.instruments() shows which markets are tradeable).",
    "marketInactive": "The market is not open for trading (unknown or expired contract); "
    "pick a tradeable symbol from kf.instruments().",
    "invalidPrice": "The price is not valid for this contract (not positive, or off the tick "
    "grid); use a positive multiple of the tick size.",
    "invalidSize": "The size is not valid for this contract (not positive, or not a multiple "
    "of the contract step); use a multiple of 10**-contract_value_trade_precision.",
    "tooManySmallOrders": "The account has too many small open orders; cancel some or use a "
    "larger size.",
    "insufficientAvailableFunds": "Not enough available margin for this order; reduce the "
    "size, add collateral or close positions (kf.accounts() shows available margin).",
    "wouldCauseLiquidation": "Filling this order would leave the account below maintenance "
    "margin; reduce the size.",
    "clientOrderIdAlreadyExist": "An order with this client order id already exists; client "
    "order ids must be unique (leave client_order_id unset to get a fresh one).",
    "clientOrderIdTooBig": "The client order id is too long; use at most 100 characters.",
    "clientOrderIdTooLong": "The client order id is too long; use at most 100 characters.",
    "clientOrderIdInvalid": "The client order id contains characters the exchange refuses; "
    "use letters, digits and '-'.",
    "maxPositionViolation": "The resulting position would exceed the contract's maximum "
    "position size; reduce the size.",
    "outsidePriceCollar": "The limit price is too far through the mark price (fat-finger "
    "protection); use a price closer to the mark.",
    "wouldIncreasePriceDislocation": "The order would push the price further from the index "
    "while the market is dislocated; use a less aggressive price or wait.",
    "notFound": "No open order has this id: it may have filled or been cancelled already; "
    "check kf.open_orders() and kf.fills().",
    "orderForEditNotAStop": "A stop price was given, but the order is not a stop order; edit "
    "only its size or limit price.",
    "orderForEditNotFound": "The order to edit is not open (filled, cancelled or unknown id); "
    "check kf.open_orders().",
    "postWouldExecute": "A post-only order would have matched at once, so it was rejected; "
    "buy below the best ask or sell above the best bid.",
    "iocWouldNotExecute": "An immediate order (ioc, fok or market) found nothing to match at "
    "its price (fok: not enough to fill it completely); use a more aggressive price or a "
    "limit order.",
    "selfFill": "The order would have traded against one of your own resting orders; cancel "
    "or move that order first.",
    "wouldNotReducePosition": "A reduce-only order would open or increase a position; check "
    "the side against kf.positions().",
    "marketIsPostOnly": "The market accepts only post-only orders right now; use "
    "post_only=True or wait.",
    "tooManyOrders": "The account has too many open orders; cancel some first.",
    "fixedLeverageTooHigh": "The isolated leverage set for this contract is too high for "
    "this order; lower it in the leverage preferences.",
    "cannotEditTriggerPriceOfTrailingStop": "A trailing stop's trigger price follows the "
    "market and cannot be edited; edit its trailing deviation instead.",
    "cannotEditLimitPriceOfTrailingStop": "A trailing stop has no limit price to edit; edit "
    "its trailing deviation instead.",
    "wouldProcessAfterSpecifiedTime": "The exchange would have processed the request after "
    "its process_before deadline, so it did nothing; send it again with a later deadline.",
    "invalidOrderType": "The exchange does not know this order type; use lmt, post, ioc, "
    "fok, mkt, stp, take_profit or trailing_stop.",
    "invalidSide": "The side must be 'buy' or 'sell'.",
}
# What the same status means when it answers a cancel.
_CANCEL_EXPLANATIONS = {
    "filled": "Too late to cancel: the order had already filled; check kf.positions().",
    "notFound": "No open order has this id: it was already cancelled, has filled, or never "
    "existed; check kf.open_orders() and kf.fills().",
}
OK_STATUSES: dict[str, frozenset[str]] = {
    "send": frozenset({"placed", "partiallyFilled", "filled", "cancelled"}),
    "edit": frozenset({"edited"}),
    "cancel": frozenset({"cancelled"}),
}
# orders/status ``error`` (the engine's OrderError, reference §5.2) -> v3 status.
ERROR_STATUS = {
    "MARKET_SUSPENDED": "marketSuspended",
    "MARKET_NOT_FOUND": "marketInactive",
    "INVALID_PRICE": "invalidPrice",
    "INVALID_QUANTITY": "invalidSize",
    "SMALL_ORDER_LIMIT_EXCEEDED": "tooManySmallOrders",
    "INSUFFICIENT_MARGIN": "insufficientAvailableFunds",
    "WOULD_CAUSE_LIQUIDATION": "wouldCauseLiquidation",
    "CLIENT_ORDER_ID_IN_USE": "clientOrderIdAlreadyExist",
    "CLIENT_ORDER_ID_TOO_LONG": "clientOrderIdTooLong",
    "MAX_POSITION_EXCEEDED": "maxPositionViolation",
    "PRICE_COLLAR": "outsidePriceCollar",
    "PRICE_DISLOCATION": "wouldIncreasePriceDislocation",
    "ORDER_FOR_EDIT_NOT_FOUND": "orderForEditNotFound",
    "ORDER_FOR_CANCELLATION_NOT_FOUND": "notFound",
    "POST_WOULD_EXECUTE": "postWouldExecute",
    "IOC_WOULD_NOT_EXECUTE": "iocWouldNotExecute",
    "WOULD_EXECUTE_SELF": "selfFill",
    "WOULD_NOT_REDUCE_POSITION": "wouldNotReducePosition",
    "MARKET_IS_POST_ONLY": "marketIsPostOnly",
    "ORDER_LIMIT_EXCEEDED": "tooManyOrders",
    "FIXED_LEVERAGE_TOO_HIGH": "fixedLeverageTooHigh",
}
LIFE_STATUS = {
    "ENTERED_BOOK": "placed",
    "TRIGGER_PLACED": "placed",
    "FULLY_EXECUTED": "filled",
    "CANCELLED": "cancelled",
    "TRIGGER_ACTIVATION_FAILURE": "cancelled",
}


def explain(status: str, action: str = "send") -> str:
    """The status ``status`` of an order request in plain words, with what to do next.

    Parameters
    ----------
    status : str
        The exchange's status (``sendStatus.status``, ``editStatus.status`` …).
    action : {"send", "edit", "cancel"}
        What the request did: ``filled`` answering a cancel means "too late".

    Examples
    --------
    >>> explain("postWouldExecute")[:40]
    'A post-only order would have matched at '
    """
    if action == "cancel" and status in _CANCEL_EXPLANATIONS:
        return _CANCEL_EXPLANATIONS[status]
    return EXPLANATIONS.get(
        status,
        f"The exchange answered status {status!r}, which kfresearch does not know; see the "
        "order in kf.order_status(...) or kf.order_history().",
    )
