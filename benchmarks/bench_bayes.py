"""Search quality and speed of raysweep's bayes against W&B's engine, Optuna and random search.

Usage::

    python benchmarks/bench_bayes.py [--seeds 10] [--quick] [--jobs 2] [--json out.json]

Quality: each method minimises each problem of ``problems.py`` sequentially (one trial at a
time) for every seed; the table gives the median simple regret (best loss so far minus the
known minimum) after 20, 50 and 100 evaluations, with the interquartile range over seeds.
Methods, all fed the same sweep:

- ``raysweep``: :class:`raysweep.search.bayes.BayesProposer`;
- ``random``: :class:`raysweep.search.random.RandomProposer` (W&B's random search);
- ``wandb``: W&B's own engine, ``sweeps.next_run`` (``pip install sweeps``), given every
  finished run with its history and summary, as the W&B server does;
- ``tpe`` / ``optuna-gp``: Optuna's ``TPESampler`` and ``GPSampler`` with default settings.

Speed: the time of one suggestion with 200 observations of Hartmann-6 (random points), for
raysweep (first suggestion, which fits the GP from scratch, and the median over the
following suggestions, each observed before the next), W&B's engine and ``bayes_opt`` with
its defaults. Each library runs single-threaded BLAS (set below) so that runs sharing the
cores do not slow each other down; raysweep's proposer limits BLAS to one thread itself.

Nothing here is part of the package; W&B's ``sweeps`` and Optuna (with torch) are benchmark
dependencies only.
"""

from __future__ import annotations

import os

# Before numpy is imported: one BLAS thread per process (see the module docstring).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from multiprocessing import get_context  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from problems import PROBLEMS, Problem  # noqa: E402

from raysweep.sweep.config import from_dict  # noqa: E402
from raysweep.sweep.space import SearchSpace  # noqa: E402

METHODS = ("raysweep", "random", "wandb", "tpe", "optuna-gp")
CHECKPOINTS = (20, 50, 100)

Ask = Callable[[], dict[str, Any]]
Tell = Callable[[dict[str, Any], float], None]


# ---------------------------------------------------------------------------------------------
# One optimiser per method, as (ask, tell) on nested configs
# ---------------------------------------------------------------------------------------------


def _raysweep(problem: Problem, seed: int) -> tuple[Ask, Tell]:
    from raysweep.search.bayes import BayesProposer

    cfg = from_dict(problem.sweep)
    proposer = BayesProposer(cfg.parameters, seed=seed, metric=cfg.metric)
    return _proposer_pair(proposer, cfg.parameters)


def _random(problem: Problem, seed: int) -> tuple[Ask, Tell]:
    from raysweep.search.random import RandomProposer

    cfg = from_dict(problem.sweep)
    return _proposer_pair(RandomProposer(cfg.parameters, seed=seed), cfg.parameters)


def _proposer_pair(proposer: Any, space: SearchSpace) -> tuple[Ask, Tell]:
    def ask() -> dict[str, Any]:
        flat = proposer.propose()
        if flat is None:
            raise RuntimeError("the proposer ran out of configurations")
        return space.unflatten(flat)

    def tell(config: dict[str, Any], loss: float) -> None:
        proposer.observe(space.flatten(config), loss)

    return ask, tell


def _wandb(problem: Problem, seed: int) -> tuple[Ask, Tell]:
    import sweeps

    # W&B's bayes draws from numpy's and Python's global generators.
    np.random.seed(seed)
    random.seed(seed)
    runs: list[Any] = []

    def ask() -> dict[str, Any]:
        run = sweeps.next_run(problem.sweep, runs)
        return {k: v["value"] for k, v in run.config.items()}

    def tell(config: dict[str, Any], loss: float) -> None:
        runs.append(_finished_wandb_run(sweeps, len(runs), config, loss))

    return ask, tell


def _optuna_distributions(problem: Problem) -> dict[str, Any]:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    out: dict[str, Any] = {}
    for name, spec in problem.sweep["parameters"].items():
        if "values" in spec:
            out[name] = CategoricalDistribution(spec["values"])
        elif isinstance(spec["min"], int):
            out[name] = IntDistribution(spec["min"], spec["max"])
        else:
            out[name] = FloatDistribution(spec["min"], spec["max"])
    return out


def _optuna(sampler_name: str) -> Callable[[Problem, int], tuple[Ask, Tell]]:
    def make(problem: Problem, seed: int) -> tuple[Ask, Tell]:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        if sampler_name == "tpe":
            sampler: Any = optuna.samplers.TPESampler(seed=seed)
        else:
            sampler = optuna.samplers.GPSampler(seed=seed)
        study = optuna.create_study(sampler=sampler)
        dists = _optuna_distributions(problem)
        trials: dict[int, Any] = {}

        def ask() -> dict[str, Any]:
            trial = study.ask(dists)
            config = dict(trial.params)
            trials[id(config)] = trial
            return config

        def tell(config: dict[str, Any], loss: float) -> None:
            study.tell(trials.pop(id(config)), loss)

        return ask, tell

    return make


MAKERS: dict[str, Callable[[Problem, int], tuple[Ask, Tell]]] = {
    "raysweep": _raysweep,
    "random": _random,
    "wandb": _wandb,
    "tpe": _optuna("tpe"),
    "optuna-gp": _optuna("gp"),
}


def _quiet() -> None:
    # Library chatter (pydantic v1-style config in sweeps, optuna's greenlet hint) is noise here.
    warnings.simplefilter("ignore")
    logging.getLogger("optuna").setLevel(logging.ERROR)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


def run_one(job: tuple[str, str, int, int]) -> tuple[str, str, int, list[float], float]:
    """Run one method on one problem for one seed; return its regret curve and wall time."""
    method, name, seed, budget = job
    _quiet()
    problem = PROBLEMS[name]
    ask, tell = MAKERS[method](problem, seed)
    best = float("inf")
    curve = []
    start = time.perf_counter()
    for _ in range(budget):
        config = ask()
        loss = float(problem.objective(config))
        tell(config, loss)
        best = min(best, loss)
        curve.append(max(0.0, best - problem.minimum))
    return method, name, seed, curve, time.perf_counter() - start


# ---------------------------------------------------------------------------------------------
# Speed
# ---------------------------------------------------------------------------------------------


def _speed_data(
    n: int = 200, seed: int = 0, name: str = "hartmann6"
) -> tuple[Problem, list[dict[str, float]], list[float]]:
    """``n`` uniformly random configurations of a problem with float parameters, and losses."""
    problem = PROBLEMS[name]
    rng = np.random.default_rng(seed)
    bounds = [(spec["min"], spec["max"]) for spec in problem.sweep["parameters"].values()]
    configs = [
        {k: float(lo + u * (hi - lo)) for k, (lo, hi), u in
         zip(problem.sweep["parameters"], bounds, row, strict=True)}
        for row in rng.random((n, len(bounds)))
    ]
    return problem, configs, [float(problem.objective(c)) for c in configs]


def speed_raysweep(repeats: int, name: str = "hartmann6", n: int = 200) -> dict[str, float]:
    """raysweep's proposer: the first suggestion after ``n`` random observations of ``name``,
    and the median and max of ``repeats`` more, each observed before the next."""
    from raysweep.search.bayes import BayesProposer

    problem, configs, losses = _speed_data(n, name=name)
    cfg = from_dict(problem.sweep)
    space = cfg.parameters
    proposer = BayesProposer(space, seed=0, metric=cfg.metric)
    for c, y in zip(configs, losses, strict=True):
        proposer.observe(space.flatten(c), y)
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        flat = proposer.propose()
        times.append(time.perf_counter() - start)
        assert flat is not None
        proposer.observe(flat, float(problem.objective(space.unflatten(flat))))
    return {
        "first": times[0],
        "median": statistics.median(times[1:]),
        "max": max(times[1:]),
    }


def _finished_wandb_run(sweeps: Any, i: int, config: dict[str, Any], loss: float) -> Any:
    """A finished W&B run with one logged ``loss``, as W&B's sweep engine reads runs."""
    return sweeps.SweepRun(
        name=f"run-{i}",
        state=sweeps.RunState.finished,
        config={k: {"value": v} for k, v in config.items()},
        history=[{"loss": loss}],
        summary_metrics={"loss": loss},
    )


def speed_wandb(repeats: int) -> dict[str, float]:
    import sweeps

    problem, configs, losses = _speed_data()
    runs = [
        _finished_wandb_run(sweeps, i, c, y)
        for i, (c, y) in enumerate(zip(configs, losses, strict=True))
    ]
    np.random.seed(0)
    random.seed(0)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        sweeps.next_run(problem.sweep, runs)
        times.append(time.perf_counter() - start)
    return {"median": statistics.median(times), "max": max(times)}


def speed_bayes_opt_defaults(repeats: int) -> dict[str, float]:
    from bayes_opt import BayesianOptimization

    _, configs, losses = _speed_data()
    opt = BayesianOptimization(
        f=None, pbounds={f"x{i}": (0.0, 1.0) for i in range(6)}, random_state=0, verbose=0
    )
    for c, y in zip(configs, losses, strict=True):
        opt.register(params=c, target=-y)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        opt.suggest()
        times.append(time.perf_counter() - start)
    return {"median": statistics.median(times), "max": max(times)}


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def _fmt(x: float) -> str:
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:.2g}" if abs(x) < 0.01 else f"{x:.3g}"


def quality_table(
    results: list[tuple[str, str, int, list[float], float]],
    methods: list[str],
    problems: list[str],
    checkpoints: list[int],
) -> str:
    head = "| problem | method | " + " | ".join(f"regret @{c}" for c in checkpoints)
    head += " | s / run |"
    lines = [head, "|" + "---|" * (len(checkpoints) + 3)]
    for name in problems:
        for method in methods:
            rows = [r for r in results if r[0] == method and r[1] == name]
            if not rows:
                continue
            cells = []
            for c in checkpoints:
                vals = np.array([r[3][c - 1] for r in rows])
                q1, med, q3 = np.percentile(vals, [25, 50, 75])
                cells.append(f"{_fmt(med)} [{_fmt(q1)}, {_fmt(q3)}]")
            secs = statistics.mean(r[4] for r in rows)
            bold = "**" if method == "raysweep" else ""
            lines.append(
                f"| {name} | {bold}{method}{bold} | " + " | ".join(cells) + f" | {secs:.1f} |"
            )
    return "\n".join(lines)


def targets(
    results: list[tuple[str, str, int, list[float], float]], problems: list[str], at: int
) -> str:
    """Check the issue's targets at ``at`` evaluations."""

    def stats(method: str, name: str) -> tuple[float, float, float] | None:
        vals = [r[3][at - 1] for r in results if r[0] == method and r[1] == name]
        if not vals:
            return None
        q1, med, q3 = np.percentile(vals, [25, 50, 75])
        return float(q1), float(med), float(q3)

    lines = []
    beats = {"wandb": 0, "tpe": 0}
    matches = 0
    for name in problems:
        ours = stats("raysweep", name)
        if ours is None:
            continue
        verdicts = []
        for other in ("wandb", "tpe"):
            theirs = stats(other, name)
            if theirs is not None and ours[1] < theirs[1]:
                beats[other] += 1
                verdicts.append(f"beats {other}")
            elif theirs is not None:
                verdicts.append(f"does NOT beat {other}")
        gp = stats("optuna-gp", name)
        if gp is not None:
            # "Within seed spread": our median is inside (or below) Optuna GP's IQR.
            if ours[1] <= gp[2]:
                matches += 1
                verdicts.append("matches optuna-gp")
            else:
                verdicts.append("worse than optuna-gp")
        lines.append(f"- {name}: " + ", ".join(verdicts))
    n = len(problems)
    lines.append(
        f"- at {at} evaluations: beats wandb on {beats['wandb']}/{n}, tpe on {beats['tpe']}/{n}; "
        f"matches optuna-gp (median within its IQR or better) on {matches}/{n}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds per method and problem")
    parser.add_argument("--quick", action="store_true", help="3 seeds, 50 evaluations")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes for quality")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--problems", default=",".join(PROBLEMS))
    parser.add_argument("--no-speed", action="store_true", help="skip the speed benchmark")
    parser.add_argument("--json", type=Path, help="also write raw results here")
    args = parser.parse_args(argv)

    seeds = 3 if args.quick else args.seeds
    checkpoints = [20, 50] if args.quick else list(CHECKPOINTS)
    budget = max(checkpoints)
    methods = [m for m in args.methods.split(",") if m]
    problems = [p for p in args.problems.split(",") if p]
    for m in methods:
        if m not in MAKERS:
            parser.error(f"unknown method {m!r}; choose from {', '.join(METHODS)}")
    for p in problems:
        if p not in PROBLEMS:
            parser.error(f"unknown problem {p!r}; choose from {', '.join(PROBLEMS)}")

    started = time.perf_counter()
    print(f"# bench_bayes  {datetime.date.today()}  python {platform.python_version()}  "
          f"{os.cpu_count()} CPUs")
    print(f"# seeds 0..{seeds - 1}, {budget} sequential evaluations, jobs {args.jobs}\n")
    # Slow methods first, so the pool ends with short jobs.
    order = {m: i for i, m in enumerate(("optuna-gp", "wandb", "raysweep", "tpe", "random"))}
    jobs = [
        (m, p, s, budget)
        for m in sorted(methods, key=lambda m: order.get(m, 99))
        for p in problems
        for s in range(seeds)
    ]
    with get_context("spawn").Pool(args.jobs) as pool:
        results = pool.map(run_one, jobs, chunksize=1)

    print("## Median simple regret [25th, 75th percentile] over seeds (lower is better)\n")
    print(quality_table(results, methods, problems, checkpoints))
    print()
    for at in checkpoints[1:2] or checkpoints[:1]:
        print(f"## Targets at {at} evaluations\n")
        print(targets(results, problems, at))
        print()

    speed: dict[str, Any] = {}
    if not args.no_speed:
        _quiet()
        repeats = 5 if args.quick else 15
        speed["raysweep"] = speed_raysweep(repeats)
        if "wandb" in methods:
            speed["wandb"] = speed_wandb(max(3, repeats // 3))
        speed["bayes_opt defaults"] = speed_bayes_opt_defaults(max(3, repeats // 3))
        print("## Time of one suggestion, 200 observations, 6-D (Hartmann-6), seconds\n")
        print("| searcher | median | max | note |")
        print("|---|---|---|---|")
        r = speed["raysweep"]
        print(f"| **raysweep** | {r['median']:.3f} | {r['max']:.3f} | first suggestion "
              f"(fits the GP from scratch): {r['first']:.3f} |")
        for name in ("wandb", "bayes_opt defaults"):
            if name in speed:
                print(f"| {name} | {speed[name]['median']:.3f} | {speed[name]['max']:.3f} | |")
        print()
    print(f"# total {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"results": results, "speed": speed}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
