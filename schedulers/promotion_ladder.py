"""Promotion-type successive halving with retraining: the pure rule behind ``type: promotion``.

Stop-type schedulers (W&B's hyperband, Ray's ASHA) judge a trial when it reaches a band and
either let it run on or stop it for good, so every promising-looking trial trains to the end
before anything better is known. Promotion-type ASHA (Li et al., "A System for Massively
Parallel Hyperparameter Tuning", 2020) stops *every* trial at its next rung instead, and whenever
a worker is free it runs again, to the next rung, the best configuration among the top
``floor(n / eta)`` of the ``n`` that reached a rung (highest rung first); only when no
configuration qualifies does a new one start.

The paper resumes a paused trial from its checkpoint. Here a promoted configuration runs as a
new trial, stopped at the next rung (or, above the last rung, runs to its own end): with
``resume: restart`` it is **trained again from the start**; with ``resume: checkpoint`` it
continues from the state its last trial saved (:mod:`raysweep.program.checkpoint_store`, used
by :class:`~.promotion.PromotionScheduler`; the ladder itself is the same). A *lineage* is one
configuration's chain of trials; it is named after its first trial.

Pure (no Ray): :class:`PromotionLadder` is driven by :class:`~.promotion.PromotionScheduler`
(Tune's scheduler and searcher hooks) and by the benchmark's replay.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._stop_reasons import show_number

__all__ = ["PromotionLadder", "Stop"]

_STATE_VERSION = 1


@dataclass(frozen=True)
class Stop:
    """A trial stopped at its rung: where, with what value, and the reason shown to users."""

    rung: int
    value: float
    reason: str


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class PromotionLadder:
    """Which configuration runs next, and for how many iterations.

    Args:
        rungs: Iterations (reports) at which trials stop, ascending; duplicates are dropped.
            A trial promoted past the last rung runs to its own end.
        eta: Reduction factor: the best ``floor(n / eta)`` of a rung's ``n`` go on.
        mode: ``"min"`` or ``"max"``.

    Raises:
        ValueError: On an empty ladder, ``eta <= 1`` or an unknown mode.
    """

    def __init__(self, rungs: Sequence[int], eta: float, mode: str = "min") -> None:
        self.rungs = sorted(set(int(r) for r in rungs))
        if not self.rungs or self.rungs[0] < 1:
            raise ValueError(f"promotion needs rungs of at least 1 iteration, got {list(rungs)}")
        if not eta > 1:
            raise ValueError(f"eta must be greater than 1, got {eta!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.eta = eta
        self.mode = mode
        # Per rung: lineage -> loss there (lower is better; NaN: no usable value).
        self._at: list[dict[str, float]] = [{} for _ in self.rungs]
        self._promoted: list[set[str]] = [set() for _ in self.rungs]
        self._configs: dict[str, dict[str, Any]] = {}  # lineage -> the trials' config
        self._live: dict[str, tuple[str, int]] = {}  # trial -> (lineage, level)
        self._closed: set[str] = set()  # lineages that ended on their own or failed

    # -- what runs next ----------------------------------------------------------------

    def take(self, trial_id: str) -> dict[str, Any] | None:
        """Hand out the next promotion as ``trial_id``: a copy of the configuration to train
        again, or None when no configuration qualifies (start a new one)."""
        for level in range(len(self.rungs) - 1, -1, -1):
            for lineage in self._qualified(level):
                if lineage not in self._promoted[level]:
                    self._promoted[level].add(lineage)
                    self._live[trial_id] = (lineage, level + 1)
                    return copy.deepcopy(self._configs[lineage])
        return None

    def _qualified(self, level: int) -> list[str]:
        """The top ``floor(n / eta)`` lineages at a rung, best first, open ones only."""
        at = self._at[level]
        ranked = sorted((v, k) for k, v in at.items() if not math.isnan(v))
        top = [k for _, k in ranked[: math.floor(len(at) / self.eta)]]
        return [k for k in top if k not in self._closed]

    def live_ids(self) -> list[str]:
        """The trials running (or handed out by :meth:`take` and not started yet)."""
        return list(self._live)

    def waiting(self) -> bool:
        """Whether a trial is still running, so a promotion may become due when it stops."""
        return bool(self._live)

    # -- trial events ------------------------------------------------------------------

    def add(self, trial_id: str, config: Mapping[str, Any]) -> None:
        """A trial starts; one that :meth:`take` did not hand out opens a new lineage."""
        if trial_id not in self._live:
            self._live[trial_id] = (trial_id, 0)
            self._configs[trial_id] = copy.deepcopy(dict(config))

    def budget(self, trial_id: str) -> int | None:
        """Iterations after which the trial stops; None: it runs to its end (or is unknown)."""
        lineage_level = self._live.get(trial_id)
        if lineage_level is None or lineage_level[1] >= len(self.rungs):
            return None
        return self.rungs[lineage_level[1]]

    def reach(
        self, trial_id: str, value: float | None, *, paused: bool = False, resumed: bool = False
    ) -> Stop:
        """The trial reached its budget with this metric value (None or NaN: unusable): record
        it at the rung and say why the trial stops. The reason says "paused" for a trial with
        a checkpoint to resume from, and "resumed from" for one that continued its lineage.

        Raises:
            KeyError: If the trial is not running with a budget.
        """
        lineage, level = self._live[trial_id]
        rung = self.rungs[level]
        number = math.nan if value is None else float(value)
        loss = -number if self.mode == "max" else number
        self._at[level][lineage] = loss
        return Stop(rung, number,
                    self._reason(trial_id, lineage, level, loss, paused, resumed))

    def _reason(
        self, trial_id: str, lineage: str, level: int, loss: float, paused: bool, resumed: bool
    ) -> str:
        rung = self.rungs[level]
        where = f"{'paused' if paused else 'stopped'} at rung {rung}"
        if lineage != trial_id:
            where += f" ({'resumed from' if resumed else 're-run of'} trial {lineage})"
        following = (f"rung {self.rungs[level + 1]}" if level + 1 < len(self.rungs)
                     else "its end")
        rule = f"the best 1/{self.eta:g} at each rung train again to {following}"
        if math.isnan(loss):
            return f"{where}: no metric value to rank; {rule}"
        values = [v for v in self._at[level].values() if not math.isnan(v)]
        place = sum(v < loss for v in values) + 1
        shown = -loss if self.mode == "max" else loss
        return (
            f"{where}: {show_number(shown)}, {_ordinal(place)} of {len(values)} there so far; "
            f"{rule}"
        )

    def end(self, trial_id: str, *, stopped: bool, failed: bool = False) -> None:
        """The trial is over: ``stopped`` at its budget (its lineage may be promoted later),
        or it ended on its own or failed (its lineage is closed: nothing left to train)."""
        lineage_level = self._live.pop(trial_id, None)
        if lineage_level is not None and (failed or not stopped):
            self._closed.add(lineage_level[0])

    def remove(self, trial_id: str) -> None:
        """The trial never ran: a promotion is undone (due again), a new lineage dropped."""
        self._forget_live(trial_id)

    def forget(self, trial_ids: Iterable[str]) -> None:
        """Drop trials that had not ended when a sweep stopped (``raysweep resume`` runs new
        lineages again through the searcher; promotions become due again here)."""
        for trial_id in trial_ids:
            self._forget_live(trial_id)

    def _forget_live(self, trial_id: str) -> None:
        lineage_level = self._live.pop(trial_id, None)
        if lineage_level is None:
            return
        lineage, level = lineage_level
        if level < len(self.rungs):
            self._at[level].pop(lineage, None)
        if level > 0:
            self._promoted[level - 1].discard(lineage)
            return
        for at in self._at:
            at.pop(lineage, None)
        self._configs.pop(lineage, None)

    def knows(self, trial_id: str) -> bool:
        """Whether the trial is running, or opened a lineage."""
        return trial_id in self._live or trial_id in self._configs

    def has_config(self, config: Mapping[str, Any]) -> bool:
        """Whether a lineage trains this configuration."""
        return any(c == config for c in self._configs.values())

    def resumed_from(self, trial_id: str) -> tuple[str, int] | None:
        """For a running re-run: its configuration's first trial and the step it continues
        from (the rung where its configuration last stopped); else None."""
        lineage_level = self._live.get(trial_id)
        if lineage_level is None or lineage_level[1] == 0:
            return None
        lineage, level = lineage_level
        return lineage, self.rungs[level - 1]

    def lineage_of(self, trial_id: str) -> str | None:
        """For a running re-run: its configuration's first trial; else None."""
        resumed = self.resumed_from(trial_id)
        return None if resumed is None else resumed[0]

    # -- persistence -------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """JSON-compatible state (NaN values as None)."""
        return {
            "version": _STATE_VERSION,
            "rungs": list(self.rungs),
            "eta": self.eta,
            "mode": self.mode,
            "at": [{k: (None if math.isnan(v) else v) for k, v in at.items()} for at in self._at],
            "promoted": [sorted(p) for p in self._promoted],
            "configs": copy.deepcopy(self._configs),
            "live": {k: list(v) for k, v in self._live.items()},
            "closed": sorted(self._closed),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output.

        Raises:
            ValueError: If it was saved for other rungs, eta or mode, or by another version.
        """
        saved = (state.get("version"), state.get("rungs"), state.get("eta"), state.get("mode"))
        ours = (_STATE_VERSION, self.rungs, self.eta, self.mode)
        if saved != ours:
            raise ValueError(
                f"cannot restore promotion state saved for version/rungs/eta/mode {saved}; "
                f"this sweep has {ours}"
            )
        self._at = [
            {k: math.nan if v is None else float(v) for k, v in at.items()} for at in state["at"]
        ]
        self._promoted = [set(p) for p in state["promoted"]]
        self._configs = copy.deepcopy(dict(state["configs"]))
        self._live = {k: (str(v[0]), int(v[1])) for k, v in state["live"].items()}
        self._closed = set(state["closed"])

    def id_state(self, key: str) -> dict[str, Any] | None:
        """What the state holds under one id, as a lineage (its rung values, promotions,
        configuration, whether closed) and as a trial (running as which lineage and level);
        None if nothing. Its size does not depend on other ids.

        >>> ladder = PromotionLadder([1, 3], eta=2)
        >>> ladder.add("a", {"x": 1}); _ = ladder.reach("a", 0.5)
        >>> ladder.id_state("a")
        {'at': [[0, 0.5]], 'config': {'x': 1}, 'live': ['a', 0]}
        """
        state: dict[str, Any] = {}
        at = [[level, None if math.isnan(v[key]) else v[key]]
              for level, v in enumerate(self._at) if key in v]
        if at:
            state["at"] = at
        promoted = [level for level, p in enumerate(self._promoted) if key in p]
        if promoted:
            state["promoted"] = promoted
        if key in self._configs:
            state["config"] = copy.deepcopy(self._configs[key])
        if key in self._live:
            state["live"] = list(self._live[key])
        if key in self._closed:
            state["closed"] = True
        return state or None

    def load_id_states(self, states: Mapping[str, Mapping[str, Any] | None]) -> None:
        """Replace what the state holds under each id by :meth:`id_state`'s output (None:
        nothing)."""
        for key, state in states.items():
            for at in self._at:
                at.pop(key, None)
            for promoted in self._promoted:
                promoted.discard(key)
            self._configs.pop(key, None)
            self._live.pop(key, None)
            self._closed.discard(key)
            if state is None:
                continue
            for level, value in state.get("at", ()):
                self._at[level][key] = math.nan if value is None else float(value)
            for level in state.get("promoted", ()):
                self._promoted[level].add(key)
            if "config" in state:
                self._configs[key] = copy.deepcopy(dict(state["config"]))
            if "live" in state:
                lineage, level = state["live"]
                self._live[key] = (str(lineage), int(level))
            if state.get("closed"):
                self._closed.add(key)
