"""`raysweep validate` (text and --json) and `raysweep preview`'s table: exact output through
click's CliRunner. No Ray."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from raysweep.cli import main
from raysweep.errors import SweepConfigError

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


TYPO = """\
program: train.py
method: grid
command:
  - ${env}
  - ${interpreter}
  - ${program}
  - ${argz}
  - --lr=${lrr}
parameters:
  lr:
    values: [0.1, 0.2]
"""


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, str]:
    out = {}
    for name, text in (("valid", VALID), ("invalid", INVALID), ("launch", LAUNCH),
                       ("typo", TYPO)):
        path = tmp_path / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        out[name] = str(path)
    (tmp_path / "train.py").write_text("print('hi')\n", encoding="utf-8")
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
        "engine": "wandb",
        "scheduler": None,
        "objectives": [{"name": "loss", "goal": "minimize", "target": None}],
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


def test_validate_warns_about_command_macros_that_will_not_expand(
    files: dict[str, str]
) -> None:
    code, out = _invoke("validate", files["typo"])
    assert code == 0, out
    lines = [line.rstrip() for line in out.splitlines()]
    assert lines[:5] == [
        f"✓ {files['typo']}: method grid, 2 combinations",
        "  command (line 7): `${argz}` is neither a built-in macro nor a parameter: it expands "
        "to nothing",
        "    Did you mean `${args}`?",
        "  command (line 8): `${lrr}` in `--lr=${lrr}` is not a parameter: the program gets it "
        "as literal text",
        "    Did you mean `${lr}`?",
    ]


def test_validate_json_lists_the_macro_warnings(files: dict[str, str]) -> None:
    code, out = _invoke("validate", "--json", files["typo"])
    assert code == 0, out
    (typo,) = json.loads(out)
    assert typo["valid"] is True
    assert typo["warnings"] == [
        {"path": "command", "line": 7, "hint": "Did you mean `${args}`?",
         "message": "`${argz}` is neither a built-in macro nor a parameter: it expands to "
                    "nothing"},
        {"path": "command", "line": 8, "hint": "Did you mean `${lr}`?",
         "message": "`${lrr}` in `--lr=${lrr}` is not a parameter: the program gets it as "
                    "literal text"},
    ]


MISSING = "'train.py' not found in {dir}"
MISSING_HINT = "Programs run from the sweep file's directory; give the path relative to it."
NO_PROGRAM = "missing: the command runs ${program}, but the sweep names no program"
NO_PROGRAM_HINT = "Add `program: train.py`, or pass a Python function to raysweep.run()."


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        pytest.param(VALID, MISSING, MISSING_HINT, id="program_file_missing"),
        pytest.param(VALID.replace("program: train.py\n", ""), NO_PROGRAM, NO_PROGRAM_HINT,
                     id="no_program_with_the_default_command"),
    ],
)
def test_validate_refuses_what_run_refuses_in_the_same_words(
    tmp_path: Path, text: str, message: str, hint: str
) -> None:
    from raysweep.execution.trainable import check_runnable
    from raysweep.sweep.config import load

    path = tmp_path / "sweep.yaml"  # no train.py beside it
    path.write_text(text, encoding="utf-8")
    message = message.replace("{dir}", str(tmp_path))
    with pytest.raises(SweepConfigError) as refused:
        check_runnable(load(path))  # what run does before Ray starts
    assert [(i.path, i.message, i.hint) for i in refused.value.issues] == [
        ("program", message, hint)]

    code, out = _invoke("validate", str(path))
    assert code == 2
    assert [line.rstrip() for line in out.splitlines()] == [
        f"✗ {path}: invalid, 1 problem",
        f"  program: {message}",
        f"    {hint}",
        "    (--no-program-check reports this as a warning: for a program not written yet, or "
        "a sweep run with a Python function)",
    ]
    code, out = _invoke("validate", "--json", str(path))
    assert code == 2
    (report,) = json.loads(out)
    assert report["valid"] is False and report["supported"] is True
    assert report["issues"] == [
        {"path": "program", "message": message, "hint": hint, "line": None}]

    # --no-program-check: the same problem, as a warning; the file passes.
    code, out = _invoke("validate", "--no-program-check", str(path))
    assert code == 0, out
    lines = [line.rstrip() for line in out.splitlines()]
    assert lines[1:3] == [f"  program: {message}", f"    {hint}"]
    code, out = _invoke("validate", "--json", "--no-program-check", str(path))
    (report,) = json.loads(out)
    assert report["valid"] is True
    assert report["warnings"] == [
        {"path": "program", "message": message, "hint": hint, "line": None}]


def test_validate_accepts_a_program_on_path_or_a_command_without_program(
    tmp_path: Path
) -> None:
    path = tmp_path / "sweep.yaml"
    on_path = VALID.replace("program: train.py", "program: sh")
    path.write_text(on_path, encoding="utf-8")
    assert _invoke("validate", str(path))[0] == 0
    literal = VALID.replace("program: train.py\n", "command: [sh, run.sh, '${args}']\n")
    path.write_text(literal, encoding="utf-8")
    assert _invoke("validate", str(path))[0] == 0


def test_validate_help_documents_the_program_check() -> None:
    code, out = _invoke("validate", "--help")
    assert code == 0
    text = " ".join(out.split())
    assert "--no-program-check Report a missing program" in text
    assert "The program is checked as `raysweep run` checks it" in text


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
    assert rows[2:] == [["1", "1", "x"], ["2", "1", "y"], ["3", "1", "z"], ["4", "2", "x"]]


def test_preview_shows_strings_plainly_unless_they_would_read_as_another_value(
    tmp_path: Path
) -> None:
    path = tmp_path / "grid.yaml"
    # A string that reads as a number, a boolean, None or nothing keeps its quotes; the
    # others (l2, a path) are shown as they are.
    path.write_text("method: grid\nparameters:\n  v:\n    values: [l2, ./data/x.csv, '1e-3', "
                    "'', 'None', 'true', ' pad', 1, 0.001, true]\n", encoding="utf-8")
    code, out = _invoke("preview", str(path))
    assert code == 0, out
    cells = [line[line.index(" ", line.index(line.split()[0])):].strip()
             for line in out.splitlines()[2:]]
    assert cells == ["l2", "./data/x.csv", "'1e-3'", "''", "'None'", "'true'", "' pad'", "1",
                     "0.001", "True"]


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
