"""Bayes with several trials at once, measured through ``raysweep.run`` (the path users take).

Usage::

    python benchmarks/bench_bayes_parallel.py [--seeds 10] [--workers 1 2 4 8]
        [--problems branin hartmann6 levy4 mixed] [--budget 50] [--json out.json]

For each number of workers W a private local Ray with W CPUs is started, and each problem of
``problems.py`` runs as a bayes sweep with default settings: ``raysweep.run(problem.sweep,
function=train, count=budget, seed=seed)``, where ``train`` sleeps ``--sleep`` seconds (so that
the other W - 1 trials are still running when a proposal is made) and logs the objective. The
regret of a run is the best loss of its ``budget`` trials minus the problem's minimum; the
searcher's own record of the most proposals outstanding at once (``searcher.json``) is shown
to prove the concurrency was W and never more. The end of the output checks issue 16's target
and gives, for each method, how many sequential trials its W = 4 median is worth
(:func:`equivalent_budget`).

Baselines, in the same run, in a second process while the Ray sweeps run:

- ``tpe`` / ``optuna-gp``: Optuna's ``TPESampler`` (constant liar, the default) and
  ``GPSampler`` (which conditions on running trials) at the same parallelism, simulated
  exactly: W trials are asked, then each time the oldest is told its loss a new one is asked;
- ``wandb``: W&B's own bayes engine (``sweeps.next_run``), sequential (W = 1), as in
  ``bench_bayes.py``;
- ``random``: raysweep's random search, sequential.

Optuna (with torch) and W&B's ``sweeps`` are benchmark dependencies only (see README).
"""

from __future__ import annotations

import os

# One BLAS thread per process (before numpy is imported): the Ray sweep and the baselines
# share the two cores.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import datetime  # noqa: E402
import heapq  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from concurrent.futures import Future, ProcessPoolExecutor  # noqa: E402
from multiprocessing import get_context  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import problems  # noqa: E402
from bench_run import _ray_init  # noqa: E402
from problems import PROBLEMS  # noqa: E402

from raysweep.analysis.display import running_best  # noqa: E402

SOLVED = 0.01  # regret at or below this counts as the global basin (Hartmann-6)


# ---------------------------------------------------------------------------------------------
# raysweep, through raysweep.run
# ---------------------------------------------------------------------------------------------


def run_raysweep(name: str, seed: int, budget: int, sleep: float, storage: Path) -> dict[str, Any]:
    """One bayes sweep through ``raysweep.run`` on the Ray of this process."""
    import raysweep

    problem = PROBLEMS[name]
    objective = problem.objective

    def train(config: dict[str, Any]) -> None:
        time.sleep(sleep)
        raysweep.log({"loss": float(objective(config))})

    start = time.perf_counter()
    result = raysweep.run(
        problem.sweep, function=train, count=budget, seed=seed, storage=storage,
        name=f"{name}-{seed}",
    )
    wall = time.perf_counter() - start
    state = json.loads((result.path / "searcher.json").read_text(encoding="utf-8"))
    losses = result.trials["loss_best"].astype(float)
    # Best-so-far regret after each trial, in the order the trials started (the order of the
    # proposals): at W = 1 entry B - 1 is the regret of a run of B trials.
    by_id = dict(zip(result.trials["trial_id"], losses, strict=True))
    started = [by_id[t] for t in (result.trial_order or list(by_id)) if t in by_id]
    shutil.rmtree(result.path, ignore_errors=True)
    return {
        "regret": max(0.0, float(losses.min()) - problem.minimum),
        "curve": regret_curve(started, problem.minimum),
        "trials": int(losses.notna().sum()),
        "peak_outstanding": state.get("peak_outstanding"),
        "wall": wall,
    }


# ---------------------------------------------------------------------------------------------
# Baselines (a second process)
# ---------------------------------------------------------------------------------------------


def run_baseline(job: tuple[Any, ...]) -> tuple[tuple[str, str, int, int], float]:
    """Regret after ``budget`` evaluations of ``method`` with ``workers`` trials at once
    (:func:`run_curve`'s last entry)."""
    key, curve = run_curve(job)
    return key, curve[-1]


def run_curve(job: tuple[Any, ...]) -> tuple[tuple[str, str, int, int], list[float]]:
    """Best-so-far regret of ``method`` with ``workers`` trials at once, after each of its
    ``budget`` evaluations, in the order they were asked for (at W = 1 entry B - 1 is the
    regret of a run of B evaluations).

    ``job`` is ``(method, name, seed, workers, budget)``, optionally followed by ``jitter``
    and ``order_seed``: each trial then takes ``1 + jitter * U(0, 1)`` time units (``U``
    drawn from ``order_seed``), so trials end in a varying order, as through Ray. With no
    jitter every trial takes equally long and the oldest ends first.
    """
    method, name, seed, workers, budget = job[:5]
    jitter, order_seed = (job[5], job[6]) if len(job) > 5 else (0.0, 0)
    import bench_bayes

    bench_bayes._quiet()
    problem = PROBLEMS[name]
    ask, tell = bench_bayes.MAKERS[method](problem, seed)
    durations = np.random.default_rng(order_seed)
    running: list[tuple[float, int, dict[str, Any]]] = []  # (end time, order asked, config)
    losses = [float("inf")] * budget  # by order asked
    asked, now = 0, 0.0

    def start() -> None:
        nonlocal asked
        end = now + 1.0 + jitter * float(durations.random())
        heapq.heappush(running, (end, asked, ask()))
        asked += 1

    while asked < min(workers, budget):
        start()
    while running:
        now, i, config = heapq.heappop(running)  # the first to end (the oldest among equals)
        losses[i] = float(problem.objective(config))
        tell(config, losses[i])
        if asked < budget:
            start()
    return (method, name, seed, workers), regret_curve(losses, problem.minimum)


def regret_curve(losses: list[float], minimum: float) -> list[float]:
    """Best-so-far regret after each of ``losses`` (inf before the first finite one).

    >>> regret_curve([float("nan"), 3.0, 5.0, 1.5], 1.0)
    [inf, 2.0, 2.0, 0.5]
    """
    best = running_best(np.asarray(losses, dtype=float), "min")
    return [max(0.0, float(b) - minimum) if np.isfinite(b) else math.inf for b in best]


def equivalent_budget(curves: list[list[float]], target: float) -> int | None:
    """The fewest trials after which the median over seeds of sequential ``curves`` (best-so-far
    regrets, one list per seed) is at most ``target``; None if not within the curves.

    How many sequential trials a parallel run's median regret is worth: with steep, bimodal
    regret curves a fixed-budget ratio of medians swings by orders of magnitude for a delay of
    a few trials, this does not.

    >>> equivalent_budget([[5.0, 3.0, 1.0, 0.5], [4.0, 4.0, 2.0, 0.1]], 1.5)
    3
    >>> equivalent_budget([[5.0, 3.0]], 1.0) is None
    True
    """
    for b in range(1, min(len(c) for c in curves) + 1):
        if statistics.median(c[b - 1] for c in curves) <= target:
            return b
    return None


def worth(curves: list[list[float]], target: float) -> str:
    """:func:`equivalent_budget` in words, with its share of the budget.

    >>> worth([[5.0, 3.0, 1.0, 0.5]], 1.5), worth([[5.0, 3.0]], 1.0)
    ('3 sequential trials (75%)', 'more than 2 sequential trials')
    """
    budget = min(len(c) for c in curves)
    b = equivalent_budget(curves, target)
    if b is None:
        return f"more than {budget} sequential trials"
    return f"{b} sequential trials ({b / budget:.0%})"


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def _summary(values: list[float]) -> str:
    if not values:
        return "-"
    q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    solved = sum(v <= SOLVED for v in values)
    return f"{_fmt(statistics.median(values))} [{_fmt(q[0])}, {_fmt(q[2])}] {solved}/{len(values)}"


def table(results: dict[str, Any], names: list[str], workers: list[int]) -> str:
    methods = ["raysweep", "optuna-gp", "tpe"]
    lines = [
        "| problem | method | " + " | ".join(f"W={w}" for w in workers) + " |",
        "|---|---|" + "---|" * len(workers),
    ]
    for name in names:
        for method in methods:
            cells = [_summary(results.get(f"{method}/{name}/{w}", [])) for w in workers]
            lines.append(f"| {name} | {method} | " + " | ".join(cells) + " |")
        for method in ("wandb", "random"):
            cell = _summary(results.get(f"{method}/{name}/1", []))
            pad = " |" * (len(workers) - 1)
            lines.append(f"| {name} | {method} (sequential) | {cell} |{pad}")
    return "\n".join(lines)


def target_check(
    results: dict[str, Any], names: list[str], curves: dict[str, list[list[float]]] | None = None
) -> str:
    """The issue's target at 4 workers: median <= 2x the sequential one, below W&B's; and for
    each method with sequential curves, how many sequential trials its W = 4 median is worth
    (:func:`equivalent_budget`)."""
    lines = []
    for name in names:
        seq, par = results.get(f"raysweep/{name}/1"), results.get(f"raysweep/{name}/4")
        wandb = results.get(f"wandb/{name}/1")
        if not seq or not par:
            continue
        m1, m4 = statistics.median(seq), statistics.median(par)
        ratio = m4 / m1 if m1 > 0 else float("inf")
        below = f", W&B sequential {_fmt(statistics.median(wandb))}" if wandb else ""
        ok = ratio <= 2 and (not wandb or m4 < statistics.median(wandb))
        lines.append(
            f"- {name}: W=4 {_fmt(m4)} / W=1 {_fmt(m1)} = {ratio:.2f}x{below}: "
            f"{'met' if ok else 'NOT met'}"
        )
    for key, seq_curves in sorted((curves or {}).items()):
        method, name, workers = key.rsplit("/", 2)
        par = results.get(f"{method}/{name}/4")
        if workers != "1" or name not in names or not par or not seq_curves:
            continue
        m4 = statistics.median(par)
        lines.append(f"- {name}, {method}: W=4's median {_fmt(m4)} at {len(seq_curves[0])} "
                     f"trials is worth {worth(seq_curves, m4)}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--problems", nargs="+", default=["branin", "hartmann6", "levy4", "mixed"])
    parser.add_argument("--budget", type=int, default=50)
    parser.add_argument("--sleep", type=float, default=0.2,
                        help="seconds each trial takes (default 0.2)")
    parser.add_argument("--gp-workers", type=int, nargs="+", default=None,
                        help="worker counts for Optuna's GP sampler (slow; default: --workers)")
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import cloudpickle
    import ray

    # The trial function closes over problems.py, which Ray's workers cannot import.
    cloudpickle.register_pickle_by_value(problems)
    results: dict[str, list[float]] = {}
    curves: dict[str, list[list[float]]] = {}  # sequential runs' best-so-far regrets
    peaks: dict[str, list[int]] = {}
    walls: dict[str, list[float]] = {}
    started = time.perf_counter()
    jobs: list[tuple[str, str, int, int, int]] = []
    if not args.no_baselines:
        gp_workers = args.gp_workers or args.workers
        for name in args.problems:
            for seed in range(args.seeds):
                jobs += [(m, name, seed, 1, args.budget) for m in ("wandb", "random")]
                jobs += [("tpe", name, seed, w, args.budget) for w in args.workers]
                jobs += [("optuna-gp", name, seed, w, args.budget) for w in gp_workers]
    pool = ProcessPoolExecutor(1, mp_context=get_context("spawn"))
    futures: list[Future[Any]] = [pool.submit(run_curve, job) for job in jobs]

    for workers in args.workers:
        tmp = tempfile.mkdtemp(prefix="rsb", dir="/tmp")
        _ray_init(workers, tmp)
        storage = Path(tmp) / "results"
        try:
            for name in args.problems:
                for seed in range(args.seeds):
                    out = run_raysweep(name, seed, args.budget, args.sleep, storage)
                    key = f"raysweep/{name}/{workers}"
                    results.setdefault(key, []).append(out["regret"])
                    if workers == 1:
                        curves.setdefault(key, []).append(out["curve"])
                    peaks.setdefault(key, []).append(out["peak_outstanding"])
                    walls.setdefault(key, []).append(out["wall"])
                    print(f"{key} seed {seed}: regret {_fmt(out['regret'])}, "
                          f"{out['trials']} trials, peak outstanding {out['peak_outstanding']}, "
                          f"{out['wall']:.1f} s", flush=True)
        finally:
            ray.shutdown()
            shutil.rmtree(tmp, ignore_errors=True)
    for future in futures:
        (method, name, seed, workers), curve = future.result()
        results.setdefault(f"{method}/{name}/{workers}", []).append(curve[-1])
        if workers == 1:
            curves.setdefault(f"{method}/{name}/{workers}", []).append(curve)
    pool.shutdown()

    print()
    print(f"{datetime.date.today()}, {platform.node()}, {os.cpu_count()} cores, "
          f"{time.perf_counter() - started:.0f} s; median regret at {args.budget} "
          f"[25th, 75th percentile] and seeds with regret <= {SOLVED}")
    print(table(results, args.problems, args.workers))
    print()
    print("Most proposals outstanding at once (raysweep, over seeds):",
          {k: (min(v), max(v)) for k, v in peaks.items()})
    print("Seconds per raysweep run (median):",
          {k: round(statistics.median(v), 1) for k, v in walls.items()})
    print()
    print(target_check(results, args.problems, curves))
    if args.json:
        args.json.write_text(json.dumps({"regret": results, "curves": curves, "peaks": peaks,
                                         "walls": walls,
                                         "args": {k: str(v) for k, v in vars(args).items()}}))


if __name__ == "__main__":
    main()
