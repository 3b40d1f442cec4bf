"""Not raysweep: promotion-type ASHA on lc_digits81, to measure what pausing and resuming
trials (instead of stopping them) would buy (benchmarks/README.md, issue 5).

raysweep's ``type: asha`` is Ray's ``AsyncHyperBandScheduler``: a trial that reaches a rung
is judged once, on arrival, against the trials that reached the rung before it, and either
goes on or is stopped for good. ASHA as its paper describes it (Li et al., "A System for
Massively Parallel Hyperparameter Tuning", 2020; syne-tune's ``type="promotion"``) pauses
every trial at every rung instead. Whenever the worker is free it resumes the best paused
trial that is in the top ``floor(n / rf)`` of the ``n`` trials at its rung and was not
promoted from there yet (highest rung first), and only if there is none starts a new
configuration. A resumed trial continues from its checkpoint, so it costs only the epochs
from its rung to the next. Rungs: ``grace * rf^k`` below 81, then 81.

raysweep ships both variants: ``early_terminate: {type: promotion, resume: checkpoint}``
resumes (issue 22), ``resume: restart`` (the default, ``--restart`` here) trains a promoted
configuration again from epoch 0. ``bench_early_stop.py`` measures the shipped scheduler
itself and checks it against this probe seed by seed (``bench_early_stop.py replay
--check-probe``, with revision in both resume modes). Cost and target as in
``bench_early_stop.py``. Searchers: ``random`` (the same orderings) and raysweep's
``BayesProposer`` through ``bench_early_stop.BayesOrder``; the proposer observes a
configuration when it first pauses (its best loss so far) and that observation is replaced
by the best loss so far each time the configuration is promoted. raysweep revises too
(``BayesProposer.revise``, told the promoted trial's own best); this probe rewrites the
observation list itself, so that the check does not go through the code it checks.
``--no-revise`` keeps the first observation (raysweep before it revised).
Usage::

    python benchmarks/explore_promotion_asha.py --rf 4 --grace 2 --orderings 200 --bayes-seeds 100
    python benchmarks/explore_promotion_asha.py --rf 3 4 --grace 1 --stopping-variants
    python benchmarks/explore_promotion_asha.py --rf 4 --grace 2 --bayes-seeds 100 --restart
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import bench_early_stop as b  # noqa: E402


def rungs(grace: int, rf: int) -> list[int]:
    """Epochs at which a trial pauses: W&B's hyperband bands from ``min_iter: grace, eta:
    rf`` (grace * rf^k) below the full budget, then the end."""
    from raysweep.schedulers import bands

    return [r for r in bands(eta=rf, min_iter=grace) if r < b.EPOCHS] + [b.EPOCHS]


class Promotions:
    """One worker's promotion-type ASHA: which trial runs next, and to which rung."""

    def __init__(self, grace: int, rf: int) -> None:
        self.rf = rf
        self.rungs = rungs(grace, rf)
        self.at: list[dict[int, float]] = [{} for _ in self.rungs]  # config -> loss at rung
        self.promoted: list[set[int]] = [set() for _ in self.rungs]

    def next_promotion(self) -> tuple[int, int] | None:
        """(config, rung it resumes from), or None: start a new configuration."""
        for k in range(len(self.rungs) - 2, -1, -1):
            ranked = sorted(self.at[k], key=self.at[k].__getitem__)
            for config in ranked[: len(ranked) // self.rf]:
                if config not in self.promoted[k]:
                    return config, k
        return None


def episode(
    table: b.Table, source: b.Source, grace: int, rf: int, bayes: bool, revise: bool = True,
    restart: bool = False,
) -> float:
    """Epochs until a configuration trained to 81 epochs reaches the target (inf: never).

    ``revise=False``: the proposer keeps what it observed at a configuration's first pause.
    """
    asha = Promotions(grace, rf)
    losses = table.losses
    row: dict[int, int] = {}  # config -> its row in the Bayes proposer's observations
    spent = 0
    while True:
        job = asha.next_promotion()
        if job is None:
            config = source.next()
            if config is None:
                return math.inf
            start, rung = 0, 0
        else:
            config, k = job
            asha.promoted[k].add(config)
            start, rung = (0 if restart else asha.rungs[k]), k + 1
        end = asha.rungs[rung]
        spent += end - start
        asha.at[rung][config] = float(losses[config, end - 1])
        best = float(losses[config, :end].min())
        if not bayes:
            pass
        elif config not in row:
            source.observe(config, best)
            row[config] = len(source.proposer._obs) - 1  # type: ignore[attr-defined]
        elif revise:
            obs = source.proposer._obs  # type: ignore[attr-defined]
            obs[row[config]] = (obs[row[config]][0], best)
        if end == b.EPOCHS and table.reaches(config):
            return spent


def stopping_episode(table: b.Table, order: Sequence[int], rf: int, variant: str) -> float:
    """Stop-type ASHA (grace 1) with a variant of the rung rule, random order only: which
    ASHA could the data README's reference figures (1038 for rf 3, 967 for rf 4) come from?

    ``ray``: Ray's rule, raysweep's ``asha``: stop if the loss is above the linear 1/rf
    quantile of the earlier arrivals at the rung. ``ray-with-self``: the trial's own loss
    counts in the quantile. ``lower`` / ``higher`` / ``nearest``: numpy's other quantile
    methods. ``top-k``: Optuna's successive halving, go on only if among the best
    ``max(1, n // rf)`` of the ``n`` losses at the rung, its own included. ``best-so-far``:
    Ray's rule on the best loss so far instead of the last one.
    """
    milestones = set(rungs(1, rf)[:-1])
    at: dict[int, list[float]] = {}
    losses = table.losses
    spent = 0
    for config in order:
        stopped = False
        for epoch in range(1, b.EPOCHS + 1):
            spent += 1
            if epoch not in milestones:
                continue
            loss = float(losses[config, epoch - 1])
            if variant == "best-so-far":
                loss = float(losses[config, :epoch].min())
            earlier = at.setdefault(epoch, [])
            if variant == "top-k":
                ranked = sorted([*earlier, loss])
                stop = loss > ranked[max(1, len(ranked) // rf) - 1]
            else:
                pool = [*earlier, loss] if variant == "ray-with-self" else earlier
                method = variant if variant in ("lower", "higher", "nearest") else "linear"
                stop = bool(pool) and loss > np.percentile(pool, 100 / rf, method=method)
            earlier.append(loss)
            if stop:
                stopped = True
                break
        if not stopped and table.reaches(config):
            return spent
    return math.inf


VARIANTS = ("ray", "ray-with-self", "lower", "higher", "nearest", "top-k", "best-so-far")

def _bayes_cost(job: tuple[int, int, int, bool, bool]) -> float:
    """One bayes seed in a worker process that ``bench_early_stop._load_worker`` set up."""
    seed, grace, rf, revise, restart = job
    table, warp = b._WORKER["table"], b._WORKER["warp"]
    return episode(table, b.BayesOrder(table, seed, warp), grace, rf, bayes=True, revise=revise,
                   restart=restart)


def _row(name: str, costs: Sequence[float], base: float) -> str:
    med = float(np.median(costs))
    lo, hi = b._median_interval(costs)
    missed = sum(math.isinf(c) for c in costs)
    return (f"| {name} | {len(costs)} | {med:g} | {missed} | {base / med:.1f}x | "
            f"{lo:.0f}-{hi:.0f}, {base / hi:.1f}-{base / lo:.1f}x |")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rf", type=int, nargs="+", default=[4])
    parser.add_argument("--grace", type=int, nargs="+", default=[2])
    parser.add_argument("--orderings", type=int, default=200)
    parser.add_argument("--bayes-seeds", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--data", default=str(b.DATA))
    parser.add_argument("--no-revise", action="store_true",
                        help="bayes keeps a configuration's loss at its first pause")
    parser.add_argument("--restart", action="store_true",
                        help="a promoted trial retrains from epoch 0 (no checkpoint)")
    parser.add_argument("--stopping-variants", action="store_true",
                        help="also print stop-type ASHA variants (grace 1, random order)")
    args = parser.parse_args(argv)
    table = b.load_table(Path(args.data))
    base = float(np.median([
        b.episode(table, b.RandomOrder(table, s), b.FullBudget()).cost
        for s in range(args.orderings)
    ]))
    if args.stopping_variants:
        orders = [np.random.default_rng(s).permutation(table.size) for s in range(args.orderings)]
        print("| stop-type ASHA variant, random order, grace 1 | rf | median epochs | missed |")
        print("|---|---|---|---|")
        for variant in VARIANTS:
            for rf in args.rf:
                costs = [stopping_episode(table, o, rf, variant) for o in orders]
                print(f"| {variant} | {rf} | {float(np.median(costs)):g} | "
                      f"{sum(math.isinf(c) for c in costs)} |", flush=True)
        print()
    print("| method | runs | median epochs to target | missed | speed-up vs random at full "
          "budget | 95 % interval of the median (bootstrap): epochs, speed-up |")
    print("|---|---|---|---|---|---|")
    for grace in args.grace:
        for rf in args.rf:
            name = f"promotion asha, grace {grace}, rf {rf}"
            costs = [episode(table, b.RandomOrder(table, s), grace, rf, bayes=False,
                             restart=args.restart)
                     for s in range(args.orderings)]
            print(_row(f"random + {name}", costs, base), flush=True)
            if args.bayes_seeds:
                started = time.perf_counter()
                with ProcessPoolExecutor(args.jobs, initializer=b._load_worker,
                                         initargs=(args.data,)) as pool:
                    costs = list(pool.map(_bayes_cost, [(s, grace, rf, not args.no_revise,
                                                         args.restart)
                                                        for s in range(args.bayes_seeds)]))
                kept = ", no revision" if args.no_revise else ""
                kept += ", retrained from epoch 0" if args.restart else ""
                print(_row(f"bayes + {name}{kept}", costs, base), flush=True)
                print(f"  ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
