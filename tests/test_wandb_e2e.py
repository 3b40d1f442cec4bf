"""End to end: scripts written for W&B Sweeps run unchanged under ``raysweep.run`` on Ray.

The scripts use only ``wandb.init(config=...)``, ``wandb.config`` and ``wandb.log`` (no
argparse, no raysweep import); raysweep's stand-in ``wandb`` must give them the sweep's values
and bring their metrics to the search, the scheduler and the results tables.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

import raysweep

pytestmark = [
    pytest.mark.ray,
    pytest.mark.skipif(sys.platform == "win32", reason="process groups are POSIX"),
]

# loss = (x - 2)^2 (+ 0.5 for y == "b"), logged over 3 steps with offsets 0.5, 0, 0.25: the best
# value is the base, the last one base + 0.25. A summary-only metric rides along.
WANDB_SCRIPT = """
import wandb

wandb.init(project="e2e", config={"x": 0.0, "y": "a", "offsets": [0.5, 0.0, 0.25]})
config = wandb.config
base = (config.x - 2) ** 2 + (0.5 if config["y"] == "b" else 0.0)
for epoch, offset in enumerate(config.offsets):
    wandb.log({"loss": base + offset, "epoch": epoch})
wandb.run.summary["base"] = base
wandb.finish()
"""


def _base(x: float, y: str = "a") -> float:
    return (x - 2) ** 2 + (0.5 if y == "b" else 0.0)


def write_sweep(directory: Path, doc: dict[str, Any], script: str = WANDB_SCRIPT) -> Path:
    (directory / "train.py").write_text(textwrap.dedent(script), encoding="utf-8")
    path = directory / "sweep.yaml"
    path.write_text(yaml.safe_dump({"program": "train.py", **doc}, sort_keys=False))
    return path


def _check_metrics(result: Any) -> None:
    trials, history = result.trials, result.history
    assert (trials["status"] == "finished").all(), trials["error"].tolist()
    assert {"loss", "epoch", "_step", "base"} <= set(history.columns)
    for _, row in trials.iterrows():
        base = _base(row["x"], row["y"] if "y" in trials.columns else "a")
        assert row["loss"] == pytest.approx(base + 0.25)
        assert row["loss_best"] == pytest.approx(base)
        rows = history[history["trial_id"] == row["trial_id"]]
        # 3 logged rows, then the metric that was only ever set in the summary.
        assert rows["_step"].tolist()[:3] == [0, 1, 2]
        assert rows["loss"].tolist()[:3] == pytest.approx([base + 0.5, base, base + 0.25])
        assert rows["base"].dropna().tolist() == pytest.approx([base])
        assert len(rows) == 4
        assert row["steps"] == 3  # the summary-only row carries no loss: no step


def test_grid_sweep_of_a_wandb_script(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, {
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"x": {"values": [1, 2]}, "y": {"values": ["a", "b"]}},
    })
    result = raysweep.run(path, storage=tmp_path / "results", name="grid")

    assert sorted(zip(result.trials["x"], result.trials["y"], strict=True)) == [
        (x, y) for x in (1, 2) for y in ("a", "b")
    ]
    _check_metrics(result)
    assert result.best is not None and result.best["config"] == {"x": 2, "y": "a"}
    # The stand-in wrote each run's summary next to the trial's log.
    summaries = sorted((result.path).glob("trial_*/summary.json"))
    assert len(summaries) == 4
    assert {"loss", "epoch", "base"} == set(json.loads(summaries[0].read_text()))


def test_random_sweep_of_a_wandb_script(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, {
        "method": "random",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"x": {"min": 0.0, "max": 4.0}},
        "raysweep": {"seed": 1},
    })
    result = raysweep.run(path, count=3, storage=tmp_path / "results", name="random")

    assert len(result.trials) == 3
    assert result.trials["x"].between(0, 4).all()
    _check_metrics(result)


def test_bayes_sweep_of_a_wandb_script(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, {
        "method": "bayes",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"x": {"min": 0.0, "max": 4.0}, "y": {"values": ["a", "b"]}},
        "raysweep": {"seed": 0},
    })
    result = raysweep.run(path, count=3, storage=tmp_path / "results", name="bayes")

    assert len(result.trials) == 3
    _check_metrics(result)
    assert result.best is not None
    assert result.best["value"] == pytest.approx(result.trials["loss_best"].min())


# Trial `rank` logs loss = rank + 1/(step + 1): each is worse than the ones before it at every
# step. A first row without the metric is not an iteration for hyperband (as in W&B).
HYPERBAND_SCRIPT = """
import time
import wandb

run = wandb.init(config={"rank": 0})
wandb.log({"setup": 1})
for step in range(8):
    wandb.log({"loss": wandb.config.rank + 1.0 / (step + 1)})
    time.sleep(0.05)
with open(f"done-{wandb.config.rank}", "w") as f:
    f.write(run.id)
"""


def test_hyperband_stops_a_wandb_script_where_wandb_would(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, {
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "early_terminate": {"type": "hyperband", "min_iter": 2},
        "parameters": {"rank": {"values": [0, 1, 2]}},
        "raysweep": {"max_concurrent_trials": 1},
    }, HYPERBAND_SCRIPT)
    result = raysweep.run(path, storage=tmp_path / "results", name="hyperband")

    # W&B, bands [2, 6, 18], eta 3, the 2nd loss values are 0.5, 1.5, 2.5: at band 2 the
    # threshold over runs 0 and 1 is sorted(values)[int(2/3)] = 0.5, so run 1 (1.5) stops;
    # over runs 0-2 it is sorted(values)[int(3/3)] = 1.5, so run 2 (2.5) stops. Each is
    # stopped at its 2nd loss value, its 3rd report (the setup row comes first).
    trials = result.trials.set_index("rank")
    assert trials.loc[0, "status"] == "finished"
    assert trials.loc[0, "steps"] == 8  # its 9 reports less the setup row, which has no loss
    assert (tmp_path / "done-0").exists()
    for rank, value, threshold in ((1, 1.5, 0.5), (2, 2.5, 1.5)):
        row = trials.loc[rank]
        assert row["status"] == "stopped"
        assert row["steps"] == 2  # two loss values (the setup row has none)
        assert row["stop_reason"] == f"stopped at band 2: {value:g} > threshold {threshold:g}"
        assert not (tmp_path / f"done-{rank}").exists()


def test_function_trial_that_imports_wandb(tmp_path: Path) -> None:
    def train() -> None:
        import wandb

        with wandb.init(config={"lr": 1.0, "epochs": 2}) as run:
            for epoch in range(run.config.epochs):
                wandb.log({"loss": (run.config.lr - 0.05) ** 2 + 1.0 / (epoch + 1)})

    sweep = {
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"lr": {"values": [0.01, 0.1]}},
    }
    result = raysweep.run(sweep, function=train, storage=tmp_path / "results", name="function")

    trials = result.trials
    assert (trials["status"] == "finished").all(), trials["error"].tolist()
    assert sorted(trials["lr"]) == [0.01, 0.1]
    for _, row in trials.iterrows():
        assert row["loss"] == pytest.approx((row["lr"] - 0.05) ** 2 + 0.5)
        assert row["steps"] == 2
    assert len(list(result.path.glob("trial_*/summary.json"))) == 2
