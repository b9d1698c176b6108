"""The account's orders and recent fills, kept from the ``executions`` channel.

The private connection subscribes ``executions`` (``snap_orders``,
``snap_trades``) when it opens; :class:`Executions` folds the snapshot and
every update into the account's open orders, its recently closed ones (for
``kf.order_status``) and its last fills, newest first as ``/fills`` lists
them. Pure state, no I/O: the adapter feeds it pushes.

Reports are sparse (reference kraken-unified-ws.md §6: only ``exec_type`` is
always present), so each is merged into what is known of its order. A fill
is a ``trade`` report with ``last_qty``; the ``filled`` report that follows an
order's last fill only closes the order. ``sequence`` numbers each message;
a gap means a report was lost, and :meth:`Executions.on_push` says so (the
adapter then reads the account afresh).

Example
-------
>>> ex = Executions()
>>> ex.on_push("snapshot", [{"exec_type": "new", "order_id": "o1", "cl_ord_id": "c1",
...                          "order_status": "new", "order_qty": 1.0}], sequence=1)
True
>>> ex.on_push("update", [{"exec_type": "canceled", "order_id": "o1"}], sequence=2)
True
>>> list(ex.open), ex.find(None, "c1")["order_status"]
([], 'canceled')
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["TERMINAL", "Executions"]

#: order statuses after which an order is no longer open
TERMINAL = frozenset({"filled", "canceled", "cancelled", "expired"})
_KEEP_CLOSED = 1000  # closed orders remembered for order_status lookups
_KEEP_FILLS = 1000


class Executions:
    """Open orders, recently closed orders and recent fills (see the module docstring)."""

    def __init__(self) -> None:
        self.open: dict[str, dict[str, Any]] = {}
        self.closed: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.fills: deque[dict[str, Any]] = deque(maxlen=_KEEP_FILLS)
        self._watchers: dict[str, list[dict[str, Any]]] = {}
        self._sequence: int | None = None
        self.gaps = 0

    def restart(self) -> None:
        """A new connection: its snapshot starts the sequence again."""
        self._sequence = None

    def on_push(self, kind: str, data: Iterable[Any], sequence: Any = None) -> bool:
        """Fold one ``executions`` message in; False when ``sequence`` shows a lost one."""
        in_order = True
        if isinstance(sequence, int) and not isinstance(sequence, bool):
            if kind != "snapshot" and self._sequence is not None \
                    and sequence != self._sequence + 1:
                self.gaps += 1
                in_order = False
            self._sequence = sequence
        reports = [r for r in data if isinstance(r, Mapping)]
        if kind == "snapshot":
            self.open.clear()
            self.fills.clear()
        for report in reports:
            self._apply(report, snapshot=kind == "snapshot")
        return in_order

    def watch(self, keys: Iterable[str]) -> list[dict[str, Any]]:
        """Collect the reports of the orders with these ids or client ids (until
        :meth:`unwatch`): what an order request caused, pushed before its answer."""
        seen: list[dict[str, Any]] = []
        for key in keys:
            if key:
                self._watchers[key] = seen
        return seen

    def unwatch(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._watchers.pop(key, None)

    def find(self, order_id: str | None, client_order_id: str | None) -> dict[str, Any] | None:
        """The order (open first, then closed) by id or client order id."""
        for table in (self.open, self.closed):
            if order_id and order_id in table:
                return table[order_id]
            if client_order_id:
                for order in table.values():
                    if order.get("cl_ord_id") == client_order_id:
                        return order
        return None

    def _apply(self, report: Mapping[str, Any], *, snapshot: bool) -> None:
        order_id = str(report.get("order_id") or "")
        known = self.open.get(order_id) or self.closed.get(order_id) or {}
        kind = str(report.get("exec_type") or "")
        if kind == "trade" and report.get("last_qty") is not None:
            # newest first, as /fills lists them (snapshots and updates come oldest first)
            fill = {**{k: known.get(k) for k in ("symbol", "side", "cl_ord_id")}, **report}
            if not any(f.get("exec_id") == fill.get("exec_id") for f in self.fills):
                self.fills.appendleft(fill)
        for key in (order_id, str(report.get("cl_ord_id") or known.get("cl_ord_id") or "")):
            if key and key in self._watchers:
                self._watchers[key].append(dict(report))
        if not order_id or (snapshot and kind == "trade" and not known):
            return  # a snapshot fill of an order that is no longer open
        merged = {**known, **{k: v for k, v in report.items() if v is not None}}
        merged.setdefault("first_timestamp", report.get("timestamp"))
        status = str(merged.get("order_status") or "")
        if kind in ("canceled", "expired"):
            status = kind
        if kind == "filled":
            status = "filled"
        merged["order_status"] = status or "new"
        if merged["order_status"] in TERMINAL:
            self.open.pop(order_id, None)
            self.closed[order_id] = merged
            self.closed.move_to_end(order_id)
            while len(self.closed) > _KEEP_CLOSED:
                self.closed.popitem(last=False)
        else:
            self.open[order_id] = merged
