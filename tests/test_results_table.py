"""The trials table and `raysweep results`: errors, retries, invalid report lines and the
other metrics' last values, read from sweep directories written here (no Ray)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from raysweep.analysis.tables import load_results, read_trials
from raysweep.cli import main
from raysweep.cli.output import short_error
from raysweep.errors import RaysweepError
from raysweep.files import TRIALS_FILE, TRIALS_LOG_FILE

PROGRAM_ERROR = (
    "program exited with status 1; last lines of trial_b/program.log:\n"
    "epoch 1\nTraceback (most recent call last):\n  File \"train.py\", line 3\n"
    "RuntimeError: out of memory on the GPU while allocating a tensor of an absurd size "
    "that nobody should ever allocate"
)


def _entry(tid: str, status: str, **fields: Any) -> dict[str, Any]:
    base = {"trial_id": tid, "status": status, "config": {"lr": 0.1}, "steps": 2,
            "last": 0.5, "best": 0.5, "started": 1.0, "ended": 2.0, "node": None,
            "gpus": None, "error": None, "stop_reason": None, "failures": 0,
            "dir": f"trial_{tid}"}
    base.update(fields)
    return base


def _write(root: Path, entries: list[dict[str, Any]], *, old: bool = False) -> Path:
    """A sweep directory with these trials, in ``trials.jsonl`` (one line each) or, ``old``,
    in the ``trials.json`` of earlier versions."""
    root.mkdir(parents=True, exist_ok=True)
    meta = {"name": "s", "method": "grid", "metric": "loss", "goal": "minimize",
            "mode": "min", "parameters": ["lr"]}
    (root / "raysweep.json").write_text(json.dumps(meta), encoding="utf-8")
    if old:
        (root / TRIALS_FILE).write_text(json.dumps({"trials": entries}), encoding="utf-8")
    else:
        (root / TRIALS_LOG_FILE).write_text("".join(json.dumps(e) + "\n" for e in entries),
                                            encoding="utf-8")
    return root


def _sweep(tmp_path: Path) -> Path:
    return _write(tmp_path / "sweep", [
        _entry("a", "finished", last=0.2, best=0.2, retries=0, bad_lines=0,
               summary={"loss": 0.2, "acc": 0.9, "steps": 7, "lr": 0.3, "_step": 1}),
        _entry("b", "failed", last=None, best=None, error=PROGRAM_ERROR, failures=1,
               retries=0, bad_lines=3, summary={"loss": "oops", "epoch": 1}),
    ])


def test_other_metrics_are_columns_after_the_metric_with_their_last_value(
    tmp_path: Path,
) -> None:
    result = load_results(_sweep(tmp_path))
    columns = list(result.trials.columns)
    # A metric named like a column of the table or a parameter keeps its value under
    # another name; W&B's own _-keys are left out.
    assert result.summary_columns == ["acc", "steps_reported", "lr_reported", "epoch"]
    assert columns[:4 + 4] == ["trial_id", "status", "lr", "loss", "loss_best", "acc",
                               "steps_reported", "lr_reported"]
    a = result.trials.set_index("trial_id").loc["a"]
    assert (a["acc"], a["steps_reported"], a["lr"], a["lr_reported"]) == (0.9, 7, 0.1, 0.3)
    b = result.trials.set_index("trial_id").loc["b"]
    assert b["error"] == PROGRAM_ERROR  # the whole text
    assert (b["retries"], b["bad_lines"], b["epoch"]) == (0, 3, 1)


def test_retries_of_older_files_do_not_count_the_last_failure(tmp_path: Path) -> None:
    root = _write(tmp_path / "old", [
        _entry("a", "failed", failures=1),
        _entry("b", "failed", failures=3),
        _entry("c", "finished", failures=1),
    ], old=True)
    trials = load_results(root).trials.set_index("trial_id")
    assert trials["retries"].to_dict() == {"a": 0, "b": 2, "c": 1}
    assert trials["bad_lines"].to_dict() == {"a": 0, "b": 0, "c": 0}


def test_a_sweep_of_an_earlier_version_loads_as_one_of_this_one(tmp_path: Path) -> None:
    entries = [_entry("a", "finished", last=0.3, best=0.2, summary={"acc": 0.5}),
               _entry("b", "stopped", stop_reason="band 1"), _entry("c", "failed")]
    old = load_results(_write(tmp_path / "old", entries, old=True))
    new = load_results(_write(tmp_path / "new", entries))
    assert old.trials.equals(new.trials) and len(new.trials) == 3
    assert old.trial_order == new.trial_order == ["a", "b", "c"]


def test_each_trials_last_line_counts_and_a_line_cut_by_a_crash_is_skipped(
    tmp_path: Path,
) -> None:
    root = _write(tmp_path / "s", [_entry("a", "running", best=0.4), _entry("b", "running"),
                                   _entry("a", "finished", best=0.1)])
    with open(root / TRIALS_LOG_FILE, "a", encoding="utf-8") as f:
        f.write(json.dumps(_entry("b", "finished"))[:40])  # the driver died mid-line
    trials = load_results(root).trials
    assert trials[["trial_id", "status", "loss_best"]].values.tolist() == [
        ["a", "finished", 0.1], ["b", "running", 0.5]]
    assert [e["status"] for e in read_trials(root)] == ["finished", "running"]


def test_the_terminal_table_shows_a_short_error_and_the_bad_lines(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["results", str(_sweep(tmp_path))])
    assert res.exit_code == 0, res.output
    header = res.output.splitlines()[1].split()
    assert "error" in header and "bad_lines" in header
    squeezed = "".join(res.output.split())  # a narrow terminal folds the cell
    assert "programexitedwithstatus1:RuntimeError:outofmemory..." in squeezed
    assert "absurd size" not in res.output  # cut to one short line
    assert "retries" not in header  # nothing was retried


def test_the_json_output_has_the_whole_error_and_every_metric(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["results", str(_sweep(tmp_path)), "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = {r["trial_id"]: r for r in json.loads(res.output)}
    assert rows["b"]["error"] == PROGRAM_ERROR
    assert rows["a"]["acc"] == 0.9 and rows["b"]["epoch"] == 1
    assert rows["b"]["bad_lines"] == 3


def test_bad_lines_and_error_columns_are_hidden_when_nothing_happened(tmp_path: Path) -> None:
    root = _write(tmp_path / "clean", [_entry("a", "finished", bad_lines=0)])
    res = CliRunner().invoke(main, ["results", str(root)])
    header = res.output.splitlines()[1].split()
    assert "bad_lines" not in header and "error" not in header


@pytest.mark.parametrize(
    ("error", "short"),
    [
        (PROGRAM_ERROR, "program exited with status 1: RuntimeError: out of memory..."),
        ("program exited with status 2; last lines of t/program.log:", "program exited with "
         "status 2"),
        ("Traceback (most recent call last):\n  File \"x.py\"\nKeyError: 'lr'", "KeyError: 'lr'"),
        (None, "-"),
        ("", "-"),
    ],
)
def test_short_error(error: str | None, short: str) -> None:
    assert short_error(error) == short


def test_results_of_a_directory_that_does_not_exist_says_so(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent"
    with pytest.raises(RaysweepError, match="does not exist"):
        load_results(missing)
    res = CliRunner().invoke(main, ["results", str(missing)])
    assert res.exit_code == 2
    assert "does not exist" in res.output and "raysweep.json" not in res.output


def test_report_open_without_a_browser_says_where_the_file_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("plotly")
    import webbrowser

    monkeypatch.setattr(webbrowser, "open", lambda url: False)
    root = _sweep(tmp_path)
    res = CliRunner().invoke(main, ["report", str(root), "--open"])
    assert res.exit_code == 0, res.output
    squeezed = "".join(res.output.split())
    assert "nowebbrowserfoundhere;open" + str((root / "report.html").resolve()) in squeezed


def test_a_define_by_run_sweep_has_a_column_for_every_parameter_a_trial_has(
    tmp_path: Path,
) -> None:
    # scheduler.search_space picks each trial's parameters: a branch's keys exist only there.
    root = _write(tmp_path / "sweep", [
        _entry("a", "finished", config={"epochs": 3, "opt": "sgd", "lr": 0.1, "momentum": 0.9}),
        _entry("b", "finished", config={"epochs": 3, "opt": "adam", "lr": 0.01, "beta1": 0.8}),
    ])
    meta = json.loads((root / "raysweep.json").read_text())
    meta.update(parameters=["epochs"], define_by_run=True)
    (root / "raysweep.json").write_text(json.dumps(meta))
    trials = load_results(root).trials.set_index("trial_id")
    assert {"epochs", "opt", "lr", "momentum", "beta1"} <= set(trials.columns)
    assert trials.loc["a", "momentum"] == 0.9 and pd.isna(trials.loc["a", "beta1"])
    assert trials.loc["b", "beta1"] == 0.8 and pd.isna(trials.loc["b", "momentum"])


def test_the_trials_alone_can_be_loaded_without_the_history(tmp_path: Path) -> None:
    root = _sweep(tmp_path)
    (root / "history.jsonl").write_text(
        '{"trial_id": "a", "step": 1, "loss": 0.3}\n{"trial_id": "a", "step": 2, "loss": 0.2}\n',
        encoding="utf-8")
    whole, trials_only = load_results(root), load_results(root, history=False)
    assert len(whole.history) == 2 and trials_only.history.empty
    pd.testing.assert_frame_equal(whole.trials, trials_only.trials)
