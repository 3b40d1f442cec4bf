"""The Optuna engine through raysweep against Optuna alone (issue 20).

Branin (2-d) and Hartmann-6, 5 seeds x 50 trials each, the same sampler (``TPESampler(seed,
constant_liar=True)``, what raysweep builds from ``parameters``) and one trial at a time
(``max_concurrent_trials: 1``), so both see the same history at each proposal. Prints, per
problem, the median regret (best value found minus the known minimum) of each, and raysweep's
overhead per trial (wall time of ``raysweep.run`` / trials; Optuna alone for comparison).

    python benchmarks/bench_optuna_engine.py [--seeds 5] [--trials 50]
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import optuna

import raysweep

BRANIN_MIN = 0.397887
HARTMANN6_MIN = -3.32237

_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
               [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                      [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def branin(x: list[float]) -> float:
    x1, x2 = x
    b, c = 5.1 / (4 * math.pi ** 2), 5 / math.pi
    return float((x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi))
                 * math.cos(x1) + 10)


def hartmann6(x: list[float]) -> float:
    z = np.asarray(x)
    return float(-np.sum(_ALPHA * np.exp(-np.sum(_A * (z - _P) ** 2, axis=1))))


PROBLEMS: dict[str, tuple[Callable[[list[float]], float], list[tuple[float, float]], float]] = {
    "branin": (branin, [(-5.0, 10.0), (0.0, 15.0)], BRANIN_MIN),
    "hartmann6": (hartmann6, [(0.0, 1.0)] * 6, HARTMANN6_MIN),
}


def names(bounds: list[tuple[float, float]]) -> list[str]:
    return [f"x{i}" for i in range(len(bounds))]


def optuna_alone(problem: str, seed: int, trials: int) -> tuple[float, float]:
    """Best value and wall seconds of ``study.optimize`` with raysweep's sampler."""
    f, bounds, _ = PROBLEMS[problem]

    def objective(trial: optuna.Trial) -> float:
        # In sorted name order, as raysweep's study samples ``parameters``.
        return f([trial.suggest_float(n, lo, hi) for n, (lo, hi) in zip(names(bounds), bounds,
                                                                        strict=True)])

    started = time.perf_counter()
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed,
                                                                   constant_liar=True))
    study.optimize(objective, n_trials=trials)
    return study.best_value, time.perf_counter() - started


def through_raysweep(problem: str, seed: int, trials: int, storage: str) -> tuple[float, float]:
    """Best value and wall seconds of the same search as an ``engine: optuna`` sweep."""
    f, bounds, _ = PROBLEMS[problem]
    keys = names(bounds)

    def train(config: dict[str, Any]) -> None:
        raysweep.log({"y": f([config[k] for k in keys])})

    sweep = {
        "method": "custom",
        "scheduler": {"engine": "optuna"},
        "metric": {"name": "y", "goal": "minimize"},
        "parameters": {k: {"min": lo, "max": hi} for k, (lo, hi) in zip(keys, bounds,
                                                                         strict=True)},
        "run_cap": trials,
        "raysweep": {"seed": seed, "max_concurrent_trials": 1},
    }
    started = time.perf_counter()
    result = raysweep.run(sweep, train, storage=storage, name=f"{problem}-{seed}")
    seconds = time.perf_counter() - started
    return float(result.trials["y"].min()), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=50)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    import ray

    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    storage = tempfile.mkdtemp(prefix="bench_optuna_")
    print(f"{'problem':<10} {'regret optuna':>14} {'regret raysweep':>16} "
          f"{'same best':>10} {'s/trial optuna':>15} {'s/trial raysweep':>17}")
    for problem, (_, _, minimum) in PROBLEMS.items():
        alone, ours, same = [], [], 0
        alone_s, ours_s = 0.0, 0.0
        for seed in range(args.seeds):
            best_a, sec_a = optuna_alone(problem, seed, args.trials)
            best_r, sec_r = through_raysweep(problem, seed, args.trials, storage)
            alone.append(best_a - minimum)
            ours.append(best_r - minimum)
            same += math.isclose(best_a, best_r, rel_tol=1e-9)
            alone_s += sec_a
            ours_s += sec_r
        n = args.seeds * args.trials
        print(f"{problem:<10} {statistics.median(alone):>14.4g} {statistics.median(ours):>16.4g} "
              f"{same:>7}/{args.seeds} {alone_s / n:>15.4f} {ours_s / n:>17.4f}")
    ray.shutdown()


if __name__ == "__main__":
    main()
