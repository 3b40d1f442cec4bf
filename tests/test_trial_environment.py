"""Where trials run and which ``python`` they find: ``PATH``, ``PYTHONPATH`` and
``raysweep: {workdir: trial}``.

The Ray-free tests build a program trial exactly as a worker does (:func:`prepare_program`)
from an environment whose ``PATH`` lacks the venv, and run it with :func:`run_program`. The Ray
workers of the shared session take their environment from the process that started Ray, so a
``PATH`` changed in the test process does not reach them: the sweeps run by ``raysweep.run``
below check that trials get this interpreter's folder first, on whatever ``PATH`` the workers
have.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

import raysweep
from raysweep.execution.process import run_program
from raysweep.execution.trainable import (
    ProgramSpec,
    anchor_scripts,
    first_on_path,
    interpreter_first_on_path,
    path_with_interpreter,
    prepare_program,
    working_directory,
)
from raysweep.program.wandb_package import SHIM_DIR
from raysweep.sweep.model import Workdir

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths and processes")

BIN = os.path.dirname(sys.executable)

# Imports raysweep, which only this interpreter (the venv's) has, and says which python it is.
IMPORTS_RAYSWEEP = """
import sys
import raysweep
print("interpreter", sys.executable)
raysweep.log({"ok": 1})
"""


def path_without_venv() -> str:
    """This process's PATH without the folder of the running interpreter (a venv not activated)."""
    kept = [p for p in os.environ.get("PATH", os.defpath).split(os.pathsep)
            if p and os.path.normpath(p) != os.path.normpath(BIN)]
    return os.pathsep.join([*kept, "/usr/bin", "/bin"])


def launch_and_run(
    spec: ProgramSpec, tmp_path: Path, environ: dict[str, str], trial_id: str = "t1",
    config: dict[str, Any] | None = None,
) -> tuple[int, list[dict[str, Any]], str, Path]:
    """Build one program trial as a worker does and run it; return its status, reports, log
    and trial folder."""
    trial_dir = tmp_path / "sweep" / f"trial_{trial_id}"
    trial_dir.mkdir(parents=True)
    launch = prepare_program(spec, config or {"x": 1}, trial_id, trial_dir, environ)
    reports: list[dict[str, Any]] = []
    log = trial_dir / "program.log"
    outcome = run_program(launch.argv, cwd=launch.cwd, env=launch.env, log_path=str(log),
                          on_report=reports.append)
    return outcome.returncode, reports, log.read_text(encoding="utf-8"), trial_dir


# --- PATH: a literal `python` finds raysweep's interpreter ---------------------------------------


def test_path_puts_the_interpreter_folder_first_once() -> None:
    venv = "/home/u/.venv/bin"
    assert path_with_interpreter(f"/usr/bin:{venv}/:/bin", f"{venv}/python") == \
        f"{venv}:/usr/bin:/bin"
    assert path_with_interpreter(None, f"{venv}/python") == f"{venv}{os.pathsep}{os.defpath}"
    assert path_with_interpreter("", f"{venv}/python") == venv
    assert path_with_interpreter("/usr/bin", "") == "/usr/bin"


def test_path_keeps_the_venv_folder_not_the_linked_interpreter(tmp_path: Path) -> None:
    # A venv's python is a link to the base interpreter: its folder, not the link's target,
    # has the venv's packages.
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").symlink_to(sys.executable)
    assert path_with_interpreter("/usr/bin", str(venv_bin / "python")).split(os.pathsep)[0] \
        == str(venv_bin)


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["python", "${program}", "${args}"], id="python"),
        pytest.param(["python3", "${program}", "${args}"], id="python3"),
        pytest.param(["${env}", "python", "${program}", "${args}"], id="env_python"),
    ],
)
def test_a_literal_python_runs_raysweeps_interpreter_without_the_venv_on_path(
    tmp_path: Path, command: list[str]
) -> None:
    (tmp_path / "train.py").write_text(IMPORTS_RAYSWEEP, encoding="utf-8")
    stripped = path_without_venv()
    found = shutil.which(command[-3], path=stripped)
    # What the command would have run before: another python, or none at all.
    assert found is None or os.path.dirname(found) != BIN
    spec = ProgramSpec(command=tuple(command), program="train.py", directory=str(tmp_path),
                       sweep_id="s")
    environ = {**os.environ, "PATH": stripped}

    status, reports, log, _ = launch_and_run(spec, tmp_path, environ)

    assert (status, reports) == (0, [{"ok": 1}]), log
    assert f"interpreter {os.path.join(BIN, command[-3])}\n" in log


# --- workdir: trial, the program side ------------------------------------------------------------

WRITES_RELATIVE = """
import sys
import helper
from raysweep import log

x = sys.argv[1].split("=")[1]
with open("model.pkl", "w") as f:
    f.write(x)
defaults = open("config-defaults.yaml").read().strip()
log({"x": float(x), "helped": helper.VALUE})
print("defaults", defaults)
"""


def test_workdir_trial_runs_the_program_in_its_trial_folder(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(WRITES_RELATIVE, encoding="utf-8")
    (tmp_path / "helper.py").write_text("VALUE = 7\n", encoding="utf-8")
    (tmp_path / "config-defaults.yaml").write_text("epochs: {value: 3}\n", encoding="utf-8")
    spec = ProgramSpec(command=("python", "train.py", "${args}"), program="train.py",
                       directory=str(tmp_path), sweep_id="s", workdir=Workdir.TRIAL)

    status, reports, log, trial_dir = launch_and_run(spec, tmp_path, dict(os.environ),
                                                     config={"x": 2})

    assert (status, reports) == (0, [{"x": 2.0, "helped": 7}]), log
    assert (trial_dir / "model.pkl").read_text() == "2"
    assert not (tmp_path / "model.pkl").exists()
    assert "defaults epochs: {value: 3}" in log


def test_workdir_trial_environment(tmp_path: Path) -> None:
    spec = ProgramSpec(command=None, program="train.py", directory=str(tmp_path),
                       sweep_id="s", workdir=Workdir.TRIAL)
    trial_dir = tmp_path / "trial_t1"
    trial_dir.mkdir()
    environ = {"PATH": "/usr/bin", "PYTHONPATH": f".:lib:{tmp_path}:/opt/x"}

    launch = prepare_program(spec, {"lr": 0.1}, "t1", trial_dir, environ)

    assert launch.cwd == str(trial_dir)
    assert launch.argv[2:] == [str(tmp_path / "train.py"), "--lr=0.1"]
    # The stand-in first, then the program's folder; relative items meant that folder.
    assert launch.env["PYTHONPATH"].split(os.pathsep) == [
        str(SHIM_DIR), str(tmp_path), str(tmp_path / "lib"), "/opt/x"]
    assert launch.env["PATH"] == f"{BIN}{os.pathsep}/usr/bin"


def test_shared_workdir_keeps_the_sweep_files_folder(tmp_path: Path) -> None:
    spec = ProgramSpec(command=None, program="train.py", directory=str(tmp_path), sweep_id="s")
    trial_dir = tmp_path / "trial_t1"
    trial_dir.mkdir()

    launch = prepare_program(spec, {"lr": 0.1}, "t1", trial_dir, {"PYTHONPATH": "lib"})

    assert launch.cwd == str(tmp_path)
    assert launch.argv[2:] == ["train.py", "--lr=0.1"]
    assert launch.env["PYTHONPATH"].split(os.pathsep) == [str(SHIM_DIR), "lib"]


def test_anchor_scripts_only_touches_the_programs_scripts(tmp_path: Path) -> None:
    (tmp_path / "eval.py").write_text("", encoding="utf-8")
    argv = ["accelerate", "launch", "eval.py", "missing.py", "--cfg=eval.py", "model.pkl",
            "sub/../train.py"]
    assert anchor_scripts(argv, str(tmp_path), "sub/../train.py") == [
        "accelerate", "launch", str(tmp_path / "eval.py"), "missing.py", "--cfg=eval.py",
        "model.pkl", str(tmp_path / "train.py")]
    assert anchor_scripts(["/abs/run.sh", "./x.py"], str(tmp_path), None) == \
        ["/abs/run.sh", "./x.py"]


def test_first_on_path_drops_later_copies_only() -> None:
    assert first_on_path(["/a", "/b"], "/c:/b:/a/:/d") == "/a:/b:/c:/d"
    assert first_on_path(["/a"], None) == "/a"


# --- workdir: trial, the function side -----------------------------------------------------------


def test_a_function_trial_finds_raysweeps_python_first_on_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A function that starts `python ...` itself gets the interpreter a program trial gets.
    stripped = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                               if os.path.normpath(p) != os.path.dirname(sys.executable))
    monkeypatch.setenv("PATH", stripped)
    with interpreter_first_on_path():
        found = shutil.which("python")
        assert found is not None and os.path.dirname(found) == os.path.dirname(sys.executable)
    assert os.environ["PATH"] == stripped


def test_working_directory_moves_and_restores(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    driver = tmp_path / "driver"
    trial = tmp_path / "trial_t1"
    driver.mkdir()
    trial.mkdir()
    (driver / "config-defaults.yaml").write_text("lr: 0.5\n", encoding="utf-8")
    (driver / "late_module.py").write_text("VALUE = 3\n", encoding="utf-8")
    monkeypatch.chdir(driver)
    monkeypatch.syspath_prepend("")  # a notebook's path: the working directory
    before = list(sys.path)

    with working_directory(trial):
        assert Path.cwd() == trial
        Path("model.pkl").write_text("m")
        import late_module  # found in the driver's folder, though the cwd moved

        assert late_module.VALUE == 3
        assert Path("config-defaults.yaml").read_text() == "lr: 0.5\n"

    sys.modules.pop("late_module", None)
    assert Path.cwd() == driver
    assert sys.path == before
    assert (trial / "model.pkl").is_file() and not (driver / "model.pkl").exists()


# --- on Ray ------------------------------------------------------------------------------------


def write_sweep(directory: Path, script: str, doc: dict[str, Any]) -> Path:
    (directory / "train.py").write_text(textwrap.dedent(script), encoding="utf-8")
    path = directory / "sweep.yaml"
    path.write_text(yaml.safe_dump({"program": "train.py", **doc}, sort_keys=False))
    return path


@pytest.mark.ray
def test_sweep_with_a_literal_python_command(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # The driver's PATH without the venv (the workers keep theirs; see the module docstring).
    monkeypatch.setenv("PATH", path_without_venv())
    path = write_sweep(tmp_path, IMPORTS_RAYSWEEP + "print('PATH', __import__('os').environ"
                       "['PATH'].split(':')[0])\n", {
        "method": "grid",
        "command": ["python", "${program}", "${args}"],
        "parameters": {"x": {"values": [1]}},
    })
    result = raysweep.run(path, storage=tmp_path / "results", name="literal")

    trials = result.trials
    assert trials["status"].tolist() == ["finished"], trials["error"].tolist()
    assert trials["ok"].tolist() == [1]
    log = (result.path / f"trial_{trials['trial_id'][0]}" / "program.log").read_text()
    assert f"interpreter {os.path.join(BIN, 'python')}\n" in log
    assert f"PATH {BIN}\n" in log


@pytest.mark.ray
def test_workdir_trial_keeps_concurrent_trials_apart(tmp_path: Path) -> None:
    (tmp_path / "helper.py").write_text("VALUE = 7\n", encoding="utf-8")
    (tmp_path / "config-defaults.yaml").write_text("epochs: 3\n", encoding="utf-8")
    path = write_sweep(tmp_path, WRITES_RELATIVE, {
        "method": "grid",
        "command": ["python", "train.py", "${args}"],
        "parameters": {"x": {"values": [1, 2]}},
        "raysweep": {"workdir": "trial", "max_concurrent_trials": 2},
    })
    result = raysweep.run(path, storage=tmp_path / "results", name="apart")

    trials = result.trials
    assert (trials["status"] == "finished").all(), trials["error"].tolist()
    assert trials["helped"].tolist() == [7, 7]
    for trial_id, x in zip(trials["trial_id"], trials["x"], strict=True):
        assert (result.path / f"trial_{trial_id}" / "model.pkl").read_text() == str(x)
    assert not (tmp_path / "model.pkl").exists()


@pytest.mark.ray
def test_workdir_trial_for_function_trials(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    def train(config: dict[str, Any]) -> None:
        Path("model.pkl").write_text(str(config["x"]))
        raysweep.log({"cwd_is_trial": float(Path.cwd().name.startswith("trial_"))})

    result = raysweep.run(
        {"method": "grid", "parameters": {"x": {"values": [1, 2]}},
         "raysweep": {"workdir": "trial"}},
        function=train, storage=tmp_path / "results", name="fn",
    )

    trials = result.trials
    assert (trials["status"] == "finished").all(), trials["error"].tolist()
    assert trials["cwd_is_trial"].tolist() == [1.0, 1.0]
    for trial_id, x in zip(trials["trial_id"], trials["x"], strict=True):
        assert (result.path / f"trial_{trial_id}" / "model.pkl").read_text() == str(x)
    assert not (tmp_path / "model.pkl").exists()
