"""Bind a :class:`~raysweep.search.Proposer` to Ray Tune's ``Searcher`` interface.

The only Ray-aware search module. It owns what proposers must not care about:

- trial ids: ``trial_id -> flat config`` for live trials;
- the score: W&B's run score is the best finite value a run ever logged (``run.py``
  ``metric_extremum``), not the last, so the adapter folds every report into a per-trial best;
  bools, NaN and inf are ignored;
- the sign: proposers minimise, so a maximised metric is negated;
- ``metric.target``: once a finished trial's best reaches it, no new trial starts (W&B: "the
  sweep does not create new runs when a run reaches a target value"); running trials finish;
- nesting: proposals are flat (``("opt", "lr")``); trials get the complete nested config as
  plain Python values, since Tune passes through any key the searcher leaves out;
- ``Searcher.FINISHED`` when the proposer is exhausted (and no re-run can still come);
- re-runs: with a :class:`Reruns` source, its configurations go first; they are not the
  proposer's, so it never observes them (their values still count for ``metric.target``);
- outstanding proposals: with a limit (:meth:`TuneSearcher.limit_outstanding`, bayes), no new
  proposal while that many are running or waiting to start, since each one made before the
  others' results arrive is made on guesses; Tune asks again later;
- checkpoints as JSON, not a pickle of ``__dict__``.
"""

from __future__ import annotations

import copy
import json
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from ray.tune.search import Searcher

from raysweep.files import write_json_atomic
from raysweep.numeric import finite_float
from raysweep.sweep.space import SearchSpace

from ._base import FlatConfig, Proposer

if TYPE_CHECKING:
    from raysweep.sweep.model import SweepConfig

__all__ = ["Reruns", "TuneSearcher"]

_STATE_FORMAT = "raysweep.search.TuneSearcher/1"
_TIMED_PROPOSALS = 100  # how many of the latest proposals' durations the state keeps


class Reruns(Protocol):
    """A source of configurations to train again before new proposals (a scheduler that
    promotes configurations, ``early_terminate: {type: promotion}``)."""

    def rerun(self, trial_id: str) -> dict[str, Any] | None:
        """The complete nested config to run again as ``trial_id``, or None."""
        ...

    def waiting(self) -> bool:
        """Whether a running trial may still make a re-run due."""
        ...


class TuneSearcher(Searcher):
    """Adapts a proposer to ``ray.tune.search.Searcher``.

    Args:
        proposer: The search algorithm.
        space: The space the proposer searches (used to unflatten its proposals).
        metric: Name of the metric in trial results (Tune flattens nested results with "/").
            None for sweeps without a metric (grid, random); Tune may set it later through
            :meth:`set_search_properties`.
        mode: ``"min"`` or ``"max"``; defaults to ``"min"`` when ``metric`` is given.
        target: Stop starting trials once a finished trial's best value reaches this
            (``<= target`` for min, ``>= target`` for max). None disables it.

    Raises:
        ValueError: if ``mode`` is not ``"min"``, ``"max"`` or None.
    """

    def __init__(
        self,
        proposer: Proposer,
        space: SearchSpace,
        *,
        metric: str | None = None,
        mode: str | None = None,
        target: float | None = None,
    ) -> None:
        if mode not in (None, "min", "max"):
            raise ValueError(f"mode must be 'min', 'max' or None, but got {mode!r}")
        if metric is not None and mode is None:
            mode = "min"
        # Passed here, not only via set_search_properties: Tune skips that call when the
        # param_space is empty, which it always is for raysweep, and the metric would then
        # stay None.
        super().__init__(metric=metric, mode=mode)
        self._proposer = proposer
        self._space = space
        self._target = target
        self._live: dict[str, FlatConfig] = {}
        self._best: dict[str, float] = {}
        self._target_reached = False
        self._finished = False
        self._requeued: list[FlatConfig] = []
        self._autosave_path: str | None = None
        self._reruns: Reruns | None = None
        self._limit: Callable[[], int] | None = None
        self._peak_live = 0
        # Seconds the proposer took for its last new proposals (a bounded window, so the
        # state stays small in long sweeps): what a model costs, seen from a finished sweep.
        self._propose_seconds: deque[float] = deque(maxlen=_TIMED_PROPOSALS)

    @classmethod
    def from_config(cls, cfg: SweepConfig, proposer: Proposer) -> TuneSearcher:
        """Build the searcher for a sweep from its config and proposer."""
        metric = cfg.metric
        return cls(
            proposer,
            cfg.parameters,
            metric=metric.name if metric is not None else None,
            mode=metric.mode if metric is not None else None,
            target=metric.target if metric is not None else None,
        )

    @property
    def proposer(self) -> Proposer:
        """The wrapped proposer."""
        return self._proposer

    @property
    def trial_scores(self) -> dict[str, float]:
        """Best finite metric value reported by each trial so far (raw, not sign-adjusted)."""
        return dict(self._best)

    @property
    def target_reached(self) -> bool:
        """True once a finished trial reached ``metric.target``; no trial starts after it."""
        return self._target_reached

    def take_reruns_from(self, source: Reruns | None) -> None:
        """Ask ``source`` for a configuration to run again before each new proposal."""
        self._reruns = source

    def limit_outstanding(self, limit: Callable[[], int] | None) -> None:
        """Make no new proposal while ``limit()`` proposals are outstanding (proposed, not
        yet observed). ``limit`` is asked at each suggestion: a cluster that grows may take more.
        Re-runs and requeued configurations are not new proposals and are not held back."""
        self._limit = limit

    @property
    def propose_seconds(self) -> list[float]:
        """How long the proposer took for each of the latest (up to 100) new proposals."""
        return list(self._propose_seconds)

    @property
    def peak_outstanding(self) -> int:
        """The most proposals that were ever outstanding at once (saved with the state)."""
        return self._peak_live

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any
    ) -> bool:
        """Fill metric and mode from ``TuneConfig`` where the constructor left them unset.

        Called by Tune before the first :meth:`suggest` (unless ``param_space`` is empty).
        ``config`` is ignored: the space comes from the sweep file.
        """
        if self._metric is None and metric is not None:
            self._metric = metric
        if self._mode is None and mode is not None:
            self._mode = mode
        if self._metric is not None and self._mode is None:
            self._mode = "min"
        return True

    # Ray annotates suggest() as returning dict | None, but documents and handles the
    # Searcher.FINISHED string too.
    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:  # type: ignore[override]
        """Return the next trial's complete nested config, or ``Searcher.FINISHED``.

        Called by Tune each time it can start a trial.
        """
        if self._target_reached or self._finished:
            return Searcher.FINISHED
        if self._reruns is not None:
            again = self._reruns.rerun(trial_id)
            if again is not None:
                return again
        if self._requeued:
            flat = self._requeued.pop(0)
        elif self._limit is not None and len(self._live) >= self._limit():
            return None  # Tune asks again on its next step
        else:
            started = time.perf_counter()
            proposed = self._proposer.propose()
            self._propose_seconds.append(time.perf_counter() - started)
            if proposed is None:
                # Tune asks again later after None; FINISHED would end the sweep.
                waiting = self._reruns is not None and self._reruns.waiting()
                return None if waiting else Searcher.FINISHED
            flat = proposed
        self._live[trial_id] = flat
        self._peak_live = max(self._peak_live, len(self._live))
        self._autosave()
        config: dict[str, Any] = _plain(self._space.unflatten(flat))
        return config

    def finish(self) -> None:
        """Propose no more trials (``raysweep stop``); running trials finish."""
        self._finished = True

    def autosave_to(self, path: str | None) -> None:
        """Write the state to ``path`` (JSON, atomically) after every suggestion and every
        finished trial, so a killed driver can resume exactly (see :meth:`abandon_live`)."""
        self._autosave_path = path

    def abandon_live(self) -> list[FlatConfig]:
        """After a restore: forget the trials that were running when the driver died and run
        their configs again first. Returns those configs."""
        configs = list(self._live.values())
        self._live.clear()
        self._requeued = configs + self._requeued
        return configs

    def requeue(self, configs: list[FlatConfig]) -> None:
        """Run these configs next (before new proposals), skipping ones already queued."""
        known = {self._space.key(f) for f in self._requeued}
        for flat in configs:
            key = self._space.key(flat)
            if key not in known:
                known.add(key)
                self._requeued.append(flat)

    def _autosave(self) -> None:
        if self._autosave_path is None:
            return
        write_json_atomic(self._autosave_path, self.get_state())

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        """Fold one report into the trial's best value.

        Called by Tune for every report except one that makes the scheduler stop the trial
        (that one arrives in :meth:`on_trial_complete`).
        """
        self._fold(trial_id, result)

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        """Tell the proposer how the trial did, and check ``metric.target``.

        Called by Tune once per trial: with its last result when it finished or was stopped,
        with ``error=True`` and no result when it failed for good, and with neither when it was
        removed before it ran. The loss passed to the proposer is the trial's best value
        (negated for ``max``), or None if the trial failed or never reported a finite value.
        """
        if result:
            self._fold(trial_id, result)
        best = self._best.get(trial_id)
        if best is not None and self._reaches_target(best):
            self._target_reached = True
        flat = self._live.pop(trial_id, None)
        if flat is None:
            return  # not one of ours (or already reported): nothing to tell the proposer
        loss: float | None = None
        # W&B imputes failed runs whatever they logged; the proposer decides how (None).
        if best is not None and not error:
            loss = best if self._mode != "max" else -best
        self._proposer.observe(flat, loss)
        self._autosave()

    def get_state(self) -> dict[str, Any]:
        """Return the adapter's and the proposer's state as JSON-ready data."""
        return {
            "format": _STATE_FORMAT,
            "proposer": self._proposer.get_state(),
            "metric": self._metric,
            "mode": self._mode,
            "target_reached": self._target_reached,
            "peak_outstanding": self._peak_live,
            "propose_seconds": [round(t, 6) for t in self._propose_seconds],
            "best": dict(self._best),
            "live": [
                [trial_id, [[list(path), value] for path, value in flat.items()]]
                for trial_id, flat in self._live.items()
            ],
            "requeued": [
                [[list(path), value] for path, value in flat.items()] for flat in self._requeued
            ],
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`get_state`'s output (after a JSON round trip).

        Raises:
            ValueError: if ``state`` was not written by this class.
        """
        if state.get("format") != _STATE_FORMAT:
            raise ValueError(
                f"searcher state format must be {_STATE_FORMAT!r}, "
                f"but got {state.get('format')!r}"
            )
        self._proposer.set_state(state["proposer"])
        if self._metric is None:
            self._metric = state.get("metric")
        if self._mode is None:
            self._mode = state.get("mode")
        self._target_reached = bool(state["target_reached"])
        self._peak_live = int(state.get("peak_outstanding", 0))
        self._propose_seconds.clear()
        self._propose_seconds.extend(float(t) for t in state.get("propose_seconds", []))
        self._best = {str(k): float(v) for k, v in state["best"].items()}
        self._live = {
            str(trial_id): {tuple(path): value for path, value in items}
            for trial_id, items in state["live"]
        }
        self._requeued = [
            {tuple(path): value for path, value in items} for items in state.get("requeued", [])
        ]

    def save(self, checkpoint_path: str) -> None:
        """Write the state to ``checkpoint_path`` as JSON.

        Called by Tune at each experiment snapshot (the file is named ``searcher-state-*.pkl``
        by Tune, but holds JSON). Values that JSON cannot hold (a YAML date in ``values``) are
        written as their string.
        """
        with open(checkpoint_path, "w", encoding="utf-8") as f:
            json.dump(self.get_state(), f, default=str)

    def restore(self, checkpoint_path: str) -> None:
        """Read a file written by :meth:`save`. Called by Tune when an experiment resumes."""
        with open(checkpoint_path, encoding="utf-8") as f:
            self.set_state(json.load(f))

    def _fold(self, trial_id: str, result: Mapping[str, Any]) -> None:
        if self._metric is None:
            return
        value = finite_float(_lookup(result, self._metric))
        if value is None:
            return
        best = self._best.get(trial_id)
        if best is None or (value > best if self._mode == "max" else value < best):
            self._best[trial_id] = value

    def _reaches_target(self, best: float) -> bool:
        if self._target is None:
            return False
        return best >= self._target if self._mode == "max" else best <= self._target


def _lookup(result: Mapping[str, Any], name: str) -> Any:
    """Find ``name`` in a result: a flat key as Tune sends it, else a "/"-separated path."""
    if name in result:
        return result[name]
    node: Any = result
    for part in name.split("/"):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _plain(value: Any) -> Any:
    """Deep-copy ``value`` into plain Python types (numpy scalars and arrays converted)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return copy.deepcopy(value)
