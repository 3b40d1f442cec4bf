"""``early_terminate: {type: promotion, resume: checkpoint}``: paused trials resume from the
state they saved, for function trials and programs; without a checkpoint, a configuration
trains again from the start. Checked against the promotion ladder's oracle."""

from __future__ import annotations

import json
import os
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from _promotion_oracle import (
    CHECKPOINT_CURVES,
    CHECKPOINT_RUNGS,
    checkpoint_oracle,
    promotion_oracle,
)

import raysweep
from raysweep.program.checkpoint import CHECKPOINT_DIR_ENV, STATE_FILE, restore, save
from raysweep.program.checkpoint_store import CheckpointStore, FolderWatch, Segment

CURVES, RUNGS = CHECKPOINT_CURVES, CHECKPOINT_RUNGS
EARLY = {"type": "promotion", "max_iter": 8, "s": 2, "eta": 2, "resume": "checkpoint"}


# -- the trial's side (no Ray) ----------------------------------------------------------------

def test_an_object_comes_back_as_it_was_saved(tmp_path: Path) -> None:
    save({"epoch": 3, "w": [1.5, 2.5]}, tmp_path / "ck")
    assert restore(tmp_path / "ck") == {"epoch": 3, "w": [1.5, 2.5]}
    save({"epoch": 4}, tmp_path / "ck")  # replaces the earlier state
    assert restore(tmp_path / "ck") == {"epoch": 4}
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == [STATE_FILE]


def test_files_and_folders_are_copied_and_restore_gives_the_folder(tmp_path: Path) -> None:
    model = tmp_path / "model"
    (model / "sub").mkdir(parents=True)
    (model / "weights.bin").write_bytes(b"\x00\x01")
    (model / "sub" / "opt.txt").write_text("adam", encoding="utf-8")
    single = tmp_path / "epoch.txt"
    single.write_text("5", encoding="utf-8")
    save(str(model), tmp_path / "ck")
    save(single, tmp_path / "ck")
    folder = restore(tmp_path / "ck")
    assert folder == tmp_path / "ck"
    assert (folder / "weights.bin").read_bytes() == b"\x00\x01"
    assert (folder / "sub" / "opt.txt").read_text(encoding="utf-8") == "adam"
    assert (folder / "epoch.txt").read_text(encoding="utf-8") == "5"


def test_nothing_to_restore_outside_a_checkpoint_sweep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CHECKPOINT_DIR_ENV, raising=False)
    assert raysweep.restore() is None
    monkeypatch.setenv(CHECKPOINT_DIR_ENV, str(tmp_path / "empty"))
    (tmp_path / "empty").mkdir()
    assert raysweep.restore() is None  # a first start: an empty folder


def test_bad_checkpoints_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="cannot be pickled.*pass its path instead"):
        save(lambda: 1, tmp_path / "ck")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save(str(tmp_path / "missing.pt"), tmp_path / "ck")


def test_log_with_a_checkpoint_outside_such_a_sweep_warns_and_saves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from raysweep.program import once

    monkeypatch.delenv(CHECKPOINT_DIR_ENV, raising=False)
    monkeypatch.delenv("RAYSWEEP_TRIAL_ID", raising=False)
    once.reset_warnings()
    monkeypatch.chdir(tmp_path)
    with pytest.warns(raysweep.RaysweepWarning) as record:
        raysweep.log({"loss": 1.0}, checkpoint={"epoch": 1})
    assert any("resume: checkpoint" in str(w.message) for w in record)
    assert list(tmp_path.iterdir()) == []


def test_a_folder_changed_before_a_report_belongs_to_that_step(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "checkpoints", RUNGS)
    watch = FolderWatch(store, store.segment("t1"))
    assert watch.segment == Segment("t1", 0, 2)  # a first trial pauses at the first rung
    watch.report(1)  # nothing saved yet
    assert store.saved_step("t1") == 0
    save({"epoch": 2}, watch.folder)
    watch.report(2)
    assert store.saved_step("t1") == 2
    watch.report(3)  # unchanged: still the state after step 2
    assert store.saved_step("t1") == 2
    assert watch.pauses_at(2) and not watch.pauses_at(1)


def test_a_promotion_resumes_from_the_saved_step_and_a_retry_from_its_own(
    tmp_path: Path,
) -> None:
    store = CheckpointStore(tmp_path / "checkpoints", RUNGS)
    save({"epoch": 2}, store.folder("t1"))
    store.mark("t1", 2)
    store.hand_out("t7", "t1", 4)
    assert store.segment("t7") == Segment("t1", 2, 4)
    store.mark("t1", 3)  # t7 saved step 3, then failed: Tune retries t7
    assert store.segment("t7") == Segment("t1", 3, 4)
    store.clear("t1")
    assert store.segment("t7") == Segment("t1", 0, 4)
    assert not store.folder("t1").exists()


def test_a_program_that_saved_after_its_last_report_is_not_resumed(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "checkpoints", RUNGS)
    watch = FolderWatch(store, store.segment("t1"))
    save({"epoch": 2}, watch.folder)
    watch.report(2)
    save({"epoch": 3}, watch.folder)  # before its stop reached it: step 3 never reported
    watch.stopped()
    assert store.saved_step("t1") == 0


class _Trial:
    """What the scheduler reads of a Tune trial."""

    def __init__(self, trial_id: str, config: dict[str, Any]) -> None:
        self.trial_id, self.config = trial_id, config


def _checkpoint_scheduler(store: CheckpointStore) -> Any:
    from raysweep.schedulers import PromotionScheduler

    scheduler = PromotionScheduler(metric="loss", mode="min", rungs=RUNGS, eta=2,
                                   resume="checkpoint")
    scheduler.use_checkpoints(store)
    return scheduler


def test_the_scheduler_hands_out_resumptions_and_says_who_paused(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "checkpoints", RUNGS)
    scheduler = _checkpoint_scheduler(store)
    for n, loss in enumerate([3.0, 5.0]):
        trial = _Trial(f"t{n}", {"x": n})
        scheduler.on_trial_add(None, trial)
        if n == 0:  # t0 saves a checkpoint at its rung; t1 saves none
            save({"epoch": 2}, store.folder("t0"))
            store.mark("t0", 2)
        decision = scheduler.on_trial_result(None, trial, {"training_iteration": 2, "loss": loss})
        assert decision == "STOP"
        scheduler.on_trial_complete(None, trial, None)
    assert scheduler.paused_at("t0") == 2 and scheduler.paused_at("t1") is None
    assert scheduler.stop_reason("t0").startswith("paused at rung 2: 3, 1st of 1")
    assert "saved no checkpoint, so it trains again" in scheduler.stop_reason("t1")
    assert scheduler.rerun("t2") == {"x": 0}  # the best of two goes on to rung 4
    assert store.segment("t2") == Segment("t0", 2, 4)
    scheduler.on_trial_add(None, _Trial("t2", {"x": 0}))
    # Its reports count on from step 2: the second one reaches rung 4.
    result = {"training_iteration": 1, "loss": 2.0, "raysweep_step_offset": 2}
    assert scheduler.on_trial_result(None, _Trial("t2", {"x": 0}), result) == "CONTINUE"
    result = {"training_iteration": 2, "loss": 1.0, "raysweep_step_offset": 2}
    assert scheduler.on_trial_result(None, _Trial("t2", {"x": 0}), result) == "STOP"


@pytest.mark.parametrize(("saved_by_the_dropped_trial", "start"), [(None, 2), (3, 0), (4, 0)])
def test_a_resume_trains_again_a_configuration_whose_dropped_trial_saved_unrecorded_steps(
    tmp_path: Path, saved_by_the_dropped_trial: int | None, start: int
) -> None:
    # t0 paused at rung 2 with its state; t1 resumed it and was running when the driver was
    # killed. `raysweep resume` drops t1 and its reports: if t1 had saved (and its worker
    # marked) step 3 or 4, resuming t1's re-run there would lose steps 3-4 from the results.
    store = CheckpointStore(tmp_path / "checkpoints", RUNGS)
    first = _checkpoint_scheduler(store)
    for n, loss in ((0, 1.0), (9, 5.0)):  # the better of two goes on to rung 4
        trial = _Trial(f"t{n}", {"x": n})
        first.on_trial_add(None, trial)
        save({"epoch": 2}, store.folder(trial.trial_id))
        store.mark(trial.trial_id, 2)
        first.on_trial_result(None, trial, {"training_iteration": 2, "loss": loss})
        first.on_trial_complete(None, trial, None)
    state = first.state_dict()  # saved at the last trial end: what the killed driver left
    assert first.rerun("t1") == {"x": 0}
    first.on_trial_add(None, _Trial("t1", {"x": 0}))
    if saved_by_the_dropped_trial is not None:
        save({"epoch": saved_by_the_dropped_trial}, store.folder("t0"))
        store.mark("t0", saved_by_the_dropped_trial)

    resumed = _checkpoint_scheduler(store)
    resumed.resume_from(state, {"t1"})
    assert resumed.rerun("t2") == {"x": 0}  # the promotion is due again
    assert store.segment("t2") == Segment("t0", start, 4)
    # Kept: the state t0 paused with; cleared: nothing to restore.
    assert restore(store.folder("t0")) == ({"epoch": 2} if start else None)


@pytest.mark.parametrize(
    ("early", "message"),
    [
        ({"type": "promotion", "min_iter": 1, "resume": "checkpoints"},
         "Did you mean 'checkpoint'"),
        ({"type": "asha", "min_iter": 1, "resume": "checkpoint"},
         "only `type: promotion` pauses and resumes trials"),
    ],
)
def test_resume_is_checked(early: dict[str, Any], message: str) -> None:
    with pytest.raises(raysweep.SweepConfigError, match=message) as err:
        raysweep.from_dict({"method": "random", "metric": {"name": "loss"},
                            "parameters": {"x": {"min": 0, "max": 1}},
                            "early_terminate": early})
    assert "early_terminate.resume" in str(err.value)


def test_resume_is_read_into_the_model() -> None:
    cfg = raysweep.from_dict({"method": "random", "metric": {"name": "loss"},
                              "parameters": {"x": {"min": 0, "max": 1}},
                              "early_terminate": {"type": "promotion", "min_iter": 2,
                                                  "resume": "checkpoint"}})
    assert cfg.early_terminate is not None and cfg.early_terminate.resume == "checkpoint"


# -- sweeps on Ray ------------------------------------------------------------------------------

def _trained(path: Path) -> list[tuple[int, int]]:
    """(curve, epoch) for every epoch the trials trained, from the file they append to."""
    lines = path.read_text(encoding="utf-8").split()
    return [(int(c), int(e)) for c, e in (line.split(":") for line in lines)]


def _segments(result: raysweep.SweepResult) -> list[tuple[str, int, str, int]]:
    trials = result.trials.set_index("trial_id").loc[result.trial_order]
    out = []
    for _, row in trials.iterrows():
        start = row.get("resumed_from_step")
        start = 0 if start is None or start != start else int(start)
        out.append((row["status"], start + int(row["steps"]), str(int(row["curve"])), start))
    return out


def _check_history(result: raysweep.SweepResult) -> None:
    """Each configuration reported each of its steps once, in order, across its trials."""
    history = result.history.merge(result.trials[["trial_id", "curve"]], on="trial_id")
    for curve, rows in history.groupby("curve"):
        steps = sorted(rows["step"])
        assert steps == list(range(1, len(steps) + 1)), (curve, steps)
        assert list(rows["loss"]) == CURVES[int(curve)][: len(steps)]


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
def test_function_trials_resume_from_their_checkpoints_as_the_ladder_says(
    tmp_path: Path,
) -> None:
    log = tmp_path / "trained.txt"
    log.touch()

    def train(config: dict[str, Any]) -> None:
        state = raysweep.restore()
        start = state["epoch"] if state else 0
        curve = int(config["curve"])
        for epoch in range(start, len(CURVES[curve])):
            with open(log, "a", encoding="utf-8") as f:
                f.write(f"{curve}:{epoch + 1}\n")
            raysweep.log({"loss": CURVES[curve][epoch]}, checkpoint={"epoch": epoch + 1})

    sweep = {"method": "grid", "metric": {"name": "loss", "goal": "minimize"},
             "parameters": {"curve": {"values": list(range(len(CURVES)))}},
             "early_terminate": EARLY, "raysweep": {"max_concurrent_trials": 1}}
    result = raysweep.run(sweep, function=train, storage=tmp_path / "res", name="f")
    expected = checkpoint_oracle(CURVES, RUNGS, 2)
    assert any(start > 0 for *_, start in expected)  # the curves exercise resumptions
    assert _segments(result) == expected
    # No epoch trained twice; every epoch of the configurations' last steps trained once.
    trained = _trained(log)
    assert Counter(trained).most_common(1)[0][1] == 1
    last = {int(c): step for _, step, c, _ in expected}
    assert sorted(trained) == sorted((c, e) for c, n in last.items() for e in range(1, n + 1))
    _check_history(result)
    paused = result.trials[result.trials["paused_at"].notna()]
    assert len(paused) == sum(status == "stopped" for status, *_ in expected)
    assert all(r.startswith("paused at rung") for r in paused["stop_reason"])
    # The report draws one curve per configuration across its pauses.
    from raysweep.analysis.figures import curves_figure, resumed_chains

    chains = resumed_chains(result)
    curve_of = result.trials.set_index("trial_id")["curve"]
    assert len(set(chains.values())) == len(CURVES)
    assert all(curve_of[t] == curve_of[c] for t, c in chains.items())
    lines = [t for t in curves_figure(result).data if t.mode == "lines"]
    assert sum(int(np.isnan(np.asarray(t.x, dtype=float)).sum()) for t in lines) == len(CURVES)


PROGRAM = textwrap.dedent(
    """
    import json, os, sys, time
    curves = json.loads(CURVES_JSON)
    curve = int(dict(a[2:].split("=", 1) for a in sys.argv[1:])["curve"])
    folder = os.environ["RAYSWEEP_CHECKPOINT_DIR"]
    state = os.path.join(folder, "state.json")
    start = json.load(open(state))["epoch"] if os.path.exists(state) else 0
    assert start == int(os.environ["RAYSWEEP_RESUMED_STEP"]), "resumed from another step"
    for epoch in range(start, len(curves[curve])):
        time.sleep(0.05)
        with open(TRAINED, "a") as f:
            f.write(f"{curve}:{epoch + 1}\\n")
        if SAVE:  # save, then report
            with open(state + ".tmp", "w") as f:
                json.dump({"epoch": epoch + 1}, f)
            os.replace(state + ".tmp", state)
        print("@raysweep " + json.dumps({"loss": curves[curve][epoch]}), flush=True)
    """
)


def _program_sweep(tmp_path: Path, save_state: bool) -> tuple[raysweep.SweepResult, Path]:
    log = tmp_path / "trained.txt"
    log.touch()
    # Ray's workers started before this test: the values go into the program itself.
    program = (PROGRAM.replace("CURVES_JSON", repr(json.dumps(CURVES)))
               .replace("TRAINED", repr(str(log))).replace("SAVE:", f"{save_state}:"))
    (tmp_path / "prog.py").write_text(program, encoding="utf-8")
    sweep = {"program": "prog.py", "method": "grid",
             "metric": {"name": "loss", "goal": "minimize"},
             "parameters": {"curve": {"values": list(range(len(CURVES)))}},
             "early_terminate": EARLY, "raysweep": {"max_concurrent_trials": 1}}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep), encoding="utf-8")
    return raysweep.run(path, storage=tmp_path / "res", name="p"), log


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
def test_programs_resume_from_the_folder_they_saved_in(tmp_path: Path) -> None:
    result, log = _program_sweep(tmp_path, save_state=True)
    expected = checkpoint_oracle(CURVES, RUNGS, 2)
    assert _segments(result) == expected
    trained = _trained(log)
    # Paused right at its rung: no program trained past it (that epoch would be trained twice).
    assert Counter(trained).most_common(1)[0][1] == 1
    _check_history(result)


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
def test_a_program_that_never_checkpoints_trains_again_from_the_start(tmp_path: Path) -> None:
    result, _ = _program_sweep(tmp_path, save_state=False)
    expected = promotion_oracle(CURVES, RUNGS, 2)
    trials = result.trials.set_index("trial_id").loc[result.trial_order]
    got = [(r.status, int(r.steps), str(int(r.curve))) for r in trials.itertuples()]
    assert got == expected
    reruns = trials[trials["rerun_of"].notna()]
    assert len(reruns) > 0 and (reruns["resumed_from_step"] == 0).all()
    assert "paused_at" not in trials.columns
    stopped = trials[trials["status"] == "stopped"]
    assert all("saved no checkpoint, so it trains again from the start" in r
               for r in stopped["stop_reason"])
    # Nothing kept: no state saved, and each trial's plan went when it ended.
    assert not [p for p in (tmp_path / "res" / "p" / "checkpoints").rglob("*") if p.is_file()]


@pytest.mark.slow
def test_a_killed_driver_resumes_paused_and_running_configurations_from_checkpoints(
    tmp_path: Path,
) -> None:
    import signal
    import subprocess
    import sys
    import tempfile
    import time

    from raysweep.analysis.tables import read_trials

    # Short paths: Ray's socket paths must fit the AF_UNIX limit.
    work = Path(tempfile.mkdtemp(prefix="rsc", dir="/tmp"))
    try:
        log = work / "trained.txt"
        log.touch()
        program = (PROGRAM.replace("CURVES_JSON", repr(json.dumps(CURVES)))
                   .replace("TRAINED", repr(str(log))).replace("SAVE:", "True:")
                   .replace("time.sleep(0.05)", "time.sleep(0.3)"))
        (work / "prog.py").write_text(program, encoding="utf-8")
        sweep = {"program": "prog.py", "method": "grid",
                 "metric": {"name": "loss", "goal": "minimize"},
                 "parameters": {"curve": {"values": list(range(len(CURVES)))}},
                 "early_terminate": EARLY, "raysweep": {"max_concurrent_trials": 1}}
        (work / "sweep.yaml").write_text(yaml.safe_dump(sweep), encoding="utf-8")
        env = {**os.environ, "RAY_TMPDIR": str(work)}
        env.pop("RAY_ADDRESS", None)
        cli = [sys.executable, "-m", "raysweep"]
        driver = subprocess.Popen(
            [*cli, "run", str(work / "sweep.yaml"), "--storage", str(work / "res"), "--name",
             "s", "--num-cpus", "2"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        sweep_dir = work / "res" / "s"
        expected = checkpoint_oracle(CURVES, RUNGS, 2)
        # Killed while a resumed configuration runs (from the 6th trial, curve 3 from 2 to 4,
        # on: all but one of the later trials resume a configuration).
        assert expected[5] == ("stopped", 4, "3", 2)
        assert sum(e[3] > 0 for e in expected[5:]) >= 4
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                trials = read_trials(sweep_dir) if sweep_dir.exists() else []
                ended = sum(t["status"] == "stopped" for t in trials)
                # Trials file snapshots come at most once a second: a short trial may be
                # missed as running, so the first running trial after the 5th will do.
                if ended >= 5 and any(t["status"] == "running" for t in trials):
                    break
                time.sleep(0.2)
            else:
                raise AssertionError("the sweep did not reach its 6th trial")
            time.sleep(0.4)  # into the resumed trial's first epoch
        finally:
            os.killpg(driver.pid, signal.SIGKILL)  # the driver and its Ray, no cleanup
            driver.wait()
        # Its programs run on a moment, into pipes nobody reads: wait until they are gone.
        size = -1
        while size != log.stat().st_size:
            size = log.stat().st_size
            time.sleep(1.5)
        resumed = subprocess.run([*cli, "resume", str(sweep_dir), "--num-cpus", "2"], env=env,
                                 capture_output=True, text=True, timeout=300)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        result = raysweep.results(sweep_dir)
        # Every trial resumed from the step its folder's state belongs to: the program
        # asserts it, and fails otherwise.
        assert (result.trials["status"] != "failed").all()
        got = _segments(result)
        assert [g[:3] for g in got] == [e[:3] for e in expected]
        # Paused configurations went on from their checkpoints after the resume too.
        after = [g for g in got if g[0] in ("stopped", "finished")][-3:]
        assert sum(g[3] > 0 for g in after) >= 2
        # A configuration reports each step once, unless it trained again from the start: the
        # one running when the driver died, if it saved a state after it started (its reports
        # were dropped with it, so its state's steps would be missing from the results) or
        # past its last report (the folder then matches no reported step).
        trials = result.trials
        again = set(trials[(trials["rerun_of"].notna())
                           & (trials["resumed_from_step"] == 0)]["curve"])
        assert len(again) <= 1
        steps = result.history.merge(trials[["trial_id", "curve"]], on="trial_id")
        steps = steps[~steps["curve"].isin(again)]
        assert not steps.duplicated(["curve", "step"]).any()
    finally:
        subprocess.run(["rm", "-rf", str(work)], check=False)


def test_the_live_view_says_a_running_trial_resumes_from_a_checkpoint() -> None:
    from raysweep.analysis.live import _note

    assert _note({"rerun_of": "t0", "resumed_from_step": 8}) == (
        "resumes trial t0 from its checkpoint at step 8")
    assert _note({"rerun_of": "t0", "resumed_from_step": 0}) == "re-run of trial t0"
    assert _note({"rerun_of": "t0", "stop_reason": "paused at rung 32"}) == "paused at rung 32"


def test_a_worker_that_cannot_see_the_sweep_folder_keeps_no_checkpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from raysweep.execution.trainable import checkpoint_segment

    monkeypatch.delenv(CHECKPOINT_DIR_ENV, raising=False)
    unseen = CheckpointStore(tmp_path / "elsewhere" / "sweep" / "checkpoints", RUNGS)
    with checkpoint_segment(unseen, "t1") as watch:
        assert watch is None and CHECKPOINT_DIR_ENV not in os.environ
    assert not (tmp_path / "elsewhere").exists()
    (tmp_path / "sweep").mkdir()
    seen = CheckpointStore(tmp_path / "sweep" / "checkpoints", RUNGS)
    with checkpoint_segment(seen, "t1") as watch:
        assert watch is not None
        assert os.environ[CHECKPOINT_DIR_ENV] == str(seen.folder("t1"))
    assert CHECKPOINT_DIR_ENV not in os.environ
    assert not seen.folder("t1").exists()  # nothing saved: its empty folder is gone


def test_validate_says_that_paused_trials_resume(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from raysweep.cli import main

    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({
        "program": "train.py", "method": "random", "metric": {"name": "loss"},
        "parameters": {"x": {"min": 0, "max": 1}}, "early_terminate": EARLY}), encoding="utf-8")
    (tmp_path / "train.py").write_text("", encoding="utf-8")
    out = CliRunner().invoke(main, ["validate", str(path)])
    assert out.exit_code == 0, out.output
    assert "promotion rungs [2, 4] (paused trials resume from checkpoints)" in out.output


def test_a_save_is_seen_even_when_the_clock_gives_it_the_same_time(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "checkpoints", RUNGS)
    watch = FolderWatch(store, store.segment("t1"))
    save({"epoch": 1}, watch.folder)
    watch.report(1)
    before = os.stat(watch.folder / STATE_FILE)
    save({"epoch": 2}, watch.folder)  # same size; a coarse clock: the same time
    os.utime(watch.folder / STATE_FILE, ns=(before.st_atime_ns, before.st_mtime_ns))
    watch.report(2)
    assert store.saved_step("t1") == 2
