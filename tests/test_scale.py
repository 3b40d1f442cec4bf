"""A sweep's costs do not grow with the trials that ended (issue 23).

The speed itself is measured by ``benchmarks/bench_scale.py``; these tests check the
mechanisms: Tune's controller forgets ended trials, the sweep folder gains no file per trial
that wrote nothing, and the state files stay the same size however many trials ended.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

SWEEP = {
    "method": "random",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {"x": {"min": 0.0, "max": 1.0}},
}


# -- without Ray ---------------------------------------------------------------------------


class _Trial:
    def __init__(self, trial_id: str, status: str, path: str | None = None) -> None:
        self.trial_id = trial_id
        self.status = status
        self.path = path
        self.local_path = None

    def __repr__(self) -> str:
        return f"_Trial({self.trial_id}, {self.status})"


class _Controller:
    """The members of Tune's controller that ``forget_ended`` touches."""

    def __init__(self, trials: list[_Trial]) -> None:
        from ray.tune.experiment import Trial

        self._trials = list(trials)
        self._trial_to_actor: dict[Any, Any] = {}
        self._stopped_trials = {t for t in trials if t.status == Trial.TERMINATED}
        self._failed_trials = {t for t in trials if t.status == Trial.ERROR}
        self._live_trials = {t for t in trials if t.status not in (Trial.TERMINATED,)}
        self._trials_to_cache = set(trials)
        self._trial_metadata = {t.trial_id: "{}" for t in trials}
        self._pending_trial_queue_times = {t: 0.0 for t in trials}


class _Wrapper:
    """What Tune hands a scheduler: the controller behind a wrapper."""

    def __init__(self, controller: _Controller) -> None:
        self._tune_controller = controller


def test_forget_ended_drops_ended_trials_that_no_actor_holds(tmp_path: Path) -> None:
    from ray.tune.experiment import Trial

    from raysweep.ray_internals.trials import forget_ended

    empty, kept = tmp_path / "trial_a", tmp_path / "trial_c"
    empty.mkdir()
    kept.mkdir()
    (kept / "program.log").write_text("output\n", encoding="utf-8")
    a = _Trial("a", Trial.TERMINATED, str(empty))
    b = _Trial("b", Trial.RUNNING)
    c = _Trial("c", Trial.ERROR, str(kept))
    d = _Trial("d", Trial.TERMINATED)  # its actor is still being stopped
    e = _Trial("e", Trial.PENDING)
    controller = _Controller([a, b, c, d, e])
    controller._trial_to_actor[d] = object()

    assert forget_ended(_Wrapper(controller)) == 2
    assert controller._trials == [b, d, e]
    assert controller._stopped_trials == {d}
    assert controller._failed_trials == set()
    assert set(controller._trial_metadata) == {"b", "d", "e"}
    assert a not in controller._pending_trial_queue_times
    assert not empty.exists()  # a folder that holds nothing goes
    assert (kept / "program.log").exists()  # what a trial wrote stays

    del controller._trial_to_actor[d]
    assert forget_ended(controller) == 1  # the controller itself works too
    assert controller._trials == [b, e]


class _NeverStarted(_Trial):
    """A trial Tune ended before it ran: it has no folder, and Tune raises when asked."""

    @property  # type: ignore[override]
    def path(self) -> str:
        raise RuntimeError("Should not access `trial_fs_path` without setting `trial_dir_name`")

    @path.setter
    def path(self, value: str | None) -> None:
        pass


def test_forget_ended_drops_a_trial_that_never_started() -> None:
    from ray.tune.experiment import Trial

    from raysweep.ray_internals.trials import forget_ended

    controller = _Controller([_NeverStarted("a", Trial.TERMINATED)])
    assert forget_ended(controller) == 1
    assert controller._trials == []


def test_trial_ids_are_longer_within_the_block() -> None:
    from ray.tune.experiment import Trial

    from raysweep.ray_internals.trials import TRIAL_ID_DIGITS, longer_trial_ids

    with longer_trial_ids():
        ids = {Trial.generate_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(f"[0-9a-f]{{{TRIAL_ID_DIGITS}}}", i) for i in ids), ids
    assert len(Trial.generate_id()) == 8  # Tune's own again


def test_forget_ended_leaves_an_unknown_controller_alone() -> None:
    from raysweep.ray_internals.trials import forget_ended

    assert forget_ended(object()) == 0


def test_trainable_lookups_are_answered_from_memory_within_the_block(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ray.tune import registry

    from raysweep.ray_internals.registry import cached_trainable_lookups

    reg = registry._global_registry
    asked: list[tuple[str, str]] = []

    def ray_get(self: Any, category: str, key: str) -> Any:
        asked.append((category, key))
        return object()  # Ray unpickles a new object at every lookup

    monkeypatch.setattr(type(reg), "get", ray_get)
    monkeypatch.setattr(type(reg), "contains", lambda self, category, key: key == "known")
    trainable = registry.TRAINABLE_CLASS
    with cached_trainable_lookups():
        first = reg.get(trainable, "t")
        assert reg.get(trainable, "t") is first
        assert reg.contains(trainable, "t")  # found before: no need to ask
        assert not reg.contains(trainable, "unknown")
        assert reg.contains(trainable, "known")
        reg.get("other_category", "t")
        reg.get("other_category", "t")
    assert asked == [(trainable, "t"), ("other_category", "t"), ("other_category", "t")]
    assert "get" not in vars(reg) and "contains" not in vars(reg)  # Ray's methods again
    assert reg.get(trainable, "t") is not first


def test_the_sweep_control_does_not_grow_with_ended_trials(tmp_path: Path) -> None:
    import pickle

    from raysweep.execution.control import SweepControl

    # Tune pickles its stopper (raysweep's control) into every experiment checkpoint.
    sizes = []
    control = SweepControl(tmp_path, None)
    for n in (10, 5000):
        while control.ended_count < n:
            control.on_trial_complete(0, [], None)
        sizes.append(len(pickle.dumps(control)))
    assert sizes[1] - sizes[0] <= 4, sizes  # a counter's bytes, not one entry per trial


def test_the_guard_still_ends_a_sweep_whose_first_trials_all_fail(tmp_path: Path) -> None:
    from raysweep.execution.control import FIRST_FAILURES, SweepControl

    control = SweepControl(tmp_path, None)
    for _ in range(FIRST_FAILURES):
        control.on_trial_error(0, [], None)
    assert control.ended_by == "guard"
    late = SweepControl(tmp_path, None)
    late.on_trial_complete(0, [], None)
    for _ in range(2 * FIRST_FAILURES):
        late.on_trial_error(0, [], None)
    assert late.ended_by is None  # one of the first trials succeeded


# -- with Ray --------------------------------------------------------------------------------


def _run(storage: Path, count: int, callbacks: list[Any] | None = None) -> Path:
    import raysweep

    def trial(config: dict[str, Any]) -> None:  # local: pickled by value for the workers
        raysweep.log({"loss": config["x"]})

    result = raysweep.run(SWEEP, function=trial, count=count, storage=storage, name="s",
                          seed=0, extra_callbacks=callbacks)
    assert len(result.trials) == count
    assert result.trials["trial_id"].str.len().eq(12).all()  # longer_trial_ids
    assert set(result.trials["status"]) == {"finished"}
    return storage / "s"


def _per_unit(log: Path, trials: int) -> float:
    """Bytes per trial of a log, or per line for trials.jsonl (see the test)."""
    data = log.read_bytes()
    return len(data) / (len(data.splitlines()) if log.name == "trials.jsonl" else trials)


def _files(sweep_dir: Path) -> dict[str, int]:
    """Every file of the sweep folder (Tune's timestamps taken out of names) -> its size."""
    return {re.sub(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d", "<time>", str(p.relative_to(sweep_dir))):
            p.stat().st_size for p in sweep_dir.rglob("*") if p.is_file()}


@pytest.mark.ray
def test_tune_forgets_ended_trials_and_the_folder_does_not_grow(tmp_path: Path) -> None:
    from ray.tune import Callback

    sizes: list[int] = []

    class ListSize(Callback):  # type: ignore[misc]
        def on_step_end(self, iteration: int, trials: list[Any], **info: Any) -> None:
            sizes.append(len(trials))

    small = _files(_run(tmp_path / "small", 6))
    large_dir = _run(tmp_path / "large", 36, [ListSize()])
    large = _files(large_dir)

    # Tune's own trial list holds the running and waiting trials, not the 36 that ran.
    assert max(sizes) <= 12, max(sizes)
    # No file or folder per trial: the same files, whatever the number of trials.
    assert sorted(large) == sorted(small), (sorted(small), sorted(large))
    assert not [p for p in large_dir.iterdir() if p.is_dir()]
    # The logs grow by about the same bytes per trial; everything else stays about its size.
    # A trial's entry in trials.jsonl is written at its end, and also earlier when its start
    # or report reached the file first (timing): there the bytes per line are compared.
    logs = ("history.jsonl", "trials.jsonl", "searcher.jsonl")
    for name in logs:
        per_unit = [_per_unit(d / "s" / name, trials)
                    for d, trials in ((tmp_path / "large", 36), (tmp_path / "small", 6))]
        assert max(per_unit) < 1.5 * min(per_unit), (name, per_unit)
    trial_lines = len((large_dir / "trials.jsonl").read_bytes().splitlines())
    assert 36 <= trial_lines <= 3 * 36, trial_lines  # its end (start, a report) per trial
    for name, size in large.items():
        if name not in logs:
            assert size <= 2 * small[name] + 512, (name, small[name], size)
