"""SweepRecorder's trials file (timing, contents, cost per event), without Ray: fake trials
and a stopped clock."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from raysweep.analysis.tables import read_trials
from raysweep.execution import recorder as _recorder
from raysweep.execution.recorder import SweepRecorder
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
