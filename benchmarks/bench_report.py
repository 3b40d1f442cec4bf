"""How long `raysweep report` takes on a big sweep, and how big the file gets.

A synthetic sweep directory (the files the recorder writes, no Ray): 2,000 trials by default,
up to 50 steps each (a fifth stopped early, some failed), four parameters (one on a log
scale, one categorical, one nested). Measured in the same run: loading the tables (the
baseline every command pays), the importance alone, building and writing the report, and the
file's size; best of ``--repeat`` runs, and the first run apart (it pays for importing
scikit-learn and plotly, as a one-off `raysweep report` does). Issue 8's bounds: build under
10 s, file under 15 MB.

    .venv/bin/python benchmarks/bench_report.py [--trials 2000] [--steps 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from raysweep.analysis.figures import importance_table
from raysweep.analysis.report import write_report
from raysweep.analysis.tables import load_results
from raysweep.files import TRIALS_LOG_FILE


def write_sweep(root: Path, trials: int, steps: int, seed: int = 0) -> Path:
    """Write a sweep directory of ``trials`` trials of up to ``steps`` steps."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    meta = {"name": root.name, "method": "random", "metric": "loss", "goal": "minimize",
            "mode": "min", "parameters": ["lr", "noise", "optimizer", "model.width"],
            "early_terminate": "hyperband", "created": 0.0}
    (root / "raysweep.json").write_text(json.dumps(meta), encoding="utf-8")
    entries = []
    with open(root / "history.jsonl", "w", encoding="utf-8") as hist:
        for i in range(trials):
            lr = float(10 ** rng.uniform(-5, -1))
            opt = str(rng.choice(["adam", "sgd", "rmsprop"]))
            config = {"lr": lr, "noise": float(rng.uniform()), "optimizer": opt,
                      "model": {"width": int(rng.choice([16, 32, 64, 128]))}}
            final = (np.log10(lr) + 3) ** 2 + 0.3 * (opt == "sgd") + 0.05 * rng.normal()
            status, reason, error, n = "finished", None, None, steps
            if i % 5 == 3:
                status, n = "stopped", int(rng.integers(1, steps // 2))
                reason = f"stopped at band {n}: above threshold"
            elif i % 23 == 11:
                status, n = "failed", int(rng.integers(0, steps))
                error = "Traceback (most recent call last):\n  ...\nValueError: diverged"
            curve = final + 3.0 / np.sqrt(1 + np.arange(n)) + 0.02 * rng.normal(size=n)
            for s in range(n):
                hist.write(json.dumps({"trial_id": f"{i:08x}", "step": s + 1,
                                       "time_s": 0.5 * (s + 1), "loss": float(curve[s]),
                                       "acc": float(1 / (1 + curve[s]))}) + "\n")
            entries.append({
                "trial_id": f"{i:08x}", "status": status, "config": config, "steps": n,
                "last": float(curve[-1]) if n else None, "best": float(curve.min()) if n else None,
                "started": 1000.0 + i, "ended": 1000.0 + i + 0.5 * n, "node": "10.0.0.1",
                "gpus": None, "error": error, "stop_reason": reason, "failures": 0, "dir": None,
            })
    (root / TRIALS_LOG_FILE).write_text("".join(json.dumps(e) + "\n" for e in entries),
                                        encoding="utf-8")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sweep = write_sweep(Path(tmp) / "bench", args.trials, args.steps)
        out = Path(tmp) / "report.html"
        load_s, imp_s, build_s = [], [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            result = load_results(sweep)
            t1 = time.perf_counter()
            importance_table(result)
            t2 = time.perf_counter()
            write_report(result, out)
            t3 = time.perf_counter()
            load_s.append(t1 - t0)
            imp_s.append(t2 - t1)
            build_s.append(t3 - t2)
        rows = len(result.history)
        size = out.stat().st_size
    print(f"{args.trials} trials, {rows} history rows; best of {args.repeat}:")
    print(f"  load_results (baseline)   {min(load_s):7.3f} s")
    print(f"  importance alone          {min(imp_s):7.3f} s   (first run: {imp_s[0]:.3f} s)")
    print(f"  build + write report      {min(build_s):7.3f} s   (first run: {build_s[0]:.3f} s;"
          " bound: 10 s)")
    print(f"  report size               {size / 1e6:7.2f} MB  (bound: 15 MB)")


if __name__ == "__main__":
    main()
