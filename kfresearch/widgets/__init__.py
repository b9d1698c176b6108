"""ipywidgets for trading from a notebook: :class:`OrderTicket`, :class:`OrdersPanel`,
:class:`PositionsPanel`.

Imported lazily: ``import kfresearch`` (and even ``import kfresearch.widgets``)
does not import ipywidgets; the first use of a widget class does. Widgets take a
:class:`~kfresearch.Client` and act only through it: they never sign or send
HTTP themselves.

Example
-------
>>> import kfresearch
>>> from kfresearch.widgets import OrderTicket, OrdersPanel, PositionsPanel
>>> kf = kfresearch.connect("sim")
>>> OrderTicket(kf, "PF_XBTUSD")                                        # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kfresearch.widgets.panels import OrdersPanel, PositionsPanel
    from kfresearch.widgets.ticket import OrderTicket

__all__ = ["OrderTicket", "OrdersPanel", "PositionsPanel"]

_WHERE = {
    "OrderTicket": "kfresearch.widgets.ticket",
    "OrdersPanel": "kfresearch.widgets.panels",
    "PositionsPanel": "kfresearch.widgets.panels",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'kfresearch.widgets' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
