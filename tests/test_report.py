"""Tests for the sweep report (analysis.figures, .report, .importance, `raysweep report`).

Sweep directories are written here as the recorder writes them (raysweep.json, trials.json,
history.jsonl), so no test starts Ray. tests/test_report_browser.py renders a real sweep.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from raysweep.analysis.figures import (
    MAX_CURVE_POINTS,
    MAX_DRAWN_TRIALS,
    best_figure,
    curves_figure,
    parallel_figure,
)
from raysweep.analysis.importance import (
    encode_parameters,
    forest_importance,
    is_log_scale,
    parameter_importance,
)
from raysweep.analysis.report import build_report
from raysweep.analysis.tables import SweepResult, load_results
from raysweep.cli import main
from raysweep.errors import RaysweepError

plotly = pytest.importorskip("plotly")

PARAMETERS = ["lr", "noise", "optimizer", "model.width"]


def write_sweep(
    root: Path,
    trials: int = 40,
    steps: int = 12,
    seed: int = 0,
    metric: str | None = "loss",
    mode: str = "min",
) -> Path:
    """Write a sweep directory: ``loss`` is driven by ``lr`` (log scale) and ``optimizer``;
    ``noise`` and ``model.width`` do nothing. Every 5th trial is stopped early, every 9th
    fails, trials start in id order (which is not the best-first order of the table)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    meta = {"name": root.name, "method": "random", "metric": metric,
            "goal": "maximize" if mode == "max" else "minimize", "mode": mode,
            "parameters": PARAMETERS, "early_terminate": "hyperband", "created": 0.0}
    (root / "raysweep.json").write_text(json.dumps(meta), encoding="utf-8")
    entries, lines = [], []
    for i in range(trials):
        lr = float(10 ** rng.uniform(-5, -1))
        opt = ["adam", "sgd", "rmsprop"][i % 3]
        config = {"lr": lr, "noise": float(rng.uniform()), "optimizer": opt,
                  "model": {"width": [16, 32, 64][int(rng.integers(3))]}}
        final = (np.log10(lr) + 3) ** 2 + 0.5 * (opt == "sgd") + 0.05 * rng.normal()
        status, n, reason, error = "finished", steps, None, None
        if i % 5 == 4:
            status, n, reason = "stopped", 3, "stopped at band 3: 2.5 > threshold 2"
        elif i % 9 == 8:
            status, n, error = "failed", 2, "Traceback (most recent call last):\nValueError: nan"
        curve = final + 2.0 / (1 + np.arange(n))
        if mode == "max":
            curve = -curve
        pick = min if mode == "min" else max
        for s in range(n):
            lines.append({"trial_id": f"t{i:03d}", "step": s + 1, "time_s": 0.1 * (s + 1),
                          "loss": float(curve[s]), "acc": 0.5})
        entries.append({
            "trial_id": f"t{i:03d}", "status": status, "config": config, "steps": n,
            "last": None if status == "failed" else float(curve[-1]),
            "best": None if status == "failed" else float(pick(curve)),
            "started": 100.0 + i, "ended": 101.0 + i, "node": "10.0.0.1", "gpus": None,
            "error": error, "stop_reason": reason, "failures": 0, "dir": None,
        })
    (root / "trials.json").write_text(json.dumps({"trials": entries}), encoding="utf-8")
    (root / "history.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines),
                                        encoding="utf-8")
    return root


@pytest.fixture
def sweep(tmp_path: Path) -> SweepResult:
    return load_results(write_sweep(tmp_path / "sweep"))


def _without_plotly(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(sys.modules):
        if name == "plotly" or name.startswith("plotly."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "plotly", None)  # makes `import plotly...` fail


# -- the package ------------------------------------------------------------------------------


def test_importing_the_tables_module_leaves_raysweep_results_the_function() -> None:
    import raysweep
    import raysweep.analysis.tables
    import raysweep.api

    assert raysweep.results is raysweep.api.results
    assert not callable(raysweep.analysis.tables)


# -- importance -------------------------------------------------------------------------------


def test_importance_ranks_the_driving_parameter_above_pure_noise() -> None:
    rng = np.random.default_rng(7)
    n = 60
    frame = pd.DataFrame({"lr": 10 ** rng.uniform(-5, -1, n), "noise": rng.uniform(0, 1, n)})
    frame["loss"] = (np.log10(frame["lr"]) + 3) ** 2 + 0.1 * rng.normal(size=n)
    table = parameter_importance(frame, ["lr", "noise"], "loss").set_index("parameter")
    assert table.loc["lr", "importance"] > 0.8
    assert table.loc["lr", "importance"] > 5 * table.loc["noise", "importance"]
    assert table["importance"].sum() == pytest.approx(1.0)
    assert list(table["feature"]) == ["log10(lr)", "noise"]


def test_importance_of_a_sweep_directory(sweep: SweepResult) -> None:
    table = sweep.importance()
    by_feature = table.set_index("feature")["importance"]
    assert table["feature"].iloc[0] == "log10(lr)"
    assert by_feature["log10(lr)"] > 4 * by_feature["noise"]
    assert by_feature["log10(lr)"] > 4 * by_feature["model.width"]
    # Failed trials have no value: left out.
    assert int(table["n"].iloc[0]) == int(sweep.trials["loss_best"].notna().sum())
    # Correlation is linear: sgd is worse (higher loss), so positive.
    corr = table.set_index("feature")["correlation"]
    assert corr["optimizer=sgd"] > 0.1


def test_forest_importance_ranks_the_drivers_and_is_deterministic_for_a_seed() -> None:
    rng = np.random.default_rng(3)
    X = rng.uniform(size=(300, 4))
    y = 4 * X[:, 0] + 2 * X[:, 1] ** 2 + 0.1 * rng.normal(size=300)
    importance = forest_importance(X, y, seed=0)
    assert np.array_equal(importance, forest_importance(X, y, seed=0))
    assert list(np.argsort(-importance)[:2]) == [0, 1]
    assert importance[2:].max() < 0.02  # the two noise columns
    assert importance.sum() == pytest.approx(1.0)
    assert np.all(importance >= 0)


@pytest.mark.parametrize(
    ("X", "y"),
    [
        pytest.param(np.zeros((0, 2)), np.zeros(0), id="no_trials"),
        pytest.param(np.zeros((10, 0)), np.arange(10.0), id="no_features"),
        pytest.param(np.ones((10, 2)), np.arange(10.0), id="constant_features"),
        pytest.param(np.arange(20.0).reshape(10, 2), np.ones(10), id="constant_target"),
    ],
)
def test_forest_importance_without_a_useful_split_is_all_zero(
    X: np.ndarray, y: np.ndarray
) -> None:
    importance = forest_importance(X, y)
    assert importance.shape == (X.shape[1],)
    assert not importance.any()


def test_importance_leaves_out_trials_without_a_finite_value() -> None:
    rng = np.random.default_rng(5)
    n = 50
    frame = pd.DataFrame({"x": rng.uniform(size=n), "noise": rng.uniform(size=n)})
    missing: list[object] = [np.nan, np.inf, None, "oops", -np.inf, np.nan, np.nan, None,
                             np.nan, np.nan]
    frame["loss"] = pd.Series(missing + list(3 * frame["x"][10:]), dtype=object)
    table = parameter_importance(frame, ["x", "noise"], "loss", seed=1)
    assert list(table["parameter"]) == ["x", "noise"]
    assert set(table["n"]) == {n - 10}
    assert table.set_index("parameter").loc["noise", "importance"] < 0.05
    pd.testing.assert_frame_equal(table, parameter_importance(frame, ["x", "noise"], "loss",
                                                              seed=1))


def test_encoding_one_hot_log_constant_and_missing() -> None:
    frame = pd.DataFrame({
        "lr": [1e-5, 1e-4, 1e-3, 1e-2, 1e-1],
        "opt": ["adam", "sgd", "adam", "sgd", "rms"],
        "epochs": [10, 10, 10, 10, 10],
        "width": [16.0, None, 32.0, 64.0, 32.0],
        "flag": [True, False, True, True, False],
    })
    enc = encode_parameters(frame, ["lr", "opt", "epochs", "width", "flag", "absent"])
    assert enc.features == ["log10(lr)", "opt=adam", "opt=rms", "opt=sgd", "width", "flag"]
    assert enc.parameters == ["lr", "opt", "opt", "opt", "width", "flag"]
    np.testing.assert_allclose(enc.X[:, 0], [-5, -4, -3, -2, -1])
    np.testing.assert_allclose(enc.X[:, 4], [16, 32, 32, 64, 32])  # missing -> median
    assert is_log_scale(np.array([1e-4, 3e-3, 0.02, 0.1]))
    assert not is_log_scale(np.array([0.001, 0.25, 0.5, 0.75, 0.99]))


def test_importance_with_too_few_trials_or_no_variation_is_empty() -> None:
    frame = pd.DataFrame({"a": [1, 1, 1], "loss": [0.1, 0.2, 0.3]})
    assert parameter_importance(frame, ["a"], "loss").empty
    assert parameter_importance(frame, ["a"], "missing").empty
    columns = ["feature", "parameter", "importance", "correlation", "n"]
    assert list(parameter_importance(frame, ["a"], "missing").columns) == columns
    assert list(parameter_importance(frame.iloc[:0], ["a"], "loss").columns) == columns


# -- figures ----------------------------------------------------------------------------------


def test_parallel_coordinates_show_categoricals_log_axes_and_the_metric(
    sweep: SweepResult,
) -> None:
    fig = parallel_figure(sweep)
    (trace,) = fig.data
    dims = {d.label: d for d in trace.dimensions}
    assert list(dims) == ["lr (log)", "noise", "optimizer", "model.width", "loss (best)"]
    assert list(dims["optimizer"].ticktext) == ["adam", "rmsprop", "sgd"]
    assert all(t in ("1e-05", "0.0001", "0.001", "0.01", "0.1") for t in dims["lr (log)"].ticktext)
    valued = sweep.trials["loss_best"].notna()
    assert len(dims["loss (best)"].values) == int(valued.sum())
    assert trace.line.reversescale is True  # minimize: the lowest loss is the brightest


def test_curves_mark_stopped_and_failed_trials_where_they_ended(sweep: SweepResult) -> None:
    fig = curves_figure(sweep)
    by_name = {t.name: t for t in fig.data}
    stopped = by_name["stopped early (X)"]
    assert stopped.marker.symbol == "x"
    n_stopped = int((sweep.trials["status"] == "stopped").sum())
    assert len(stopped.x) == n_stopped and set(stopped.x) == {3}
    assert all("stopped at band 3" in t for t in stopped.text)
    failed = by_name["failed (X)"]
    assert set(failed.x) == {2} and all("ValueError: nan" in t for t in failed.text)
    assert any(name.startswith("best: ") for name in by_name)
    lines = [t for t in fig.data if t.mode == "lines" and not t.name.startswith("best")]
    assert {t.name.split(" ")[0] for t in lines} == {"finished", "stopped", "failed"}


def test_curves_are_thinned_for_big_sweeps(tmp_path: Path) -> None:
    result = load_results(write_sweep(tmp_path / "big", trials=30, steps=400))
    fig = curves_figure(result, max_points=1200)
    points = sum(np.isfinite(np.asarray(t.y, dtype=float)).sum()
                 for t in fig.data if t.mode == "lines" and not t.name.startswith("best"))
    assert points <= 1200
    assert "at most 40 points per curve" in fig.layout.title.text
    # Every thinned curve keeps its last step.
    finished = next(t for t in fig.data if t.name.startswith("finished"))
    assert 400 in set(np.asarray(finished.x, dtype=float))
    assert MAX_CURVE_POINTS >= 50_000


def test_best_so_far_follows_the_start_order(sweep: SweepResult) -> None:
    fig = best_figure(sweep)
    line = next(t for t in fig.data if t.name == "best so far")
    raw = json.loads((sweep.path / "trials.json").read_text())["trials"]
    values = [np.inf if e["best"] is None else e["best"] for e in raw]
    np.testing.assert_allclose(np.asarray(line.y, dtype=float), np.minimum.accumulate(values))
    np.testing.assert_array_equal(line.x, np.arange(1, len(raw) + 1))


def test_maximize_goal_accumulates_the_maximum(tmp_path: Path) -> None:
    result = load_results(write_sweep(tmp_path / "max", mode="max"))
    line = next(t for t in best_figure(result).data if t.name == "best so far")
    y = np.asarray(line.y, dtype=float)
    assert np.all(np.diff(y[np.isfinite(y)]) >= 0)
    assert parallel_figure(result).data[0].line.reversescale is False


def test_figures_of_an_empty_sweep_say_so(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    (root / "raysweep.json").write_text(json.dumps(
        {"name": "empty", "method": "grid", "metric": "loss", "mode": "min",
         "parameters": ["x"]}))
    result = load_results(root)
    for fig in (result.plot_parallel(), result.plot_importance(), result.plot_curves(),
                result.plot_best()):
        assert not fig.data and fig.layout.annotations
    html = build_report(result)
    assert "Trials (0)" in html


def test_a_sweep_without_metric_plots_the_first_reported_one(tmp_path: Path) -> None:
    result = load_results(write_sweep(tmp_path / "nometric", metric=None))
    fig = result.plot_curves()
    assert fig.layout.yaxis.title.text == "loss"
    assert result.plot_parallel().data[0].line.colorbar.title.text == "trial #"


# -- the HTML report --------------------------------------------------------------------------


def test_report_is_one_self_contained_file(sweep: SweepResult, tmp_path: Path) -> None:
    path = sweep.report(tmp_path / "r.html")
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=", text)
    assert not re.search(r"<link[^>]+href=", text)
    assert text.count("Plotly.newPlot(") == 4
    assert text.count("* plotly.js v") == 1  # plotly.js inlined, once
    for key in ("parallel", "importance", "curves", "best"):
        assert f'id="plot-{key}"' in text
    assert '<table class="trials">' in text and "localeCompare" in text
    assert 'http-equiv="refresh"' not in text
    assert not list(tmp_path.glob(".r.html.*"))  # no temporary file left


def test_report_table_rows_carry_sort_keys(sweep: SweepResult) -> None:
    html = build_report(sweep)
    table = html[html.index('<table class="trials">'):]
    assert table.count("<tr>") == len(sweep.trials) + 1
    first = sweep.trials.iloc[0]
    assert f'data-v="{float(first["loss_best"])!r}"' in table
    assert '<th data-type=num>loss_best</th>' in table
    assert "<th>optimizer</th>" in table


def test_report_with_refresh_reloads_itself(sweep: SweepResult) -> None:
    assert '<meta http-equiv="refresh" content="5">' in build_report(sweep, refresh_s=5)


def test_repr_html_needs_no_plotly(sweep: SweepResult, monkeypatch: pytest.MonkeyPatch) -> None:
    _without_plotly(monkeypatch)
    html = sweep._repr_html_()
    best = sweep.best
    assert best is not None
    assert best["trial_id"] in html and "<svg" in html and "<script" not in html
    assert html.count("<tr>") == 11  # header and the 10 best


def test_plots_without_plotly_say_how_to_install_it(
    sweep: SweepResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    _without_plotly(monkeypatch)
    with pytest.raises(RaysweepError, match=re.escape("pip install 'raysweep[report]'")):
        sweep.plot_parallel()


@pytest.mark.slow
def test_a_2000_trial_sweep_builds_fast_and_small(tmp_path: Path) -> None:
    result = load_results(write_sweep(tmp_path / "big", trials=2000, steps=50))
    start = time.perf_counter()
    path = result.report(tmp_path / "big.html")
    elapsed = time.perf_counter() - start
    assert elapsed < 10
    assert path.stat().st_size < 15e6


def test_a_huge_sweep_report_draws_a_sample_and_says_what_it_left_out(tmp_path: Path) -> None:
    trials = 20_000
    result = load_results(write_sweep(tmp_path / "huge", trials=trials, steps=3))
    start = time.perf_counter()
    text = build_report(result)
    elapsed = time.perf_counter() - start
    assert elapsed < 10
    assert len(text.encode("utf-8")) < 15e6
    # The table: the best MAX_DRAWN_TRIALS rows; the page says what is left out and how to
    # get everything, and the counts are over every trial.
    table = text[text.index('<table class="trials">'):]
    assert table.count("<tr>") == MAX_DRAWN_TRIALS + 1
    assert f"Trials (best {MAX_DRAWN_TRIALS:,} of {trials:,})" in text
    assert f"raysweep results {result.path} -o trials.csv" in text
    assert f"{trials:,} trials: this report shows part of them" in text
    counts = result.trials["status"].value_counts()
    assert f'{counts["finished"]} finished</span>' in text
    best = result.best
    assert best is not None and f"<code>{best['trial_id']}</code>" in text
    # The figures draw MAX_DRAWN_TRIALS trials, the best among them, the same ones each time.
    par = parallel_figure(result)
    assert len(par.data[0].line.color) == MAX_DRAWN_TRIALS
    assert float(np.min(par.data[0].line.color)) == pytest.approx(best["value"])
    assert "trials drawn" in par.layout.title.text
    assert np.array_equal(par.data[0].line.color, parallel_figure(result).data[0].line.color)
    curves = curves_figure(result)
    drawn = {t for tr in curves.data if tr.mode == "lines" and tr.text is not None
             for t in tr.text}
    assert len(drawn) == MAX_DRAWN_TRIALS and best["trial_id"] in drawn
    assert f"{MAX_DRAWN_TRIALS:,} of " in curves.layout.title.text
    fig = best_figure(result)
    markers = sum(len(t.x) for t in fig.data if t.mode == "markers")
    assert markers <= MAX_DRAWN_TRIALS
    line = next(t for t in fig.data if t.name == "best so far")
    assert float(np.nanmin(np.asarray(line.y, dtype=float))) == pytest.approx(best["value"])
    assert float(np.asarray(line.x)[-1]) == trials  # the line follows every trial
    assert "trials drawn" in fig.layout.title.text


def test_a_sweep_at_the_limit_is_drawn_whole(tmp_path: Path) -> None:
    result = load_results(write_sweep(tmp_path / "some", trials=300, steps=2))
    text = build_report(result)
    assert "shows part of them" not in text and "Trials (300)" in text
    assert "trials drawn" not in parallel_figure(result).layout.title.text


# -- the command ------------------------------------------------------------------------------


def test_cli_report_writes_the_file(sweep: SweepResult, tmp_path: Path) -> None:
    out = tmp_path / "out.html"
    res = CliRunner().invoke(main, ["report", str(sweep.path), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert res.output.startswith(f"report: {out} (")
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_cli_report_defaults_to_the_sweep_directory(sweep: SweepResult) -> None:
    res = CliRunner().invoke(main, ["report", str(sweep.path)])
    assert res.exit_code == 0, res.output
    assert (sweep.path / "report.html").is_file()


def test_cli_report_without_plotly_is_a_clear_error(
    sweep: SweepResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    _without_plotly(monkeypatch)
    res = CliRunner().invoke(main, ["report", str(sweep.path)])
    assert res.exit_code == 2
    assert "pip install 'raysweep[report]'" in res.output
    assert "Traceback" not in res.output


@pytest.mark.parametrize("suffix", ["csv", "json", "parquet"])
def test_cli_results_writes_the_file_format_its_name_says(
    sweep: SweepResult, tmp_path: Path, suffix: str
) -> None:
    import pandas as pd

    out = tmp_path / f"trials.{suffix}"
    res = CliRunner().invoke(main, ["results", str(sweep.path), "-o", str(out)])
    assert res.exit_code == 0, res.output
    read = {"csv": pd.read_csv, "json": pd.read_json, "parquet": pd.read_parquet}[suffix]
    table = read(out)
    assert list(table["trial_id"].astype(str)) == list(sweep.trials["trial_id"].astype(str))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-o", "{tmp}/missing/trials.csv"], "cannot write {tmp}/missing/trials.csv"),
        (["--format", "parquet", "-o", "{tmp}/missing/t.parquet"], "cannot write {tmp}/missing"),
        # Used to print the table to the terminal and write nothing.
        (["-o", "{tmp}/trials.txt"], "raysweep cannot write a .txt file; name the file .csv, "
         ".json or .parquet"),
        (["-o", "{tmp}/t.xlsx"], "cannot write a .xlsx file"),
        (["--format", "table", "-o", "{tmp}/t.csv"], "--format table is for the terminal; a "
         "file is written as --format csv, json or parquet"),
    ],
)
def test_cli_results_output_it_cannot_write_is_named(
    sweep: SweepResult, tmp_path: Path, args: list[str], expected: str
) -> None:
    argv = ["results", str(sweep.path), *(a.format(tmp=tmp_path) for a in args)]
    res = CliRunner().invoke(main, argv)
    assert res.exit_code == 2, res.output
    # Compared without whitespace: the terminal may fold a long path anywhere.
    squeeze = "".join
    assert squeeze(expected.format(tmp=tmp_path).split()) in squeeze(res.output.split())
    assert res.exception is None or isinstance(res.exception, SystemExit)


def test_a_metric_no_trial_reported_is_named(sweep: SweepResult) -> None:
    # A typo used to give an empty figure saying "No metric reported yet."
    for plot in (sweep.plot_curves, sweep.plot_best, sweep.plot_parallel, sweep.importance):
        with pytest.raises(RaysweepError, match=r"no metric 'los' in the sweep .*reported: "):
            plot("los")


def test_a_report_that_cannot_be_written_names_its_path(
    sweep: SweepResult, tmp_path: Path
) -> None:
    # The atomic write used to surface as FileNotFoundError about a hidden temporary file.
    target = tmp_path / "missing-folder" / "r.html"
    expected = re.escape(f"cannot write the report to {target}: No such file or directory")
    with pytest.raises(RaysweepError, match=expected):
        sweep.report(target)
    res = CliRunner().invoke(main, ["report", str(sweep.path), "-o", str(target)])
    assert res.exit_code == 2
    assert "cannot write the report to" in res.output
    assert "Traceback" not in res.output and ".tmp" not in res.output


def test_cli_report_of_a_non_sweep_directory(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert res.exit_code == 2
    assert "is not a raysweep sweep directory" in res.output


@pytest.mark.parametrize("content", ["{broken", "[1, 2]"])
def test_a_damaged_raysweep_json_is_named_not_a_traceback(tmp_path: Path, content: str) -> None:
    from raysweep.analysis.tables import load_results
    from raysweep.errors import RaysweepError

    (tmp_path / "raysweep.json").write_text(content, encoding="utf-8")
    with pytest.raises(RaysweepError, match=r"raysweep\.json is damaged"):
        load_results(tmp_path)
    for command in ("results", "report", "resume"):
        res = CliRunner().invoke(main, [command, str(tmp_path)])
        assert res.exit_code == 2, (command, res.output)
        assert "raysweep.json is damaged" in res.output
        assert "Traceback" not in res.output


def test_cli_report_watch_rebuilds_until_ctrl_c(
    sweep: SweepResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "live.html"
    seen: list[str] = []

    def fake_sleep(seconds: float) -> None:
        assert seconds == 3
        seen.append(out.read_text(encoding="utf-8"))
        if len(seen) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(time, "sleep", fake_sleep)
    res = CliRunner().invoke(main, ["report", str(sweep.path), "-o", str(out), "--watch", "3"])
    assert res.exit_code == 0, res.output
    assert all('<meta http-equiv="refresh" content="3">' in s for s in seen)
    assert res.output.count(" updated: 40 trials, 0 running") == 1
    assert "stopped watching; report: " in res.output
    assert 'http-equiv="refresh"' not in out.read_text(encoding="utf-8")


def test_the_run_summary_names_trials_that_never_reported_the_metric() -> None:
    from raysweep.cli.outcome import missing_metric_note

    trials = pd.DataFrame({
        "trial_id": ["a", "b", "c", "d"],
        "status": ["finished", "finished", "stopped", "failed"],
        "loss_best": [0.5, None, 0.7, None],
    })
    history = pd.DataFrame({
        "trial_id": ["a", "b", "b", "c", "d"],
        "step": [1, 1, 2, 1, 1],
        "loss": [0.5, None, None, 0.7, None],
        "val_loss": [None, 0.4, 0.3, None, None],  # the typo: logged under another name
        "_step": [0, 0, 1, 0, 0],
    })
    result = SimpleNamespace(metric="loss", trials=trials, history=history)
    note = missing_metric_note(result)
    assert note == ("1 trial ended without a numeric 'loss' (b); they reported: val_loss. "
                    "Check the name the program logs the metric under.")
    everyone = SimpleNamespace(metric="loss", trials=trials.iloc[[0, 2]], history=history)
    assert missing_metric_note(everyone) is None  # failed trials have their own message
    assert missing_metric_note(SimpleNamespace(metric=None, trials=trials,
                                                history=history)) is None


# -- figure axes: labelled log ends, outliers that do not flatten best-so-far ------------------


def _log_dimensions(fig: object) -> list[object]:
    (trace,) = fig.data  # type: ignore[attr-defined]
    return [d for d in trace.dimensions if d.label.endswith("(log)")]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_parallel_log_axes_have_a_label_at_both_ends(tmp_path: Path, seed: int) -> None:
    result = load_results(write_sweep(tmp_path / "s", seed=seed))
    (lr,) = _log_dimensions(parallel_figure(result))
    low, high = lr.range
    assert (low, high) == (lr.tickvals[0], lr.tickvals[-1])  # the ends are ticks
    values = np.asarray(lr.values, dtype=float)
    assert low <= values.min() and values.max() <= high
    assert high - low < values.max() - values.min() + 2  # not wider than a decade per end


def test_parallel_log_axis_ends_are_nice_values_around_the_data(tmp_path: Path) -> None:
    result = load_results(write_sweep(tmp_path / "s", trials=12))
    result.trials["loss_best"] = np.arange(1.0, 13.0)  # every trial drawn, failed ones too
    result.trials["lr"] = np.geomspace(3e-5, 0.08, len(result.trials))
    (lr,) = _log_dimensions(parallel_figure(result))
    assert list(lr.ticktext) == ["1e-05", "0.0001", "0.001", "0.01", "0.1"]
    # Under three decades: 1-2-5 steps, still ending just outside the data.
    result.trials["lr"] = np.geomspace(0.013, 1.7, len(result.trials))
    (lr,) = _log_dimensions(parallel_figure(result))
    assert list(lr.ticktext) == ["0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1", "2"]


def _diverged(tmp_path: Path, mode: str, value: float) -> tuple[SweepResult, str]:
    """A sweep where one finished trial reported ``value`` as its best."""
    result = load_results(write_sweep(tmp_path / "s", mode=mode))
    finished = result.trials.index[result.trials["status"] == "finished"]
    result.trials.loc[finished[3], "loss_best"] = value
    return result, str(result.trials.loc[finished[3], "trial_id"])


def test_a_diverged_trial_does_not_flatten_the_best_so_far_plot(tmp_path: Path) -> None:
    result, diverged = _diverged(tmp_path, "min", 1e6)
    fig = best_figure(result)
    others = result.trials.loc[result.trials["trial_id"] != diverged, "loss_best"].dropna()
    low, high = fig.layout.yaxis.range
    assert low < others.min() and others.max() < high < 100  # the other values fill the axis
    (far,) = [t for t in fig.data if t.name == "far worse (1)"]
    assert list(far.text) == [diverged] and list(far.customdata) == [1e6]
    assert low < far.y[0] < high and far.y[0] > others.max()  # at the top edge
    assert far.marker.symbol == "triangle-up"
    assert "1 far worse values" in fig.layout.title.text
    # The best-so-far line itself is unchanged: a diverged trial is never the best.
    line = next(t for t in fig.data if t.name == "best so far")
    assert np.nanmin(np.asarray(line.y, dtype=float)) == others.min()


def test_a_broken_trial_under_maximize_goes_to_the_bottom_edge(tmp_path: Path) -> None:
    result, broken = _diverged(tmp_path, "max", -1e5)
    fig = best_figure(result)
    low, high = fig.layout.yaxis.range
    assert low > -1e5
    (far,) = [t for t in fig.data if t.name.startswith("far worse")]
    assert list(far.text) == [broken] and far.marker.symbol == "triangle-down"
    assert low < far.y[0] < high


def test_best_so_far_without_outliers_keeps_an_automatic_axis(tmp_path: Path) -> None:
    result = load_results(write_sweep(tmp_path / "s"))
    fig = best_figure(result)
    assert fig.layout.yaxis.range is None
    assert not [t for t in fig.data if t.name.startswith("far worse")]
    # Values spanning decades without a far outlier: a log axis shows them all.
    result.trials["loss_best"] = np.geomspace(1e-3, 10, len(result.trials))
    fig = best_figure(result)
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis.range is None
