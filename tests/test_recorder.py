"""SweepRecorder's trials file (timing, contents, cost per event), without Ray: fake trials
and a stopped clock."""

from __future__ import annotations

import json
import pickle
import random
from pathlib import Path
from types import SimpleNamespace

import pytest

from raysweep.analysis.tables import read_trials
from raysweep.execution import recorder as _recorder
from raysweep.execution.recorder import SweepRecorder
from raysweep.execution.resume import reconcile
from raysweep.files import COMPLETED_FILE


def _entries(path: Path) -> dict[str, str]:
    return {e["trial_id"]: e["status"] for e in read_trials(path)}


def test_a_start_reaches_the_file_within_the_throttle_and_an_end_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [100.0]
    monkeypatch.setattr(_recorder.time, "monotonic", lambda: clock[0])
    recorder = SweepRecorder(tmp_path, "loss", "min")
    a = SimpleNamespace(trial_id="a", config={"x": 1}, num_failures=0)
    b = SimpleNamespace(trial_id="b", config={"x": 2}, num_failures=0)

    recorder.on_trial_start(0, [a], a)  # the first write is not throttled
    assert _entries(tmp_path) == {"a": "running"}
    recorder.on_trial_start(0, [a, b], b)  # within the second: not written yet
    recorder.on_step_end(0, [a, b])
    assert _entries(tmp_path) == {"a": "running"}
    clock[0] += 1.5  # a second later the loop's next turn writes it
    recorder.on_step_end(0, [a, b])
    assert _entries(tmp_path) == {"a": "running", "b": "running"}
    recorder.on_trial_complete(0, [a, b], a)  # an end is written at once (resume needs it)
    assert _entries(tmp_path) == {"a": "finished", "b": "running"}
    recorder.close()


def test_only_trials_that_started_are_interrupted_when_the_sweep_ends(tmp_path: Path) -> None:
    # Ctrl-C or cancel with trials proposed but not yet started: those were never running.
    recorder = SweepRecorder(tmp_path, "loss", "min")
    running = SimpleNamespace(trial_id="a", config={"x": 1}, num_failures=0)
    never = SimpleNamespace(trial_id="b", config={"x": 2}, num_failures=0)
    recorder.on_trial_start(0, [running], running)
    recorder.on_experiment_end([running, never])
    assert _entries(tmp_path) == {"a": "interrupted"}


# -- what a trial's record says (no Ray: fake trials and results) -------------------------

# Tune's error.txt for a failed program and for a function that raised, as Ray 2.60 writes
# them: colour codes, Ray's "ray::ImplicitFunc.train()" line in place of every "Traceback"
# line (the program's own traceback in raysweep's message included) and Ray's frames.
PROGRAM_ERROR = (
    "Failure # 1 (occurred at 2026-12-06_05-45-01)\n"
    "\x1b[36mray::ImplicitFunc.train()\x1b[39m (pid=16848, ip=192.0.2.2, actor_id=eab3, "
    "repr=raysweep_program)\n"
    '  File "/v/lib/python3.11/site-packages/ray/tune/trainable/trainable.py", line 329, '
    "in train\n"
    "    raise skipped from exception_cause(skipped)\n"
    '  File "/v/lib/python3.11/site-packages/ray/air/_internal/util.py", line 98, in run\n'
    "    self._ret = self._target(*self._args, **self._kwargs)\n"
    "                ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
    '  File "/work/raysweep/execution/trainable.py", line 190, in run_program_trial\n'
    "    raise ProgramFailedError(\n"
    "raysweep.errors.ProgramFailedError: program exited with status 1; last lines of "
    "trial_de/program.log:\n"
    "epoch 1 \x1b[32mdone\x1b[0m\n"
    "\x1b[36mray::ImplicitFunc.train()\x1b[39m (pid=16848, ip=192.0.2.2, actor_id=eab3, "
    "repr=raysweep_program)\n"
    '  File "/tmp/h/bad.py", line 9, in <module>\n'
    "    helper()\n"
    "RuntimeError: boom in user code\n"
)
FUNCTION_ERROR = (
    "Failure # 1 (occurred at 2026-12-06_05-45-15)\n"
    "\x1b[36mray::ImplicitFunc.train()\x1b[39m (pid=17402, ip=192.0.2.2, actor_id=8469, "
    "repr=raysweep_function)\n"
    "           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
    '  File "/v/lib/python3.11/site-packages/ray/tune/trainable/function_trainable.py", '
    "line 249, in _trainable_func\n"
    "    output = fn()\n"
    "             ^^^^\n"
    '  File "/work/main/raysweep/execution/trainable.py", line 265, in raysweep_function\n'
    "    loaded(config)\n"
    '  File "/tmp/h/fn.py", line 6, in train\n'
    '    inner(config["x"])\n'
    '  File "/tmp/h/fn.py", line 3, in inner\n'
    '    raise ValueError(f"bad x {x}")\n'
    "ValueError: bad x 1\n"
)


def test_a_failed_programs_error_is_its_status_and_last_lines_in_plain_text() -> None:
    assert _recorder.clean_error(PROGRAM_ERROR) == (
        "program exited with status 1; last lines of trial_de/program.log:\n"
        "epoch 1 done\n"
        "Traceback (most recent call last):\n"
        '  File "/tmp/h/bad.py", line 9, in <module>\n'
        "    helper()\n"
        "RuntimeError: boom in user code"
    )


def test_a_functions_error_is_the_users_traceback() -> None:
    assert _recorder.clean_error(FUNCTION_ERROR) == (
        "Traceback (most recent call last):\n"
        '  File "/tmp/h/fn.py", line 6, in train\n'
        '    inner(config["x"])\n'
        '  File "/tmp/h/fn.py", line 3, in inner\n'
        '    raise ValueError(f"bad x {x}")\n'
        "ValueError: bad x 1"
    )


def test_only_the_last_failure_of_a_retried_trial_is_kept() -> None:
    text = FUNCTION_ERROR + FUNCTION_ERROR.replace("Failure # 1", "Failure # 2").replace(
        "bad x 1", "bad x 2"
    )
    cleaned = _recorder.clean_error(text)
    assert cleaned.endswith("ValueError: bad x 2") and "bad x 1" not in cleaned


def _trial(tid: str, failures: int = 0, error_file: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(trial_id=tid, config={"x": 1}, num_failures=failures,
                           error_file=error_file)


def _result(step: int, **metrics: object) -> dict[str, object]:
    return {"training_iteration": step, "time_total_s": float(step), **metrics}


def _trials_json(path: Path) -> dict[str, dict[str, object]]:
    return {e["trial_id"]: e for e in read_trials(path)}


def test_retries_count_restarts_not_failures(tmp_path: Path) -> None:
    recorder = SweepRecorder(tmp_path, "loss", "min")
    error = tmp_path / "error.txt"
    error.write_text(FUNCTION_ERROR, encoding="utf-8")
    once = _trial("once", failures=1, error_file=str(error))  # max_failures: 0
    recorder.on_trial_start(0, [once], once)
    recorder.on_trial_error(0, [once], once)
    twice = _trial("twice", failures=1, error_file=str(error))  # failed, retried, failed
    recorder.on_trial_start(0, [twice], twice)
    recorder.on_trial_recover(0, [twice], twice)
    assert recorder.trials["twice"]["retries"] == 1  # being retried now
    twice.num_failures = 2
    recorder.on_trial_error(0, [twice], twice)
    healed = _trial("healed", failures=1)  # failed once, then finished
    recorder.on_trial_start(0, [healed], healed)
    recorder.on_trial_complete(0, [healed], healed)
    recorder.close()
    entries = _trials_json(tmp_path)
    assert {t: e["retries"] for t, e in entries.items()} == {"once": 0, "twice": 1, "healed": 1}
    assert entries["once"]["error"].startswith("Traceback (most recent call last):")
    assert "\x1b" not in entries["once"]["error"] and "ray::" not in entries["once"]["error"]


def test_only_numbers_of_the_metric_are_steps_and_other_metrics_keep_their_last_value(
    tmp_path: Path,
) -> None:
    recorder = SweepRecorder(tmp_path, "loss", "min")
    a = _trial("a")
    recorder.on_trial_start(0, [a], a)
    recorder.on_trial_result(0, [a], a, _result(1, loss=0.5, acc=0.1))
    recorder.on_trial_result(0, [a], a, _result(2, loss="a string", acc=0.2))
    recorder.on_trial_result(0, [a], a, _result(3, acc=0.3, lr=0.01))  # no loss at all
    recorder.on_trial_result(0, [a], a, _result(4, loss=0.25, raysweep_bad_lines=2))
    recorder.on_trial_complete(0, [a], a)
    recorder.close()
    rec = _trials_json(tmp_path)["a"]
    assert (rec["steps"], rec["reports"], rec["last"], rec["best"]) == (2, 4, 0.25, 0.25)
    assert rec["summary"] == {"loss": 0.25, "acc": 0.3, "lr": 0.01}
    assert rec["bad_lines"] == 2
    history = (tmp_path / "history.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(history[1])["loss"] == "a string"  # kept in the history, not a step
    assert "raysweep_bad_lines" not in history[3]


def test_a_retried_trial_counts_the_steps_of_its_last_attempt(tmp_path: Path) -> None:
    # A trial restarted after a lost node reports from its first step again.
    recorder = SweepRecorder(tmp_path, "loss", "min")
    a = _trial("a")
    recorder.on_trial_start(0, [a], a)
    for step in (1, 2, 3):
        recorder.on_trial_result(0, [a], a, _result(step, loss=float(step)))
    for step in (1, 2, 3, 4, 5, 6):  # the retry
        recorder.on_trial_result(0, [a], a, _result(step, loss=step / 10))
    recorder.on_trial_complete(0, [a], a)
    recorder.close()
    rec = _trials_json(tmp_path)["a"]
    assert (rec["steps"], rec["reports"], rec["best"]) == (6, 6, 0.1)


class _Stopper:
    """A scheduler's answers for the recorder: it stopped trial 'a'."""

    def __call__(self, trial_id: str) -> str | None:
        return "stopped at band 6: 0.5 > threshold 0.4" if trial_id == "a" else None

    def rerun_of(self, trial_id: str) -> str | None:
        return None

    def paused_at(self, trial_id: str) -> int | None:
        return None

    def save_state(self, path: Path) -> None:
        pass


def test_a_trial_stopped_at_its_last_report_after_its_program_ended_is_finished(
    tmp_path: Path,
) -> None:
    recorder = SweepRecorder(tmp_path, "loss", "min", stop_reasons=_Stopper())  # type: ignore[arg-type]
    a, b = _trial("a"), _trial("b")
    for trial in (a, b):
        recorder.on_trial_start(0, [a, b], trial)
        recorder.on_trial_result(0, [a, b], trial, _result(6, loss=0.5))
    recorder.on_trial_complete(0, [a, b], a)
    recorder.on_trial_complete(0, [a, b], b)
    assert _trials_json(tmp_path)["a"]["status"] == "stopped"
    # The worker's word arrives a moment later, in the trial's directory.
    (tmp_path / "trial_a").mkdir()
    (tmp_path / "trial_a" / COMPLETED_FILE).write_text("exited 0\n", encoding="utf-8")
    recorder.on_experiment_end([a, b])
    entries = _trials_json(tmp_path)
    assert (entries["a"]["status"], entries["a"]["stop_reason"]) == ("finished", None)
    assert entries["b"]["status"] == "finished"


def test_a_stopped_trial_without_that_word_stays_stopped(tmp_path: Path) -> None:
    recorder = SweepRecorder(tmp_path, "loss", "min", stop_reasons=_Stopper())  # type: ignore[arg-type]
    a = _trial("a")
    recorder.on_trial_start(0, [a], a)
    recorder.on_trial_result(0, [a], a, _result(3, loss=0.5))
    recorder.on_trial_complete(0, [a], a)
    recorder.on_experiment_end([a])
    entry = _trials_json(tmp_path)["a"]
    assert entry["status"] == "stopped" and entry["stop_reason"].startswith("stopped at band 6")


# -- trials.jsonl: cost per event, compaction, crashes, earlier versions --------------------


def _files(path: Path) -> dict[str, tuple[int, int]]:
    """Each file of a directory: (inode, size)."""
    return {p.name: (p.stat().st_ino, p.stat().st_size) for p in path.iterdir() if p.is_file()}


def _bytes_written(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> int:
    """What was written between two looks: what a file grew by, or all of a replaced one."""
    total = 0
    for name, (inode, size) in after.items():
        old = before.get(name)
        total += size - old[1] if old is not None and old[0] == inode else size
    return total


def _one_trial(recorder: SweepRecorder, tid: str, loss: float = 0.5) -> None:
    trial = SimpleNamespace(trial_id=tid, config={"x": 1}, num_failures=0)
    recorder.on_trial_start(0, [trial], trial)
    recorder.on_trial_result(0, [trial], trial, _result(1, loss=loss))
    recorder.on_trial_complete(0, [trial], trial)


def test_a_trials_cost_in_bytes_and_memory_does_not_grow_with_the_trials_that_ended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_recorder.time, "time", lambda: 1700000000.0)
    recorder = SweepRecorder(tmp_path, "loss", "min")
    seen = []
    # Counts between 256 and 65535 pickle in the same number of bytes.
    for ended in (300, 3000):
        while recorder.total < ended:
            _one_trial(recorder, f"t{recorder.total:06d}")
        before = _files(tmp_path)
        _one_trial(recorder, f"x{recorder.total:06d}")
        seen.append((_bytes_written(before, _files(tmp_path)), len(pickle.dumps(recorder))))
    recorder.close()
    assert seen[0] == seen[1]
    assert 0 < seen[1][0] < 2000  # one trial's lines, not the file
    assert recorder.trials == {} and recorder.total == 3001
    assert len(read_trials(tmp_path)) == 3001


def test_compaction_keeps_every_trials_last_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [100.0]
    monkeypatch.setattr(_recorder.time, "monotonic", lambda: clock[0])
    recorder = SweepRecorder(tmp_path, "loss", "min")
    for i in range(30):
        _one_trial(recorder, f"done{i:02d}", loss=20.0 + i)
    long = [SimpleNamespace(trial_id=f"long{i}", config={"x": i}, num_failures=0)
            for i in range(4)]
    for trial in long:
        recorder.on_trial_start(0, long, trial)
    lines = []
    for step in range(1, 401):  # every report is written: a second passes between them
        clock[0] += 1.5
        for i, trial in enumerate(long):
            recorder.on_trial_result(0, long, trial, _result(step, loss=10.0 - step / 100 - i))
        log = (tmp_path / "trials.jsonl").read_bytes()
        lines.append(log.count(b"\n"))
    # The file was rewritten with one line per trial, and never grew past the bound.
    assert min(lines[1:]) <= 34 + 4 and max(lines) <= 2 * 34 + 1000 + 4
    clock[0] += 1.5
    recorder.on_step_end(0, long)  # the reports of the last second
    entries = {e["trial_id"]: e for e in read_trials(tmp_path)}
    assert list(entries) == [f"done{i:02d}" for i in range(30)] + [t.trial_id for t in long]
    assert all(entries[f"done{i:02d}"]["status"] == "finished" for i in range(30))
    assert [entries[t.trial_id]["reports"] for t in long] == [400] * 4
    assert entries["long3"]["best"] == pytest.approx(10.0 - 4.0 - 3)
    recorder.on_trial_complete(0, long, long[0])
    recorder.on_experiment_end(long)
    entries = {e["trial_id"]: e for e in read_trials(tmp_path)}
    assert [entries[t.trial_id]["status"] for t in long] == ["finished"] + ["interrupted"] * 3
    assert recorder.best() is not None and recorder.best()["trial_id"] == "long3"


def test_a_line_cut_by_a_killed_driver_is_skipped_and_the_next_driver_appends_whole_lines(
    tmp_path: Path,
) -> None:
    first = SweepRecorder(tmp_path, "loss", "min")
    for tid, loss in (("a", 0.3), ("b", 0.1), ("c", 0.2)):
        _one_trial(first, tid, loss)
    first.close()
    with open(tmp_path / "trials.jsonl", "a", encoding="utf-8") as f:
        f.write('{"trial_id": "d", "status": "runn')  # killed mid-line
    assert [e["trial_id"] for e in read_trials(tmp_path)] == ["a", "b", "c"]
    second = SweepRecorder(tmp_path, "loss", "min")
    assert (second.total, dict(second.counts())) == (3, {"finished": 3})
    assert second.best() is not None and second.best()["trial_id"] == "b"
    _one_trial(second, "e", 0.05)
    second.close()
    text = (tmp_path / "trials.jsonl").read_text(encoding="utf-8")
    assert all(json.loads(line) for line in text.splitlines())
    assert [e["trial_id"] for e in read_trials(tmp_path)] == ["a", "b", "c", "e"]
    assert second.best() is not None and second.best()["trial_id"] == "e"
    assert [r["trial_id"] for r in second.recent(3)] == ["b", "c", "e"]


def test_a_sweep_of_an_earlier_version_resumes_from_its_trials_json(tmp_path: Path) -> None:
    entries = [
        {"trial_id": "a", "status": "finished", "config": {"x": 1}, "best": 0.2, "last": 0.2,
         "steps": 1},
        {"trial_id": "b", "status": "running", "config": {"x": 2}, "best": 0.1, "last": 0.1,
         "steps": 1},
        {"trial_id": "c", "status": "stopped", "config": {"x": 3}, "best": 0.3, "last": 0.3,
         "steps": 1},
    ]
    (tmp_path / "trials.json").write_text(json.dumps({"trials": entries, "updated": 1.0}),
                                          encoding="utf-8")
    (tmp_path / "history.jsonl").write_text(
        "".join(json.dumps({"trial_id": e["trial_id"], "step": 1, "loss": e["best"]}) + "\n"
                for e in entries), encoding="utf-8")
    plan = reconcile(tmp_path)
    assert (plan.ended, plan.dropped_ids, plan.dropped_configs) == (2, {"b"}, {"b": {"x": 2}})
    assert not (tmp_path / "trials.json").exists()
    assert [e["trial_id"] for e in read_trials(tmp_path)] == ["a", "c"]
    history = (tmp_path / "history.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["trial_id"] for line in history] == ["a", "c"]
    recorder = SweepRecorder(tmp_path, "loss", "min")
    assert (recorder.total, dict(recorder.counts())) == (2, {"finished": 1, "stopped": 1})
    assert recorder.best() is not None and recorder.best()["trial_id"] == "a"
    _one_trial(recorder, "d", 0.4)
    recorder.close()
    assert reconcile(tmp_path).ended == 3  # again: nothing more to drop


def test_reconcile_drops_the_trials_whose_last_line_is_not_an_end(tmp_path: Path) -> None:
    recorder = SweepRecorder(tmp_path, "loss", "min")
    a, b = _trial("a"), _trial("b")
    for trial in (a, b):
        recorder.on_trial_start(0, [a, b], trial)
        recorder.on_trial_result(0, [a, b], trial, _result(1, loss=0.5))
    recorder.snapshot(force=True)
    recorder.on_trial_complete(0, [a, b], a)  # b was running when the driver died
    plan = reconcile(tmp_path)
    assert (plan.ended, plan.dropped_ids) == (1, {"b"})
    assert (tmp_path / "trials.jsonl").read_text(encoding="utf-8").count("\n") == 1


def test_counts_the_best_and_the_recent_trials_match_a_scan_of_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [100.0]
    monkeypatch.setattr(_recorder.time, "monotonic", lambda: clock[0])
    rng = random.Random(7)
    recorder = SweepRecorder(tmp_path, "loss", "max", stop_reasons=_Stopper())  # type: ignore[arg-type]
    live: list[SimpleNamespace] = []
    for n in range(400):
        clock[0] += 0.3
        move = rng.random()
        if move < 0.25 or not live:
            trial = _trial(f"t{n:03d}")
            live.append(trial)
            recorder.on_trial_start(0, live, trial)
        elif move < 0.7:
            trial = rng.choice(live)
            # Few values: ties between trials, where the first to start is the best.
            step = int(trial.__dict__.setdefault("step", 0)) + 1
            trial.step = step
            recorder.on_trial_result(0, live, trial, _result(step, loss=rng.randint(0, 12)))
        else:
            trial = live.pop(rng.randrange(len(live)))
            if rng.random() < 0.2:
                recorder.on_trial_error(0, live, trial)
            else:
                recorder.on_trial_complete(0, live, trial)
        recorder.on_step_end(0, live)
        recorder.snapshot(force=True)
        entries = read_trials(tmp_path)
        counts: dict[str, int] = {}
        best = None
        for e in entries:
            counts[e["status"]] = counts.get(e["status"], 0) + 1
            if e["best"] is not None and (best is None or e["best"] > best["best"]):
                best = e
        assert dict(recorder.counts()) == counts
        assert (recorder.best() or {}).get("trial_id") == (best or {}).get("trial_id")
        assert [r["trial_id"] for r in recorder.recent(50)] == [
            e["trial_id"] for e in entries[-50:]]
        assert [(r["trial_id"], r["status"]) for r in recorder.recent(50)] == [
            (e["trial_id"], e["status"]) for e in entries[-50:]]
    recorder.close()
