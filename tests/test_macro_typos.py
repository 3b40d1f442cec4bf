"""A misspelled command macro is warned about before a sweep starts; an unset ``${envvar:...}``
fails its trial with a one-line message.

W&B's agent drops an unknown whole-item macro (``${argz}``: every trial runs on the program's
defaults) and passes one inside an item literally (``--lr=${lrr}``). The config check warns;
``raysweep validate`` lists the warnings, ``raysweep run`` and ``raysweep.run`` show them before
Ray starts.
"""

from __future__ import annotations

import socket
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

import raysweep
from raysweep.cli import main
from raysweep.errors import RaysweepWarning, SweepConfigError
from raysweep.execution.trainable import check_runnable
from raysweep.sweep.config import load

TYPOS: dict[str, Any] = {
    "method": "grid",
    "metric": {"name": "loss", "goal": "minimize"},
    "program": "train.py",
    "command": ["${env}", "${interpreter}", "${program}", "${argz}", "--lr=${lrr}"],
    "parameters": {"lr": {"values": [0.1, 0.2]}},
}
ARGZ = (
    "command (line 10): `${argz}` is neither a built-in macro nor a parameter: it expands to "
    "nothing. Did you mean `${args}`?"
)
LRR = (
    "command (line 11): `${lrr}` in `--lr=${lrr}` is not a parameter: the program gets it as "
    "literal text. Did you mean `${lr}`?"
)


def _write(directory: Path, doc: dict[str, Any], *, program: bool) -> Path:
    path = directory / "sweep.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    if program:
        (directory / "train.py").write_text("print('hi')\n", encoding="utf-8")
    return path


def test_the_config_warns_about_each_macro_that_will_not_expand(tmp_path: Path) -> None:
    cfg = load(_write(tmp_path, TYPOS, program=True))
    assert [w.render() for w in cfg.warnings] == [ARGZ, LRR]


def test_run_shows_the_config_warnings_before_it_starts(tmp_path: Path) -> None:
    path = _write(tmp_path, TYPOS, program=True)
    with pytest.warns(RaysweepWarning) as record:
        check_runnable(load(path))
    assert [str(w.message) for w in record] == [f"{path}: {ARGZ}", f"{path}: {LRR}"]


def test_a_config_without_warnings_runs_silently(tmp_path: Path) -> None:
    doc = {**TYPOS, "command": ["${env}", "${interpreter}", "${program}", "--lr=${lr}"]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_runnable(load(_write(tmp_path, doc, program=True)))


def test_the_python_api_warns_at_the_callers_line_then_refuses_a_missing_program(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path, TYPOS, program=False)
    with pytest.warns(RaysweepWarning) as record, pytest.raises(SweepConfigError) as info:
        raysweep.run(path, storage=tmp_path / "results")  # refused before Ray starts
    assert [str(w.message) for w in record] == [f"{path}: {ARGZ}", f"{path}: {LRR}"]
    assert {w.filename for w in record} == {__file__}
    assert [i.render() for i in info.value.issues] == [
        f"program: 'train.py' not found in {tmp_path}. Programs run from the sweep file's "
        "directory; give the path relative to it."
    ]


def test_the_cli_run_warns_then_refuses_a_missing_program_as_validate_does(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path, TYPOS, program=False)
    with pytest.warns(RaysweepWarning) as record:
        ran = CliRunner().invoke(main, ["run", str(path), "--storage", str(tmp_path / "r")],
                                 env={"COLUMNS": "200"})
    checked = CliRunner().invoke(main, ["validate", str(path)], env={"COLUMNS": "200"})
    assert [str(w.message) for w in record] == [f"{path}: {ARGZ}", f"{path}: {LRR}"]
    assert ran.exit_code == checked.exit_code == 2
    refusal = f"program: 'train.py' not found in {tmp_path}"
    assert refusal in ran.output and refusal in checked.output
    assert "Traceback" not in ran.output


@pytest.mark.ray
def test_an_unset_envvar_fails_its_trial_naming_the_variable_and_the_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RAYSWEEP_TEST_UNSET_VAR", raising=False)
    doc = {
        **TYPOS,
        "command": ["${env}", "${interpreter}", "${program}",
                    "--data=${envvar:RAYSWEEP_TEST_UNSET_VAR}"],
        "parameters": {"lr": {"values": [0.1]}},
    }
    path = _write(tmp_path, doc, program=True)
    result = raysweep.run(path, storage=tmp_path / "results", name="envvar")
    trial = result.trials.iloc[0]
    assert trial["status"] == "failed"
    assert (
        "command: ${envvar:RAYSWEEP_TEST_UNSET_VAR}: environment variable "
        f"RAYSWEEP_TEST_UNSET_VAR is not set on node {socket.gethostname()}"
    ) in trial["error"]
