"""`raysweep preview`: what it shows is what a run with the same seed proposes. CliRunner,
no Ray."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from raysweep.search import make_searcher

from raysweep.cli import main
from raysweep.sweep.config import load

SWEEP = {
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {
        "lr": {"min": 0.0001, "max": 0.1, "distribution": "log_uniform_values"},
        "layers": {"min": 1, "max": 4},
        "opt": {"parameters": {"name": {"values": ["adam", "sgd"]}}},
    },
}


@pytest.mark.parametrize("method", ["random", "bayes", "grid"])
def test_preview_shows_the_first_proposals_of_a_run_with_the_same_seed(
    tmp_path: Path, method: str
) -> None:
    doc = {**SWEEP, "method": method}
    if method == "grid":
        doc["parameters"] = {"layers": {"values": [1, 2, 3]}, "opt": {"values": ["a", "b"]}}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")

    res = CliRunner().invoke(main, ["preview", str(path), "-n", "8", "--seed", "3",
                                    "--format", "json"])
    assert res.exit_code == 0, res.output
    shown = json.loads(res.output)
    searcher = make_searcher(load(path), seed=3)
    proposed = [searcher.suggest(f"t{i}") for i in range(len(shown))]
    assert shown == proposed
    # bayes: only its design is known in advance (2 per parameter, at least 5), 6 here
    assert len(shown) == {"random": 8, "bayes": 6, "grid": 6}[method]


def test_preview_says_what_it_shows(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({**SWEEP, "method": "bayes"}), encoding="utf-8")
    res = CliRunner().invoke(main, ["preview", str(path), "--seed", "1"])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "bayes: the first 6 trials, a space-filling design (seed 1); later trials follow " \
           "the model" in text
    assert "opt.name" in text and "layers" in text
