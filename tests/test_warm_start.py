"""Warm start (``--warm-start``): earlier results told to the searcher before it proposes.

Reading sources, the searchers' use of them (Ray-free), and sweeps through ``raysweep.run`` /
``raysweep.resume`` with function trials (marked ``ray``).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from raysweep.search import TuneSearcher, make_proposer, make_searcher

import raysweep
from raysweep.analysis.warm_start import read_warm_start
from raysweep.cli import main
from raysweep.errors import RaysweepError, RaysweepWarning
from raysweep.files import WARM_START_FILE
from raysweep.sweep.config import from_dict

QUADRATIC = {
    "method": "bayes",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {"x": {"min": -5.0, "max": 5.0}, "y": {"min": -5.0, "max": 5.0}},
}
OPTIMUM = (1.5, -2.0)


def _loss(x: float, y: float) -> float:
    return (x - OPTIMUM[0]) ** 2 + (y - OPTIMUM[1]) ** 2


def _earlier_csv(path: Path, n: int = 20, seed: int = 7) -> Path:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(-5, 5, size=(n, 2))
    frame = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1]})
    frame["loss"] = [_loss(x, y) for x, y in xy]
    frame.to_csv(path, index=False)
    return path


def _grid_cfg() -> Any:
    return from_dict({
        "method": "grid", "metric": {"name": "loss"},
        "parameters": {"a": {"values": [1, 2, 3]}, "b": {"values": [0.1, 0.2, 0.3]}},
    })


# -- reading sources ---------------------------------------------------------------------------


def test_a_csv_gives_flat_configs_and_failed_rows(tmp_path: Path) -> None:
    cfg = from_dict({
        "method": "bayes", "metric": {"name": "acc", "goal": "maximize"},
        "parameters": {"opt": {"parameters": {"lr": {"min": 0.0, "max": 1.0}}},
                       "n": {"min": 1, "max": 4}, "act": {"values": ["relu", "tanh"]},
                       "seed": {"value": 0}},
    })
    path = tmp_path / "runs.csv"
    path.write_text(
        "opt.lr,n,act,acc,status,other\n"
        "0.5,2,relu,0.9,finished,x\n"
        "0.25,3,tanh,,finished,y\n"        # no value: failed
        "0.75,4,relu,0.8,failed,z\n"       # failed though it logged
        "0.1,1,relu,0.7,running,w\n",      # not ended: left out
        encoding="utf-8",
    )
    with pytest.warns(RaysweepWarning, match=r"skipped 1 of 4 .*1 had not ended"):
        warm = read_warm_start([path], cfg)
    assert [(r.config, r.value("acc")) for r in warm.runs] == [
        ({("act",): "relu", ("n",): 2, ("opt", "lr"): 0.5, ("seed",): 0}, 0.9),
        ({("act",): "tanh", ("n",): 3, ("opt", "lr"): 0.25, ("seed",): 0}, None),
        ({("act",): "relu", ("n",): 4, ("opt", "lr"): 0.75, ("seed",): 0}, None),
    ]
    for run in warm.runs:
        assert cfg.parameters.contains(run.config)
    (source,) = warm.sources
    assert (source.kind, source.rows, source.used) == ("csv", 4, 3)


def test_rows_outside_the_space_are_skipped_with_one_warning_that_counts_them(
    tmp_path: Path,
) -> None:
    cfg = _grid_cfg()
    path = tmp_path / "other.csv"
    path.write_text("a,b,loss\n1,0.1,1.0\n7,0.1,2.0\n2,0.15,3.0\n,0.2,4.0\n3,0.3,5.0\n",
                    encoding="utf-8")
    frame = pd.DataFrame({"b": [0.2], "loss": [1.0]})  # no column a at all
    frame.to_parquet(tmp_path / "no_a.parquet")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warm = read_warm_start([path, tmp_path / "no_a.parquet"], cfg)
    said = [str(w.message) for w in caught if issubclass(w.category, RaysweepWarning)]
    assert len(said) == 1, said
    assert "skipped 4 of 6" in said[0]
    assert "2 missing parameter 'a'" in said[0]
    assert "1 a value of 'a' outside the space ([1, 2, 3])" in said[0]
    assert "1 a value of 'b' outside the space" in said[0]
    assert [r.config for r in warm.runs] == [{("a",): 1, ("b",): 0.1}, {("a",): 3, ("b",): 0.3}]
    assert [s.kind for s in warm.sources] == ["csv", "parquet"]


def test_an_earlier_sweep_directory_gives_its_ended_trials_last_values(tmp_path: Path) -> None:
    sweep = tmp_path / "old"
    sweep.mkdir()
    (sweep / "raysweep.json").write_text(json.dumps({"metric": "loss", "mode": "min"}))
    entries = [
        {"trial_id": "a", "status": "finished", "config": {"a": 1, "b": 0.2}, "last": 0.5,
         "best": 0.1, "summary": {"loss": 0.5}},
        {"trial_id": "b", "status": "failed", "config": {"a": 2, "b": 0.2}, "last": 0.3},
        {"trial_id": "c", "status": "running", "config": {"a": 3, "b": 0.2}},
        {"trial_id": "d", "status": "stopped", "config": {"a": 3, "b": 0.3}, "last": 0.9},
    ]
    (sweep / "trials.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    with pytest.warns(RaysweepWarning, match="1 had not ended"):
        warm = read_warm_start([sweep], _grid_cfg())
    # The last value, as W&B's prior runs use the run's summary; a failed trial is failed.
    assert [(r.config, r.value("loss")) for r in warm.runs] == [
        ({("a",): 1, ("b",): 0.2}, 0.5),
        ({("a",): 2, ("b",): 0.2}, None),
        ({("a",): 3, ("b",): 0.3}, 0.9),
    ]


@pytest.mark.parametrize(("make", "message"), [
    (lambda d: d / "nowhere.csv", r"nowhere.csv does not exist"),
    (lambda d: d, r"is a folder but not a raysweep sweep directory"),
    (lambda d: _write(d / "runs.json", "{}"), r"neither a sweep directory nor a CSV"),
    (lambda d: _write(d / "runs.csv", "a,b,val_loss\n1,0.1,2\n"),
     r"runs.csv has no column 'loss' \(the sweep's metric\); its columns are 'a', 'b', "
     r"'val_loss'. Name the column"),
    (lambda d: _write(d / "runs.parquet", "not parquet"), r"cannot read .*runs.parquet"),
])
def test_a_source_that_is_not_one_says_what_and_how_to_fix_it(
    tmp_path: Path, make: Any, message: str
) -> None:
    with pytest.raises(RaysweepError, match=message):
        read_warm_start([make(tmp_path)], _grid_cfg())


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_an_earlier_sweep_without_the_metric_is_refused(tmp_path: Path) -> None:
    sweep = tmp_path / "old"
    sweep.mkdir()
    (sweep / "raysweep.json").write_text(json.dumps({"metric": "acc"}))
    (sweep / "trials.jsonl").write_text(json.dumps(
        {"trial_id": "a", "status": "finished", "config": {"a": 1, "b": 0.1}, "last": 0.5,
         "summary": {"acc": 0.5}}) + "\n")
    with pytest.raises(RaysweepError, match=r"no trial of the sweep .* reported the metric "
                                            r"'loss' \(that sweep's metric is 'acc'\)"):
        read_warm_start([sweep], _grid_cfg())


def test_run_refuses_a_bad_source_before_anything_starts(tmp_path: Path) -> None:
    # No Ray here: the error must come first (a Ray start would fail this Ray-free test's
    # time budget, and leave a folder behind).
    with pytest.raises(RaysweepError, match="neither a sweep directory"):
        raysweep.run({**QUADRATIC, "program": "x.py"}, function=lambda c: None,
                     storage=tmp_path / "res", warm_start=_write(tmp_path / "a.txt", ""))
    assert not (tmp_path / "res").exists() or not any((tmp_path / "res").iterdir())
    result = CliRunner().invoke(main, ["run", str(_write(tmp_path / "s.yaml", json.dumps(
        {**QUADRATIC, "program": "x.py"}))), "--warm-start", str(tmp_path / "a.txt")])
    assert result.exit_code == 2, result.output
    assert "neither a sweep directory nor a CSV" in result.output


def test_the_cli_reads_the_sources_once_and_runs_with_what_it_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The CLI reads them first (a bad source exits 2 before anything starts); the run must
    # use that read, not read every source again (and warn about skipped rows twice).
    from contextlib import nullcontext

    from raysweep.analysis import warm_start as module
    from raysweep.execution import tuner

    reads: list[Any] = []
    real = module.read_warm_start

    def counting(paths: Any, cfg: Any) -> Any:
        reads.append(list(paths))
        return real(paths, cfg)

    ran_with: dict[str, Any] = {}

    def fit(cfg: Any, function: Any, options: Any, sweep_dir: Path, warm: Any = None) -> Any:
        ran_with["warm"] = warm
        raise RaysweepError("stopped here by the test, before Ray")

    monkeypatch.setattr(module, "read_warm_start", counting)
    monkeypatch.setattr(tuner, "read_warm_start", counting)
    monkeypatch.setattr(tuner, "fit", fit)
    monkeypatch.setattr(tuner, "ray_for", lambda options: nullcontext())
    (tmp_path / "train.py").write_text("pass\n")
    sweep = _write(tmp_path / "s.yaml", json.dumps({**QUADRATIC, "program": "train.py"}))
    earlier = _earlier_csv(tmp_path / "earlier.csv")
    result = CliRunner().invoke(main, ["run", str(sweep), "--warm-start", str(earlier),
                                       "--storage", str(tmp_path / "res")])
    assert "stopped here by the test" in result.output, result.output
    assert reads == [[str(earlier)]]
    assert len(ran_with["warm"].runs) == 20


# -- the searchers -----------------------------------------------------------------------------


def _warm_searcher(cfg: Any, runs: Any, seed: int = 0) -> TuneSearcher:
    searcher = make_searcher(cfg, seed=seed)
    searcher.warm_start((r.config, r.values) for r in runs)
    return searcher


def test_bayes_starts_from_the_earlier_best(tmp_path: Path) -> None:
    """20 earlier trials on a 2-D quadratic: bayes's first proposals land near their best,
    and clearly closer to the optimum than without them (same seeds)."""
    cfg = from_dict(QUADRATIC)
    warm = read_warm_start([_earlier_csv(tmp_path / "earlier.csv")], cfg)
    earlier_best = min(r.value("loss") or np.inf for r in warm.runs)
    warm_first, cold_first = [], []
    for seed in range(3):
        warm_searcher = _warm_searcher(cfg, warm.runs, seed)
        cold = make_searcher(cfg, seed=seed)
        for searcher, out in ((warm_searcher, warm_first), (cold, cold_first)):
            losses = []
            for i in range(3):
                config = searcher.suggest(f"t{i}")
                assert isinstance(config, dict)
                losses.append(_loss(config["x"], config["y"]))
                searcher.on_trial_complete(f"t{i}", {"loss": losses[-1]})
            out.append(min(losses))
    # Near the earlier best (never far worse than it), and far better than a cold start.
    assert max(warm_first) < max(earlier_best, 0.5), (warm_first, earlier_best)
    assert np.median(warm_first) * 5 < np.median(cold_first), (warm_first, cold_first)


def test_warm_start_is_in_the_first_snapshot_once_and_resume_restores_it(
    tmp_path: Path,
) -> None:
    from raysweep.search import read_saved_searcher

    cfg = from_dict(QUADRATIC)
    warm = read_warm_start([_earlier_csv(tmp_path / "earlier.csv")], cfg)
    searcher = _warm_searcher(cfg, warm.runs)
    searcher.autosave_to(str(tmp_path / "searcher.json"))
    proposed = []
    for i in range(2):
        config = searcher.suggest(f"t{i}")
        assert isinstance(config, dict)
        proposed.append(config)
        searcher.on_trial_complete(f"t{i}", {"loss": _loss(config["x"], config["y"])})
    searcher.close()
    state = json.loads((tmp_path / "searcher.json").read_text())
    saved = read_saved_searcher(tmp_path / "searcher.json", state)
    again = make_searcher(cfg, seed=0)
    again.load_saved(saved)
    observations = again.proposer.get_state()["observations"]  # type: ignore[attr-defined]
    assert len(observations) == 20 + 2  # the earlier ones once, then the trials
    journal = (tmp_path / "searcher.jsonl").read_text()
    assert journal.count('"event": "end"') == 2  # no earlier result in the journal
    # And the restored searcher proposes what the original does next.
    assert again.suggest("t2") == searcher.suggest("t2")
    with pytest.raises(ValueError, match="before the searcher's first proposal"):
        searcher.warm_start([])


def test_grid_skips_the_combinations_already_done(tmp_path: Path) -> None:
    cfg = _grid_cfg()
    path = _write(tmp_path / "done.csv",
                  "a,b,loss\n1,0.1,1\n2,0.2,2\n3,0.3,\n3,0.1,4\n")
    warm = read_warm_start([path], cfg)
    searcher = _warm_searcher(cfg, warm.runs)
    proposed = []
    while isinstance(config := searcher.suggest(f"t{len(proposed)}"), dict):
        proposed.append((config["a"], config["b"]))
    # The failed one (3, 0.3) counts as done too, as W&B's grid counts every run.
    assert proposed == [(1, 0.2), (1, 0.3), (2, 0.1), (2, 0.3), (3, 0.2)]


def test_random_draws_as_without_warm_start(tmp_path: Path) -> None:
    cfg = from_dict({**QUADRATIC, "method": "random"})
    warm = read_warm_start([_earlier_csv(tmp_path / "earlier.csv")], cfg)
    plain, warmed = make_proposer(cfg, seed=3), make_searcher(cfg, seed=3)
    warmed.warm_start((r.config, r.values) for r in warm.runs)
    for i in range(5):
        assert warmed.suggest(f"t{i}") == raysweep_unflat(plain.propose())


def raysweep_unflat(flat: Any) -> Any:
    from raysweep.sweep.space import SearchSpace

    return SearchSpace.unflatten(flat)


def test_a_maximised_metric_is_learned_with_its_sign() -> None:
    cfg = from_dict({**QUADRATIC, "metric": {"name": "score", "goal": "maximize"}})
    searcher = make_searcher(cfg, seed=0)
    searcher.warm_start([({("x",): 1.0, ("y",): 1.0}, {"score": 3.0}),
                         ({("x",): 2.0, ("y",): 2.0}, {"score": None})])
    state = searcher.proposer.get_state()  # type: ignore[attr-defined]
    assert [loss for _, loss in state["observations"]] == [-3.0, None]


# -- sweeps on Ray -----------------------------------------------------------------------------


def _trainer() -> Any:
    # Built in the test, so Ray's workers get it by value (they cannot import this module).
    def train(config: dict[str, Any]) -> None:
        import raysweep

        if "x" in config:
            raysweep.log({"loss": (config["x"] - 1.5) ** 2 + (config["y"] + 2.0) ** 2})
        else:
            raysweep.log({"loss": float(config["a"]) * config["b"]})

    return train


@pytest.mark.ray
def test_a_warm_started_grid_sweep_runs_only_the_rest_and_resumes_without_replaying(
    tmp_path: Path,
) -> None:
    done = _write(tmp_path / "done.csv", "a,b,loss\n1,0.1,1\n2,0.2,2\n3,0.3,3\n3,0.1,4\n")
    sweep = {"method": "grid", "metric": {"name": "loss"},
             "parameters": {"a": {"values": [1, 2, 3]}, "b": {"values": [0.1, 0.2, 0.3]}}}
    _train = _trainer()
    result = raysweep.run(sweep, function=_train, storage=tmp_path / "res", name="g",
                          warm_start=[done])
    assert len(result.trials) == 5  # 9 combinations, 4 done before: not trials of this one
    ran = {(row["a"], row["b"]) for _, row in result.trials.iterrows()}
    assert ran == {(1, 0.2), (1, 0.3), (2, 0.1), (2, 0.3), (3, 0.2)}
    record = json.loads((result.path / WARM_START_FILE).read_text())
    assert record["observations"] == 4
    assert record["sources"][0]["path"] == str(done.resolve())
    # Nothing is left: resume says so and runs nothing (no earlier result read again).
    again = raysweep.resume(result.path, function=_train)
    assert again.meta["ended_by"] == "nothing"
    assert len(again.trials) == 5


@pytest.mark.ray
def test_a_warm_started_bayes_sweep_resumes_with_the_earlier_results_once(
    tmp_path: Path,
) -> None:
    earlier = _earlier_csv(tmp_path / "earlier.csv")
    sweep = {**QUADRATIC, "raysweep": {"seed": 1}}
    _train = _trainer()
    first = raysweep.run(sweep, function=_train, count=3, storage=tmp_path / "res",
                         name="b", warm_start=earlier, max_concurrent_trials=1)
    assert len(first.trials) == 3  # run_cap counts this sweep's trials only
    assert first.trials["loss"].min() < 1.0  # started from the earlier best region
    resumed = raysweep.resume(first.path, function=_train, count=5)
    assert len(resumed.trials) == 5
    state = json.loads((first.path / "searcher.json").read_text())
    assert len(state["proposer"]["observations"]) == 20 + 5


def test_a_multi_objective_searcher_is_told_a_loss_per_objective() -> None:
    cfg = from_dict(QUADRATIC)
    told: list[tuple[Any, Any]] = []

    class Recording:
        def observe(self, config: Any, loss: Any) -> None:
            told.append((config, loss))

    searcher = TuneSearcher(Recording(), cfg.parameters,  # type: ignore[arg-type]
                            objectives=(("loss", "min"), ("acc", "max")))
    searcher.warm_start([({("x",): 1.0, ("y",): 0.0}, {"loss": 2.0, "acc": 0.5}),
                         ({("x",): 0.0, ("y",): 0.0}, {"loss": 2.0, "acc": None})])
    assert told == [({("x",): 1.0, ("y",): 0.0}, (2.0, -0.5)),
                    ({("x",): 0.0, ("y",): 0.0}, None)]
