"""``import kfresearch`` loads only the exceptions; everything else loads on first use."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("httpx", "plotly", "ipywidgets", "pyarrow", "websockets")
ON_FIRST_USE = ("asyncio", "pandas", "kfresearch.client", "kfresearch.frames",
                "kfresearch.trading", "kfresearch.orders")


def _loaded_after(code: str, names: tuple[str, ...]) -> list[str]:
    probe = f"import sys\n{code}\nprint(','.join(n for n in {names!r} if n in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout.strip()
    return [name for name in out.split(",") if name]


def test_import_kfresearch_loads_nothing_heavy() -> None:
    assert _loaded_after("import kfresearch", HEAVY + ON_FIRST_USE) == []
    # catching errors needs nothing more
    assert _loaded_after("import kfresearch\nkfresearch.KFError, kfresearch.ValidationError",
                         HEAVY + ON_FIRST_USE) == []


def test_names_load_what_they_need_on_first_use() -> None:
    assert _loaded_after("import kfresearch\nkfresearch.Send", ("httpx", "kfresearch.client")) \
        == []
    loaded = _loaded_after("import kfresearch\nkfresearch.connect", HEAVY + ON_FIRST_USE)
    assert {"httpx", "pandas", "kfresearch.client", "kfresearch.trading"} <= set(loaded)
    assert not {"plotly", "ipywidgets", "websockets"} & set(loaded)  # charts, widgets, stream
