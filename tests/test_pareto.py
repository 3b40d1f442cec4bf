"""The Pareto front (analysis/pareto.py) against a brute-force check, and a multi-objective
sweep's tables, ``raysweep results --pareto`` and report (synthetic sweep directories, no Ray)."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from raysweep.analysis import pareto as _pareto
from raysweep.analysis.live import LiveView
from raysweep.analysis.pareto import pareto_mask
from raysweep.analysis.tables import load_results, read_trials
from raysweep.cli import main
from raysweep.errors import RaysweepError
from raysweep.execution.control import SweepControl
from raysweep.execution.recorder import SweepRecorder
from raysweep.execution.tuner import write_meta
from raysweep.sweep.config import from_dict
from raysweep.sweep.model import Goal, Metric, SweepConfig


def brute_front(values: np.ndarray, goals: list[str]) -> list[bool]:
    """Every pair compared, in plain Python: the definition itself."""
    sign = [1.0 if g in ("minimize", "min") else -1.0 for g in goals]
    rows = [[v * s for v, s in zip(row, sign, strict=True)] for row in values.tolist()]
    finite = [all(np.isfinite(v) for v in row) for row in rows]
    out = []
    for i, p in enumerate(rows):
        beaten = any(
            finite[j] and all(a <= b for a, b in zip(q, p, strict=True))
            and any(a < b for a, b in zip(q, p, strict=True))
            for j, q in enumerate(rows) if j != i
        )
        out.append(finite[i] and not beaten)
    return out


# Few distinct values, so ties in one objective and duplicate points are common.
_VALUE = st.one_of(st.integers(0, 4).map(float), st.sampled_from([np.nan, 0.5, -1.0]))


@st.composite
def _points(draw: st.DrawFn) -> tuple[np.ndarray, list[str]]:
    k = draw(st.integers(1, 4))
    n = draw(st.integers(0, 40))
    rows = draw(st.lists(st.lists(_VALUE, min_size=k, max_size=k), min_size=n, max_size=n))
    goals = draw(st.lists(st.sampled_from(["minimize", "maximize", "min", "max"]),
                          min_size=k, max_size=k))
    return np.array(rows, dtype=float).reshape(n, k), goals


@settings(max_examples=400, deadline=None)
@given(_points())
def test_the_mask_is_the_brute_force_front_with_ties_and_duplicates(
    case: tuple[np.ndarray, list[str]]
) -> None:
    values, goals = case
    assert pareto_mask(values, goals).tolist() == brute_front(values, goals)


@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize("goals", ["min", "mixed"])
def test_random_continuous_points_match_brute_force_across_blocks(
    k: int, goals: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small blocks and front chunks, so a few hundred points cross many of them.
    monkeypatch.setattr(_pareto, "_BLOCK", 16)
    monkeypatch.setattr(_pareto, "_FRONT_CHUNK", 8)
    rng = np.random.default_rng(k)
    values = rng.random((300, k))
    values[::7] = values[1::7][: len(values[::7])]  # duplicates
    values[5, 0] = np.inf
    names = ["minimize", "maximize"] * k if goals == "mixed" else ["minimize"] * k
    names = names[:k]
    mask = pareto_mask(values, names)
    assert mask.tolist() == brute_front(values, names)
    assert mask.any() and not mask[5]


def test_duplicates_of_a_front_point_are_all_on_it() -> None:
    values = np.array([[1.0, 1.0], [1.0, 1.0], [0.0, 2.0], [1.0, 2.0], [1.0, 1.0]])
    assert pareto_mask(values, ["min", "min"]).tolist() == [True, True, True, False, True]
    three = np.c_[values, np.zeros(5)]
    assert pareto_mask(three, ["min", "min", "min"]).tolist() == [True, True, True, False, True]


def test_a_maximised_objective_reverses_its_direction() -> None:
    values = np.array([[0.1, 0.5], [0.2, 0.9], [0.3, 0.95], [0.3, 0.7]])
    assert pareto_mask(values, ["minimize", "maximize"]).tolist() == [True, True, True, False]
    assert pareto_mask(values, ["maximize", "minimize"]).tolist() == [True, False, False, True]


@pytest.mark.parametrize(
    ("values", "goals", "message"),
    [
        pytest.param(np.zeros(3), ["min"], "two-dimensional", id="1d"),
        pytest.param(np.zeros((3, 2)), ["min"], "one goal per column (2), but got 1",
                     id="goal_count"),
        pytest.param(np.zeros((3, 1)), ["lowest"], "'minimize' or 'maximize', but got 'lowest'",
                     id="goal_word"),
    ],
)
def test_bad_arguments_say_what_is_wrong(values: np.ndarray, goals: list[str],
                                         message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        pareto_mask(values, goals)


# -- a multi-objective sweep's record, tables, results --pareto, report and live view ----------


def moo_config(*metrics: Metric, method: str = "random") -> SweepConfig:
    """A sweep config with ``metrics:`` (the checker's part is another's: built by hand)."""
    base = from_dict({
        "method": method,
        "parameters": {"x": {"min": 0.0, "max": 1.0}, "opt": {"values": ["adam", "sgd"]}},
        "program": "train.py",
    })
    return dataclasses.replace(base, metric=None, metrics=metrics)


LOSS_ACC = (Metric("loss"), Metric("acc", Goal.MAXIMIZE))


class _Stops:
    """A scheduler's answers for the recorder: it stopped the trials named."""

    def __init__(self, stopped: set[str]) -> None:
        self.stopped = stopped

    def __call__(self, trial_id: str) -> str | None:
        return "stopped by the test" if trial_id in self.stopped else None

    def rerun_of(self, trial_id: str) -> str | None:
        return None

    def paused_at(self, trial_id: str) -> int | None:
        return None

    def save_state(self, path: Path) -> None:
        pass


# Each trial: its reports, how it ends. Trial "c" reported a better loss earlier than its last
# (the last counts for the front); "e" and "f" tie with "b" in loss; "g" duplicates "b";
# "h" never reported acc; "i" failed; "j" is still running at the end; "k" was stopped.
TRIALS: dict[str, tuple[list[dict[str, Any]], str]] = {
    "a": ([{"loss": 0.9, "acc": 0.95}], "finished"),
    "b": ([{"loss": 0.5, "acc": 0.6}, {"loss": 0.4, "acc": 0.8}], "finished"),
    "c": ([{"loss": 0.1, "acc": 0.5}, {"loss": 0.7, "acc": 0.5}], "finished"),
    "e": ([{"loss": 0.4, "acc": 0.7}], "finished"),
    "f": ([{"loss": 0.4, "acc": 0.8, "other": "text"}], "finished"),
    "g": ([{"loss": 0.4, "acc": 0.8}], "finished"),
    "h": ([{"loss": 0.01}], "finished"),
    "i": ([{"loss": 0.0, "acc": 1.0}], "failed"),
    "j": ([{"loss": 0.0, "acc": 1.0}], "running"),
    "k": ([{"loss": 0.2, "acc": float("nan")}, {"loss": 0.3, "acc": 0.3}], "stopped"),
}


def record_sweep(sweep_dir: Path, cfg: SweepConfig) -> SweepRecorder:
    """Drive a recorder through :data:`TRIALS` as Tune would, after the run's metadata."""
    write_meta(sweep_dir, cfg, sweep_dir.name)
    recorder = SweepRecorder(sweep_dir, None, "min", stop_reasons=_Stops({"k"}),
                             objectives=[(m.name, m.mode) for m in cfg.metrics])
    for i, (tid, (reports, end)) in enumerate(TRIALS.items()):
        trial = SimpleNamespace(trial_id=tid, config={"x": i / 10, "opt": "adam"},
                                num_failures=0, error_file=None)
        recorder.on_trial_start(0, [trial], trial)
        for step, report in enumerate(reports, 1):
            # A third objective where the sweep has one: time, the trial's place.
            extra = {"time": float(i)} if len(cfg.metrics) > 2 else {}
            recorder.on_trial_result(0, [trial], trial,
                                     {"training_iteration": step, **report, **extra})
        if end == "failed":
            recorder.on_trial_error(0, [trial], trial)
        elif end in ("finished", "stopped"):
            recorder.on_trial_complete(0, [trial], trial)
    recorder.on_experiment_end([])
    return recorder


# The front by hand: judged are a, b, c, e, f, g, k (h lacks acc, i failed, j never ended);
# b, f and g are the same point (0.4, 0.8), which e (0.4, 0.7) does not beat and a, c, k do
# not dominate.
FRONT = {"a", "b", "f", "g", "k"}


def test_the_recorder_keeps_each_objective_and_the_front_of_ended_trials(
    tmp_path: Path
) -> None:
    recorder = record_sweep(tmp_path, moo_config(*LOSS_ACC))
    entry = {e["trial_id"]: e for e in read_trials(tmp_path)}
    assert entry["c"]["objectives"] == {"loss": {"last": 0.7, "best": 0.1},
                                        "acc": {"last": 0.5, "best": 0.5}}
    assert entry["k"]["objectives"]["acc"] == {"last": 0.3, "best": 0.3}  # NaN: no value
    assert entry["h"]["objectives"]["acc"] == {"last": None, "best": None}
    assert entry["k"]["status"] == "stopped" and entry["j"]["status"] == "interrupted"
    assert entry["b"]["steps"] == 2 and entry["k"]["steps"] == 2
    assert {r["trial_id"] for r in recorder.front()} == FRONT
    assert recorder.best() is None
    best_loss, best_acc = recorder.best_of("loss"), recorder.best_of("acc")
    assert best_loss is not None and best_acc is not None
    assert (best_loss["trial_id"], best_acc["trial_id"]) == ("i", "i")  # as for one metric
    # A resumed driver's recorder finds the same front in the file.
    again = SweepRecorder(tmp_path, None, "min", objectives=[("loss", "min"), ("acc", "max")])
    assert {r["trial_id"] for r in again.front()} == FRONT


def test_the_tables_mark_the_front_against_brute_force_and_put_it_first(tmp_path: Path) -> None:
    record_sweep(tmp_path, moo_config(*LOSS_ACC))
    result = load_results(tmp_path)
    trials = result.trials
    assert result.metrics == ["loss", "acc"] and result.metric is None and result.best is None
    assert list(trials.columns[:8]) == ["trial_id", "status", "opt", "x", "loss", "loss_best",
                                        "acc", "acc_best"]
    assert trials.columns[8] == "pareto" and "other" in result.summary_columns
    judged = trials["status"].isin(["finished", "stopped"]).to_numpy()
    values = trials[["loss", "acc"]].to_numpy(dtype=float, copy=True)
    values[~judged] = np.nan
    assert trials["pareto"].tolist() == brute_front(values, ["minimize", "maximize"])
    assert set(trials.loc[trials["pareto"], "trial_id"]) == FRONT
    # Front first, each part by loss (best first), trials without a loss last.
    assert trials["trial_id"].tolist()[:5] == ["k", "b", "f", "g", "a"]
    assert trials["trial_id"].tolist()[5:] == ["i", "j", "h", "e", "c"]
    assert result.pareto["trial_id"].tolist() == ["k", "b", "f", "g", "a"]
    assert result.best_of("loss") == {"trial_id": "i", "config": {"x": 0.7, "opt": "adam"},
                                      "value": 0.0, "status": "failed"}
    assert result.best_of("acc")["trial_id"] == "i"  # type: ignore[index]
    with pytest.raises(RaysweepError, match="'lr' is not an objective .*: loss, acc"):
        result.best_of("lr")


def test_a_single_objective_sweep_has_no_front(tmp_path: Path) -> None:
    cfg = dataclasses.replace(moo_config(*LOSS_ACC), metrics=(), metric=Metric("loss"))
    write_meta(tmp_path, cfg, "one")
    recorder = SweepRecorder(tmp_path, "loss", "min")
    trial = SimpleNamespace(trial_id="a", config={"x": 0.1, "opt": "adam"}, num_failures=0)
    recorder.on_trial_start(0, [trial], trial)
    recorder.on_trial_result(0, [trial], trial, {"training_iteration": 1, "loss": 0.3})
    recorder.on_trial_complete(0, [trial], trial)
    recorder.close()
    result = load_results(tmp_path)
    assert "pareto" not in result.trials and "objectives" not in read_trials(tmp_path)[0]
    assert "metrics" not in result.meta and result.metrics == []
    with pytest.raises(RaysweepError, match="not a multi-objective sweep \\(its metric is "
                                            "'loss'\\).*its best trial is `.best`"):
        result.pareto  # noqa: B018
    res = CliRunner().invoke(main, ["results", str(tmp_path), "--pareto"])
    assert res.exit_code == 2 and "--pareto: " in res.output


def test_results_pareto_prints_only_the_front(tmp_path: Path) -> None:
    record_sweep(tmp_path, moo_config(*LOSS_ACC))
    res = CliRunner().invoke(main, ["results", str(tmp_path), "--pareto", "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert [r["trial_id"] for r in rows] == ["k", "b", "f", "g", "a"]
    assert all(r["pareto"] for r in rows)
    table = CliRunner().invoke(main, ["results", str(tmp_path)])
    assert "loss (minimize), acc (maximize)" in table.output and "pareto" in table.output
    both = CliRunner().invoke(main, ["results", str(tmp_path), "--pareto", "--history"])
    assert both.exit_code == 2 and "cannot be used together" in both.output


def test_the_report_draws_the_front_as_a_scatter_or_parallel_coordinates(
    tmp_path: Path
) -> None:
    pytest.importorskip("plotly")
    from raysweep.analysis.figures import pareto_figure
    from raysweep.analysis.report import build_report

    record_sweep(tmp_path / "two", moo_config(*LOSS_ACC))
    result = load_results(tmp_path / "two")
    fig = pareto_figure(result)
    dominated, front = fig.data
    assert sorted(front.text) == sorted(FRONT) and sorted(dominated.text) == ["c", "e"]
    assert front.line.shape == "hv" and dominated.marker.opacity < 1
    assert list(front.x) == sorted(front.x)  # the staircase runs from the best loss
    page = build_report(result)
    assert 'id="plot-pareto"' in page and "Pareto front <b>5 trials</b>" in page
    assert "objectives <b>loss</b> (minimize), <b>acc</b> (maximize)" in page

    three = moo_config(*LOSS_ACC, Metric("time"))
    record_sweep(tmp_path / "three", three)
    result3 = load_results(tmp_path / "three")
    (trace,) = pareto_figure(result3).data
    assert trace.type == "parcoords"
    assert [d.label for d in trace.dimensions][-3:] == [
        "loss (lower is better)", "acc (higher is better)", "time (lower is better)"]
    trials = result3.trials
    judged = trials["status"].isin(["finished", "stopped"]).to_numpy()
    values = trials[["loss", "acc", "time"]].to_numpy(dtype=float, copy=True)
    values[~judged] = np.nan
    assert trials["pareto"].tolist() == brute_front(values, ["min", "max", "min"])
    # A later time makes b's duplicates f and g dominated; the front (coloured 1) is last.
    assert set(result3.pareto["trial_id"]) == {"a", "b", "k"}
    assert list(trace.line.color) == sorted(trace.line.color)


def test_single_objective_reports_have_no_pareto_figure(tmp_path: Path) -> None:
    pytest.importorskip("plotly")
    from raysweep.analysis.report import build_report

    cfg = dataclasses.replace(moo_config(*LOSS_ACC), metrics=(), metric=Metric("loss"))
    write_meta(tmp_path, cfg, "one")
    assert "plot-pareto" not in build_report(load_results(tmp_path))


def test_the_live_view_shows_the_front_and_every_objective(tmp_path: Path) -> None:
    cfg = moo_config(*LOSS_ACC)
    recorder = record_sweep(tmp_path, cfg)
    console = Console(file=io.StringIO(), width=160, height=40, color_system=None)
    console.print(LiveView(console, cfg, None).render(recorder))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "pareto front 5 trials · best loss=0 (trial i) · best acc=1 (trial i)" in text
    header = next(line for line in text.splitlines() if line.startswith("trial"))
    assert header.split()[:6] == ["trial", "status", "opt", "x", "loss", "acc"]
    assert "best" not in header
    plain = Console(file=io.StringIO(), width=200, color_system=None)
    view = LiveView(plain, cfg, None)
    view.update(record_sweep(tmp_path / "again", cfg))
    lines = plain.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert any("trial c finished loss=0.7 acc=0.5 steps=2" in line for line in lines)


class _Searcher:
    def __init__(self) -> None:
        self.finished = False

    def finish(self) -> None:
        self.finished = True


def test_any_objectives_target_ends_the_sweep_and_a_resume_remembers(tmp_path: Path) -> None:
    targets = [("loss", "min", 0.1), ("acc", "max", 0.9)]
    searcher = _Searcher()
    control = SweepControl(tmp_path, searcher, targets=targets)
    a = SimpleNamespace(trial_id="a")
    b = SimpleNamespace(trial_id="b")
    control.on_trial_result(0, [a], a, {"loss": 0.5, "acc": 0.95})  # a's acc reaches 0.9 ...
    control.on_trial_result(0, [a, b], b, {"loss": 0.05, "acc": True})
    assert control.ended_by is None and not searcher.finished  # ... once a trial ends
    control.on_trial_result(0, [a], a, {"loss": 0.4, "acc": 0.5})  # its best still counts
    control.on_trial_complete(0, [a, b], a)
    assert control.ended_by == "target" and searcher.finished
    assert control.reason is not None and control.reason.startswith(
        "target reached: trial a's acc=0.95 is at its target 0.9 (>=)")
    assert not control.stop_all()  # running trials finish

    # No target reached: nothing ends; a resumed sweep whose file has one ends at once.
    quiet = SweepControl(tmp_path, _Searcher(), targets=[("loss", "min", 0.0)])
    quiet.on_trial_result(0, [a], a, {"loss": 0.05})
    quiet.on_trial_error(0, [a], a)
    assert quiet.ended_by is None
    record_sweep(tmp_path / "done", moo_config(*LOSS_ACC))
    resumed = _Searcher()
    control = SweepControl(tmp_path / "done", resumed, targets=[("loss", "min", 0.05)])
    assert control.ended_by == "target" and resumed.finished
    assert SweepControl(tmp_path / "done", _Searcher(),
                        targets=[("loss", "min", -1.0)]).ended_by is None


def test_the_outcome_gives_the_front_size_and_each_objectives_best(tmp_path: Path) -> None:
    from raysweep.cli.outcome import print_outcome

    record_sweep(tmp_path, moo_config(*LOSS_ACC))
    console = Console(file=io.StringIO(), width=200, color_system=None)
    print_outcome(console, load_results(tmp_path))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert f"pareto front: 5 trials (raysweep results {tmp_path} --pareto)" in text
    assert "  best loss=0 (trial i, failed)\n  best acc=1 (trial i, failed)" in text
    # h never reported acc: it is not judged, and the note says what it did report.
    assert "1 trial ended without a numeric 'acc' (h); they reported: loss." in text


def test_an_objective_reported_in_a_nested_dict_counts_as_the_searcher_reads_it(
    tmp_path: Path,
) -> None:
    # The searcher finds "val/loss" in {"val": {"loss": x}}; the recorder must too, or the
    # trial would have no value for the front although the study learned one.
    recorder = SweepRecorder(tmp_path, None, "min",
                             objectives=[("val/loss", "min"), ("acc", "max")])
    trial = SimpleNamespace(trial_id="a", config={"x": 0.1}, num_failures=0)
    recorder.on_trial_start(0, [trial], trial)
    recorder.on_trial_result(0, [trial], trial,
                             {"training_iteration": 1, "val": {"loss": 0.4}, "acc": 0.7})
    recorder.on_trial_complete(0, [trial], trial)
    assert [r["trial_id"] for r in recorder.front()] == ["a"]
    assert recorder.best_of("val/loss")["objectives"]["val/loss"]["last"] == 0.4


def test_a_last_report_that_is_not_finite_keeps_the_value_the_study_was_told(
    tmp_path: Path,
) -> None:
    recorder = SweepRecorder(tmp_path, None, "min", objectives=[("loss", "min"), ("acc", "max")])
    trial = SimpleNamespace(trial_id="a", config={"x": 0.1}, num_failures=0)
    recorder.on_trial_start(0, [trial], trial)
    for step, loss in enumerate([0.5, 0.4, float("nan")], 1):
        recorder.on_trial_result(0, [trial], trial,
                                 {"training_iteration": step, "loss": loss, "acc": 0.7})
    recorder.on_trial_complete(0, [trial], trial)
    (front,) = recorder.front()
    assert front["objectives"]["loss"]["last"] == 0.4
