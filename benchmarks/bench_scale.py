"""Throughput, driver memory and the sweep folder over 10,000 and 100,000 trials (issue 23).

Each contender runs in its own process (its own private local Ray with ``--num-cpus``, so
each driver's peak RSS is its own), one after the other, in the same run:

- ``raysweep``: ``raysweep.run(sweep, function=trial, count=N, num_cpus=C)`` of a random
  sweep, everything at its default; ``trial`` calls ``raysweep.log`` once.
- ``tune``: the baseline, a bare ``tune.Tuner`` of the same no-op function
  (``tune.report`` once), the default ``BasicVariantGenerator``, ``reuse_actors=True``,
  without Tune's per-trial loggers (``TUNE_DISABLE_AUTO_CALLBACK_LOGGERS=1``, as raysweep).
  ``--tune-budget`` caps its wall time (it slows down as trials pile up; see the README).

Printed per contender: trials per second in each tenth of the sweep (by the time each trial
ended, seen by a Tune callback in the driver), the whole-sweep rate, last tenth / second
tenth, the driver's peak RSS, and the sweep folder's files, size and largest files.

``--resume`` then measures ``raysweep.resume(dir, count=N + 100)`` of the raysweep sweep: the
time from the call to the first new trial's start. ``--program-trials K`` runs K trials of a
program that exits at once and prints the per-trial overhead in each tenth.

Usage::

    python benchmarks/bench_scale.py --trials 10000 --resume
    python benchmarks/bench_scale.py --trials 100000 --tune-budget 900 --resume
    python benchmarks/bench_scale.py --program-trials 2000 --only raysweep

Targets (issue 23): last tenth >= 0.8 x second tenth and >= 50 trials/s over the whole sweep,
at 100,000 trials; driver RSS < 1 GB; resume starts trials within 10 s; program trials keep
their overhead flat.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SWEEP = {
    "method": "random",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {"x": {"min": 0.0, "max": 1.0}, "y": {"values": [1, 2, 3]}},
}

PROGRAM = "print('@raysweep {\"loss\": 1.0}', flush=True)\n"


def _trial(config: dict[str, Any]) -> None:
    import raysweep

    raysweep.log({"loss": config["x"]})


def _tune_trial(config: dict[str, Any]) -> None:
    from ray import tune

    tune.report({"loss": config["x"]})


def _times_callback(times: list[float], starts: list[float]) -> Any:
    from ray.tune import Callback

    class Times(Callback):  # type: ignore[misc]
        def on_trial_start(self, iteration: int, trials: Any, trial: Any, **info: Any) -> None:
            starts.append(time.monotonic())

        def on_trial_complete(self, iteration: int, trials: Any, trial: Any, **info: Any) -> None:
            times.append(time.monotonic())

    return Times()


def _child(args: argparse.Namespace) -> dict[str, Any]:
    """Run one contender in this process; return what it measured."""
    times: list[float] = []
    starts: list[float] = []
    callback = _times_callback(times, starts)
    began = time.monotonic()
    out: dict[str, Any] = {"who": args.child}
    if args.child == "raysweep":
        import raysweep

        raysweep.run(SWEEP, function=_trial, count=args.trials, num_cpus=args.num_cpus,
                      storage=args.storage, name="scale", seed=0, extra_callbacks=[callback])
    elif args.child == "resume":
        import raysweep

        def first_start(sweep_dir: Path, cfg: Any) -> None:
            out["on_start_s"] = time.monotonic() - began

        raysweep.resume(Path(args.storage) / "scale", function=_trial, count=args.trials,
                        num_cpus=args.num_cpus, on_start=first_start,
                        extra_callbacks=[callback])
        out["first_trial_s"] = starts[0] - began if starts else None
    elif args.child == "program":
        import raysweep

        program = Path(args.storage) / "exit_at_once.py"
        program.write_text(PROGRAM, encoding="utf-8")
        sweep = {**SWEEP, "program": str(program)}
        raysweep.run(sweep, count=args.trials, num_cpus=args.num_cpus, storage=args.storage,
                     name="program", seed=0, extra_callbacks=[callback])
    else:
        os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "1"
        import ray
        from ray import tune

        ray.init(num_cpus=args.num_cpus, include_dashboard=False, logging_level="ERROR",
                 log_to_driver=False)
        tuner = tune.Tuner(
            tune.with_resources(_tune_trial, {"CPU": 1}),
            param_space={"x": tune.uniform(0, 1), "y": tune.choice([1, 2, 3])},
            tune_config=tune.TuneConfig(num_samples=args.trials, reuse_actors=True,
                                        time_budget_s=args.tune_budget or None),
            run_config=tune.RunConfig(name="scale", storage_path=args.storage, verbose=0,
                                      callbacks=[callback]),
        )
        tuner.fit()
        ray.shutdown()
    out["wall_s"] = time.monotonic() - began
    out["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["ends"] = [t - began for t in times]
    return out


def _tenths(ends: list[float]) -> list[float]:
    """Trials per second in each tenth of the trials, by their end times."""
    ends = sorted(ends)
    n = len(ends)
    rates = []
    for k in range(10):
        lo, hi = n * k // 10, n * (k + 1) // 10
        if hi - lo < 2:
            continue
        span = ends[hi - 1] - ends[lo - 1 if lo else 0]
        rates.append((hi - lo - (0 if lo else 1)) / span if span > 0 else float("inf"))
    return rates


def _folder(path: Path) -> dict[str, Any]:
    files = [p for p in path.rglob("*") if p.is_file()]
    dirs = [p for p in path.rglob("*") if p.is_dir()]
    largest = sorted(files, key=lambda p: p.stat().st_size, reverse=True)[:4]
    return {
        "files": len(files),
        "dirs": len(dirs),
        "mb": sum(p.stat().st_size for p in files) / 1e6,
        "largest": [(str(p.relative_to(path)), p.stat().st_size) for p in largest],
    }


def _run_child(who: str, args: argparse.Namespace, storage: str, trials: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", who, "--trials", str(trials),
           "--num-cpus", str(args.num_cpus), "--storage", storage,
           "--tune-budget", str(args.tune_budget)]
    env = {**os.environ, "RAY_TMPDIR": tempfile.mkdtemp(prefix="rs-scale-ray-")}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    shutil.rmtree(env["RAY_TMPDIR"], ignore_errors=True)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            result: dict[str, Any] = json.loads(line)
            return result
    raise SystemExit(f"{who} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def _show(result: dict[str, Any], folder: Path | None, per_trial: bool = False) -> None:
    ends = result["ends"]
    rates = _tenths(ends)
    n = len(ends)
    whole = n / (max(ends) - min(ends)) if n > 1 else float("nan")
    print(f"\n## {result['who']}: {n} trials, wall {result['wall_s']:.0f} s "
          f"(first trial ended at {min(ends, default=float('nan')):.1f} s)")
    if per_trial:
        print("seconds per trial by tenth: " + " ".join(f"{1 / r:.3f}" for r in rates))
    else:
        print("trials/s by tenth: " + " ".join(f"{r:.0f}" for r in rates))
    if len(rates) >= 10:
        print(f"whole sweep {whole:.1f} trials/s; last tenth / second tenth "
              f"{rates[9] / rates[1]:.2f}")
    print(f"driver peak RSS {result['max_rss_mb']:.0f} MB")
    if folder is not None and folder.exists():
        info = _folder(folder)
        print(f"folder: {info['files']} files, {info['dirs']} folders, {info['mb']:.1f} MB; "
              "largest: " + ", ".join(f"{p} {s / 1e6:.2f} MB" for p, s in info["largest"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--num-cpus", type=int, default=2)
    parser.add_argument("--only", choices=["raysweep", "tune"], default=None)
    parser.add_argument("--tune-budget", type=float, default=0.0,
                        help="stop the bare Tuner after this many seconds (0: no limit)")
    parser.add_argument("--resume", action="store_true",
                        help="then resume the raysweep sweep for 100 more trials")
    parser.add_argument("--program-trials", type=int, default=0)
    parser.add_argument("--keep", default=None, help="keep the sweep folders here")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--storage", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        profile = os.environ.get("BENCH_SCALE_PROFILE")  # a file for the child's cProfile
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            result = profiler.runcall(_child, args)
            profiler.dump_stats(profile)
        else:
            result = _child(args)
        print(json.dumps(result))
        return
    root = Path(args.keep or tempfile.mkdtemp(prefix="rs-scale-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"# bench_scale: {args.trials} trials, {args.num_cpus} CPUs, folders in {root}")
    try:
        if args.program_trials:
            storage = root / "program"
            storage.mkdir(exist_ok=True)
            result = _run_child("program", args, str(storage), args.program_trials)
            _show(result, storage / "program", per_trial=True)
            if args.only is not None:
                return
        for who in ("raysweep", "tune"):
            if args.only not in (None, who):
                continue
            storage = root / who
            storage.mkdir(exist_ok=True)
            result = _run_child(who, args, str(storage), args.trials)
            _show(result, storage / "scale")
        if args.resume and args.only in (None, "raysweep"):
            result = _run_child("resume", args, str(root / "raysweep"), args.trials + 100)
            print(f"\n## resume for 100 more trials: the call to its first trial's start "
                  f"{result['first_trial_s']:.1f} s (on_start at {result['on_start_s']:.1f} s); "
                  f"{len(result['ends'])} trials ended, driver peak RSS "
                  f"{result['max_rss_mb']:.0f} MB")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
