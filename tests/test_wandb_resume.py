"""W&B scripts that resume (``wandb.save`` / ``wandb.restore``, ``wandb.run.resumed``,
``wandb.init(resume=...)``) in a sweep with ``early_terminate: {type: promotion, resume:
checkpoint}``, through the stand-in and unchanged.

The stand-in runs in this process with a reporter that notes the checkpoint folder at each
report (what raysweep's folder watch sees), and as a program trial (subprocess) started as a
first trial and then as the resumed one. One sweep on Ray checks it end to end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from _promotion_oracle import CHECKPOINT_CURVES, CHECKPOINT_RUNGS, checkpoint_oracle
from _standin import enter_trial

import raysweep
from raysweep.errors import RaysweepWarning
from raysweep.execution.trainable import ProgramSpec, trial_environment
from raysweep.program.checkpoint import CHECKPOINT_DIR_ENV, RESUMED_STEP_ENV
from raysweep.program.metrics import parse_report_line, set_function_reporter
from raysweep.program.once import reset_warnings
from raysweep.program.wandb_files import resume_mode


@pytest.fixture(autouse=True)
def fresh_warnings() -> Iterator[None]:
    reset_warnings()
    yield
    reset_warnings()


def _files(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text(encoding="utf-8")
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def trial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Trial t1 of a checkpoint sweep; each report is noted with the folder's files then."""
    trial_dir = enter_trial(tmp_path, monkeypatch)
    folder = tmp_path / "checkpoints" / "t1"
    folder.mkdir(parents=True)
    monkeypatch.setenv(CHECKPOINT_DIR_ENV, str(folder))
    monkeypatch.setenv(RESUMED_STEP_ENV, "0")
    seen: list[tuple[dict[str, Any], dict[str, str]]] = []
    previous = set_function_reporter(lambda row: seen.append((dict(row), _files(folder))))
    try:
        yield {"dir": trial_dir, "folder": folder, "seen": seen}
    finally:
        set_function_reporter(previous)



def _resume_from(trial: dict[str, Any], monkeypatch: pytest.MonkeyPatch, steps: int) -> None:
    monkeypatch.setenv(RESUMED_STEP_ENV, str(steps))


# --- resume modes ------------------------------------------------------------------------------

def test_resume_modes_are_read_as_w_and_b_reads_them() -> None:
    assert [resume_mode(v, {}) for v in (None, False, True, "allow", "MUST", "never", "auto")] \
        == [None, None, "auto", "allow", "must", "never", "auto"]
    assert resume_mode(None, {"WANDB_RESUME": "allow"}) == "allow"
    assert resume_mode("never", {"WANDB_RESUME": "allow"}) == "never"  # the argument wins
    with pytest.warns(RaysweepWarning, match="reads it as 'allow'"):
        assert resume_mode("3xk2ab9", {}) == "allow"  # old W&B: a run id


def test_a_first_start_is_not_resumed_and_counts_from_zero(
    wandb: ModuleType, trial: dict[str, Any]
) -> None:
    run = wandb.init(resume="allow")
    assert (run.resumed, run.step, run.starting_step) == (False, 0, 0)
    with pytest.raises(ValueError, match="File model.pt not found"):
        wandb.restore("model.pt")


def test_must_on_a_first_start_and_never_on_a_resumed_trial_raise_as_w_and_b(
    wandb: ModuleType, trial: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(wandb.errors.UsageError, match="resume='must'.*Pass resume='allow'"):
        wandb.init(resume="must")
    (trial["folder"] / "model.pt").write_text("w2", encoding="utf-8")
    _resume_from(trial, monkeypatch, 2)
    with pytest.raises(wandb.errors.UsageError, match="resumes its configuration from step 2"):
        wandb.init(resume="never")
    with pytest.raises(ValueError, match="mutually exclusive"):
        wandb.init(resume="allow", resume_from="t1?_step=1")
    assert wandb.init(resume="must").resumed


def test_outside_a_checkpoint_sweep_resume_is_ignored_and_save_does_nothing(
    wandb: ModuleType, trial: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CHECKPOINT_DIR_ENV)
    monkeypatch.delenv(RESUMED_STEP_ENV)
    run = wandb.init(resume="must")  # W&B offline ignores resume too
    (trial["dir"] / "model.pt").write_text("w", encoding="utf-8")
    with pytest.warns(RaysweepWarning, match="wandb.save does nothing.*resume: checkpoint"):
        assert wandb.save("model.pt") == []
    assert not run.resumed and _files(trial["folder"]) == {}


# --- saving before the report it belongs to -----------------------------------------------------

def _train(wandb: ModuleType, trial: dict[str, Any], epochs: range, *, save_first: bool,
           resume: Any = "allow") -> list[int]:
    """A W&B script: restore when resumed, then per epoch save the state into run.dir and log,
    in either order. Returns the epochs it trained."""
    run = wandb.init(resume=resume)
    start = json.load(wandb.restore("model.json"))["epoch"] if run.resumed else 0
    assert start == run.step
    trained = []
    for epoch in range(start, epochs.stop):
        trained.append(epoch + 1)
        if not save_first:
            wandb.log({"loss": 1.0 / (epoch + 1)})
        with open(os.path.join(run.dir, "model.json"), "w", encoding="utf-8") as f:
            json.dump({"epoch": epoch + 1}, f)
        wandb.save("model.json")
        if save_first:
            wandb.log({"loss": 1.0 / (epoch + 1)})
    wandb.finish()
    return trained


@pytest.mark.parametrize("save_first", [True, False], ids=["save-then-log", "log-then-save"])
def test_each_report_finds_the_state_of_its_step_in_the_folder(
    wandb: ModuleType, trial: dict[str, Any], save_first: bool
) -> None:
    assert _train(wandb, trial, range(3), save_first=save_first) == [1, 2, 3]
    assert [(row["_step"], files) for row, files in trial["seen"]] == [
        (step, {"model.json": json.dumps({"epoch": step + 1})}) for step in range(3)]


@pytest.mark.parametrize("save_first", [True, False], ids=["save-then-log", "log-then-save"])
def test_a_resumed_run_restores_and_counts_on_from_its_steps(
    wandb: ModuleType, trial: dict[str, Any], monkeypatch: pytest.MonkeyPatch, save_first: bool
) -> None:
    (trial["folder"] / "model.json").write_text(json.dumps({"epoch": 2}), encoding="utf-8")
    _resume_from(trial, monkeypatch, 2)
    assert _train(wandb, trial, range(4), save_first=save_first) == [3, 4]
    assert [(row["_step"], files["model.json"]) for row, files in trial["seen"]] == [
        (2, json.dumps({"epoch": 3})), (3, json.dumps({"epoch": 4}))]
    # wandb.restore copied the file into run.dir, where the script wrote it on.
    assert json.loads((trial["dir"] / "model.json").read_text()) == {"epoch": 4}


def test_a_run_without_resume_saves_no_checkpoint(
    wandb: ModuleType, trial: dict[str, Any]
) -> None:
    # W&B never resumes such a run: if its files were its state, a promoted configuration
    # would count on from a step its script does not go on from.
    with pytest.warns(RaysweepWarning, match="without wandb.init\\(resume=...\\)"):
        _train(wandb, trial, range(2), save_first=True, resume=None)
    assert [files for _, files in trial["seen"]] == [{}, {}]


def test_live_files_are_copied_again_before_each_report_when_changed(
    wandb: ModuleType, trial: dict[str, Any]
) -> None:
    run = wandb.init(resume=True)
    paths = wandb.save("ckpt/*.txt", policy="live")  # nothing matches yet
    assert paths == []
    (Path("ckpt")).mkdir()
    for epoch in range(3):
        if epoch != 1:  # unchanged at the second report: the folder is not touched
            Path("ckpt/w.txt").write_text(f"w{epoch}", encoding="utf-8")
        wandb.log({"loss": epoch})
    run.finish()
    folder = trial["folder"]
    assert [files for _, files in trial["seen"]] == [
        {"ckpt/w.txt": "w0"}, {"ckpt/w.txt": "w0"}, {"ckpt/w.txt": "w2"}]
    now = wandb.init(resume="allow", reinit=True)
    assert now.save("ckpt/w.txt", policy="now") == [str(folder / "ckpt" / "w.txt")]


def test_names_follow_w_and_b(wandb: ModuleType, trial: dict[str, Any], tmp_path: Path) -> None:
    run = wandb.init(resume="allow")
    out = tmp_path / "out" / "sub"
    out.mkdir(parents=True)
    (out / "a.bin").write_text("a", encoding="utf-8")
    wandb.save(str(out / "a.bin"), base_path=str(tmp_path / "out"))
    with pytest.warns(RaysweepWarning, match="Saving files without folders"):
        wandb.save(str(out / "a.bin"))  # absolute, no base: one folder level kept
    Path(run.dir, "best.h5").write_text("b", encoding="utf-8")
    wandb.save(os.path.join(run.dir, "best.h5"))  # in run.dir: named relative to it
    assert _files(trial["folder"]) == {"sub/a.bin": "a", "best.h5": "b"}
    with pytest.raises(ValueError, match="policies"):
        wandb.save("a.bin", policy="sometimes")
    with pytest.raises(ValueError, match="walk above"):
        wandb.save(str(tmp_path / "x"), base_path=str(out))


def test_restore_returns_an_open_file_or_refuses_as_w_and_b(
    wandb: ModuleType, trial: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="run_path required"):
        wandb.restore("model.json")
    (trial["folder"] / "sub").mkdir()
    (trial["folder"] / "sub" / "m.txt").write_text("saved", encoding="utf-8")
    _resume_from(trial, monkeypatch, 3)
    run = wandb.init(resume="auto")
    with wandb.restore("sub/m.txt") as f:
        assert (f.name, f.read()) == (str(trial["dir"] / "sub" / "m.txt"), "saved")
    Path(run.dir, "sub", "m.txt").write_text("local", encoding="utf-8")
    assert wandb.restore("sub/m.txt").read() == "local"  # there already: kept
    assert run.restore("sub/m.txt", replace=True).read() == "saved"
    assert wandb.restore("sub/m.txt", root="elsewhere").name == "elsewhere/sub/m.txt"
    with pytest.raises(wandb.errors.CommError, match="another run's files"):
        wandb.restore("model.h5", run_path="me/proj/other")


# --- a program trial, paused and resumed (subprocess) ---------------------------------------

SCRIPT = """
import json, os, wandb

run = wandb.init(project="p", resume="allow")
start = 0
if wandb.run.resumed:
    start = json.load(wandb.restore("model.json"))["epoch"]
print("start", start, run.step, flush=True)
for epoch in range(start, 4):
    wandb.log({"loss": 1.0 / (epoch + 1)})
    with open(os.path.join(wandb.run.dir, "model.json"), "w") as f:
        json.dump({"epoch": epoch + 1}, f)
    wandb.save("model.json")
    if epoch + 1 == STOP:
        os._exit(0)  # as if paused right after its report
"""


def _program(tmp_path: Path, trial_id: str, stop: int, resumed_step: int,
             folder: Path) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    (tmp_path / "train.py").write_text(textwrap.dedent(SCRIPT).replace("STOP", str(stop)))
    trial_dir = tmp_path / f"trial_{trial_id}"
    trial_dir.mkdir()
    spec = ProgramSpec(command=None, program="train.py", directory=str(tmp_path),
                       sweep_id="sweep-1", wandb="shim")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RAYSWEEP_"))}
    env = trial_environment(base, spec, trial_id, trial_dir, {"lr": 0.1})
    env.update({CHECKPOINT_DIR_ENV: str(folder), RESUMED_STEP_ENV: str(resumed_step)})
    out = subprocess.run([sys.executable, "train.py"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    found = (parse_report_line(line) for line in out.stdout.splitlines())
    return out, [r for r in found if r is not None]


def test_a_program_paused_after_its_report_resumes_from_that_step(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoints" / "t1"
    folder.mkdir(parents=True)
    out, reports = _program(tmp_path, "t1", stop=2, resumed_step=0, folder=folder)
    assert out.returncode == 0, out.stderr
    assert "start 0 0" in out.stdout
    # Log, then save: the second report waited for its save, so the pause finds its state.
    assert [r["_step"] for r in reports] == [0, 1]
    assert json.loads((folder / "model.json").read_text()) == {"epoch": 2}
    out, reports = _program(tmp_path, "t7", stop=0, resumed_step=2, folder=folder)
    assert out.returncode == 0, out.stderr
    assert "start 2 2" in out.stdout
    assert [(r["_step"], r["loss"]) for r in reports] == [(2, 1 / 3), (3, 0.25)]
    assert out.stderr == ""


# --- a sweep on Ray ---------------------------------------------------------------------------

CURVES, RUNGS = CHECKPOINT_CURVES, CHECKPOINT_RUNGS

SWEEP_SCRIPT = """
import json, os, time
import wandb

CURVES = json.loads(CURVES_JSON)
run = wandb.init(resume="allow")
curve = int(wandb.config.curve)
epoch = 0
if wandb.run.resumed:
    epoch = json.load(wandb.restore("checkpoint.json"))["epoch"]
assert epoch == wandb.run.step, (epoch, wandb.run.step)
while epoch < len(CURVES[curve]):
    time.sleep(0.05)
    with open(TRAINED, "a") as f:
        f.write(f"{curve}:{epoch + 1}\\n")
    wandb.log({"loss": CURVES[curve][epoch]})
    epoch += 1
    # W&B's own examples: log, then save the checkpoint.
    with open(os.path.join(wandb.run.dir, "checkpoint.json"), "w") as f:
        json.dump({"epoch": epoch}, f)
    wandb.save("checkpoint.json")
"""


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
def test_a_wandb_program_sweep_resumes_paused_trials_from_wandb_save(tmp_path: Path) -> None:
    log = tmp_path / "trained.txt"
    log.touch()
    # Ray's workers started before this test: the values go into the program itself.
    program = (SWEEP_SCRIPT.replace("CURVES_JSON", repr(json.dumps(CURVES)))
               .replace("TRAINED", repr(str(log))))
    (tmp_path / "train.py").write_text(textwrap.dedent(program), encoding="utf-8")
    sweep = {"program": "train.py", "method": "grid",
             "metric": {"name": "loss", "goal": "minimize"},
             "parameters": {"curve": {"values": list(range(len(CURVES)))}},
             "early_terminate": {"type": "promotion", "max_iter": 8, "s": 2, "eta": 2,
                                 "resume": "checkpoint"},
             "raysweep": {"max_concurrent_trials": 1}}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep), encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = raysweep.run(path, storage=tmp_path / "res", name="w")

    expected = checkpoint_oracle(CURVES, RUNGS, 2)
    assert any(start > 0 for *_, start in expected)
    trials = result.trials.set_index("trial_id").loc[result.trial_order]
    got = []
    for _, row in trials.iterrows():
        start = row.get("resumed_from_step")
        start = 0 if start is None or start != start else int(start)
        got.append((row["status"], start + int(row["steps"]), str(int(row["curve"])), start))
    assert got == expected
    paused = trials[trials["paused_at"].notna()]
    assert len(paused) == sum(status == "stopped" for status, *_ in expected)
    # No epoch trained twice, and every step of each configuration reported once, in order.
    trained = [tuple(map(int, line.split(":"))) for line in log.read_text().split()]
    assert Counter(trained).most_common(1)[0][1] == 1
    last = {int(c): step for _, step, c, _ in expected}
    assert sorted(trained) == sorted((c, e) for c, n in last.items() for e in range(1, n + 1))
    history = result.history.merge(result.trials[["trial_id", "curve"]], on="trial_id")
    for curve, rows in history.groupby("curve"):
        assert list(rows["loss"]) == CURVES[int(curve)][: len(rows)], curve
        assert sorted(rows["_step"]) == list(range(len(rows))), curve
