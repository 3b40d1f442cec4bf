"""Not raysweep: a pool-aware GP-EI on lc_digits81, to tell the searcher's share of the
early-stopping results (benchmarks/README.md, issue 5) from the scheduler's.

Each step fits scikit-learn's GP (ARD Matern 5/2 + noise) to log(best loss) of the trials so
far and runs the unused table configuration with the highest expected improvement. It knows
the pool, which raysweep's proposer does not: that one proposes a point of the space and the
benchmark runs the nearest unused configuration. 8 random configurations first.
``mf`` adds one GP input, log(epochs reached) / log(81), and predicts at 81 epochs (a
multi-fidelity model); ``plain`` has no budget input. Usage::

    python benchmarks/explore_pool_gp.py plain 20 hyperband:2:4
    python benchmarks/explore_pool_gp.py mf 20 hyperband:2:4
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.stats import norm
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

sys.path.insert(0, str(Path(__file__).parent))
import bench_early_stop as b  # noqa: E402

N_INIT = 8


def choose(mode: str, rng: np.random.Generator, free: np.ndarray, points: np.ndarray,
           obs_x: list[list[float]], obs_y: list[float]) -> int:
    """The next configuration: random first, then the highest expected improvement."""
    if len(obs_y) < N_INIT:
        return int(rng.choice(free))
    X = np.array(obs_x)
    y = np.log(np.array(obs_y))
    mu, sd = y.mean(), y.std() + 1e-9
    kernel = ConstantKernel(1.0) * Matern(
        length_scale=np.ones(X.shape[1]), nu=2.5, length_scale_bounds=(1e-2, 1e2)
    ) + WhiteKernel(1e-3, (1e-6, 1e-1))
    gp = GaussianProcessRegressor(kernel, random_state=0).fit(X, (y - mu) / sd)
    cand = points[free]
    best = float(((y - mu) / sd).min())
    if mode == "mf":
        cand = np.hstack([cand, np.ones((len(cand), 1))])
        full = [v for x, v in zip(obs_x, obs_y, strict=True) if x[-1] >= 0.999]
        if full:
            best = (math.log(min(full)) - mu) / sd
    m, s = gp.predict(cand, return_std=True)
    s = np.maximum(s, 1e-9)
    z = (best - m) / s
    return int(free[np.argmax((best - m) * norm.cdf(z) + s * norm.pdf(z))])


def episode(table: b.Table, points: np.ndarray, mode: str, policy_spec: str, seed: int) -> float:
    rng = np.random.default_rng(seed)
    policy = b.make_policy(policy_spec)
    used: list[int] = []
    obs_x: list[list[float]] = []
    obs_y: list[float] = []
    spent = 0
    for number in range(table.size):
        free = np.setdiff1d(np.arange(table.size), used)
        idx = choose(mode, rng, free, points, obs_x, obs_y)
        used.append(idx)
        curve = table.losses[idx]
        trial = f"t{number}"
        policy.start(trial)
        epochs = b.EPOCHS
        for epoch in range(1, b.EPOCHS + 1):
            if policy.report(trial, epoch, float(curve[epoch - 1])):
                epochs = epoch
                break
        policy.end(trial, epochs, float(curve[epochs - 1]))
        spent += epochs
        budget = [math.log(epochs) / math.log(b.EPOCHS)] if mode == "mf" else []
        obs_x.append(list(points[idx]) + budget)
        obs_y.append(float(curve[:epochs].min()))
        if epochs == b.EPOCHS and table.reaches(idx):
            return spent
    return math.inf


def main() -> None:
    mode, n, policy_spec = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    warnings.filterwarnings("ignore")  # GP hyper-parameter fits at their bounds
    table = b.load_table()
    points = b.Warp(table).points
    started = time.time()
    costs = np.array([episode(table, points, mode, policy_spec, s) for s in range(n)])
    med = float(np.median(costs))
    print(f"{mode} {policy_spec}: median {med:g} ({5913 / med:.2f}x), missed "
          f"{int(np.isinf(costs).sum())} of {n}, {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
