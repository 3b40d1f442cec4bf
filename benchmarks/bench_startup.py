"""Start-up time of `raysweep validate` and `raysweep preview` next to a bare interpreter.

Target (issue 2): under 0.5 s more than `python -c pass`. Each command runs N times,
alternating with the baseline so machine noise hits both alike; medians are reported.

    python benchmarks/bench_startup.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SWEEP = ROOT / "examples" / "quickstart" / "sweep.yaml"
CLI = [sys.executable, "-m", "raysweep"]


def _time(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "raysweep validate": [*CLI, "validate", str(SWEEP)],
        "raysweep preview -n 10": [*CLI, "preview", str(SWEEP), "-n", "10"],
        "raysweep preview --format json": [*CLI, "preview", str(SWEEP), "--format", "json"],
        "raysweep --help": [*CLI, "--help"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.repeat):
        for name, argv in commands.items():
            times[name].append(_time(argv))
    base = statistics.median(times["python -c pass"])
    print("| command | median (s) | over `python -c pass` (s) |")
    print("|---|---|---|")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"| {name} | {med:.3f} | {med - base:+.3f} |")
    # Ray must never be imported by these commands.
    probe = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "raysweep", "validate", str(SWEEP)],
        capture_output=True, text=True, check=True,
    )
    heavy = [m for m in ("ray", "pandas", "sklearn", "bayes_opt") if f" {m}\n" in probe.stderr
             or f"| {m}\n" in probe.stderr]
    print(f"\nheavy modules imported by validate: {heavy or 'none'}")


if __name__ == "__main__":
    main()
