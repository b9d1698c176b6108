"""The order ticket in a real browser: JupyterLab on loopback, Debian's chromium, Playwright.

The test serves the simulator (``kfresearch sim serve``) and JupyterLab on free
loopback ports, opens a generated notebook that shows an ``OrderTicket`` on
that simulator, runs it, fills the ticket (size, price), clicks Submit, waits
for the result, and then asks the simulator over REST whether the order is
there. A screenshot is saved under pytest's tmp dir (its path is printed).

Skipped, with the reason, when ``chromium`` or Playwright is missing. Never
downloads a browser: Playwright drives ``shutil.which("chromium")``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.browser

NOW = "2026-11-01T00:00:00Z"
TOKEN = "kfresearch-browser-test"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for(url: str, process: subprocess.Popen[bytes], what: str, log: Path,
              timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{what} did not answer at {url} in {timeout:.0f}s:\n"
                       f"{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; "
                    "`make browser` does it)")
    pytest.importorskip("playwright.sync_api", reason="Python Playwright is not installed")
    if not (BIN / "jupyter-lab").exists():
        pytest.skip(f"jupyter-lab is not installed next to {sys.executable}")
    return path


@pytest.fixture
def sim_url(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    log = tmp_path / "sim.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "kfresearch.cli", "sim", "serve", "--port", str(port),
             "--now", NOW, "--seed", "42"],
            stdout=out, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{url}/derivatives/api/v3/instruments", process, "kfresearch sim serve", log)
        yield url
    finally:
        _stop(process)


def _notebook(sim_url: str) -> dict[str, object]:
    source = (
        "import kfresearch\n"
        "from kfresearch.widgets import OrderTicket\n"
        f"kf = kfresearch.connect('sim', base_url={sim_url!r})\n"
        "ticket = OrderTicket(kf, 'PF_XBTUSD')\n"
        "ticket"
    )
    return {
        "cells": [{"cell_type": "code", "execution_count": None, "id": "ticket",
                   "metadata": {}, "outputs": [], "source": source}],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                    "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@pytest.fixture
def lab_url(tmp_path: Path, sim_url: str) -> Iterator[str]:
    root = tmp_path / "notebooks"
    root.mkdir()
    (root / "ticket.ipynb").write_text(json.dumps(_notebook(sim_url)))
    settings = tmp_path / "settings"
    plugin = settings / "@jupyterlab" / "apputils-extension"
    plugin.mkdir(parents=True)
    # JupyterLab's news toast would cover the page
    (plugin / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    # start the notebook's kernel without asking (no "Select Kernel" dialog)
    notebook = settings / "@jupyterlab" / "notebook-extension"
    notebook.mkdir(parents=True)
    (notebook / "tracker.jupyterlab-settings").write_text(
        json.dumps({"autoStartDefaultKernel": True})
    )
    port = _free_port()
    env = os.environ | {
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "IPYTHONDIR": str(tmp_path / "ipython"),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    log = tmp_path / "lab.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "jupyter-lab"), "--no-browser", "--ServerApp.ip=127.0.0.1",
             f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
             f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}",
             f"--LabApp.user_settings_dir={settings}",
             f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
             *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{url}/api/status?token={TOKEN}", process, "jupyter lab", log, timeout=90)
        yield url
    finally:
        _stop(process)


def test_order_ticket_in_jupyterlab(chromium: str, lab_url: str, sim_url: str,
                                    tmp_path: Path) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect, sync_playwright

    screenshot = tmp_path / "order-ticket.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            console: list[str] = []
            page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
            page.goto(f"{lab_url}/lab/tree/ticket.ipynb?token={TOKEN}")
            page.locator(".jp-Notebook").first.wait_for()
            dialog = page.locator(".jp-Dialog").get_by_role("button", name="Select")
            with contextlib.suppress(PlaywrightTimeout):  # only if the setting did not apply
                dialog.click(timeout=3_000)
            # the kernel must be up before the cells run
            expect(page.locator(".jp-Notebook-ExecutionIndicator").first).to_have_attribute(
                "data-status", "idle", timeout=90_000
            )
            expect(page.get_by_text("Python 3 (ipykernel) | Idle")).to_be_visible(timeout=90_000)
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
            ticket = page.locator(".kfr-ticket")
            ticket.wait_for(timeout=90_000)
            expect(page.locator(".kfr-preview")).to_contain_text("best bid / ask")

            size = page.locator(".kfr-size input")
            size.fill("0.001")
            size.press("Enter")
            price = page.locator(".kfr-limit-price input")
            price.fill("70000")
            price.press("Enter")
            expect(page.locator(".kfr-preview")).to_contain_text("70.00 USD")  # notional
            page.locator("button.kfr-submit").click()
            result = page.locator(".kfr-result")
            expect(result).to_contain_text("Resting on the book at 70,000 USD", timeout=60_000)
            shown = result.inner_text()
            ticket.screenshot(path=str(screenshot))
        except Exception:
            failure = tmp_path / "failure.png"
            page.screenshot(path=str(failure), full_page=True)
            print(f"\nscreenshot of the failure: {failure}")
            print("browser console:\n" + "\n".join(console[-40:]))
            raise
        finally:
            browser.close()
    print(f"\nscreenshot of the order ticket: {screenshot}")
    assert screenshot.stat().st_size > 0

    import kfresearch

    with kfresearch.connect("sim", base_url=sim_url) as kf:
        orders = kf.open_orders()
    mine = orders[(orders["limit_price"] == 70000.0) & (orders["unfilled_size"] == 0.001)]
    assert len(mine) == 1, orders
    order_id = str(mine.index[0])
    assert order_id in shown
    assert mine.loc[order_id, "side"] == "buy"
    assert mine.loc[order_id, "symbol"] == "PF_XBTUSD"
