"""The bayes proposer driven directly, as Tune drives it with W trials at once: for research
on the model (issue 16), where one run of ``bench_bayes_parallel.py`` through Ray takes half
an hour and a W > 1 run through Ray does not repeat (which trial ends first is timing).

W proposals are asked; then each time the oldest is told its loss, a new one is asked, until
``--budget`` trials. This is the order Tune gives when trials take equal time; through Ray the
order varies a little, so W > 1 figures through Ray differ from these run to run (see
benchmarks/README.md). W = 1 is exactly the Ray path's sequence for the same seed. Prints the
median regret, the seeds with regret <= 0.01, the median over the first ten seeds and, when
W = 1 is run too, how many sequential trials each W > 1 median is worth (the fewest after
which the W = 1 runs' median is as low)::

    python benchmarks/explore_bayes_direct.py --seeds 0 30 --workers 1 4 [--problems ...]

``--jitter J --repeats R`` gives each trial a duration of ``1 + J * U(0, 1)`` instead, so
trials end in a varying order as through Ray, and runs every seed R times with R orders; it
also lists the runs that ended with regret above 0.1::

    python benchmarks/explore_bayes_direct.py --problems branin --workers 4 --seeds 0 20 \
        --jitter 0.3 --repeats 5
"""

from __future__ import annotations

import os

# One BLAS thread per process (before numpy is imported): the jobs share the cores.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from multiprocessing import get_context  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_bayes_parallel import worth  # noqa: E402

SOLVED = 0.01  # regret at or below this counts as the global basin (as bench_bayes_parallel)


def run_one(
    job: tuple[str, int, int, int, float, int],
) -> tuple[str, int, int, int, list[float]]:
    """Best-so-far regrets of one seed's run of ``budget`` trials with ``workers`` outstanding:
    the baselines' simulation of Tune in ``bench_bayes_parallel.py``, on raysweep's proposer."""
    from bench_bayes_parallel import run_curve

    name, seed, workers, budget, jitter, repeat = job
    order_seed = 1000 * repeat + seed
    _, curve = run_curve(("raysweep", name, seed, workers, budget, jitter, order_seed))
    return name, workers, seed, repeat, curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", nargs="+", default=["branin", "hartmann6", "levy4", "mixed"])
    parser.add_argument("--seeds", type=int, nargs=2, default=[0, 30], metavar=("FIRST", "END"))
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--budget", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--json", type=Path, default=None, help="also write the regrets here")
    parser.add_argument("--jitter", type=float, default=0.0,
                        help="trial durations 1 + JITTER * U(0, 1) (default 0: oldest ends first)")
    parser.add_argument("--repeats", type=int, default=1, help="orders per seed (with --jitter)")
    args = parser.parse_args()
    jobs = [(n, s, w, args.budget, args.jitter, r) for w in args.workers for n in args.problems
            for s in range(*args.seeds) for r in range(args.repeats)]
    with get_context("spawn").Pool(args.jobs) as pool:
        results = pool.map(run_one, jobs, chunksize=1)
    regrets: dict[str, dict[tuple[int, int], float]] = {}
    curves: dict[str, list[list[float]]] = {}
    for name, workers, seed, repeat, curve in results:
        regrets.setdefault(f"{name}/{workers}", {})[seed, repeat] = curve[-1]
        curves.setdefault(f"{name}/{workers}", []).append(curve)

    def label(seed: int, repeat: int) -> str:
        return str(seed) if args.repeats == 1 else f"{seed}.{repeat}"

    for key, by_run in regrets.items():
        values = list(by_run.values())
        solved = sum(r <= SOLVED for r in values)
        first = [r for (seed, _), r in by_run.items() if seed < args.seeds[0] + 10]
        print(f"{key:14s} median {statistics.median(values):.3g}  solved {solved}/{len(values)}"
              f"  first ten seeds: median {statistics.median(first):.3g}", flush=True)
        if args.repeats > 1:
            bad = {label(*run): round(r, 3) for run, r in by_run.items() if r > 0.1}
            print(f"{'':14s} runs (seed.repeat) above 0.1: {bad}", flush=True)
        name, workers = key.rsplit("/", 1)
        if workers != "1" and f"{name}/1" in curves:
            # How many sequential trials this median is worth (bench_bayes_parallel.py).
            print(f"{'':14s} worth {worth(curves[f'{name}/1'], statistics.median(values))}",
                  flush=True)
    if args.json is not None:
        out = {key: {label(*run): r for run, r in by_run.items()}
               for key, by_run in regrets.items()}
        args.json.write_text(json.dumps(out, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
