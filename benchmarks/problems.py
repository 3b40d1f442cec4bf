"""Test functions for the search benchmarks, each written as a W&B sweep.

Every :class:`Problem` carries a sweep dict (valid for both raysweep and W&B's engine), the
objective on the nested config a trial receives, and the known global minimum, so results are
reported as *simple regret* (best value found minus the minimum). The formulas are the
standard ones from the optimisation literature (Surjanovic & Bingham's "Virtual Library of
Simulation Experiments"):

============  ====  ==================================================  =================
name          dims  domain                                              minimum
============  ====  ==================================================  =================
branin        2     x1 in [-5, 10], x2 in [0, 15]                       0.397887
hartmann6     6     [0, 1]^6                                            -3.32237
levy4         4     [-10, 10]^4                                         0
rosenbrock4   4     [-5, 10]^4                                          0
mixed         6     Hartmann-6: 2 ints 0..10 (x/10), 1 categorical of   see MIXED_MIN
                    5 levels in shuffled order, 3 floats
ackley5       5     [-32.768, 32.768]^5                                 0
levy10        10    [-10, 10]^10                                        0
hartmann6in20 20    [0, 1]^20; Hartmann-6 of x0..x5, x6..x19 unused     -3.32237
============  ====  ==================================================  =================

``mixed`` tests what W&B's bayes gets wrong: its categorical ``c`` lists its five levels in an
order unrelated to their effect, so an ordinal encoding sees a rough function.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["PROBLEMS", "Problem", "ackley", "branin", "hartmann6", "levy", "rosenbrock"]


@dataclass(frozen=True)
class Problem:
    """One benchmark problem.

    Attributes:
        name: Short name used in tables.
        sweep: A W&B sweep dict (``method: bayes``, metric ``loss`` minimised).
        objective: Loss of a nested config, as a trial would compute it.
        minimum: The global minimum of ``objective`` over the sweep's space.
    """

    name: str
    sweep: dict[str, Any]
    objective: Callable[[Mapping[str, Any]], float]
    minimum: float

    @property
    def dims(self) -> int:
        return len(self.sweep["parameters"])


def branin(x1: float, x2: float) -> float:
    """Branin-Hoo, minimum 0.397887 at three points."""
    b = 5.1 / (4 * math.pi**2)
    c = 5 / math.pi
    t = 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)


def hartmann6(x: np.ndarray) -> np.ndarray:
    """Hartmann-6 on [0, 1]^6 (vectorised over leading axes), minimum -3.32237."""
    x = np.asarray(x, dtype=float)
    inner = np.sum(_H_A * (x[..., None, :] - _H_P) ** 2, axis=-1)
    out: np.ndarray = -np.sum(_H_ALPHA * np.exp(-inner), axis=-1)
    return out


def levy(x: np.ndarray) -> float:
    """Levy function in any dimension, minimum 0 at x = 1."""
    w = 1 + (np.asarray(x, dtype=float) - 1) / 4
    head = math.sin(math.pi * w[0]) ** 2
    mid = np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(math.pi * w[:-1] + 1) ** 2))
    tail = (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2)
    return float(head + mid + tail)


def ackley(x: np.ndarray) -> float:
    """Ackley's function in any dimension, minimum 0 at x = 0."""
    x = np.asarray(x, dtype=float)
    d = len(x)
    a = -20.0 * math.exp(-0.2 * math.sqrt(float(np.sum(x**2)) / d))
    b = -math.exp(float(np.sum(np.cos(2 * math.pi * x))) / d)
    return a + b + 20.0 + math.e


def rosenbrock(x: np.ndarray) -> float:
    """Rosenbrock's valley in any dimension, minimum 0 at x = 1."""
    x = np.asarray(x, dtype=float)
    return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (x[:-1] - 1) ** 2))


def _sweep(parameters: dict[str, Any]) -> dict[str, Any]:
    return {
        "method": "bayes",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": parameters,
    }


def _vector(config: Mapping[str, Any], names: list[str]) -> np.ndarray:
    return np.array([float(config[n]) for n in names])


HARTMANN6_MIN = -3.3223680114155147


def _box(
    name: str,
    dims: int,
    low: float,
    high: float,
    f: Callable[[np.ndarray], Any],
    minimum: float,
    used: int | None = None,
) -> Problem:
    """A problem on the box [low, high]^dims (parameters x0, x1, ...) whose objective reads
    the first ``used`` of them (all by default)."""
    names = [f"x{i}" for i in range(dims)]
    read = names[: used or dims]
    return Problem(
        name,
        _sweep({n: {"min": low, "max": high} for n in names}),
        lambda c: float(f(_vector(c, read))),
        minimum,
    )

# The categorical's levels and the Hartmann coordinate each one stands for. The list order is
# deliberately not the order of the coordinates.
MIXED_LEVELS = {"hi": 0.75, "min": 0.0, "mid": 0.5, "max": 1.0, "lo": 0.25}


def _mixed(config: Mapping[str, Any]) -> float:
    x = [
        config["i0"] / 10,
        config["i1"] / 10,
        MIXED_LEVELS[config["c"]],
        config["x3"],
        config["x4"],
        config["x5"],
    ]
    return float(hartmann6(np.array(x)))


# Minimum of `mixed` (at i0 = 2, i1 = 2, c = "mid"), found by enumerating the 11 * 11 * 5
# discrete combinations and running L-BFGS-B from 8 random starts on the three continuous
# coordinates of each: ``_mixed_minimum()`` recomputes it in about a minute.
MIXED_MIN = -3.290007875589544


def _mixed_minimum(starts: int = 8) -> float:
    """Recompute :data:`MIXED_MIN` (not used at run time)."""
    from scipy.optimize import minimize

    rng = np.random.default_rng(1)
    best = math.inf
    for i0 in range(11):
        for i1 in range(11):
            for level in MIXED_LEVELS.values():
                head = np.array([i0 / 10, i1 / 10, level])

                def f(z: np.ndarray, head: np.ndarray = head) -> float:
                    return float(hartmann6(np.concatenate([head, z])))

                for z0 in rng.random((starts, 3)):
                    res = minimize(f, z0, bounds=[(0, 1)] * 3, method="L-BFGS-B")
                    best = min(best, float(res.fun))
    return best


PROBLEMS: dict[str, Problem] = {
    p.name: p
    for p in (
        Problem(
            "branin",
            _sweep({"x1": {"min": -5.0, "max": 10.0}, "x2": {"min": 0.0, "max": 15.0}}),
            lambda c: branin(c["x1"], c["x2"]),
            0.39788735772973816,
        ),
        _box("hartmann6", 6, 0.0, 1.0, hartmann6, HARTMANN6_MIN),
        _box("levy4", 4, -10.0, 10.0, levy, 0.0),
        _box("rosenbrock4", 4, -5.0, 10.0, rosenbrock, 0.0),
        Problem(
            "mixed",
            _sweep(
                {
                    "i0": {"min": 0, "max": 10},
                    "i1": {"min": 0, "max": 10},
                    "c": {"values": list(MIXED_LEVELS)},
                    "x3": {"min": 0.0, "max": 1.0},
                    "x4": {"min": 0.0, "max": 1.0},
                    "x5": {"min": 0.0, "max": 1.0},
                }
            ),
            _mixed,
            MIXED_MIN,
        ),
        _box("ackley5", 5, -32.768, 32.768, ackley, 0.0),
        _box("levy10", 10, -10.0, 10.0, levy, 0.0),
        # Only x0..x5 matter: a search must find out that 14 of 20 dimensions do not.
        _box("hartmann6in20", 20, 0.0, 1.0, hartmann6, HARTMANN6_MIN, used=6),
    )
}
