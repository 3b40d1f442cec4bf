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
- checkpoints as JSON, not a pickle of ``__dict__``; in a sweep directory a paced snapshot and
  a journal of the events since (``_journal.py``), so saving costs no more per trial in a
  long sweep than in a short one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ray.tune.search import Searcher

from raysweep.files import SEARCHER_LOG_FILE, AppendLog, SnapshotPacer, write_text_atomic
from raysweep.numeric import finite_float
from raysweep.program.metrics import report_value
from raysweep.sweep.space import SearchSpace

from ._base import FlatConfig, Proposer
from ._journal import STATE_FORMAT, SavedSearcher, SearchLedger, encode_flat, plain, replay

if TYPE_CHECKING:
    from raysweep.sweep.model import SweepConfig

__all__ = ["Reruns", "TuneSearcher"]


class Reruns(Protocol):
    """A source of configurations to train again before new proposals (a scheduler that
    promotes configurations, ``early_terminate: {type: promotion}``)."""

    def rerun(self, trial_id: str) -> dict[str, Any] | None:
        """The complete nested config to run again as ``trial_id``, or None."""
        ...

    def waiting(self) -> bool:
        """Whether a running trial may still make a re-run due."""
        ...


class _Revises(Protocol):
    """A proposer that can improve what it observed of a configuration (bayes): told a
    promoted configuration's better value from a later rung."""

    def revise(self, config: FlatConfig, loss: float) -> bool: ...


class _ObservesObjectives(Protocol):
    """A proposer of a multi-objective sweep (an engine's: ``method: custom``)."""

    def observe(self, config: FlatConfig, loss: tuple[float, ...] | None) -> None: ...


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
        objectives: ``(name, mode)`` of each metric of a multi-objective sweep (``metrics:``);
            the proposer then observes a tuple of losses, one per objective (see
            :meth:`on_trial_complete`). Empty for a sweep with one metric or none.

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
        objectives: tuple[tuple[str, str], ...] = (),
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
        self._ledger = SearchLedger()
        self._finished = False
        self._autosave_path: str | None = None
        self._log: AppendLog | None = None
        self._pacer = SnapshotPacer()
        # The last snapshot: the journal offset it includes, its size and what it cost (s);
        # and how long the proposer took for the proposals journaled since.
        self._saved_offset = 0
        self._saved_bytes = 0
        self._saved_cost = 0.0
        self._replay_seconds = 0.0
        self._reruns: Reruns | None = None
        # Running re-runs of promoted configurations: trial -> its flat config.
        self._rerun_flats: dict[str, FlatConfig] = {}
        self._limit: Callable[[], int] | None = None
        # Multi-objective (``metrics:``): (name, mode) of each objective, and each running
        # trial's last finite value of each (its run summary, which is what is told).
        self._objectives = objectives
        self._last: dict[str, dict[str, float]] = {}

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
            objectives=tuple((m.name, m.mode) for m in cfg.metrics),
        )

    @property
    def proposer(self) -> Proposer:
        """The wrapped proposer."""
        return self._proposer

    @property
    def trial_scores(self) -> dict[str, float]:
        """Best finite metric value reported so far by each running trial (raw, not
        sign-adjusted). A trial's entry goes when it ends: its score then went to the proposer,
        and the trial tables keep every trial's best."""
        return dict(self._ledger.best)

    @property
    def target_reached(self) -> bool:
        """True once a finished trial reached ``metric.target``; no trial starts after it."""
        return self._ledger.target_reached

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
        return list(self._ledger.propose_seconds)

    @property
    def peak_outstanding(self) -> int:
        """The most proposals that were ever outstanding at once (saved with the state)."""
        return self._ledger.peak_live

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
        ledger = self._ledger
        if ledger.target_reached or self._finished:
            return Searcher.FINISHED
        if self._reruns is not None:
            again = self._reruns.rerun(trial_id)
            if again is not None:
                # The scheduler's to remember, not the searcher's; but its value, once known,
                # revises what the proposer observed of the configuration.
                self._rerun_flats[trial_id] = self._space.flatten(again)
                return again
        seconds: float | None = None
        if ledger.requeued:
            flat = ledger.requeued.pop(0)
            source = "requeued"
        elif self._limit is not None and len(ledger.live) >= self._limit():
            return None  # Tune asks again on its next step
        else:
            proposed: FlatConfig | None = None
            if not ledger.exhausted:
                started = time.perf_counter()
                proposed = self._proposer.propose()
                seconds = time.perf_counter() - started
                ledger.propose_seconds.append(seconds)
                if proposed is None:
                    # For good: the space is used up (Proposer.propose). Asked again, a
                    # proposer could still change its state (random with `unique` draws
                    # again), and Tune asks at every step while a re-run may come.
                    ledger.exhausted = True
                    self._record(self._proposal(trial_id, "proposer", None, seconds), seconds)
            if proposed is None:
                # Tune asks again later after None; FINISHED would end the sweep.
                waiting = self._reruns is not None and self._reruns.waiting()
                return None if waiting else Searcher.FINISHED
            flat = proposed
            source = "proposer"
        ledger.start(trial_id, flat)
        self._record(self._proposal(trial_id, source, flat, seconds), seconds or 0.0)
        config: dict[str, Any] = plain(self._space.unflatten(flat))
        return config

    def warm_start(self, earlier: Iterable[tuple[FlatConfig, Mapping[str, float | None]]]) -> int:
        """Tell the proposer earlier results (``--warm-start``) before its first proposal.

        Each is a flat config and its metric values by name (raw; the metric's value is
        sign-adjusted here; None or a missing value: failed). They are observations, not
        trials: they never count toward ``run_cap``. Call before :meth:`autosave_to`, so the
        sweep directory's first snapshot holds them and a resume restores them once (the
        journal never records them). Returns how many the proposer observed.

        Raises:
            ValueError: if the searcher already proposed or restored a trial.
        """
        ledger = self._ledger
        if ledger.live or ledger.propose_seconds or ledger.requeued or ledger.exhausted:
            raise ValueError("warm_start must come before the searcher's first proposal")
        count = 0
        for flat, values in earlier:
            count += 1
            if self._objectives:
                # As a trial's end: a loss per objective, or None if one is missing.
                losses = self._losses(values)
                observer: _ObservesObjectives = self._proposer  # type: ignore[assignment]
                observer.observe(dict(flat), losses)
                continue
            value = None if self._metric is None else finite_float(values.get(self._metric))
            loss = None if value is None else (-value if self._mode == "max" else value)
            self._proposer.observe(dict(flat), loss)
        return count

    def finish(self) -> None:
        """Propose no more trials (``raysweep stop``); running trials finish."""
        self._finished = True

    def autosave_to(self, path: str | None, *, pacer: SnapshotPacer | None = None) -> None:
        """Keep the state in the sweep directory: a snapshot at ``path`` (written now, then as
        ``pacer`` says, by default a :class:`~raysweep.files.SnapshotPacer`, and at
        :meth:`close`) and every event appended to the journal beside it (``searcher.jsonl``),
        so a killed driver resumes exactly (see :meth:`load_saved` and :meth:`abandon_live`).
        None stops saving.
        """
        if self._log is not None:
            self._log.close()
            self._log = None
        self._autosave_path = path
        self._pacer = pacer if pacer is not None else SnapshotPacer()
        if path is None:
            return
        log_path = Path(path).with_name(SEARCHER_LOG_FILE)
        self._log = AppendLog(log_path)  # which cuts a line a killed driver left half written
        self._snapshot()

    def close(self) -> None:
        """Write the last snapshot (if the journal has records it lacks) and close the journal.

        Call when the sweep ends; a later event reopens the journal.
        """
        if self._log is None:
            return
        if self._log.offset() > self._saved_offset:
            self._snapshot()
        self._log.close()

    def abandon_live(self) -> list[FlatConfig]:
        """After a restore: forget the trials that were running when the driver died and run
        their configs again first. Returns those configs."""
        ledger = self._ledger
        configs = list(ledger.live.values())
        ledger.live.clear()
        ledger.best.clear()  # no trial runs now: their values are of trials that never end
        ledger.requeued = configs + ledger.requeued
        self._snapshot()
        return configs

    def requeue(self, configs: list[FlatConfig]) -> None:
        """Run these configs next (before new proposals), skipping ones already queued."""
        requeued = self._ledger.requeued
        known = {self._space.key(f) for f in requeued}
        for flat in configs:
            key = self._space.key(flat)
            if key not in known:
                known.add(key)
                requeued.append(flat)
        self._snapshot()

    def load_saved(self, saved: SavedSearcher) -> None:
        """Continue from a sweep directory's saved state: its snapshot, then the journal's
        records after it (proposals are made again, ends observed again), so the searcher and
        its proposer are where they were at the last record.

        Raises:
            ValueError: if the snapshot was not written by this class.
        """
        self.set_state(dict(saved.state))
        replay(self._ledger, saved.records, self._proposer)

    @staticmethod
    def _proposal(
        trial_id: str, source: str, flat: FlatConfig | None, seconds: float | None
    ) -> dict[str, Any]:
        record: dict[str, Any] = {
            "event": "propose",
            "trial": trial_id,
            "from": source,
            "config": None if flat is None else encode_flat(flat),
        }
        if seconds is not None:
            record["seconds"] = round(seconds, 6)
        return record

    def _record(self, record: dict[str, Any], seconds: float = 0.0) -> None:
        """Append an event to the journal, and write a snapshot if one is due.

        Due: the pacer allows it (snapshots take a bounded share of the time), and the journal
        since the last one would cost a resume about as much as the snapshot itself: as many
        bytes to read, or as long to propose again (``seconds``: this proposal's). A small
        state is then not rewritten at every event to spare a resume a few lines, and bayes,
        whose proposals are slow to replay, still gets one at nearly every event.
        """
        if self._log is None:
            return
        offset = self._log.append(record)
        self._replay_seconds += seconds
        worth = (offset - self._saved_offset >= self._saved_bytes
                 or self._replay_seconds >= self._saved_cost)
        if worth and self._pacer.due():
            self._snapshot(offset)

    def _snapshot(self, offset: int | None = None) -> None:
        """Write the state and the journal offset it includes (when saving at all)."""
        path, log = self._autosave_path, self._log
        if path is None or log is None:
            return
        started = time.monotonic()
        state = self.get_state()
        state["log_offset"] = self._saved_offset = log.offset() if offset is None else offset
        text = json.dumps(state, default=str)  # as write_json_atomic, which gives no size
        write_text_atomic(path, text)
        self._pacer.wrote(started)
        self._saved_bytes = len(text)
        self._saved_cost = time.monotonic() - started
        self._replay_seconds = 0.0

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
        if self._objectives:
            self._complete_objectives(trial_id, error)
            return
        best = self._ledger.best.get(trial_id)
        reached = best is not None and self._reaches_target(best)
        had_best = best is not None
        flat = self._ledger.end(trial_id, reached)
        rerun = self._rerun_flats.pop(trial_id, None)
        if rerun is not None and best is not None and not error:
            self._revise(rerun, best if self._mode != "max" else -best)
        if flat is None and not had_best:
            return  # not one of ours (or already reported): nothing changed
        loss: float | None = None
        if flat is not None:
            # W&B imputes failed runs whatever they logged; the proposer decides how (None).
            if best is not None and not error:
                loss = best if self._mode != "max" else -best
            self._proposer.observe(flat, loss)
        # Also for a re-run (not the proposer's): its value counts for metric.target.
        self._record({"event": "end", "trial": trial_id, "loss": loss, "error": error,
                      "target": reached})

    def _revise(self, flat: FlatConfig, loss: float) -> None:
        """A promoted configuration's trial reached a later rung with ``loss`` (its best
        there): the proposer keeps the better of that and what it observed, so that it learns
        from how far the configuration got (the benchmark's "revision"). Journaled, so that a
        resumed sweep's proposer revises the same."""
        reviser = getattr(self._proposer, "revise", None)
        if reviser is not None and reviser(flat, loss):
            self._record({"event": "revise", "config": encode_flat(flat), "loss": loss})

    def _losses(self, values: Mapping[str, Any]) -> tuple[float, ...] | None:
        """One loss per objective (its value, negated for ``max``), or None if one has no
        finite value."""
        losses = []
        for name, mode in self._objectives:
            value = finite_float(values.get(name))
            if value is None:
                return None
            losses.append(-value if mode == "max" else value)
        return tuple(losses)

    def _complete_objectives(self, trial_id: str, error: bool) -> None:
        """:meth:`on_trial_complete` of a multi-objective sweep: the proposer observes one
        loss per objective (the last finite value, negated for ``max``), or None if the trial
        failed or never reported one of them."""
        last = self._last.pop(trial_id, {})
        flat = self._ledger.end(trial_id, False)
        if flat is None:
            return
        losses = None if error else self._losses(last)
        observer: _ObservesObjectives = self._proposer  # type: ignore[assignment]
        observer.observe(flat, losses)
        # "loss" stays a number or null, as every reader of the journal expects; a replay
        # observes null, which the study (told already, before this record) skips.
        self._record({"event": "end", "trial": trial_id, "loss": None, "error": error,
                      "target": False, "losses": None if losses is None else list(losses)})

    def get_state(self) -> dict[str, Any]:
        """Return the adapter's and the proposer's state as JSON-ready data."""
        return {
            "format": STATE_FORMAT,
            "proposer": self._proposer.get_state(),
            "metric": self._metric,
            "mode": self._mode,
            **self._ledger.to_json(),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`get_state`'s output (after a JSON round trip), also of an older
        format. The journal is not read: see :meth:`load_saved`.

        Raises:
            ValueError: if ``state`` was not written by this class.
        """
        ledger = SearchLedger.from_json(state)
        self._proposer.set_state(state["proposer"])
        if self._metric is None:
            self._metric = state.get("metric")
        if self._mode is None:
            self._mode = state.get("mode")
        self._ledger = ledger

    def save(self, checkpoint_path: str) -> None:
        """Write the state to ``checkpoint_path`` as JSON.

        Called by Tune at each experiment snapshot (the file is named ``searcher-state-*.pkl``
        by Tune, but holds JSON). Values that JSON cannot hold (a YAML date in ``values``) are
        written as their string.
        """
        with open(checkpoint_path, "w", encoding="utf-8") as f:
            json.dump(self.get_state(), f, default=str)
        # Tune's last experiment snapshot comes after the last trial ended: the sweep
        # directory's snapshot is brought up to date then too (:meth:`close` is the sure way).
        if self._log is not None and self._log.offset() > self._saved_offset:
            self._snapshot()

    def restore(self, checkpoint_path: str) -> None:
        """Read a file written by :meth:`save`. Called by Tune when an experiment resumes."""
        with open(checkpoint_path, encoding="utf-8") as f:
            self.set_state(json.load(f))

    def _fold(self, trial_id: str, result: Mapping[str, Any]) -> None:
        if self._objectives:
            last = self._last.setdefault(trial_id, {})
            for name, _ in self._objectives:
                value = finite_float(report_value(result, name))
                if value is not None:
                    last[name] = value
        if self._metric is None:
            return
        value = finite_float(report_value(result, self._metric))
        if value is None:
            return
        scores = self._ledger.best
        best = scores.get(trial_id)
        if best is None or (value > best if self._mode == "max" else value < best):
            scores[trial_id] = value

    def _reaches_target(self, best: float) -> bool:
        if self._target is None:
            return False
        return best >= self._target if self._mode == "max" else best <= self._target
