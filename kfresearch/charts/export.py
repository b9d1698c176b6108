"""Static export of figures (PNG, SVG, PDF …) through kaleido and a system Chromium."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

from kfresearch.errors import ConfigurationError

__all__ = ["find_chromium", "save_image"]

_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_FORMATS = {"png", "svg", "pdf", "jpg", "jpeg", "webp"}


def find_chromium() -> str | None:
    """The browser kaleido will use: ``BROWSER_PATH`` when set, else the first of
    ``chromium``, ``chromium-browser``, ``google-chrome`` on ``PATH``; None if none."""
    explicit = os.environ.get("BROWSER_PATH")
    if explicit:
        return explicit
    for name in _BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def save_image(
    fig: Any,
    path: str | os.PathLike[str],
    *,
    width: int | None = None,
    height: int | None = None,
    scale: float | None = None,
) -> Path:
    """Write ``fig`` as a static image; the format comes from the file's suffix.

    Needs the ``kaleido`` package (v1) and a Chromium: Debian's ``chromium``
    is found on ``PATH``; any other browser binary can be named in
    ``BROWSER_PATH``. Nothing is downloaded.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
        Any figure, e.g. from :func:`candles_chart`.
    path : str or path-like
        ``.png``, ``.svg``, ``.pdf``, ``.jpg``/``.jpeg`` or ``.webp``.
    width, height : int, optional
        Size in layout pixels (default: the figure's, else 1000 × its height or 600).
    scale : float, optional
        Pixel density for raster formats (2 for sharp PNGs).

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    kfresearch.ConfigurationError
        Unknown suffix, kaleido not installed, or no Chromium found.

    Examples
    --------
    >>> save_image(candles_chart(kf.candles("PF_XBTUSD")), "candles.png", scale=2)
    ...                                                     # doctest: +SKIP
    PosixPath('candles.png')
    """
    target = Path(path)
    fmt = target.suffix.lower().lstrip(".")
    if fmt not in _FORMATS:
        raise ConfigurationError(
            f"save_image: cannot tell the format from {target.name!r}; use one of "
            + ", ".join(f".{f}" for f in sorted(_FORMATS))
        )
    if importlib.util.find_spec("kaleido") is None:
        raise ConfigurationError("save_image needs kaleido: pip install 'kaleido>=1'")
    browser = find_chromium()
    if browser is None or not Path(browser).exists():
        where = f"BROWSER_PATH={browser!r} does not exist" if browser else "no Chromium found"
        raise ConfigurationError(
            f"save_image needs a Chromium ({where}): install Debian's chromium "
            "(apt-get install chromium) or set BROWSER_PATH to a Chrome/Chromium binary"
        )
    previous = os.environ.get("BROWSER_PATH")
    os.environ["BROWSER_PATH"] = browser
    try:
        fig.write_image(
            str(target), format=fmt,
            width=width or fig.layout.width or 1000,
            height=height or fig.layout.height or 600,
            scale=scale,
        )
    finally:
        if previous is None:
            os.environ.pop("BROWSER_PATH", None)
    return target
