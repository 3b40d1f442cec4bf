"""Early termination on the ``lc_digits81`` learning-curve table (issue 5).

The table (``shared/data/lc_digits81.json``, see its README) holds 300 MLP configurations
trained for 81 epochs each, with the validation log-loss after every epoch. A trial "trains"
configuration ``i`` by replaying ``losses[i]``, one report per epoch.

**Measure.** Target = the 0.01 quantile of the 300 final (epoch-81) log-losses (numpy's
default, linear; 3 configurations reach it). Cost = epochs spent, all trials together, until
a configuration trained to 81 epochs ends with a final log-loss at or below the target. One
worker, trials one at a time. Orderings: ``numpy.random.default_rng(seed).permutation(300)``,
seeds 0..N-1 (this reproduces the README's "random, every trial to 81 epochs: 5913" for
N = 200). A run that uses up the pool without reaching the target costs infinity (counted,
and shown in the tables).

**Two parts.**

``replay``
    One worker simulated sequentially in pure Python, with raysweep's scheduler logic:

    * ``hyperband``: the pure W&B rule (:class:`raysweep.schedulers.HyperbandRule`: ``bands``,
      ``latest_band``, ``judge``), thresholds kept incrementally (sorted values per band, the
      same order statistic as :func:`~raysweep.schedulers._hyperband_rule.threshold`);
    * ``asha``: the actual :class:`~raysweep.schedulers.RecordingAsha` (Ray's
      ``AsyncHyperBandScheduler``) that ``make_scheduler`` builds, driven through
      ``on_trial_add`` / ``on_trial_result`` / ``on_trial_complete`` with stand-in trials;
    * ``median``: a vectorised replica of :class:`~raysweep.schedulers.RecordingMedian`
      (Ray's ``MedianStoppingRule`` is O(trials x epochs) per report in Python);
    * ``promotion``: the actual :class:`~raysweep.schedulers.PromotionScheduler`, asked for a
      re-run before each new trial as ``TuneSearcher`` asks it (:func:`promotion_episode`);
      a re-run trains its configuration again from epoch 1 and costs those epochs again.
      With ``resume: checkpoint`` (methods ending in ``checkpoint``) the trials checkpoint
      through the shipped pieces, a real ``CheckpointStore`` in a temporary folder included
      (:func:`checkpoint_episode`): a promoted configuration resumes from its saved epoch.

    ``--check K`` re-runs the first K orderings of every method through the scheduler
    classes themselves (``WandbHyperbandScheduler``, ``RecordingAsha``, ``RecordingMedian``)
    and requires identical costs. ``--check-probe K`` re-runs the first K seeds of each
    ``promotion`` method through ``explore_promotion_asha.py``'s own promotion ASHA (resuming
    for ``checkpoint`` methods, ``--restart`` for the others; with revision, as raysweep
    revises) and reports whether the costs agree.

    Searchers: ``random`` is the permutation above (random search over a finite pool, no
    repeats). ``bayes`` is raysweep's :class:`~raysweep.search.bayes.BayesProposer` on the
    table's space (``lr``, ``alpha`` log-uniform, ``hidden`` q-log-uniform, ``batch``
    categorical); each suggestion maps to the nearest configuration not yet run, in the
    warped space (the prior CDFs the proposer models, batch one-hot), and the proposer
    observes the suggestion with the trial's best loss, as ``TuneSearcher`` reports it;
    under ``promotion`` a promoted configuration's trial revises that with its own best loss
    (``BayesProposer.revise`` keeps the lower), as ``TuneSearcher`` does.

``live``
    The same sweeps through ``raysweep.run`` on a local Ray: a function trial replays its
    configuration's losses with ``time.sleep(epoch_s)`` per epoch, ``max_concurrent_trials``
    1; the winning trial writes raysweep's STOP marker. Random order is a grid over the
    configuration index, listed in the permutation's order. Reports the live epochs (which
    must equal the replay's for the same seed), the wall time from the first trial's start
    to the winner's end, and its ratio to epochs x ``epoch_s``. Under ``resume: checkpoint``
    the trial saves ``{"epoch": e}`` with each ``raysweep.log`` and starts after the epoch
    ``raysweep.restore()`` returns.

Usage::

    python benchmarks/bench_early_stop.py replay [--orderings 200] [--check 10]
    python benchmarks/bench_early_stop.py live [--seeds 0 1 2] [--epoch-s 0.1]
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "lc_digits81.json"
EPOCHS = 81
QUANTILE = 0.01

# The table's space as a W&B sweep (data README: lr = 10^U(-4.5,-0.5), hidden =
# round(2^U(3,8)), alpha = 10^U(-6,-1), batch = 2^randint(5,9)).
SPACE = {
    "lr": {"distribution": "log_uniform_values", "min": 10**-4.5, "max": 10**-0.5},
    "hidden": {"distribution": "q_log_uniform_values", "min": 8, "max": 256, "q": 1},
    "alpha": {"distribution": "log_uniform_values", "min": 1e-6, "max": 1e-1},
    "batch": {"values": [32, 64, 128, 256]},
}


# -- the table ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """The learning-curve table and its target."""

    configs: list[dict[str, Any]]
    losses: np.ndarray  # (n, EPOCHS)
    epoch_s: np.ndarray

    @property
    def size(self) -> int:
        return len(self.configs)

    @property
    def target(self) -> float:
        return float(np.quantile(self.losses[:, -1], QUANTILE))

    def reaches(self, index: int) -> bool:
        return bool(self.losses[index, -1] <= self.target)


def load_table(path: Path = DATA) -> Table:
    data = json.loads(path.read_text(encoding="utf-8"))
    return Table(data["configs"], np.asarray(data["losses"], float), np.asarray(data["epoch_s"]))


def _sweep(method: str, early_terminate: dict[str, Any] | None) -> dict[str, Any]:
    sweep: dict[str, Any] = {
        "method": method,
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": SPACE,
    }
    if early_terminate is not None:
        sweep["early_terminate"] = early_terminate
    return sweep


class Warp:
    """Nearest table configuration to a suggestion, in the proposer's warped space."""

    def __init__(self, table: Table) -> None:
        from raysweep.sweep.config import from_dict

        space = from_dict(_sweep("bayes", None)).parameters
        self.specs = {path[0]: spec for path, spec in space}
        self.points = np.array([self.encode(c) for c in table.configs])

    def encode(self, config: dict[str, Any]) -> list[float]:
        row = [self.specs[k].to_unit(float(config[k])) for k in ("lr", "hidden", "alpha")]
        row += [float(config["batch"] == b) for b in SPACE["batch"]["values"]]
        return row

    def nearest(self, config: dict[str, Any], used: set[int]) -> int:
        distance = ((self.points - np.array(self.encode(config))) ** 2).sum(axis=1)
        distance[list(used)] = np.inf
        return int(np.argmin(distance))


# -- stopping policies (one trial at a time) ------------------------------------------------


class Policy(Protocol):
    """An early-stopping rule fed one trial at a time."""

    def start(self, trial: str, config: dict[str, Any] | None = None) -> None: ...
    def report(self, trial: str, epoch: int, loss: float) -> bool: ...  # True: stop
    def end(self, trial: str, epoch: int, loss: float) -> None: ...


class FullBudget:
    """No early stopping."""

    def start(self, trial: str, config: dict[str, Any] | None = None) -> None:
        pass

    def report(self, trial: str, epoch: int, loss: float) -> bool:
        return False

    def end(self, trial: str, epoch: int, loss: float) -> None:
        pass


class HyperbandReplay:
    """W&B's rule for one trial at a time: the pure rule with incremental thresholds.

    With one trial running, only it can be stopped, and a band's threshold only moves when
    it adds a value there (every other run has ended), so judging it after each report is
    W&B's controller with a tick after every report (see tests/test_early_stop_e2e.py).
    """

    def __init__(self, min_iter: int = 1, eta: float = 3, strict: bool = True) -> None:
        from raysweep.schedulers import HyperbandRule

        self.rule = HyperbandRule.from_config(min_iter=min_iter, eta=eta, strict=strict)
        self.band_set = frozenset(self.rule.bands)
        self.values: dict[int, list[float]] = {}  # band -> sorted values of every run there
        self.history: list[float] = []

    def start(self, trial: str, config: dict[str, Any] | None = None) -> None:
        self.history = []

    def report(self, trial: str, epoch: int, loss: float) -> bool:
        self.history.append(loss)
        if len(self.history) in self.band_set:
            bisect.insort(self.values.setdefault(len(self.history), []), loss)
        band = self.rule.latest_band(len(self.history))
        if band is None:
            return False
        pool = self.values[band]
        # threshold(): sorted(values)[int((1 / eta) * len(values))]
        limit = pool[int((1.0 / self.rule.eta) * len(pool))]
        return self.rule.judge(self.history, band, limit).stop

    def end(self, trial: str, epoch: int, loss: float) -> None:
        pass


class _Trial:
    """Stands for Ray's Trial: what raysweep's schedulers read of it."""

    def __init__(self, trial_id: str, config: dict[str, Any] | None = None) -> None:
        self.trial_id = trial_id
        self.config = config or {}

    def should_recover(self) -> bool:
        return False


class SchedulerDriver:
    """Drives a Tune scheduler object as Tune would, one trial at a time."""

    def __init__(self, scheduler: Any) -> None:
        self.scheduler = scheduler
        self.trials: dict[str, _Trial] = {}

    def start(self, trial: str, config: dict[str, Any] | None = None) -> None:
        self.trials[trial] = _Trial(trial, config)
        self.scheduler.on_trial_add(None, self.trials[trial])

    def report(
        self, trial: str, epoch: int, loss: float, extra: dict[str, Any] | None = None
    ) -> bool:
        result = {"loss": loss, "training_iteration": epoch, **(extra or {})}
        return bool(self.scheduler.on_trial_result(None, self.trials[trial], result) == "STOP")

    def end(self, trial: str, epoch: int, loss: float) -> None:
        result = {"loss": loss, "training_iteration": epoch}
        self.scheduler.on_trial_complete(None, self.trials.pop(trial), result)


class MedianReplica:
    """:class:`~raysweep.schedulers.RecordingMedian` for one trial at a time, vectorised.

    At epoch ``t >= grace`` the running trial stops if its best loss so far is above the
    median, over the ended trials that reached ``t``, of their mean loss over epochs
    ``grace..t``; with fewer than ``min_samples`` such trials it runs on.
    """

    def __init__(self, grace: int = 3, min_samples: int = 3, max_trials: int = 2048) -> None:
        self.grace, self.min_samples = grace, min_samples
        self.prefix = np.zeros((max_trials, EPOCHS + 1))  # cumulative losses, per trial
        self.last = np.zeros(max_trials, dtype=int)  # last epoch of each ended trial
        self.n = 0
        self.best = math.inf
        self.current: list[float] = []

    def start(self, trial: str, config: dict[str, Any] | None = None) -> None:
        self.best, self.current = math.inf, []

    def report(self, trial: str, epoch: int, loss: float) -> bool:
        self.current.append(loss)
        self.best = min(self.best, loss)
        if epoch < self.grace:
            return False
        beyond = self.last[: self.n] >= epoch
        if int(beyond.sum()) < self.min_samples:
            return False
        sums = self.prefix[: self.n][beyond]
        means = (sums[:, epoch] - sums[:, self.grace - 1]) / (epoch - self.grace + 1)
        return bool(self.best > np.median(means))

    def end(self, trial: str, epoch: int, loss: float) -> None:
        self.prefix[self.n, 1 : len(self.current) + 1] = np.cumsum(self.current)
        self.last[self.n] = len(self.current)
        self.n += 1


class MedianAtStep:
    """Not a raysweep scheduler: the median rule in Optuna's ``MedianPruner`` form, to explain
    the data README's median figure. At epoch ``t >= grace`` the running trial stops if its
    loss at ``t`` is above the median of the ended trials' losses at ``t`` (>= 3 of them)."""

    def __init__(self, grace: int = 3, min_samples: int = 3, max_trials: int = 2048) -> None:
        self.grace, self.min_samples = grace, min_samples
        self.losses = np.full((max_trials, EPOCHS), np.nan)
        self.n = 0
        self.current: list[float] = []

    def start(self, trial: str, config: dict[str, Any] | None = None) -> None:
        self.current = []

    def report(self, trial: str, epoch: int, loss: float) -> bool:
        self.current.append(loss)
        if epoch < self.grace:
            return False
        column = self.losses[: self.n, epoch - 1]
        column = column[~np.isnan(column)]
        return len(column) >= self.min_samples and bool(loss > np.median(column))

    def end(self, trial: str, epoch: int, loss: float) -> None:
        self.losses[self.n, : len(self.current)] = self.current
        self.n += 1


def make_policy(spec: str, exact: bool = False) -> Policy:
    """Build a policy from ``full``, ``hyperband:<min_iter>:<eta>[:nonstrict]``,
    ``asha:<rf>[:<grace>]``, ``median:<grace>`` or ``median-at-step:<grace>``; ``exact``
    drives the scheduler classes themselves. (``promotion:<eta>:<min_iter>`` re-runs trials,
    which a per-trial policy cannot: see :func:`promotion_episode`.)"""
    from raysweep.schedulers import make_scheduler

    kind, *args = spec.split(":")
    if kind == "median-at-step":
        return MedianAtStep(grace=int(args[0]))
    et = early_terminate(spec)
    if et is None:
        return FullBudget()
    if not exact and et["type"] == "hyperband":
        return HyperbandReplay(min_iter=et["min_iter"], eta=et["eta"], strict=et["strict"])
    if not exact and et["type"] == "median":
        return MedianReplica(grace=et["min_iter"])
    # ASHA is always the real class: it is fast enough.
    return SchedulerDriver(make_scheduler(*_typed(et)))


def _typed(et: dict[str, Any]) -> tuple[Any, Any]:
    """``early_terminate`` and the metric as a sweep file gives them to make_scheduler."""
    cfg = _config(et)
    return cfg.early_terminate, cfg.metric


def _config(et: dict[str, Any]) -> Any:
    """A sweep config with this ``early_terminate`` section."""
    import raysweep

    return raysweep.from_dict({"method": "random", "metric": {"name": "loss", "goal": "minimize"},
                               "parameters": {"x": {"value": 1}}, "early_terminate": et})


def early_terminate(spec: str) -> dict[str, Any] | None:
    """The sweep's ``early_terminate`` section for a policy spec (None: every trial runs to
    the end); see :func:`make_policy`."""
    kind, *args = spec.split(":")
    if kind == "full":
        return None
    if kind == "hyperband":
        strict = len(args) < 3 or args[2] != "nonstrict"
        return {"type": "hyperband", "min_iter": int(args[0]), "eta": float(args[1]),
                "strict": strict}
    if kind == "asha":
        grace = int(args[1]) if len(args) > 1 else 1
        return {"type": "asha", "min_iter": grace, "eta": float(args[0])}
    if kind == "median":
        return {"type": "median", "min_iter": int(args[0])}
    if kind == "promotion":
        et = {"type": "promotion", "min_iter": int(args[1]), "eta": float(args[0])}
        if len(args) > 2:
            et["resume"] = args[2]  # "checkpoint" or "restart"
        return et
    raise ValueError(f"unknown policy {spec!r}")


# -- searchers -------------------------------------------------------------------------------


class Source(Protocol):
    """Chooses the next table configuration; learns from each trial."""

    def next(self) -> int | None: ...
    def observe(self, index: int, best_loss: float) -> None: ...
    def revise(self, index: int, loss: float) -> None: ...


class RandomOrder:
    """Random search over the pool without repeats: ``default_rng(seed).permutation``."""

    def __init__(self, table: Table, seed: int) -> None:
        order = np.random.default_rng(seed).permutation(table.size)
        self.order: Iterator[int] = iter(int(i) for i in order)

    def next(self) -> int | None:
        return next(self.order, None)

    def observe(self, index: int, best_loss: float) -> None:
        pass

    def revise(self, index: int, loss: float) -> None:
        pass


class BayesOrder:
    """raysweep's BayesProposer; each suggestion runs the nearest unused configuration."""

    def __init__(self, table: Table, seed: int, warp: Warp | None = None) -> None:
        from raysweep.search import make_proposer

        from raysweep.sweep.config import from_dict

        self.cfg = from_dict(_sweep("bayes", None))
        self.proposer = make_proposer(self.cfg, seed=seed)
        self.warp = warp or Warp(table)
        self.used: set[int] = set()
        # config -> the proposal it ran for; kept after it is observed, for revise.
        self.flats: dict[int, Any] = {}
        self.size = table.size

    def next(self) -> int | None:
        if len(self.used) == self.size:
            return None
        flat = self.proposer.propose()
        if flat is None:
            return None
        index = self.warp.nearest({p[0]: v for p, v in flat.items()}, self.used)
        self.used.add(index)
        self.flats[index] = flat
        return index

    def observe(self, index: int, best_loss: float) -> None:
        self.proposer.observe(self.flats[index], best_loss)

    def revise(self, index: int, loss: float) -> None:
        """A promoted configuration's trial ended with ``loss`` as its own best: the proposer
        keeps the lower of that and what it observed, as ``TuneSearcher.on_trial_complete``
        has it do (``BayesProposer.revise``)."""
        self.proposer.revise(self.flats[index], loss)


# -- one sweep -------------------------------------------------------------------------------


@dataclass
class Episode:
    """One simulated sweep: its cost and what ran."""

    cost: float  # epochs until the target (inf if never)
    trials: list[tuple[int, int]] = field(default_factory=list)  # (config, epochs run)


def episode(
    table: Table, source: Source, policy: Policy, reruns: Any = None
) -> Episode:
    """Run trials one at a time until a full-length trial reaches the target.

    ``reruns``: a ``PromotionScheduler`` (also driven as ``policy``), asked before each trial
    for a configuration to train again from epoch 1, as ``TuneSearcher`` asks it; only when
    it has none does the source propose. The source observes its own proposals, and a
    re-run's own best loss revises what it observed of the configuration (``TuneSearcher``).
    """
    out = Episode(cost=math.inf)
    spent = 0
    # Re-runs come on top of the pool's configurations; a ladder ends long before this.
    for number in range(table.size if reruns is None else 10 * table.size):
        trial = f"t{number}"
        again = None if reruns is None else reruns.rerun(trial)
        index = source.next() if again is None else int(again["i"])
        if index is None:
            break
        curve = table.losses[index]
        policy.start(trial, {"i": index})
        epochs = EPOCHS
        for epoch in range(1, EPOCHS + 1):
            if policy.report(trial, epoch, float(curve[epoch - 1])):
                epochs = epoch
                break
        policy.end(trial, epochs, float(curve[epochs - 1]))
        spent += epochs
        out.trials.append((index, epochs))
        if again is None:
            source.observe(index, float(curve[:epochs].min()))
        else:
            source.revise(index, float(curve[:epochs].min()))  # it trained from epoch 1
        if epochs == EPOCHS and table.reaches(index):
            out.cost = spent
            return out
    return out


def promotion_episode(table: Table, source: Source, spec: str) -> Episode:
    """:func:`episode` under ``early_terminate: {type: promotion}``: the actual
    ``PromotionScheduler`` that ``make_scheduler`` builds stops each trial at its rung and
    hands out the re-runs. With ``resume: checkpoint`` (spec ``promotion:<eta>:<min_iter>:
    checkpoint``) see :func:`checkpoint_episode`."""
    from raysweep.schedulers import make_scheduler

    from raysweep.execution.tuner import checkpoint_store

    et = early_terminate(spec) or {}
    scheduler = make_scheduler(*_typed(et))
    if et.get("resume") != "checkpoint":
        return episode(table, source, SchedulerDriver(scheduler), reruns=scheduler)
    # A memory file system if there is one: the trial saves its state after every epoch, and
    # the store writes (and fsyncs) small files that a disk would make the slow part.
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(prefix="bench_early_stop_",
                                     dir=shm if shm.is_dir() else None) as folder:
        # The sweep's store as raysweep.run builds it (its checkpoints/ folder, the rungs).
        store = checkpoint_store(_config(et), Path(folder))
        if store is None:
            raise SystemExit(f"{spec}: raysweep builds no checkpoint store for {et}")
        scheduler.use_checkpoints(store)
        return checkpoint_episode(table, source, scheduler, store)


def checkpoint_episode(table: Table, source: Source, scheduler: Any, store: Any) -> Episode:
    """:func:`episode` under ``early_terminate: {type: promotion, resume: checkpoint}``.

    Each trial does what a function trial of a real sweep does, with the shipped pieces:
    before each new trial the scheduler is asked for a promotion (``rerun``, which writes the
    handoff or clears a folder without state); the trial runs inside
    ``checkpoint_segment`` (the store's segment, the folder named in its environment),
    ``raysweep.restore()``-s its epoch from the folder, and after each epoch saves
    ``{"epoch": e}`` there and reports as ``_reporter`` does (the folder noted by
    ``FolderWatch``, the step offset added), until the scheduler says stop. A resumed
    configuration costs only the epochs from its saved step to its next rung, and its trial's
    own best loss (from its resumed step on) revises what the source observed of it.
    """
    from raysweep.execution.trainable import checkpoint_segment
    from raysweep.program.checkpoint import CHECKPOINT_DIR_ENV, RESUMED_STEP_ENV, restore, save
    from raysweep.program.checkpoint_store import STEP_OFFSET_KEY

    driver = SchedulerDriver(scheduler)
    paused: dict[int, int] = {}  # config -> the epoch its last trial paused at
    out = Episode(cost=math.inf)
    spent = 0
    for number in range(10 * table.size):
        trial = f"t{number}"
        again = scheduler.rerun(trial)
        index = source.next() if again is None else int(again["i"])
        if index is None:
            break
        curve = table.losses[index]
        driver.start(trial, {"i": index})
        environ: dict[str, str] = {}
        with checkpoint_segment(store, trial, environ) as watch:
            folder = environ[CHECKPOINT_DIR_ENV]
            state = restore(folder)
            start = int(state["epoch"]) if state else 0
            # The trial's state, the step raysweep says it resumes from and the epoch where
            # its configuration paused must agree: no epoch is trained twice or skipped.
            expected = paused.get(index, 0) if again is not None else 0
            if not start == int(environ[RESUMED_STEP_ENV]) == watch.segment.start == expected:
                raise SystemExit(
                    f"trial {trial} (config {index}): restored epoch {start}, "
                    f"{RESUMED_STEP_ENV}={environ[RESUMED_STEP_ENV]}, segment start "
                    f"{watch.segment.start}, paused at {expected}")
            extra = {STEP_OFFSET_KEY: start} if start else {}
            epoch = start
            for count, epoch in enumerate(range(start + 1, EPOCHS + 1), 1):
                save({"epoch": epoch}, folder)  # raysweep.log(..., checkpoint=): save first
                watch.report(watch.segment.start + count)
                if driver.report(trial, count, float(curve[epoch - 1]), extra):
                    break
        driver.end(trial, epoch - start, float(curve[epoch - 1]))
        paused[index] = epoch
        spent += epoch - start
        out.trials.append((index, epoch - start))
        if again is None:
            source.observe(index, float(curve[:epoch].min()))
        else:
            # The trial's own best: what it reported, from its resumed step on.
            source.revise(index, float(curve[start:epoch].min()))
        if epoch == EPOCHS and table.reaches(index):
            out.cost = spent
            return out
    return out


# -- replay ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Method:
    name: str
    searcher: str  # "random" | "bayes"
    policy: str


METHODS = [
    Method("random, every trial to 81 epochs", "random", "full"),
    Method("random + W&B hyperband, min_iter 1, eta 3", "random", "hyperband:1:3"),
    Method("random + W&B hyperband, min_iter 1, eta 4", "random", "hyperband:1:4"),
    Method("random + W&B hyperband, min_iter 3, eta 3", "random", "hyperband:3:3"),
    Method("random + asha, grace 1, rf 3", "random", "asha:3"),
    Method("random + asha, grace 1, rf 4", "random", "asha:4"),
    Method("random + median, grace 3", "random", "median:3"),
    Method("(not raysweep) random + Optuna-style median, grace 3", "random", "median-at-step:3"),
    Method("bayes, every trial to 81 epochs", "bayes", "full"),
    Method("bayes + W&B hyperband, min_iter 1, eta 4", "bayes", "hyperband:1:4"),
    Method("bayes + asha, grace 1, rf 3", "bayes", "asha:3"),
    # Later rungs (first judgement after 2-3 epochs) suit a model-based searcher, whose
    # good proposals make epoch-1 cutoffs harsh.
    Method("random + W&B hyperband, min_iter 2, eta 4", "random", "hyperband:2:4"),
    Method("random + asha, grace 2, rf 4", "random", "asha:4:2"),
    Method("bayes + W&B hyperband, min_iter 2, eta 4", "bayes", "hyperband:2:4"),
    Method("bayes + asha, grace 2, rf 4", "bayes", "asha:4:2"),
    Method("bayes + asha, grace 3, rf 3", "bayes", "asha:3:3"),
    # Promotion: every trial stops at its rung; the best configurations train again from
    # epoch 1 to the next rung (no checkpoints).
    Method("random + promotion, min_iter 1, eta 4", "random", "promotion:4:1"),
    Method("random + promotion, min_iter 2, eta 4", "random", "promotion:4:2"),
    Method("bayes + promotion, min_iter 1, eta 3", "bayes", "promotion:3:1"),
    Method("bayes + promotion, min_iter 2, eta 4", "bayes", "promotion:4:2"),
    # resume: checkpoint (issue 22): a promoted configuration resumes from the state its
    # paused trial saved, so it costs only the epochs from its rung to the next.
    Method("random + promotion, min_iter 2, eta 4, checkpoint", "random",
           "promotion:4:2:checkpoint"),
    Method("random + promotion, min_iter 1, eta 4, checkpoint", "random",
           "promotion:4:1:checkpoint"),
    Method("bayes + promotion, min_iter 2, eta 4, checkpoint", "bayes",
           "promotion:4:2:checkpoint"),
]


def _source(table: Table, searcher: str, seed: int, warp: Warp | None) -> Source:
    return RandomOrder(table, seed) if searcher == "random" else BayesOrder(table, seed, warp)


_HUGE = 1e12


def _bayes_digest() -> str:
    """Which version of the (still evolving) Bayes proposer produced the numbers: a hash of
    every module it is made of."""
    import hashlib

    from raysweep.search import bayes

    folder = Path(bayes.__file__).parent
    digest = hashlib.sha256()
    for name in ("bayes.py", "_encoding.py", "_gaussian_process.py", "_acquisition.py",
                 "_support.py"):
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()[:12]


def _median(costs: Sequence[float]) -> float:
    return float(np.median(np.asarray(costs, float)))


def _median_interval(costs: Sequence[float], n: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Bootstrap 95 % interval of the median cost (resampling the orderings or seeds): how
    far the median could move with another sample of the same size."""
    rng = np.random.default_rng(seed)
    c = np.where(np.isinf(costs), _HUGE, np.asarray(costs, float))
    lo, hi = np.percentile(np.median(rng.choice(c, (n, len(c))), axis=1), [2.5, 97.5])
    return float(lo), float(hi)


def _episode(table: Table, source: Source, policy: str, exact: bool = False) -> Episode:
    if policy.startswith("promotion:"):
        return promotion_episode(table, source, policy)  # always the scheduler class
    return episode(table, source, make_policy(policy, exact=exact))


def _cost(table: Table, warp: Warp, method: Method, seed: int, exact: bool = False) -> float:
    return _episode(table, _source(table, method.searcher, seed, warp), method.policy, exact).cost


def _method_costs(
    args: argparse.Namespace, method: Method, n: int, table: Table, warp: Warp
) -> list[float]:
    """Costs for seeds 0..n-1; bayes seeds in ``--jobs`` processes (each seed is independent
    and deterministic, so the result does not depend on the number of jobs)."""
    if method.searcher != "bayes" or args.jobs <= 1:
        return [_cost(table, warp, method, seed) for seed in range(n)]
    from concurrent.futures import ProcessPoolExecutor

    costs = []
    with ProcessPoolExecutor(args.jobs, initializer=_load_worker, initargs=(args.data,)) as pool:
        # Each seed's cost as it comes (in seed order): a long run can be read while it goes.
        for seed, cost in enumerate(pool.map(_worker_cost, [(method, s) for s in range(n)])):
            print(f"    {method.name}: seed {seed}: {cost:g}", file=sys.stderr, flush=True)
            costs.append(cost)
    return costs


def _probe_costs(
    args: argparse.Namespace, method: Method, n: int, table: Table, warp: Warp
) -> list[float]:
    """For a ``promotion`` method, the costs that the probe (``explore_promotion_asha.py``,
    its own promotion ASHA, not raysweep; resuming from checkpoints for ``resume:
    checkpoint``, ``--restart`` otherwise; with revision) gives for seeds 0..n-1.

    The probe revises by replacing a configuration's observation with its best loss so far;
    raysweep tells the proposer the promoted trial's own best, and the proposer keeps the
    lower of that and what it had. Both come to the same value: the best loss so far, since
    the earlier observation was the best up to where the configuration paused."""
    if method.searcher != "bayes" or args.jobs <= 1:
        return [_probe_cost(table, warp, method, seed) for seed in range(n)]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(args.jobs, initializer=_load_worker, initargs=(args.data,)) as pool:
        return list(pool.map(_worker_probe_cost, [(method, seed) for seed in range(n)]))


def _probe_cost(table: Table, warp: Warp, method: Method, seed: int) -> float:
    import explore_promotion_asha as probe  # this folder is on sys.path (the script's own)

    _, eta, min_iter, *resume = method.policy.split(":")
    return probe.episode(table, _source(table, method.searcher, seed, warp), int(min_iter),
                         int(eta), bayes=method.searcher == "bayes", revise=True,
                         restart=resume != ["checkpoint"])


_WORKER: dict[str, Any] = {}  # a worker process's table and warp, loaded once


def _load_worker(data: str) -> None:
    table = load_table(Path(data))
    _WORKER.update(table=table, warp=Warp(table))


def _worker_cost(job: tuple[Method, int]) -> float:
    return _cost(_WORKER["table"], _WORKER["warp"], *job)


def _worker_probe_cost(job: tuple[Method, int]) -> float:
    return _probe_cost(_WORKER["table"], _WORKER["warp"], *job)


def _chosen(wanted: Sequence[str]) -> list[Method]:
    """The methods named: a full name picks that method alone (one name can be the start of
    another's: "..., eta 4" and "..., eta 4, checkpoint"), any other string every method whose
    name contains it."""
    names = {m.name for m in METHODS}
    return [m for m in METHODS
            if any(s == m.name or (s not in names and s in m.name) for s in wanted)]


def replay(args: argparse.Namespace) -> None:
    table = load_table(Path(args.data))
    warp = Warp(table)
    chosen = _chosen(args.methods) if args.methods else METHODS
    print(f"target (q{QUANTILE:g} of final log-loss): {table.target:.5f}; "
          f"{sum(table.reaches(i) for i in range(table.size))} configurations reach it")
    if any(m.searcher == "bayes" for m in chosen):
        print(f"bayes searcher sha256 {_bayes_digest()}")
    # The baseline, always measured: random order, every trial to 81 epochs.
    base = _median([
        episode(table, RandomOrder(table, seed), FullBudget()).cost
        for seed in range(args.orderings)
    ])
    rows = []
    for method in chosen:
        started = time.perf_counter()
        n = args.bayes_seeds if method.searcher == "bayes" else args.orderings
        costs = _method_costs(args, method, n, table, warp)
        # median-at-step is not raysweep; promotion always drives the scheduler class itself.
        checks = 0 if method.policy.startswith(("median-at", "promotion")) else args.check
        if method.searcher == "bayes":
            checks = min(checks, args.check_bayes)
        for seed in range(min(checks, n)):
            exact = _cost(table, warp, method, seed, exact=True)
            if exact != costs[seed]:
                raise SystemExit(f"{method.name}: seed {seed}: replay {costs[seed]} != "
                                 f"scheduler class {exact}")
        if method.policy.startswith("promotion:") and args.check_probe:
            k = min(args.check_probe, n)
            probe = _probe_costs(args, method, k, table, warp)
            differ = [(s, costs[s], probe[s]) for s in range(k) if probe[s] != costs[s]]
            print(f"  {method.name}: the probe (with revision) agrees on {k - len(differ)} of "
                  f"{k} seeds; median {_median(probe):g} against {_median(costs[:k]):g}"
                  + (f"; differ (seed, shipped, probe): {differ[:10]}" if differ else ""),
                  file=sys.stderr, flush=True)
        med = _median(costs)
        speedup = base / med
        finite = [c for c in costs if math.isfinite(c)]
        # Missed runs (inf) as a huge number, so a quartile among them reads "inf", not nan.
        q25, q75 = (
            q if q < _HUGE / 10 else math.inf
            for q in np.percentile(np.where(np.isinf(costs), _HUGE, costs), [25, 75])
        )
        lo, hi = _median_interval(costs)
        rows.append((method.name, n, med, q25, q75, len(costs) - len(finite), speedup, lo, hi))
        print(f"  {method.name}: median {med:g} ({time.perf_counter() - started:.1f} s)",
              file=sys.stderr, flush=True)
    print("\n| method | runs | median epochs to target | IQR | missed | speed-up vs random "
          "at full budget | 95 % interval of the median (bootstrap): epochs, speed-up |")
    print("|---|---|---|---|---|---|---|")
    for name, n, med, q25, q75, missed, speedup, lo, hi in rows:
        shown = f"{speedup:.1f}x" if speedup > 0 else "-"
        span = (f"{lo:.0f}-{hi:.0f}, {base / hi:.1f}-{base / lo:.1f}x" if hi < _HUGE / 10
                else "-")
        print(f"| {name} | {n} | {med:g} | {q25:g}-{q75:g} | {missed} | {shown} | {span} |")


# -- live --------------------------------------------------------------------------------------


def live(args: argparse.Namespace) -> None:
    import raysweep

    table = load_table(Path(args.data))
    warp = Warp(table)
    root = Path(args.storage or tempfile.mkdtemp(prefix="bench_early_stop_"))
    rows = []
    methods = _chosen(args.methods) or [
        m for m in METHODS if m.name in ("random + asha, grace 1, rf 3",
                                         "bayes + asha, grace 1, rf 3")
    ]
    for method in methods:
        for seed in args.seeds:
            name = f"{method.searcher}-{method.policy.replace(':', '')}-{seed}"
            expected = _episode(table, _source(table, method.searcher, seed, warp),
                                method.policy)
            if method.searcher == "random":
                order = [int(i) for i in np.random.default_rng(seed).permutation(table.size)]
                sweep = _sweep("grid", None)
                sweep["parameters"] = {"i": {"values": order}}
                # Beyond the winner nothing runs: cap the grid there (+1 in case the STOP
                # marker is seen late).
                sweep["run_cap"] = len(expected.trials) + 1
            else:
                sweep = _sweep("bayes", None)
                sweep["run_cap"] = len(expected.trials) + 1
            et = early_terminate(method.policy)
            if et is not None:
                sweep["early_terminate"] = et
            sweep["raysweep"] = {"max_concurrent_trials": 1}
            sweep_dir = root / name
            train = _live_train(table, args.epoch_s, sweep_dir, method.searcher == "bayes",
                                checkpoint=method.policy.endswith(":checkpoint"))
            started = time.perf_counter()
            result = raysweep.run(sweep, function=train, storage=root, name=name, seed=seed)
            total = time.perf_counter() - started
            rows.append(_live_row(method, seed, result, table, expected, args.epoch_s, total))
            print(rows[-1], file=sys.stderr, flush=True)
    print(f"\nepoch time {args.epoch_s} s; sweeps in {root}; search/bayes.py sha256 "
          f"{_bayes_digest()}\n")
    print("| method | seed | trials | epochs (live) | epochs (replay) | wall to target (s) | "
          "epochs x epoch time (s) | ratio | whole run (s) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")


def _live_train(
    table: Table, epoch_s: float, sweep_dir: Path, bayes: bool, checkpoint: bool = False
) -> Callable[[dict[str, Any]], None]:
    """The function trial: replays its configuration's losses, one ``raysweep.log`` per
    epoch after ``epoch_s`` of sleep. With ``checkpoint`` it saves ``{"epoch": e}`` with each
    report and, when resumed, continues after the epoch ``raysweep.restore()`` gives back."""
    losses, target = table.losses, table.target
    warp = Warp(table) if bayes else None

    def train(config: dict[str, Any]) -> None:
        import raysweep

        if warp is None:
            index = int(config["i"])
        else:
            # The nearest configuration not yet run (trials run one at a time); a re-run
            # (type: promotion) gets its first trial's configuration again.
            used_file = sweep_dir / "used.json"
            used = json.loads(used_file.read_text()) if used_file.exists() else {}
            key = json.dumps(config, sort_keys=True)
            if key not in used:
                used[key] = warp.nearest(config, set(used.values()))
                used_file.write_text(json.dumps(used))
            index = used[key]
        state = raysweep.restore() if checkpoint else None
        for epoch in range(int(state["epoch"]) if state else 0, EPOCHS):
            time.sleep(epoch_s)
            metrics = {"loss": float(losses[index, epoch]), "config_index": index}
            if checkpoint:
                raysweep.log(metrics, checkpoint={"epoch": epoch + 1})
            else:
                raysweep.log(metrics)
        if losses[index, -1] <= target:
            (sweep_dir / "STOP").write_text("target reached\n")

    return train


def _live_row(
    method: Method,
    seed: int,
    result: Any,
    table: Table,
    expected: Episode,
    epoch_s: float,
    total: float,
) -> tuple[Any, ...]:
    from raysweep.analysis.tables import read_trials

    trials = read_trials(result.path)
    trials.sort(key=lambda t: t["started"])
    history = result.history
    spent = 0
    wall: float | None = None
    count = 0
    resumed = 0
    for entry in trials:
        # ``steps``: the epochs this trial trained; one resumed from a checkpoint (resume:
        # checkpoint) went on from its configuration's ``resumed_from_step``.
        skipped = int(entry.get("resumed_from_step") or 0)
        resumed += skipped > 0
        spent += int(entry["steps"])
        count += 1
        rows = history[history["trial_id"] == entry["trial_id"]]
        index = int(rows["config_index"].iloc[0]) if len(rows) else -1
        if skipped + entry["steps"] == EPOCHS and index >= 0 and table.reaches(index):
            wall = entry["ended"] - trials[0]["started"]
            break
    if method.policy.endswith(":checkpoint"):
        print(f"{method.name}, seed {seed}: {resumed} of {count} trials resumed from a "
              "checkpoint", file=sys.stderr, flush=True)
    if wall is None:
        return (method.name, seed, count, "not reached", f"{expected.cost:g}", "-", "-", "-",
                f"{total:.1f}")
    ideal = spent * epoch_s
    return (
        method.name, seed, count, spent, f"{expected.cost:g}", f"{wall:.1f}",
        f"{ideal:.1f}", f"{wall / ideal:.3f}", f"{total:.1f}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DATA))
    sub = parser.add_subparsers(dest="part", required=True)
    rep = sub.add_parser("replay", help="fast sequential replay of the scheduler logic")
    rep.add_argument("--orderings", type=int, default=200)
    rep.add_argument("--bayes-seeds", type=int, default=100)
    rep.add_argument("--check", type=int, default=10,
                     help="orderings re-run through the scheduler classes themselves")
    rep.add_argument("--check-bayes", type=int, default=3, help="the same for bayes seeds")
    rep.add_argument("--methods", nargs="*", default=[],
                     help="method names (a full name picks that method alone) or substrings")
    rep.add_argument("--jobs", type=int, default=2, help="processes for the bayes seeds")
    rep.add_argument("--check-probe", type=int, default=0,
                     help="seeds of each `promotion` method re-run through "
                          "explore_promotion_asha.py (with revision), which must agree")
    liv = sub.add_parser("live", help="the same sweeps through raysweep.run")
    liv.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    liv.add_argument("--epoch-s", type=float, default=0.1)
    liv.add_argument("--methods", nargs="*", default=[])
    liv.add_argument("--storage", default=None)
    args = parser.parse_args()
    replay(args) if args.part == "replay" else live(args)


if __name__ == "__main__":
    main()
