"""What the order ticket and the panels share: the environment badge, guarded
callbacks, number formatting and a timed refresher that stops with its widget.

Callbacks of ``on_click``/``observe`` run in the kernel where JupyterLab shows
none of their exceptions (style-and-pitfalls, trap 7): every callback of our
widgets goes through :func:`guarded`, which logs the exception and writes it
into the widget's visible status area.
"""

from __future__ import annotations

import functools
import html
import logging
import math
import threading
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from kfresearch.contracts import currency_decimals, decimals
from kfresearch.environments import Environment
from kfresearch.errors import KFError

__all__ = [
    "Refresher",
    "amount_text",
    "badge_html",
    "error_html",
    "fmt",
    "guarded",
    "note_html",
    "ok_html",
    "price_text",
    "size_text",
]

log = logging.getLogger("kfresearch.widgets")

P = ParamSpec("P")
R = TypeVar("R")

# name -> (label, background colour)
_BADGES = {
    "sim": ("SIM · synthetic prices", "#57606a"),
    "demo": ("DEMO · live prices · paper money", "#1a7f37"),
    "live": ("LIVE", "#cf222e"),
}


class ShowsErrors(Protocol):
    def _show_error(self, error: BaseException) -> None: ...


W = TypeVar("W", bound=ShowsErrors)


def guarded(method: Callable[Concatenate[W, P], R]) -> Callable[Concatenate[W, P], R | None]:
    """Route any exception of a widget callback to the log and the widget's status area."""

    @functools.wraps(method)
    def wrapper(self: W, /, *args: P.args, **kwargs: P.kwargs) -> R | None:
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:
            log.exception("%s: %s failed", type(self).__name__, method.__name__)
            try:
                self._show_error(exc)
            except Exception:  # pragma: no cover - showing the error must never raise
                log.exception("%s: could not show the error", type(self).__name__)
            return None

    return wrapper


def badge_html(env: Environment, *, allow_trading: bool = True) -> str:
    """The environment as a coloured badge, saying where prices and money come from.

    Grey "SIM · synthetic prices", green "DEMO · live prices · paper money",
    red "LIVE".

    >>> from kfresearch.environments import resolve_environment
    >>> "DEMO · live prices · paper money" in badge_html(resolve_environment("demo"))
    True
    """
    label, colour = _BADGES.get(env.name, (env.name.upper(), "#0969da"))
    if env.real_money:
        label, colour = "LIVE", "#cf222e"
    badge = (
        f'<span class="kfr-badge" style="background:{colour};color:white;font-weight:bold;'
        f'padding:2px 8px;border-radius:4px">{html.escape(label)}</span>'
    )
    if env.real_money and not allow_trading:
        badge += (
            ' <span style="color:#cf222e">trading disabled: connect with '
            "allow_trading=True or set KFRESEARCH_ALLOW_LIVE_TRADING=1</span>"
        )
    return badge


def fmt(value: float | None, digits: int = 2, *, sign: bool = False) -> str:
    """``1234.5`` → ``'1,234.50'``; None or NaN → ``'–'``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:+,.{digits}f}" if sign else f"{value:,.{digits}f}"


def price_text(value: float | None, tick: float | None, unit: str = "USD") -> str:
    """A price on the contract's tick with its unit: ``2647.3404`` at tick 0.01 →
    ``'2,647.34 USD'``; no tick: as many decimals as the value has, up to 8."""
    if value is None or math.isnan(value):
        return "–"
    if tick:
        body = f"{value:,.{decimals(tick)}f}"
    else:
        body = f"{value:,.8f}".rstrip("0").rstrip(".")
    return f"{body} {unit}".rstrip()


def amount_text(value: float | None, currency: str, *, sign: bool = False) -> str:
    """Money in its currency: USD to the cent (``'-0.13 USD'``), coins to 8 decimals
    (``'0.00012979 XBT'``)."""
    if value is None or math.isnan(value):
        return "–"
    return f"{fmt(value, currency_decimals(currency), sign=sign)} {currency}"


def size_text(value: float | None, step: float | None = None) -> str:
    """Contracts on their step with thousands separators: ``12500`` → ``'12,500'``,
    ``0.5`` at step 0.001 → ``'0.5'`` (no trailing zeros)."""
    if value is None or math.isnan(value):
        return "–"
    places = decimals(step) if step else 8
    text = f"{value:,.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def error_html(text: str) -> str:
    return f'<span style="color:#cf222e">{html.escape(text)}</span>'


def ok_html(text: str) -> str:
    return f'<span style="color:#1a7f37">{html.escape(text)}</span>'


def note_html(text: str) -> str:
    return f'<span style="color:#57606a">{html.escape(text)}</span>'


def describe_error(error: BaseException) -> str:
    """A one-line message for the status area (the exception's own text for ours)."""
    if isinstance(error, KFError):
        return str(error)
    return f"{type(error).__name__}: {error}"


class Refresher:
    """Calls ``action`` every ``interval`` seconds from a daemon thread until :meth:`stop`.

    The widgets stop it in their ``close()``, so a closed widget stops
    asking the exchange. ``action`` must handle its own errors (the widgets
    pass a :func:`guarded` method).
    """

    def __init__(self, action: Callable[[], Any], interval: float, name: str) -> None:
        if not interval > 0:
            raise ValueError(f"refresh interval must be positive seconds, got {interval!r}")
        self.interval = float(interval)
        self.runs = 0
        self._action = action
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> Refresher:
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._action()
            self.runs += 1

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.interval + 10)
