"""A multi-objective sweep (``metrics:``) through :func:`raysweep.run` on Ray: every objective
recorded, the Pareto front against a brute-force check, the report's scatter, and a target on
one objective ending the sweep."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import raysweep
from raysweep.sweep.config import from_dict
from raysweep.sweep.model import Goal, Metric, SweepConfig
from tests.test_pareto import brute_front

pytestmark = pytest.mark.ray


def _config(run_cap: int, acc_target: float | None = None, **options: Any) -> SweepConfig:
    base = from_dict({
        "method": "random",
        "parameters": {"x": {"min": 0.0, "max": 1.0}, "y": {"min": 0.0, "max": 1.0}},
        "run_cap": run_cap,
        "raysweep": {"seed": 3, **options},
    })
    # The checker allows metrics: only with method: custom; the runtime does not care.
    return dataclasses.replace(base, metric=None, metrics=(
        Metric("loss"), Metric("acc", Goal.MAXIMIZE, target=acc_target)))


def make_train() -> Any:
    """The trial function, made in a function: Ray's workers get it by value (this test
    module is not importable there)."""

    def train(config: dict[str, Any]) -> None:
        import raysweep

        x, y = config["x"], config["y"]
        # Two reports: the last one counts for the front (a better first loss must not).
        raysweep.log({"loss": x / 2, "acc": 0.0})
        raysweep.log({"loss": x, "acc": 1.0 - (1.0 - x) ** 2 * y})

    return train


def test_a_two_objective_sweep_finds_its_front(tmp_path: Path) -> None:
    result = raysweep.run(_config(10), function=make_train(), storage=tmp_path, name="moo")
    trials = result.trials
    assert len(trials) == 10 and set(trials["status"]) == {"finished"}
    assert result.meta["metrics"] == [
        {"name": "loss", "goal": "minimize", "mode": "min", "target": None},
        {"name": "acc", "goal": "maximize", "mode": "max", "target": None}]
    # The last reports: loss x, acc from x and y; the best loss is the first report's.
    np.testing.assert_allclose(trials["loss"], trials["x"])
    np.testing.assert_allclose(trials["loss_best"], trials["x"] / 2)
    np.testing.assert_allclose(trials["acc"], 1 - (1 - trials["x"]) ** 2 * trials["y"])
    values = trials[["loss", "acc"]].to_numpy(dtype=float)
    assert trials["pareto"].tolist() == brute_front(values, ["minimize", "maximize"])
    front = result.pareto
    assert len(front) == int(trials["pareto"].sum()) >= 1
    assert front["loss"].tolist() == sorted(front["loss"])
    assert trials["pareto"].tolist()[: len(front)] == [True] * len(front)  # front first
    page = result.report().read_text(encoding="utf-8")  # plotly: a dependency of the tests
    assert 'id="plot-pareto"' in page and f"Pareto front <b>{len(front)} trial" in page


def test_a_target_on_one_objective_ends_the_sweep(tmp_path: Path) -> None:
    # acc's first report is 0: its target 0 is reached by the first trial to end.
    result = raysweep.run(_config(20, acc_target=0.0, max_concurrent_trials=1),
                          function=make_train(), storage=tmp_path, name="target")
    assert result.meta["ended_by"] == "target"
    assert "'s acc=" in result.meta["end_reason"] and "target 0 (>=)" in result.meta["end_reason"]
    assert len(result.trials) < 20
