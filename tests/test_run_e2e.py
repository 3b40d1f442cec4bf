"""End-to-end tests of ``raysweep.run`` and the CLI: sweeps of real programs and functions on Ray.

Every test writes its sweep file and a small program to ``tmp_path`` (programs run from the
sweep file's directory, so they write their markers there). Each program records its PID in
``pids/``; after each test no such process may be left (a zombie counts as gone: PID 1 of a
container may not reap).
"""

from __future__ import annotations

import ast
import json
import os
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from _cli import private_ray_env, run_cli
from _procs import alive

import raysweep
from raysweep.files import COMPLETED_FILE

pytestmark = [
    pytest.mark.ray,
    pytest.mark.skipif(sys.platform == "win32", reason="process groups are POSIX"),
]

# Prepended to every test program: argument parsing and the PID marker.
PRELUDE = textwrap.dedent(
    """
    import json, os, sys, time
    os.makedirs("pids", exist_ok=True)
    with open(os.path.join("pids", str(os.getpid())), "w") as f:
        f.write(" ".join(sys.argv[1:]))
    ARGS = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)

    def report(**metrics):
        print("@raysweep " + json.dumps(metrics), flush=True)
    """
)

# loss = (x - 2)^2 (+ 0.5 for y == "b"), reported over 3 steps with offsets 0.5, 0, 0.25:
# the best value is the base, the last one base + 0.25.
METRIC_PROGRAM = """
x = float(ARGS["x"])
base = (x - 2) ** 2 + (0.5 if ARGS.get("y") == "b" else 0.0)
for step, offset in enumerate([0.5, 0.0, 0.25]):
    report(loss=base + offset, epoch=step)
"""


def _base_loss(x: float, y: str | None = None) -> float:
    return (x - 2) ** 2 + (0.5 if y == "b" else 0.0)


def _pids(directory: Path) -> list[int]:
    pid_dir = directory / "pids"
    return [int(p.name) for p in pid_dir.iterdir()] if pid_dir.is_dir() else []


def _wait_gone(pids: list[int], timeout_s: float) -> list[int]:
    deadline = time.monotonic() + timeout_s
    left = [p for p in pids if alive(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if alive(p)]
    return left


@pytest.fixture
def sweep_dir(tmp_path: Path) -> Iterator[Path]:
    """The test's folder for sweep files and programs; checks that no program outlives it."""
    yield tmp_path
    # run() returns after each trial killed its program's process group: nothing is left.
    assert _wait_gone(_pids(tmp_path), 1.0) == []


def write_sweep(
    directory: Path, doc: dict[str, Any], body: str = METRIC_PROGRAM, name: str = "sweep"
) -> Path:
    """Write ``prog.py`` (the prelude + ``body``) and ``<name>.yaml`` running it."""
    (directory / "prog.py").write_text(PRELUDE + textwrap.dedent(body), encoding="utf-8")
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"program": "prog.py", **doc}, sort_keys=False))
    return path


def test_grid_sweep_runs_every_combination_once(sweep_dir: Path) -> None:
    path = write_sweep(
        sweep_dir,
        {
            "method": "grid",
            "metric": {"name": "loss", "goal": "minimize"},
            "parameters": {"x": {"values": [1, 2, 3]}, "y": {"values": ["a", "b"]}},
        },
    )
    result = raysweep.run(path, storage=sweep_dir / "results", name="grid")

    trials = result.trials
    assert len(trials) == 6
    assert sorted(zip(trials["x"], trials["y"], strict=True)) == [
        (x, y) for x in (1, 2, 3) for y in ("a", "b")
    ]
    assert {"trial_id", "status", "x", "y", "loss", "loss_best", "steps"} <= set(trials.columns)
    assert (trials["status"] == "finished").all()
    assert (trials["steps"] == 3).all()
    for _, row in trials.iterrows():
        base = _base_loss(row["x"], row["y"])
        assert row["loss"] == pytest.approx(base + 0.25)
        assert row["loss_best"] == pytest.approx(base)
    # Best first; the best trial is x=2, y=a.
    assert result.best is not None
    assert result.best["config"] == {"x": 2, "y": "a"}
    assert result.best["value"] == pytest.approx(0.0)
    assert list(trials["loss_best"]) == sorted(trials["loss_best"])
    history = result.history
    assert len(history) == 18
    assert sorted(history.groupby("trial_id")["step"].apply(list).tolist()) == [[1, 2, 3]] * 6
    assert len(_pids(sweep_dir)) == 6


@pytest.mark.parametrize(
    ("run_cap", "count", "expected"),
    [pytest.param(3, None, 3, id="run_cap"), pytest.param(None, 2, 2, id="count")],
)
def test_random_sweep_stops_at_the_cap(
    sweep_dir: Path, run_cap: int | None, count: int | None, expected: int
) -> None:
    doc: dict[str, Any] = {
        "method": "random",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"x": {"min": 0.0, "max": 4.0}, "y": {"values": ["a", "b"]}},
        "raysweep": {"seed": 1},
    }
    if run_cap is not None:
        doc["run_cap"] = run_cap
    path = write_sweep(sweep_dir, doc)
    result = raysweep.run(path, count=count, storage=sweep_dir / "results", name="random")

    trials = result.trials
    assert len(trials) == expected
    assert (trials["status"] == "finished").all()
    assert trials["x"].between(0.0, 4.0).all()
    for _, row in trials.iterrows():
        assert row["loss_best"] == pytest.approx(_base_loss(row["x"], row["y"]))
    assert len(_pids(sweep_dir)) == expected


def test_bayes_sweep_runs_the_requested_trials(sweep_dir: Path) -> None:
    path = write_sweep(
        sweep_dir,
        {
            "method": "bayes",
            "metric": {"name": "loss", "goal": "minimize"},
            "run_cap": 5,
            "parameters": {"x": {"min": 0.0, "max": 4.0}},
            "raysweep": {"seed": 0},
        },
    )
    result = raysweep.run(path, storage=sweep_dir / "results", name="bayes")

    trials = result.trials
    assert len(trials) == 5
    assert (trials["status"] == "finished").all()
    assert trials["x"].between(0.0, 4.0).all()
    for _, row in trials.iterrows():
        assert row["loss_best"] == pytest.approx(_base_loss(row["x"]))


@pytest.mark.parametrize(("method", "peak"), [("bayes", 2), ("random", 4)])
def test_bayes_proposes_no_further_ahead_than_trials_can_run(
    sweep_dir: Path, method: str, peak: int
) -> None:
    """On 2 CPUs bayes has at most 2 proposals outstanding (each further one would be made on
    guesses, not results); random still proposes ahead so that trials start fast."""
    from raysweep.files import SEARCHER_FILE

    def train(config: dict[str, Any]) -> None:
        time.sleep(0.3)
        raysweep.log({"loss": (config["x"] - 1.0) ** 2})

    sweep = {
        "method": method,
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"x": {"min": 0.0, "max": 4.0}},
        "raysweep": {"seed": 0},
    }
    before = os.environ.get("TUNE_MAX_PENDING_TRIALS_PG")
    result = raysweep.run(sweep, function=train, count=8, storage=sweep_dir / "results",
                          name=method)

    assert len(result.trials) == 8
    assert (result.trials["status"] == "finished").all()
    state = json.loads((result.path / SEARCHER_FILE).read_text(encoding="utf-8"))
    if method == "bayes":
        assert state["peak_outstanding"] == peak  # both CPUs used, never more
    else:
        assert state["peak_outstanding"] >= peak
    # The pending-trial limit raysweep gives Tune is for this sweep only.
    assert os.environ.get("TUNE_MAX_PENDING_TRIALS_PG") == before


NESTED_PROGRAM = """
config = json.loads(sys.argv[-1])  # ${args_json}
assert isinstance(config["opt"], dict), config
with open(os.path.join("argv", f"{os.getpid()}.json"), "w") as f:
    json.dump(sys.argv[1:], f)
report(loss=config["opt"]["lr"] * config["x"])
"""


def test_nested_parameters_arrive_nested_and_show_as_dotted_columns(sweep_dir: Path) -> None:
    (sweep_dir / "argv").mkdir()
    path = write_sweep(
        sweep_dir,
        {
            "method": "grid",
            "metric": {"name": "loss", "goal": "minimize"},
            "command": ["${env}", "${interpreter}", "${program}", "${args}", "${args_json}"],
            "parameters": {
                "opt": {"parameters": {"lr": {"values": [0.1, 0.01]}, "kind": {"value": "adam"}}},
                "x": {"value": 2},
            },
        },
        NESTED_PROGRAM,
    )
    result = raysweep.run(path, storage=sweep_dir / "results", name="nested")

    trials = result.trials
    assert len(trials) == 2
    assert (trials["status"] == "finished").all()
    assert {"opt.lr", "opt.kind", "x"} <= set(trials.columns)
    assert sorted(trials["opt.lr"]) == [0.01, 0.1]
    assert set(trials["opt.kind"]) == {"adam"}
    assert result.best is not None
    assert result.best["config"] == {"opt": {"lr": 0.01, "kind": "adam"}, "x": 2}
    assert result.best["value"] == pytest.approx(0.02)
    argvs = [json.loads(p.read_text()) for p in (sweep_dir / "argv").iterdir()]
    # W&B formats a nested value with str() for ${args}, as JSON for ${args_json}.
    seen = []
    for opt_arg, x_arg, json_arg in argvs:
        assert opt_arg.startswith("--opt=") and x_arg == "--x=2"
        opt = ast.literal_eval(opt_arg.removeprefix("--opt="))
        assert json.loads(json_arg) == {"opt": opt, "x": 2}
        seen.append(opt)
    assert sorted(seen, key=str) == [{"kind": "adam", "lr": 0.01}, {"kind": "adam", "lr": 0.1}]


def test_function_trials_return_tables_that_reload_equal(sweep_dir: Path) -> None:
    def train(config: dict[str, Any]) -> None:
        assert isinstance(config["opt"], dict)
        for epoch in range(3):
            raysweep.log({"loss": (config["lr"] - 0.05) ** 2 + 1.0 / (epoch + 1),
                          "m": config["opt"]["m"]})

    sweep = {
        "method": "random",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {
            "lr": {"min": 0.001, "max": 0.1},
            "opt": {"parameters": {"m": {"values": [0.8, 0.9]}}},
        },
        "raysweep": {"seed": 3},
    }
    result = raysweep.run(sweep, function=train, count=4, storage=sweep_dir / "results",
                          name="function")

    assert result.path == sweep_dir / "results" / "function"
    trials = result.trials
    assert len(trials) == 4
    assert (trials["status"] == "finished").all()
    assert {"lr", "opt.m", "loss", "loss_best"} <= set(trials.columns)
    for _, row in trials.iterrows():
        assert row["loss"] == pytest.approx((row["lr"] - 0.05) ** 2 + 1 / 3)
        assert row["loss_best"] == pytest.approx(row["loss"])
    assert len(result.history) == 12
    assert set(result.history["m"]) <= {0.8, 0.9}
    best = result.best
    assert best is not None
    assert best["trial_id"] == trials.iloc[0]["trial_id"]
    assert best["value"] == pytest.approx(trials["loss_best"].min())
    assert set(best["config"]) == {"lr", "opt"}

    again = raysweep.results(result.path)
    import pandas as pd

    pd.testing.assert_frame_equal(again.trials, result.trials)
    pd.testing.assert_frame_equal(again.history, result.history)
    assert again.best == best


@pytest.mark.parametrize("tune_loggers", [None, "0"])
def test_tune_logger_files_only_on_request(
    sweep_dir: Path, monkeypatch: pytest.MonkeyPatch, tune_loggers: str | None
) -> None:
    # raysweep keeps every report in history.jsonl; Tune's own per-trial files are off unless
    # the environment asks for them.
    monkeypatch.delenv("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", raising=False)
    if tune_loggers is not None:
        monkeypatch.setenv("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", tune_loggers)

    def train(config: dict[str, Any]) -> None:
        raysweep.log({"loss": config["x"]})

    sweep = {"method": "grid", "metric": {"name": "loss", "goal": "minimize"},
             "parameters": {"x": {"values": [1, 2]}}}
    result = raysweep.run(sweep, function=train, storage=sweep_dir, name="loggers")
    assert len(result.history) == 2
    written = sorted(p.name for p in result.path.rglob("result.json"))
    assert written == ([] if tune_loggers is None else ["result.json", "result.json"])


FAILING_PROGRAM = """
if ARGS["x"] == "2":
    print("boom", flush=True)
    sys.exit(3)
report(loss=float(ARGS["x"]))
"""


def test_failing_program_fails_only_its_trial(sweep_dir: Path) -> None:
    path = write_sweep(
        sweep_dir,
        {
            "method": "grid",
            "metric": {"name": "loss", "goal": "minimize"},
            "parameters": {"x": {"values": [1, 2, 3]}},
        },
        FAILING_PROGRAM,
    )
    result = raysweep.run(path, storage=sweep_dir / "results", name="failing")

    trials = result.trials.set_index("x")
    assert trials.loc[2, "status"] == "failed"
    error = trials.loc[2, "error"]
    assert "boom" in error and "status 3" in error
    assert list(trials.loc[[1, 3], "status"]) == ["finished", "finished"]
    assert list(trials.loc[[1, 3], "loss"]) == [1.0, 3.0]
    assert trials.loc[[1, 3], "error"].isna().all()
    assert result.best is not None and result.best["config"] == {"x": 1}


ARGV_PROGRAM = """
with open(os.path.join("argv", f"{os.getpid()}.json"), "w") as f:
    json.dump(sys.argv[1:], f)
report(loss=1.0)
"""

NASTY_VALUES = [
    "two words",
    "it's \"quoted\"",
    "a; touch PWNED",
    "$(touch PWNED)",
    "`touch PWNED`",
    "--x=1 && touch PWNED | cat > PWNED2",
]


def test_argument_macros_pass_values_unchanged_without_a_shell(sweep_dir: Path) -> None:
    (sweep_dir / "argv").mkdir()
    path = write_sweep(
        sweep_dir,
        {
            "method": "grid",
            "command": ["${env}", "${interpreter}", "${program}", "${args}", "${args_json}",
                        "--again=${s}"],
            "parameters": {"s": {"values": NASTY_VALUES}},
        },
        ARGV_PROGRAM,
    )
    result = raysweep.run(path, storage=sweep_dir / "results", name="macros")

    assert (result.trials["status"] == "finished").all()
    argvs = sorted(json.loads(p.read_text()) for p in (sweep_dir / "argv").iterdir())
    assert argvs == sorted(
        [f"--s={v}", json.dumps({"s": v}), f"--again={v}"] for v in NASTY_VALUES
    )
    assert sorted(result.trials["s"]) == sorted(NASTY_VALUES)
    assert list(sweep_dir.rglob("PWNED*")) == []
    assert not (Path.cwd() / "PWNED").exists()


# Three ranks, one trial at a time, W&B hyperband with bands 2, 6, 18, ...
HYPERBAND_RANKS = {
    "method": "grid",
    "metric": {"name": "loss", "goal": "minimize"},
    "early_terminate": {"type": "hyperband", "min_iter": 2},
    "parameters": {"rank": {"values": [0, 1, 2]}},
    "raysweep": {"max_concurrent_trials": 1},
}

HYPERBAND_PROGRAM = """
rank = int(ARGS["rank"])
with open(f"started-{rank}", "w") as f:
    f.write(str(os.getpid()))
for step in range(20):
    # Each trial is clearly worse than the ones before it, at every step.
    report(loss=rank + 1.0 / (step + 1))
    time.sleep(0.1)
with open(f"done-{rank}", "w") as f:
    f.write("done")
"""


def test_hyperband_stops_worse_program_trials_and_kills_them(sweep_dir: Path) -> None:
    path = write_sweep(sweep_dir, HYPERBAND_RANKS, HYPERBAND_PROGRAM)
    result = raysweep.run(path, storage=sweep_dir / "results", name="hyperband")

    pids = {r: int((sweep_dir / f"started-{r}").read_text()) for r in (0, 1, 2)}
    # Killed when stopped, before run() returned: gone at once, so it never gets further.
    assert _wait_gone([pids[1], pids[2]], 0.5) == []
    trials = result.trials.set_index("rank")
    assert trials.loc[0, "status"] == "finished"
    assert trials.loc[0, "steps"] == 20
    assert (sweep_dir / "done-0").exists()
    history = result.history
    for rank in (1, 2):
        row = trials.loc[rank]
        assert row["status"] == "stopped"
        assert isinstance(row["stop_reason"], str) and row["stop_reason"]
        assert row["steps"] < 20
        assert (history["trial_id"] == row["trial_id"]).sum() < 20
        assert not (sweep_dir / f"done-{rank}").exists()



# Good for 5 steps, then clearly worse at its 6th and last report (band 6 with min_iter 2).
LAST_BAND_PROGRAM = """
rank = int(ARGS["rank"])
for step in range(6):
    report(loss=1.0 if rank == 0 else (0.5 if step < 5 else 2.0 + rank))
os._exit(0)  # at once: the program has ended before the scheduler's stop can reach it
"""


def test_a_trial_judged_worse_at_its_last_report_is_finished_not_stopped(
    sweep_dir: Path,
) -> None:
    path = write_sweep(sweep_dir, HYPERBAND_RANKS, LAST_BAND_PROGRAM)
    result = raysweep.run(path, storage=sweep_dir / "results", name="lastband")
    trials = result.trials.set_index("rank")
    # Ranks 1 and 2 are worse than the band's threshold at step 6, but every step had run.
    assert list(trials["status"]) == ["finished"] * 3
    assert list(trials["steps"]) == [6] * 3
    assert trials["stop_reason"].isna().all()
    # The scheduler did stop them (each worker said its program had already ended).
    told = {p.parent.name for p in result.path.glob(f"trial_*/{COMPLETED_FILE}")}
    assert told == {f"trial_{trials.loc[r, 'trial_id']}" for r in (1, 2)}


@pytest.mark.slow
def test_cli_runs_a_sweep_and_reads_its_results(sweep_dir: Path) -> None:
    path = write_sweep(
        sweep_dir,
        {
            "method": "grid",
            "metric": {"name": "loss", "goal": "minimize"},
            "parameters": {"x": {"values": [1, 4]}},
        },
    )
    with private_ray_env("rsc") as env:
        run = run_cli(["run", str(path), "--num-cpus", "2", "--storage",
                       str(sweep_dir / "results"), "--name", "cli"],
                      cwd=sweep_dir, env=env, timeout=120)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "2 finished" in run.stdout
        shown = run_cli(["results", str(sweep_dir / "results" / "cli"), "--format", "json"],
                        cwd=sweep_dir, env=env, timeout=60)
    assert shown.returncode == 0, shown.stderr
    records = json.loads(shown.stdout)
    assert [(r["x"], r["status"]) for r in records] == [(1, "finished"), (4, "finished")]
    assert [r["loss"] for r in records] == [1.25, 4.25]
    assert [r["loss_best"] for r in records] == [1.0, 4.0]
