"""What ``import kfresearch`` costs, against ``import pandas``: fresh processes, interleaved.

Each round starts one fresh interpreter per command, in turn (A, B, A, B, ...),
and times the whole process from outside (interpreter start-up included, the
same for both). The ratio A/B is taken round by round, so a machine that slows
down during the run moves both sides alike. Prints medians and the spread
(min-max) of each command and of the ratios, as a markdown table.

Run: ``python -m bench.imports`` (``make bench`` runs it). ``--rounds N`` sets
the number of rounds; ``--path DIR`` puts another checkout of the package first
on ``sys.path`` (to measure a version before a change).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

#: The commands compared; the first is the yardstick.
COMMANDS: dict[str, str] = {
    "import pandas": "import pandas",
    "import kfresearch": "import kfresearch",
    "first use: kfresearch.connect": "import kfresearch; kfresearch.connect",
}


def run_once(code: str, env: dict[str, str]) -> float:
    """Seconds one fresh interpreter takes to run ``code`` and exit."""
    start = time.perf_counter()
    # from a neutral directory: the checkout's own folder would shadow --path
    subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], env=env, check=True, cwd=tempfile.gettempdir()
    )
    return time.perf_counter() - start


def measure(rounds: int, path: str | None) -> dict[str, list[float]]:
    """Per command, the wall seconds of each round (commands interleaved within a round)."""
    env = dict(os.environ)
    if path:
        env["PYTHONPATH"] = path + os.pathsep + env.get("PYTHONPATH", "")
    for code in COMMANDS.values():  # warm the file cache once; not counted
        run_once(code, env)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(rounds):
        for name, code in COMMANDS.items():
            times[name].append(run_once(code, env))
    return times


def report(times: dict[str, list[float]]) -> str:
    """A markdown table: median and spread of each command, and of its ratio to pandas."""
    base = times["import pandas"]
    lines = [
        "| command | median ms | min–max ms | ratio to `import pandas`: median | min–max |",
        "|---|---|---|---|---|",
    ]
    for name, values in times.items():
        ratios = [a / b for a, b in zip(values, base, strict=True)]
        lines.append(
            f"| `{name}` | {statistics.median(values) * 1000:.0f} | "
            f"{min(values) * 1000:.0f}–{max(values) * 1000:.0f} | "
            f"{statistics.median(ratios):.2f}x | {min(ratios):.2f}–{max(ratios):.2f}x |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--path", help="a checkout to import kfresearch from instead")
    args = parser.parse_args(argv)
    times = measure(args.rounds, args.path)
    print(f"python {sys.version.split()[0]}, {args.rounds} interleaved rounds, fresh processes")
    print(report(times))


if __name__ == "__main__":
    main()
