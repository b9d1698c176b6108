"""The Binder environment: its requirements build a working kfresearch that runs notebook 00."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_binder_files_pin_python_and_install_the_package() -> None:
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    lines = [
        line.strip()
        for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert "." in lines


@pytest.mark.slow
def test_binder_requirements_build_a_venv_that_runs_notebook_00(tmp_path: Path) -> None:
    env_dir = tmp_path / "binder-venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    # the Binder base image brings the kernel machinery; we add it to our fresh venv
    subprocess.run([*pip, "-r", "binder/requirements.txt", "nbclient", "ipykernel"],
                   cwd=ROOT, check=True, timeout=900)
    code = (
        "import nbformat, kfresearch\n"
        "from nbclient import NotebookClient\n"
        f"nb = nbformat.read({str(ROOT / 'notebooks' / '00-start-here.ipynb')!r}, as_version=4)\n"
        "NotebookClient(nb, timeout=120, kernel_name='python3').execute()\n"
        "text = ''.join(o.get('text', '') + str(o.get('data', {}).get('text/plain', ''))\n"
        "               for c in nb.cells if c.cell_type == 'code' for o in c.outputs)\n"
        "print(kfresearch.__file__)\n"
        "assert 'result: OK' in text, text\n"
        "assert 'PF_XBTUSD' in text\n"
    )
    env = {**os.environ, "KFRESEARCH_SIM_SEED": "42", "KFRESEARCH_SIM_NOW": "2026-11-01T00:00:00Z",
           "PATH": f"{env_dir / 'bin'}:{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    # run outside the checkout so that only the installed package can be imported
    out = subprocess.run([str(python), "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=600, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert str(env_dir) in out.stdout  # kfresearch came from the Binder venv, not ours
    assert sys.prefix not in out.stdout
