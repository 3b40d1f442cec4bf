"""A command that cannot start: the user sees raysweep's "cannot start program" message.

The error is raised in a Ray worker and reaches the driver pickled; Ray copies it
(``copy.copy``) before it is stored. An error that did not survive both showed as a
``TypeError`` about ``__init__``'s arguments instead of the message.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from _cli import private_ray_env, run_cli

import raysweep
from raysweep.analysis.tables import read_trials

pytestmark = [
    pytest.mark.ray,
    pytest.mark.skipif(sys.platform == "win32", reason="execute bits are POSIX"),
]

PROGRAM = 'print("@raysweep {\\"loss\\": 1.0}")\n'
GUARD = "the first 3 trials all failed"


def _write_sweep(directory: Path, command: list[str], executable: bool = True) -> Path:
    """A 4-point grid whose program is ``prog.py``, started by ``command``."""
    program = directory / "prog.py"
    program.write_text(PROGRAM, encoding="utf-8")
    program.chmod(0o755 if executable else 0o644)
    doc: dict[str, Any] = {
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"x": {"values": [1, 2, 3, 4]}},
        "program": "prog.py",
        "command": command,
    }
    path = directory / "sweep.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def _stored_errors(sweep_dir: Path) -> list[str]:
    """The ``error`` of every failed trial in the trials file, as text whatever its format."""
    trials = read_trials(sweep_dir)
    return [json.dumps(t["error"]) if not isinstance(t["error"], str) else t["error"]
            for t in trials if t.get("status") == "failed"]


CASES = [
    pytest.param(
        ["definitely-not-a-binary", "${program}", "${args}"], True,
        "cannot start program 'definitely-not-a-binary'", id="not_on_path"),
    pytest.param(
        ["./prog.py", "${args}"], False,
        "cannot start program './prog.py'", id="no_execute_bit"),
]


@pytest.mark.parametrize(("command", "executable", "message"), CASES)
def test_a_program_that_cannot_start_shows_raysweeps_message(
    tmp_path: Path, command: list[str], executable: bool, message: str
) -> None:
    path = _write_sweep(tmp_path, command, executable)
    result = raysweep.run(path, storage=tmp_path / "results", name="broken")

    failed = result.trials[result.trials["status"] == "failed"]
    assert len(failed) >= 3  # the guard ended the sweep after the first three
    for error in [*failed["error"], *_stored_errors(result.path)]:
        assert message in str(error)
        assert "TypeError" not in str(error)
    assert GUARD in str(result.meta["end_reason"])



@pytest.mark.slow
def test_the_command_line_shows_the_message_as_the_first_failure(tmp_path: Path) -> None:
    path = _write_sweep(tmp_path, ["definitely-not-a-binary", "${program}", "${args}"])
    with private_ray_env("rsf") as env:
        run = run_cli(["run", str(path), "--num-cpus", "2", "--storage",
                       str(tmp_path / "results"), "--name", "broken"], cwd=tmp_path, env=env)
    shown = run.stdout + run.stderr
    assert GUARD in shown, shown
    first_failure = shown.split("first failure", 1)[1]
    assert "cannot start program 'definitely-not-a-binary'" in first_failure
    assert "not found on PATH" in first_failure
    assert "TypeError" not in shown
