"""SweepRecorder's trials.json timing, without Ray: fake trials and a stopped clock."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from raysweep.execution import recorder as _recorder
from raysweep.execution.recorder import SweepRecorder


def _entries(path: Path) -> dict[str, str]:
    data = json.loads((path / "trials.json").read_text(encoding="utf-8"))
    return {e["trial_id"]: e["status"] for e in data["trials"]}


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
