"""Bayes in 20 dimensions and over 1,000 trials, measured through ``raysweep.run``.

Usage::

    python benchmarks/bench_bayes_scale.py [speed] [quality] [--trials 1000] [--seeds 10]
        [--budget 100] [--json out.json]

``speed``: a sweep of ``--trials`` trials on ``hartmann6in20`` (Hartmann-6 embedded in 20
dimensions) with instant function trials on a private local Ray with 2 CPUs, once with
``method: bayes`` and once with ``method: random`` (the same run; random's time per trial is
what Ray Tune and raysweep cost without a model). The time per trial in a window is the span
of the window's trial starts (``trials.jsonl``) divided by its size; bayes minus random is what
the model costs per trial there. The searcher's own record of how long the proposer took for
each of the sweep's last 100 proposals (``searcher.json``: ``propose_seconds``) is the
suggestion time in that sweep; the proposer driven directly (median of 15 suggestions, each
observed before the next, after 500 and 1,000 random observations) is shown beside it.

``quality``: each problem (``hartmann6in20``, ``levy10``, ``ackley5``) as a bayes sweep through
``raysweep.run`` with default settings (2 CPUs: 2 trials at once), ``--budget`` trials, for
every seed; regret = best loss minus the known minimum. Baselines in the same run: Optuna's
TPE (constant liar) with 2 trials at once and raysweep's random search (see
``bench_bayes_parallel.py`` for how they are driven); ``--gp`` adds Optuna's GP sampler.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from multiprocessing import get_context  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import problems  # noqa: E402
from bench_bayes import speed_raysweep  # noqa: E402
from bench_bayes_parallel import _summary, run_baseline  # noqa: E402
from bench_run import _ray_init  # noqa: E402
from problems import PROBLEMS  # noqa: E402

WINDOWS = ((0, 100), (400, 500), (900, 1000))


def _sweep(name: str, method: str) -> dict[str, Any]:
    return {**PROBLEMS[name].sweep, "method": method}


def _start_times(path: Path) -> list[float]:
    from raysweep.analysis.tables import read_trials

    return sorted(float(e["started"]) for e in read_trials(path) if e.get("started"))


def speed_sweeps(trials: int, storage: Path) -> dict[str, Any]:
    """Seconds per trial in each window, bayes and random, through raysweep.run."""
    import raysweep

    objective = PROBLEMS["hartmann6in20"].objective

    def train(config: dict[str, Any]) -> None:
        raysweep.log({"loss": float(objective(config))})

    out: dict[str, Any] = {}
    for method in ("bayes", "random"):
        start = time.perf_counter()
        result = raysweep.run(_sweep("hartmann6in20", method), function=train, count=trials,
                              seed=0, storage=storage, name=method)
        wall = time.perf_counter() - start
        starts = _start_times(result.path)
        state = json.loads((result.path / "searcher.json").read_text(encoding="utf-8"))
        # The proposer's own time for each of the sweep's last 100 proposals.
        recent = state.get("propose_seconds") or [math.nan]
        windows = {}
        for lo, hi in WINDOWS:
            if hi <= len(starts):
                windows[f"{lo + 1}-{hi}"] = (starts[hi - 1] - starts[lo]) / (hi - lo - 1)
        out[method] = {"wall": wall, "trials": len(starts), "per_trial": windows,
                       "propose_last_100": {"median": statistics.median(recent),
                                            "max": max(recent)}}
        shutil.rmtree(result.path, ignore_errors=True)
        print(method, out[method], flush=True)
    return out


def quality_sweeps(
    names: list[str], seeds: int, budget: int, storage: Path
) -> dict[str, list[float]]:
    import raysweep

    out: dict[str, list[float]] = {}
    for name in names:
        problem = PROBLEMS[name]
        objective = problem.objective

        def train(config: dict[str, Any], objective: Any = objective) -> None:
            raysweep.log({"loss": float(objective(config))})

        for seed in range(seeds):
            result = raysweep.run(problem.sweep, function=train, count=budget, seed=seed,
                                  storage=storage, name=f"{name}-{seed}")
            regret = max(0.0, float(result.trials["loss_best"].min()) - problem.minimum)
            out.setdefault(f"raysweep/{name}/2", []).append(regret)
            shutil.rmtree(result.path, ignore_errors=True)
            print(f"raysweep {name} seed {seed}: regret {regret:.3g}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("parts", nargs="*", default=["speed", "quality"])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--problems", nargs="+", default=["hartmann6in20", "levy10", "ackley5"])
    parser.add_argument("--gp", action="store_true", help="also Optuna's GP sampler (slow)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import cloudpickle
    import ray

    cloudpickle.register_pickle_by_value(problems)
    report: dict[str, Any] = {"date": str(datetime.date.today())}
    tmp = tempfile.mkdtemp(prefix="rsb", dir="/tmp")
    storage = Path(tmp) / "results"
    futures = []
    pool = None
    if "quality" in args.parts:
        methods = ["tpe", "random"] + (["optuna-gp"] if args.gp else [])
        jobs = [(m, name, seed, 2 if m != "random" else 1, args.budget)
                for name in args.problems for m in methods for seed in range(args.seeds)]
        pool = ProcessPoolExecutor(1, mp_context=get_context("spawn"))
        futures = [pool.submit(run_baseline, job) for job in jobs]
    _ray_init(2, tmp)
    try:
        if "speed" in args.parts:
            report["proposer"] = {n: speed_raysweep(15, "hartmann6in20", n) for n in (500, 1000)}
            print("proposer:", report["proposer"], flush=True)
            report["sweeps"] = speed_sweeps(args.trials, storage)
        if "quality" in args.parts:
            report["regret"] = quality_sweeps(args.problems, args.seeds, args.budget, storage)
    finally:
        ray.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    for future in futures:
        (method, name, _seed, workers), regret = future.result()
        report["regret"].setdefault(f"{method}/{name}/{workers}", []).append(regret)
    if pool is not None:
        pool.shutdown()

    print()
    if "sweeps" in report:
        print("| method | " + " | ".join(f"s/trial, trials {w}" for w in
                                         report["sweeps"]["bayes"]["per_trial"]) + " |")
        print("|---|" + "---|" * len(report["sweeps"]["bayes"]["per_trial"]))
        for method, row in report["sweeps"].items():
            cells = " | ".join(f"{v:.3f}" for v in row["per_trial"].values())
            print(f"| {method} | {cells} |")
        for method, row in report["sweeps"].items():
            print(f"{method}: proposer's time for the sweep's last 100 proposals: median "
                  f"{row['propose_last_100']['median']:.3f} s, max "
                  f"{row['propose_last_100']['max']:.3f} s")
        print("proposer driven directly, 20-D:", {n: {k: round(v, 3) for k, v in d.items()}
                                                  for n, d in report["proposer"].items()})
    if "regret" in report:
        print(f"\n| problem | method | regret at {args.budget} |\n|---|---|---|")
        for name in args.problems:
            for key in sorted(k for k in report["regret"] if k.split("/")[1] == name):
                print(f"| {name} | {key.split('/')[0]} (W={key.split('/')[2]}) | "
                      f"{_summary(report['regret'][key])} |")
    if args.json:
        args.json.write_text(json.dumps(report))


if __name__ == "__main__":
    main()
