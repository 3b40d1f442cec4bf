"""Multi-objective hypervolume: the Optuna engine through raysweep against Optuna alone (issue 20).

ZDT1 and DTLZ2 (2 objectives, 6 variables in [0, 1], both minimised), 5 seeds x 100 trials, the
same sampler (``TPESampler(seed, constant_liar=True)``: what raysweep builds for ``method:
custom`` + ``scheduler: {engine: optuna}``, and Optuna 5's default for several directions) and
one trial at a time (``max_concurrent_trials: 1``), so both see the same history at each
proposal. Prints, per seed and problem, the hypervolume (2-D, against a fixed reference point) of
the nondominated trials of each; for raysweep also that of ``result.pareto`` (the public path's
front, from the results table), the front's size, and the wall seconds per trial of each.

    python benchmarks/bench_moo.py [--seeds 5] [--trials 100] [--quick]
"""

from __future__ import annotations

import argparse
import logging
import math
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna

import raysweep

VARIABLES = 6


def zdt1(x: Sequence[float]) -> tuple[float, float]:
    """Zitzler-Deb-Thiele 1: a convex front f2 = 1 - sqrt(f1), reached when x[1:] are 0."""
    f1 = float(x[0])
    g = 1.0 + 9.0 * float(np.sum(x[1:])) / (len(x) - 1)
    return f1, g * (1.0 - math.sqrt(f1 / g))


def dtlz2(x: Sequence[float]) -> tuple[float, float]:
    """DTLZ2 with 2 objectives: a concave front on the unit circle, reached when x[1:] are 0.5."""
    g = float(np.sum((np.asarray(x[1:]) - 0.5) ** 2))
    angle = float(x[0]) * math.pi / 2
    return (1.0 + g) * math.cos(angle), (1.0 + g) * math.sin(angle)


@dataclass(frozen=True)
class Problem:
    f: Callable[[Sequence[float]], tuple[float, float]]
    reference: tuple[float, float]
    #: The hypervolume of the true front against ``reference``.
    best: float


PROBLEMS = {
    # ZDT1's front spans f1, f2 in [0, 1]; f2 reaches 10 (g = 10) at random points, so the
    # reference (1.1, 11) counts every trial's point and separates early fronts.
    "zdt1": Problem(zdt1, (1.1, 11.0), 1.1 * 11.0 - (1.0 - 2.0 / 3.0)),
    "dtlz2": Problem(dtlz2, (1.1, 1.1), 1.1 * 1.1 - math.pi / 4),
}


def hypervolume_2d(points: np.ndarray, reference: tuple[float, float]) -> float:
    """The area dominated by ``points`` (n x 2, minimised) and bounded by ``reference``.

    Sorted by the first objective, each point whose second objective beats every earlier one
    adds the rectangle from it to the reference, above the earlier points' steps. Points not
    better than the reference in both objectives, and dominated ones, add nothing.
    """
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    r1, r2 = reference
    pts = pts[np.isfinite(pts).all(axis=1) & (pts[:, 0] < r1) & (pts[:, 1] < r2)]
    area, ceiling = 0.0, r2
    for f1, f2 in pts[np.lexsort((pts[:, 1], pts[:, 0]))]:
        if f2 < ceiling:
            area += (r1 - f1) * (ceiling - f2)
            ceiling = f2
    return area


def _check_hypervolume() -> None:
    # A staircase of three points (3 + 2 + 1 unit squares) with a dominated point, a duplicate
    # and one outside the reference box, which change nothing.
    ref = (4.0, 4.0)
    steps = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]])
    assert hypervolume_2d(steps, ref) == 6.0
    extra = np.array([[3.0, 3.0], [2.0, 2.0], [5.0, 0.0], [0.5, 4.0]])
    assert hypervolume_2d(np.vstack([extra, steps]), ref) == 6.0
    assert hypervolume_2d(np.array([[0.0, 0.0]]), ref) == 16.0
    assert hypervolume_2d(np.empty((0, 2)), ref) == 0.0


def names() -> list[str]:
    return [f"x{i}" for i in range(VARIABLES)]


@dataclass
class Outcome:
    hypervolume: float
    seconds: float
    #: raysweep only: the hypervolume of ``result.pareto`` and its number of trials.
    front_hypervolume: float = math.nan
    front_size: int = 0


def optuna_alone(problem: str, seed: int, trials: int) -> Outcome:
    """``study.optimize`` with raysweep's sampler."""
    f = PROBLEMS[problem].f

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        # In sorted name order, as raysweep's study samples ``parameters``.
        return f([trial.suggest_float(n, 0.0, 1.0) for n in names()])

    started = time.perf_counter()
    study = optuna.create_study(
        directions=["minimize", "minimize"],
        sampler=optuna.samplers.TPESampler(seed=seed, constant_liar=True),
    )
    study.optimize(objective, n_trials=trials)
    seconds = time.perf_counter() - started
    values = np.array([t.values for t in study.trials if t.values is not None])
    return Outcome(hypervolume_2d(values, PROBLEMS[problem].reference), seconds)


def through_raysweep(problem: str, seed: int, trials: int, storage: str) -> Outcome:
    """The same search as a ``metrics:`` sweep with ``engine: optuna`` on a function trial."""
    f = PROBLEMS[problem].f
    keys = names()

    def train(config: dict[str, Any]) -> None:
        f1, f2 = f([config[k] for k in keys])
        raysweep.log({"f1": f1, "f2": f2})

    sweep = {
        "method": "custom",
        "scheduler": {"engine": "optuna"},
        "metrics": [{"name": "f1", "goal": "minimize"}, {"name": "f2", "goal": "minimize"}],
        "parameters": {k: {"min": 0.0, "max": 1.0} for k in keys},
        "run_cap": trials,
        "raysweep": {"seed": seed, "max_concurrent_trials": 1},
    }
    started = time.perf_counter()
    result = raysweep.run(sweep, train, storage=storage, name=f"{problem}-{seed}")
    seconds = time.perf_counter() - started
    reference = PROBLEMS[problem].reference
    table = result.trials
    if len(table) != trials or not (table["status"] == "finished").all():
        raise RuntimeError(f"{problem} seed {seed}: expected {trials} finished trials, got "
                           f"{table['status'].value_counts().to_dict()}")
    front = result.pareto
    return Outcome(
        hypervolume_2d(table[["f1", "f2"]].to_numpy(dtype=float), reference),
        seconds,
        front_hypervolume=hypervolume_2d(front[["f1", "f2"]].to_numpy(dtype=float), reference),
        front_size=len(front),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--quick", action="store_true",
                        help="2 seeds x 30 trials (overrides --seeds and --trials)")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.trials = 2, 30
    _check_hypervolume()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    import ray

    # A private local Ray, never one that RAY_ADDRESS points at.
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.ERROR,
             log_to_driver=False)
    storage = tempfile.mkdtemp(prefix="bench_moo_")
    rows: dict[str, list[tuple[Outcome, Outcome]]] = {}
    try:
        for problem in PROBLEMS:
            rows[problem] = []
            for seed in range(args.seeds):
                alone = optuna_alone(problem, seed, args.trials)
                ours = through_raysweep(problem, seed, args.trials, storage)
                rows[problem].append((alone, ours))
                print(f"{problem} seed {seed}: HV optuna {alone.hypervolume:.4f}, raysweep "
                      f"{ours.hypervolume:.4f}, result.pareto {ours.front_hypervolume:.4f} "
                      f"({ours.front_size} trials); s/trial {alone.seconds / args.trials:.4f} "
                      f"vs {ours.seconds / args.trials:.4f}", flush=True)
    finally:
        ray.shutdown()
        shutil.rmtree(storage, ignore_errors=True)
    _print_table(rows, args.trials)


def _print_table(rows: dict[str, list[tuple[Outcome, Outcome]]], trials: int) -> None:
    print()
    print("| problem | reference | HV of the true front | HV Optuna alone (median) "
          "| HV raysweep (median) | HV of result.pareto (median) | same HV | front size "
          "(median) | s/trial Optuna | s/trial raysweep | overhead/trial (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for problem, pairs in rows.items():
        spec = PROBLEMS[problem]
        alone = [a.hypervolume for a, _ in pairs]
        ours = [r.hypervolume for _, r in pairs]
        fronts = [r.front_hypervolume for _, r in pairs]
        same = sum(math.isclose(a, r, rel_tol=1e-9) for a, r in zip(alone, ours, strict=True))
        n = len(pairs) * trials
        alone_s = sum(a.seconds for a, _ in pairs) / n
        ours_s = sum(r.seconds for _, r in pairs) / n
        print(f"| {problem} | {spec.reference} | {spec.best:.4f} "
              f"| {statistics.median(alone):.4f} [{min(alone):.4f}, {max(alone):.4f}] "
              f"| {statistics.median(ours):.4f} [{min(ours):.4f}, {max(ours):.4f}] "
              f"| {statistics.median(fronts):.4f} | {same}/{len(pairs)} "
              f"| {statistics.median(r.front_size for _, r in pairs):g} "
              f"| {alone_s:.4f} | {ours_s:.4f} | {ours_s - alone_s:.4f} |")


if __name__ == "__main__":
    main()
