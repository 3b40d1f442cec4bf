"""Overhead of ``raysweep.run`` over bare Ray Tune, for function and program trials.

One local Ray (``--num-cpus``, default 2) serves every measurement, so ratios come from the
same run. Each round runs the contenders in alternating order; the best and median of the
rounds are printed.

Function trials: ``--trials`` no-op trials (one report each, 1 CPU) through

- ``raysweep``: ``raysweep.run(sweep, function=f, count=N)``, a random sweep;
- ``tune``: a bare ``tune.Tuner`` with the default ``BasicVariantGenerator``
  (``num_samples=N``, ``reuse_actors=True``, ``tune.with_resources(f, {"CPU": 1})``);
- ``tune+searcher``: the same with a trivial custom ``Searcher`` (how raysweep drives Tune:
  Tune then starts one trial at a time unless told otherwise);
- ``tune-nologs``: ``tune`` without Tune's per-trial JSON/CSV/TensorBoard loggers
  (``TUNE_DISABLE_AUTO_CALLBACK_LOGGERS=1``), which raysweep turns off (it records results
  itself): the like-for-like baseline.

Program trials: ``--program-trials`` trials of a program that sleeps ``--sleep`` seconds and
reports once, 1 CPU each. Ideal wall time: ``trials * sleep / cpus``. Printed: the overhead per
trial ``(wall - ideal) / trials``, and from each trial's record, the time from the trial's
start (driver) to the program's first line, and from the program's last line to the trial's
end. The baseline ``tune+subprocess`` is a bare Tuner whose function runs the same program with
``subprocess.run``.

Usage::

    python benchmarks/bench_run.py --trials 200 --program-trials 30 --rounds 3

Targets (issue 4): function trials ``raysweep / tune <= 1.1``; program trials: overhead per
trial <= 0.2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROGRAM = """\
import json, os, sys, time
start = time.time()
args = dict(a[2:].split("=", 1) for a in sys.argv[1:])
time.sleep(float(args.get("sleep", 0.5)))
print('@raysweep {"loss": 1.0}', flush=True)
os.makedirs("marks", exist_ok=True)
with open(os.path.join("marks", f"{os.getpid()}.json"), "w") as f:
    json.dump({"start": start, "end": time.time()}, f)
"""


def _ray_init(num_cpus: int, tmp: str) -> None:
    from raysweep.execution.ray_session import RAY_QUIET_ENV, WORKER_ENV

    for key, value in {**RAY_QUIET_ENV, **WORKER_ENV}.items():
        os.environ.setdefault(key, value)
    import ray

    ray.init("local", num_cpus=num_cpus, num_gpus=0, include_dashboard=False,
             logging_level="ERROR", log_to_driver=False, _temp_dir=tmp,
             runtime_env={"env_vars": dict(WORKER_ENV)})


_LOGGERS_ENV = "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"


def _tune_loggers(who: str) -> None:
    """Bare Tune runs with its default loggers (``tune``, ``tune+searcher``) or without
    (``tune-nologs``); ``raysweep`` gets its own default (``raysweep.run`` sets it)."""
    os.environ.pop(_LOGGERS_ENV, None)
    if who == "tune-nologs":
        os.environ[_LOGGERS_ENV] = "1"
    elif who != "raysweep":
        os.environ[_LOGGERS_ENV] = "0"


def _timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


# -- function trials ----------------------------------------------------------------------------
def run_raysweep_functions(n: int, storage: Path, name: str) -> None:
    import raysweep

    def train(config: dict[str, Any]) -> None:
        raysweep.log({"loss": config["x"]})

    sweep = {
        "method": "random",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"x": {"min": 0.0, "max": 1.0}},
    }
    result = raysweep.run(sweep, function=train, count=n, storage=storage, name=name)
    assert len(result.trials) == n and (result.trials["status"] == "finished").all()


def run_tune_functions(n: int, storage: Path, name: str, custom_searcher: bool) -> None:
    import random

    from ray import tune
    from ray.tune.search import Searcher

    def train(config: dict[str, Any]) -> None:
        tune.report({"loss": config["x"]})

    class TrivialSearcher(Searcher):
        def suggest(self, trial_id: str) -> dict[str, Any]:
            return {"x": random.random()}

        def on_trial_complete(self, trial_id: str, result: Any = None, error: bool = False
                              ) -> None:
            pass

    if custom_searcher:
        search: dict[str, Any] = {"search_alg": TrivialSearcher(metric="loss", mode="min")}
        space: dict[str, Any] = {}
    else:
        search = {}
        space = {"x": tune.uniform(0.0, 1.0)}
    grid = tune.Tuner(
        tune.with_resources(train, {"CPU": 1}),
        param_space=space,
        tune_config=tune.TuneConfig(num_samples=n, reuse_actors=True, metric="loss",
                                    mode="min", **search),
        run_config=tune.RunConfig(storage_path=str(storage), name=name, verbose=0),
    ).fit()
    assert len(grid) == n and grid.num_errors == 0


# -- program trials -----------------------------------------------------------------------------
def run_raysweep_programs(n: int, sleep: float, workdir: Path, name: str) -> dict[str, Any]:
    import raysweep

    sweep = workdir / f"{name}.yaml"
    sweep.write_text(json.dumps({
        "program": "prog.py",
        "method": "grid",
        "parameters": {"sleep": {"value": sleep}, "i": {"values": list(range(n))}},
    }))
    marks = workdir / "marks"
    shutil.rmtree(marks, ignore_errors=True)
    t = time.perf_counter()
    result = raysweep.run(sweep, storage=workdir / "results", name=name)
    wall = time.perf_counter() - t
    assert len(result.trials) == n and (result.trials["status"] == "finished").all()
    from raysweep.analysis.tables import read_trials

    entries = read_trials(result.path)
    progs = sorted((json.loads(p.read_text()) for p in marks.iterdir()),
                   key=lambda m: m["start"])
    spans = sorted((e["started"], e["ended"]) for e in entries)
    # Programs and trials pair up by start order only approximately with 2 slots; match
    # each program to the trial whose window contains it.
    to_start, to_end = [], []
    for m in progs:
        owner = [s for s in spans if s[0] <= m["start"] and m["end"] <= s[1]]
        if owner:
            s, e = owner[0]
            to_start.append(m["start"] - s)
            to_end.append(e - m["end"])
            spans.remove(owner[0])
    return {"wall": wall, "to_start": to_start, "to_end": to_end}


def run_tune_programs(n: int, sleep: float, workdir: Path, name: str) -> dict[str, Any]:
    from ray import tune

    prog = str(workdir / "prog.py")
    cwd = str(workdir)

    def train(config: dict[str, Any]) -> None:
        subprocess.run([sys.executable, prog, f"--sleep={sleep}"], cwd=cwd, check=True,
                       stdout=subprocess.DEVNULL)
        tune.report({"loss": 1.0})

    t = time.perf_counter()
    grid = tune.Tuner(
        tune.with_resources(train, {"CPU": 1}),
        param_space={"i": tune.grid_search(list(range(n)))},
        tune_config=tune.TuneConfig(reuse_actors=True),
        run_config=tune.RunConfig(storage_path=str(workdir / "results"), name=name,
                                  verbose=0),
    ).fit()
    wall = time.perf_counter() - t
    assert len(grid) == n and grid.num_errors == 0
    return {"wall": wall}


def _stats(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"median {statistics.median(values):.3f} s, max {max(values):.3f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--program-trials", type=int, default=30)
    parser.add_argument("--sleep", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--num-cpus", type=int, default=2)
    parser.add_argument("--skip-functions", action="store_true")
    parser.add_argument("--skip-programs", action="store_true")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="rsb", dir="/tmp")  # short: AF_UNIX path limit
    os.environ["RAY_TMPDIR"] = tmp
    work = Path(tempfile.mkdtemp(prefix="bench_run_"))
    (work / "prog.py").write_text(PROGRAM, encoding="utf-8")
    _ray_init(args.num_cpus, tmp)
    import ray

    try:
        # Warm up: worker processes, imports, the first experiment of each kind.
        _tune_loggers("raysweep")
        run_raysweep_functions(4, work / "results", "warm_rs")
        _tune_loggers("tune")
        run_tune_functions(4, work / "results", "warm_tune", custom_searcher=False)
        if not args.skip_functions:
            times: dict[str, list[float]] = {
                "raysweep": [], "tune": [], "tune+searcher": [], "tune-nologs": []}
            for r in range(args.rounds):
                order = list(times) if r % 2 == 0 else list(reversed(times))
                for who in order:
                    name = f"fn_{who.replace('+', '_').replace('-', '_')}_{r}"
                    _tune_loggers(who)
                    if who == "raysweep":
                        fn = lambda name=name: run_raysweep_functions(  # noqa: E731
                            args.trials, work / "results", name)
                    else:
                        fn = lambda name=name, who=who: run_tune_functions(  # noqa: E731
                            args.trials, work / "results", name, who == "tune+searcher")
                    times[who].append(_timed(fn))
                    print(f"round {r}: {who:14s} {times[who][-1]:6.2f} s", flush=True)
            print(f"\n{args.trials} no-op function trials, {args.num_cpus} CPUs, "
                  f"{args.rounds} rounds:")
            for who, ts in times.items():
                print(f"  {who:14s} best {min(ts):6.2f} s  median {statistics.median(ts):6.2f} s"
                      f"  ({args.trials / min(ts):.1f} trials/s)")
            for base in ("tune", "tune+searcher", "tune-nologs"):
                ratio = statistics.median(
                    a / b for a, b in zip(times["raysweep"], times[base], strict=True))
                print(f"  raysweep / {base}: {ratio:.2f} (median of per-round ratios)")
        if not args.skip_programs:
            n, sleep = args.program_trials, args.sleep
            ideal = n * sleep / args.num_cpus
            rs: list[dict[str, Any]] = []
            tb: list[dict[str, Any]] = []
            for r in range(args.rounds):
                for who in (("raysweep", "tune") if r % 2 == 0 else ("tune", "raysweep")):
                    _tune_loggers(who)
                    if who == "raysweep":
                        rs.append(run_raysweep_programs(n, sleep, work, f"prog_rs_{r}"))
                        wall = rs[-1]["wall"]
                    else:
                        tb.append(run_tune_programs(n, sleep, work, f"prog_tune_{r}"))
                        wall = tb[-1]["wall"]
                    print(f"round {r}: {who:9s} programs {wall:6.2f} s", flush=True)
            print(f"\n{n} program trials of {sleep} s, {args.num_cpus} CPUs "
                  f"(ideal {ideal:.2f} s), {args.rounds} rounds:")
            for who, runs in (("raysweep", rs), ("tune+subprocess", tb)):
                walls = [x["wall"] for x in runs]
                per = [(w - ideal) / n for w in walls]
                print(f"  {who:16s} wall best {min(walls):6.2f} s median "
                      f"{statistics.median(walls):6.2f} s; (wall - ideal) / trials: best "
                      f"{min(per):.3f} s, median {statistics.median(per):.3f} s")
            starts = [v for x in rs for v in x["to_start"]]
            ends = [v for x in rs for v in x["to_end"]]
            print(f"  raysweep trial start -> program start: {_stats(starts)}")
            print(f"  raysweep program end -> trial end:     {_stats(ends)}")
    finally:
        ray.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
