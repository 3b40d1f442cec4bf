"""Warm start: trials bayes needs to reach Branin regret 0.01, with 20 earlier trials or none.

Usage::

    python benchmarks/bench_warm_start.py [--seeds 5] [--max-trials 60] [--json out.json]

For each seed, a sweep of ``method: bayes`` on Branin runs through :func:`raysweep.run` with
function trials, one at a time (``max_concurrent_trials=1``), and ``metric.target`` set to
the minimum + 0.01, so it ends at the first trial that reaches regret 0.01 (or after
``--max-trials``). "warm" gets ``warm_start=`` a CSV of 20 uniformly random earlier points
(drawn with the seed + 1000) and their values; "cold" gets none. The table gives, per seed, the
trials of the new sweep that ran (the earlier 20 are not counted: they are not its trials),
and the median; a sweep that never reached the target counts as ``> max``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

BRANIN_MIN = 0.397887
REGRET = 0.01


def branin(x1: float, x2: float) -> float:
    b = 5.1 / (4 * math.pi**2)
    c = 5 / math.pi
    t = 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def train(config: dict[str, Any]) -> None:
    import math

    import raysweep

    x1, x2 = config["x1"], config["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    raysweep.log({"loss": (x2 - b * x1**2 + c * x1 - 6) ** 2
                  + 10 * (1 - t) * math.cos(x1) + 10})


def earlier_csv(path: Path, seed: int, n: int = 20) -> float:
    """Write ``n`` random earlier trials; return their best regret."""
    rng = np.random.default_rng(seed + 1000)
    x1, x2 = rng.uniform(-5, 10, n), rng.uniform(0, 15, n)
    loss = [branin(a, b) for a, b in zip(x1, x2, strict=True)]
    pd.DataFrame({"x1": x1, "x2": x2, "loss": loss}).to_csv(path, index=False)
    return min(loss) - BRANIN_MIN


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--max-trials", type=int, default=60)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import ray

    import raysweep

    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    # Functions defined in __main__ reach the workers by value.
    sweep = {
        "method": "bayes",
        "metric": {"name": "loss", "goal": "minimize", "target": BRANIN_MIN + REGRET},
        "parameters": {"x1": {"min": -5.0, "max": 10.0}, "x2": {"min": 0.0, "max": 15.0}},
    }
    rows = []
    with tempfile.TemporaryDirectory(prefix="bws") as tmp:
        root = Path(tmp)
        for seed in range(args.seeds):
            csv = root / f"earlier{seed}.csv"
            earlier_regret = earlier_csv(csv, seed)
            for kind in ("cold", "warm"):
                started = time.monotonic()
                result = raysweep.run(
                    {**sweep, "raysweep": {"seed": seed}}, function=train,
                    count=args.max_trials, storage=root / "res", name=f"{kind}{seed}",
                    max_concurrent_trials=1, warm_start=[csv] if kind == "warm" else None,
                )
                best = float(result.trials["loss_best"].min()) - BRANIN_MIN
                reached = best <= REGRET
                rows.append({"seed": seed, "kind": kind, "trials": len(result.trials),
                             "reached": reached, "regret": best,
                             "earlier_regret": earlier_regret,
                             "seconds": time.monotonic() - started})
                print(json.dumps(rows[-1]), flush=True)
    ray.shutdown()

    print(f"\nBranin, trials to regret <= {REGRET} (bayes, max {args.max_trials} trials, "
          "1 at a time; warm: + 20 random earlier trials from a CSV)")
    print(f"{'seed':>4}  {'cold':>6}  {'warm':>6}  earlier best regret")
    for seed in range(args.seeds):
        cold, warm = (next(r for r in rows if r["seed"] == seed and r["kind"] == k)
                      for k in ("cold", "warm"))
        print(f"{seed:>4}  {_shown(cold, args.max_trials):>6}  "
              f"{_shown(warm, args.max_trials):>6}  {warm['earlier_regret']:.3f}")
    for kind in ("cold", "warm"):
        counts = [r["trials"] if r["reached"] else args.max_trials + 1
                  for r in rows if r["kind"] == kind]
        print(f"median {kind}: {statistics.median(counts):g} trials"
              f" ({sum(r['reached'] for r in rows if r['kind'] == kind)}/{args.seeds} reached)")
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")


def _shown(row: dict[str, Any], cap: int) -> str:
    return str(row["trials"]) if row["reached"] else f">{cap}"


if __name__ == "__main__":
    sys.exit(main())
