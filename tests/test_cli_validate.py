"""`raysweep validate` (text and --json) and `raysweep preview`'s table: exact output through
click's CliRunner. No Ray."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from raysweep.cli import main

VALID = """\
program: train.py
method: random
metric:
  name: loss
  goal: minimize
parameters:
  lr:
    min: 0.0001
    max: 0.1
    distribution: log_uniform_values
  layers:
    values: [1, 2, 3]
"""
INVALID = """\
method: random
metric:
  name: loss
  goal: maximise
parameters:
  lr:
    min: 0.1
    max: 0.01
"""
LAUNCH = """\
job: wandb/sweep-jobs/job-fashion-mnist:latest
method: random
metric: {name: loss, goal: minimize}
parameters:
  lr: {min: 0.001, max: 0.1}
scheduler:
  num_workers: 8
"""


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, str]:
    out = {}
    for name, text in (("valid", VALID), ("invalid", INVALID), ("launch", LAUNCH)):
        path = tmp_path / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        out[name] = str(path)
    return out


def _invoke(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, list(args), env={"COLUMNS": "200"})
    return res.exit_code, res.output


def test_validate_a_valid_file_shows_its_summary_and_parameters(files: dict[str, str]) -> None:
    code, out = _invoke("validate", files["valid"])
    assert code == 0, out
    lines = [line.rstrip() for line in out.splitlines()]
    assert lines[0] == f"✓ {files['valid']}: method random, metric loss (minimize)"
    assert lines[1].split() == ["parameter", "distribution", "values", "/", "range"]
    assert lines[2].split() == ["layers", "categorical", "[1,", "2,", "3]"]
    assert lines[3].split() == ["lr", "log_uniform_values", "[0.0001,", "0.1]", "log", "scale"]
    assert len(lines) == 4


def test_validate_lists_every_problem_with_path_line_and_hint_and_exits_2(
    files: dict[str, str]
) -> None:
    code, out = _invoke("validate", files["invalid"])
    assert code == 2
    text = " ".join(out.split())
    assert text.startswith(f"✗ {files['invalid']}: invalid, 2 problems")
    assert "metric.goal (line 4): must be minimize or maximize, got the string 'maximise'" \
        in text
    assert "Did you mean 'maximize'?" in text
    assert "parameters.lr.max (line 8): `min < max` must hold, but got min=0.1, max=0.01" \
        in text
    assert "Traceback" not in out


def test_validate_exits_2_if_any_of_several_files_is_invalid(files: dict[str, str]) -> None:
    code, out = _invoke("validate", files["valid"], files["invalid"])
    assert code == 2
    assert f"✓ {files['valid']}" in out and f"✗ {files['invalid']}" in out


def test_validate_json_gives_one_object_per_file(files: dict[str, str]) -> None:
    code, out = _invoke("validate", "--json", files["valid"], files["invalid"], files["launch"])
    assert code == 2
    valid, invalid, launch = json.loads(out)
    assert valid == {
        "file": files["valid"],
        "valid": True,
        "supported": True,
        "method": "random",
        "issues": [],
        "warnings": [],
        "parameters": [
            {"name": "layers", "distribution": "categorical", "values": "[1, 2, 3]"},
            {"name": "lr", "distribution": "log_uniform_values",
             "values": "[0.0001, 0.1] log scale"},
        ],
    }
    assert invalid["valid"] is False and invalid["supported"] is True
    assert [(i["path"], i["line"]) for i in invalid["issues"]] == [
        ("metric.goal", 4), ("parameters.lr.max", 8)]
    assert invalid["issues"][1]["message"] == "`min < max` must hold, but got min=0.1, max=0.01"
    assert invalid["issues"][1]["hint"] == "Swap them."
    assert "parameters" not in invalid
    # A W&B Launch scheduler is valid W&B but only W&B's service runs it: unsupported.
    assert launch["valid"] is False and launch["supported"] is False
    assert [i["path"] for i in launch["issues"]] == ["scheduler"]


def test_validate_of_a_missing_file_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    code, out = _invoke("validate", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "nope.yaml" in out and "Traceback" not in out


def test_preview_table_of_a_grid_lists_the_combinations_in_order(tmp_path: Path) -> None:
    path = tmp_path / "grid.yaml"
    path.write_text("method: grid\nparameters:\n  a: {values: [1, 2]}\n"
                    "  b: {values: [x, y, z]}\n", encoding="utf-8")
    code, out = _invoke("preview", str(path), "-n", "4")
    assert code == 0, out
    rows = [line.split() for line in out.splitlines()]
    assert " ".join(rows[0]) == "grid: 6 combinations (showing the first 4)"
    assert rows[1] == ["#", "a", "b"]
    assert rows[2:] == [["1", "1", "'x'"], ["2", "1", "'y'"], ["3", "1", "'z'"],
                        ["4", "2", "'x'"]]


def test_preview_table_of_random_names_the_seed_and_shows_n_rows(files: dict[str, str]) -> None:
    code, out = _invoke("preview", files["valid"], "-n", "3", "--seed", "7")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == "random: 3 draws from the priors (seed 7)"
    assert lines[1].split() == ["#", "layers", "lr"]
    rows = [line.split() for line in lines[2:]]
    assert [r[0] for r in rows] == ["1", "2", "3"]
    assert all(r[1] in {"1", "2", "3"} and 0.0001 <= float(r[2]) <= 0.1 for r in rows)
    # The same seed shows the same draws; another seed others.
    assert _invoke("preview", files["valid"], "-n", "3", "--seed", "7")[1] == out
    assert _invoke("preview", files["valid"], "-n", "3", "--seed", "8")[1] != out
