"""Where a run learns what happened to its account: fills and realised funding, in order.

Two taps, one vocabulary (:class:`~kfresearch.strategy.events.Fill`,
:class:`~kfresearch.strategy.events.Funding`):

* :class:`EngineTap`, for an exchange served in this process (a backtest's
  replay exchange, ``sim``, ``demo``): it reads the engine's account the way
  the in-process WebSocket does (its fills feed messages and account-log
  entries, by cursor), so it costs nothing per bar when nothing happened;
* :class:`RestTap`, for an exchange elsewhere (``live``, a served simulator):
  ``kf.fills()`` (the latest executions) and ``kf.account_log()`` (their fees
  and the funding, last day), two requests a bar, entries not seen before.

Both give each execution once, in the exchange's order, with funding realised
with a trade just before that trade's fill.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

from kfresearch.strategy.events import Fill, Funding

if TYPE_CHECKING:
    from kfresearch.client import Client
    from kfresearch.sim.exchange import SimExchange

__all__ = ["EngineTap", "RestTap", "Tap"]

Event = Fill | Funding
_FUNDING_INFO = "funding rate change"


def _stamp(ms: Any) -> pd.Timestamp:
    return pd.Timestamp(int(ms), unit="ms", tz="UTC")


class Tap(Protocol):
    """New fills and funding of the run's account since the last call, oldest first."""

    def take(self) -> list[Event]: ...


def fill_from_feed(message: dict[str, Any]) -> Fill:
    """A fill of the WebSocket ``fills`` feed (reference §3.5) as a :class:`Fill`."""
    currency = str(message.get("fee_currency") or "USD")
    return Fill(
        time=_stamp(message["time"]),
        symbol=str(message["instrument"]).upper(),
        side="buy" if message.get("buy") else "sell",
        size=float(message["qty"]),
        price=float(message["price"]),
        fee=float(message.get("fee_paid") or 0.0),
        fee_currency="XBT" if currency == "BTC" else currency,
        fill_type=str(message.get("fill_type")),
        order_id=message.get("order_id"),
        client_order_id=message.get("cli_ord_id"),
        fill_id=str(message["fill_id"]),
    )


class EngineTap:
    """Fills and funding of one account of an in-process exchange (module docstring)."""

    def __init__(self, exchange: SimExchange, account_id: str, *, steady: bool = False) -> None:
        self.exchange = exchange
        self.account_id = account_id
        account = self._account()
        self._fills_seen = len(account.fills)
        self._log_seen = len(account.log)
        # steady: the ledger keeps this account's records in this process for good (a
        # backtest's memory ledger, one thread), so a look at its log's length answers
        # "anything new?" without finding the account again; twice a bar, usually "no"
        self._steady_log: list[Any] | None = account.log if steady else None

    @classmethod
    def for_client(cls, kf: Client, *, steady: bool = False) -> EngineTap:
        """The tap of the account ``kf``'s key trades (``kf`` must be in-process).

        ``steady=True`` when nothing but this process's requests changes the
        exchange and its ledger never reloads its accounts (a backtest's
        replay exchange); a served or persisted simulator is not steady.
        """
        exchange = kf.sim
        full = exchange.credentials("full").key
        return cls(exchange, exchange.keys[full].account_id, steady=steady)

    def _account(self) -> Any:
        engine = self.exchange.engine
        found = engine.accounts.get(self.account_id)  # no unit of work: read only, every bar
        return found if found is not None else engine.account(
            self.account_id, self.exchange.clock.now_ms()
        )

    def take(self) -> list[Event]:
        steady = self._steady_log
        if steady is not None and len(steady) == self._log_seen:
            return []
        account = self._account()
        log = account.log
        if len(log) == self._log_seen:
            return []
        fills = {f.fill_id: f for f in account.fills[self._fills_seen :]}
        self._fills_seen = len(account.fills)
        events: list[Event] = []
        for entry in log[self._log_seen :]:
            funding = entry.realized_funding
            if entry.info == _FUNDING_INFO or (funding and entry.execution):
                if funding:
                    rate = entry.funding_rate if entry.info == _FUNDING_INFO else None
                    events.append(Funding(_stamp(entry.date_ms), str(entry.contract).upper(),
                                          float(funding), rate))
            fill = fills.pop(entry.execution, None) if entry.execution else None
            if fill is not None:
                events.append(fill_from_feed(fill.ws(0, update=True)))
        self._log_seen = len(log)
        return events


class RestTap:
    """Fills and funding through the REST API, for an exchange in another process."""

    def __init__(self, kf: Client) -> None:
        self.kf = kf
        self._fills_seen: set[str] = set()
        self._log_seen: set[int] = set()
        self.take()  # what happened before the run is not the run's


    def take(self) -> list[Event]:
        fills = self.kf.fills(progress=False)
        log = self.kf.account_log(since="1d", progress=False)
        fees: dict[str, tuple[float, str]] = {}
        events: list[tuple[pd.Timestamp, int, Event]] = []
        log = log.sort_values("id")
        for time, row in zip(pd.DatetimeIndex(log.index), log.to_dict("records"), strict=True):
            entry_id = int(row["id"])
            if entry_id in self._log_seen or bool(row.get("is_position_leg")):
                continue
            self._log_seen.add(entry_id)
            execution = row.get("execution")
            if isinstance(execution, str) and execution:
                fees[execution] = (float(row.get("fee") or 0.0), str(row.get("currency")).upper())
            funding = row.get("realized_funding")
            if isinstance(funding, float) and funding == funding and funding != 0.0:
                rate = row.get("funding_rate") if row.get("info") == _FUNDING_INFO else None
                events.append((time, 0, Funding(
                    time, str(row.get("contract")).upper(), funding,
                    None if rate is None or rate != rate else float(rate))))
        for when, fill in zip(pd.DatetimeIndex(fills.index), fills.to_dict("records"),
                              strict=True):
            fill_id = str(fill["fill_id"])
            if fill_id in self._fills_seen:
                continue
            self._fills_seen.add(fill_id)
            fee, currency = fees.get(fill_id, (0.0, "USD"))
            cli = fill.get("cli_ord_id")
            events.append((when, 1, Fill(
                when, str(fill["symbol"]).upper(), str(fill["side"]),
                float(fill["size"]), float(fill["price"]), fee, currency, str(fill["fill_type"]),
                str(fill["order_id"]), cli if isinstance(cli, str) else None, fill_id)))
        events.sort(key=lambda item: (item[0], item[1]))
        return [event for _, _, event in events]
