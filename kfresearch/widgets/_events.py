"""Account changes announced between the widgets of one client.

When the ticket places an order, or a panel cancels one or closes a position,
the other widgets made on the same :class:`~kfresearch.Client` must show it
without a click on Refresh. The widget that changed the account calls
:func:`announce`; every listener registered with :func:`subscribe` on that
client is called, except the sender's own (it refreshes itself). Widgets need
no wiring: making them on the same client connects them.

Subscriptions hold weak references (to the client and to the bound method),
so the registry keeps nothing alive; ``close()`` unsubscribes explicitly.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["Listener", "announce", "subscribe", "unsubscribe"]

#: Called with the widget that changed the account.
Listener = Callable[[Any], None]

_lock = threading.Lock()
_listeners: weakref.WeakKeyDictionary[Any, list[weakref.WeakMethod[Listener]]] = (
    weakref.WeakKeyDictionary()
)


def subscribe(client: Any, listener: Listener) -> None:
    """Call ``listener(sender)`` (a bound method) whenever a widget on ``client`` announces."""
    with _lock:
        refs = _listeners.setdefault(client, [])
        refs[:] = [ref for ref in refs if ref() is not None]
        refs.append(weakref.WeakMethod(listener))


def unsubscribe(client: Any, listener: Listener) -> None:
    """Stop calling ``listener`` (nothing happens if it was not subscribed)."""
    with _lock:
        refs = _listeners.get(client, [])
        refs[:] = [ref for ref in refs if ref() is not None and ref() != listener]


def announce(client: Any, sender: Any) -> int:
    """Tell every listener on ``client`` but ``sender`` that the account changed.

    Returns
    -------
    int
        How many listeners were called. Listeners handle their own errors (the
        widgets' are :func:`~kfresearch.widgets._common.guarded`).
    """
    with _lock:
        refs = list(_listeners.get(client, []))
    called = 0
    for ref in refs:
        listener = ref()
        if listener is None or getattr(listener, "__self__", None) is sender:
            continue
        listener(sender)
        called += 1
    return called
