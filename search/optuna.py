"""``engine: optuna`` (W&B's 2026 schema): an Optuna study driven by ask and tell.

:class:`OptunaProposer` asks the study for a trial at each proposal and tells it the trial's
values when the trial ends. The study is the user's (``scheduler.optimizer``: their sampler and
pruner) or one built from ``parameters`` (``_optuna_space.py``: TPE with ``constant_liar``,
seeded by ``raysweep.seed``, and ``NopPruner``). ``scheduler.search_space`` is a define-by-run
function called on each asked trial; a trial's config has only what its branch defined.

Identity: each proposal is one Optuna trial, kept in a list of pending proposals. The adapter
observes a trial with the very config object it was proposed with, so two equal configs are
never confused while the driver runs. Only the proposals of a saved state are matched by value
(after a resume, equal configs are told in order); any other config (a re-run of a failed trial,
``--warm-start``) is added to the study as a trial of its own.
:meth:`OptunaProposer.bind` ties a Ray trial to its proposal for the pruner
(``raysweep.schedulers.optuna_pruner``), which reports each result and asks ``should_prune``.

Resume: the study lives in the sweep directory (``optuna.journal``), written at each ask, report
and tell, before the searcher's own journal records the event. Replayed after a restart (see
``_journal.py``), a proposal hands back the trial asked after the snapshot (the study's running
trials that no pending proposal holds, in order, each with the config saved on it), and an end
already told is not told again. Such a running trial that no record names (the driver died
between the ask and the record) is the next proposal.

Losses follow the :class:`~raysweep.search.Proposer` rule (lower is better); the study gets the
metrics' own values, its directions being the goals.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from raysweep.errors import RaysweepError
from raysweep.sweep.model import Metric, SweepConfig
from raysweep.sweep.space import SearchSpace

from ._base import FlatConfig
from ._engine import check_state_format, objective_values, take_pending
from ._hooks import load_hook
from ._journal import decode_flat, encode_flat, plain
from ._optuna_space import Axis, axes_of, flat_config, flatten_returned, study_params
from ._optuna_study import open_study, quiet, user_study

__all__ = ["CONFIG_ATTR", "OptunaProposer"]

#: The trial's user attribute that holds the config it was proposed with (flat pairs).
CONFIG_ATTR = "raysweep_config"
STATE_FORMAT = "raysweep.search.OptunaProposer/1"


@dataclass
class _Pending:
    """A proposal not yet told: its Optuna trial, config, Ray trial and pruning; ``restored``:
    read from a saved state (its trial ends with an equal config, not the same object)."""

    number: int
    flat: FlatConfig
    trial_id: str | None = None
    pruned: bool = False
    restored: bool = False


class OptunaProposer:
    """Proposes configurations from an Optuna study (see the module's docstring).

    Args:
        study: The study to ask and tell.
        space: The sweep's ``parameters`` (sampled through the study; may be empty).
        objectives: The sweep's metrics, in the study's order of values.
        define: ``search_space(trial)``, or None.
        define_name: How errors name ``define`` (``'f' in file.py``).
    """

    def __init__(
        self,
        study: optuna.Study,
        space: SearchSpace,
        objectives: Sequence[Metric],
        *,
        define: Callable[[optuna.Trial], Any] | None = None,
        define_name: str = "search_space",
    ) -> None:
        self._study = study
        self._space = space
        self._axes: list[Axis] = axes_of(space)
        self._fixed = {axis.name: axis.distribution for axis in self._axes}
        self._objectives = tuple(objectives)
        self._define = define
        self._define_name = define_name
        self._pending: list[_Pending] = []
        self._trials: dict[int, optuna.Trial] = {}
        self._reported: dict[int, set[int]] = {}
        # Trials asked after the state was saved (see set_state): what a replay hands back.
        self._orphans: list[FrozenTrial] | None = []
        # Every trial numbered below this was handed out (or is the user's), but the waiting
        # ones (enqueued: ask() hands them out first, whatever their number).
        self._next_number = len(study.get_trials(deepcopy=False))
        self._waiting: set[int] = set()

    @classmethod
    def from_config(
        cls, cfg: SweepConfig, *, seed: int | None = None, sweep_dir: Path | None = None
    ) -> OptunaProposer:
        """The proposer of an ``engine: optuna`` sweep.

        Args:
            cfg: The sweep.
            seed: Seeds raysweep's own sampler (a user's study keeps its sampler's seed).
            sweep_dir: Where the study is kept for ``raysweep resume``; None: in memory.

        Raises:
            RaysweepError: the user's hooks cannot be loaded or fail, the study does not fit
                the sweep's metrics, or the sweep has no metric.
        """
        spec = cfg.scheduler
        template = None
        define = None
        define_name = "search_space"
        if spec is not None and spec.optimizer is not None:
            template = user_study(spec)
        if spec is not None and spec.search_space is not None:
            define = load_hook(spec, "search_space")
            define_name = f"scheduler.search_space {spec.search_space!r} in {spec.source}"
        study = open_study(cfg.objectives, seed=seed, sweep_dir=sweep_dir, template=template)
        return cls(study, cfg.parameters, cfg.objectives, define=define,
                   define_name=define_name)

    @property
    def study(self) -> optuna.Study:
        """The study (its trials, best values, pruner)."""
        return self._study

    @property
    def prunes(self) -> bool:
        """Whether the study's pruner may stop trials: single objective, not ``NopPruner``."""
        return len(self._objectives) == 1 and not isinstance(
            self._study.pruner, optuna.pruners.NopPruner
        )

    # -- proposals -----------------------------------------------------------------------

    def propose(self) -> FlatConfig:
        """Ask the study for a trial and return its config (never None: a study never runs
        out). A trial asked earlier that no proposal holds comes first (see the module)."""
        with quiet():
            orphan = self._next_orphan()
            if orphan is not None:
                return self._hold(orphan.number, orphan.flat)
            trial = self._study.ask(self._fixed)
            try:
                flat = self._config_of(trial)
            except BaseException:
                self._study.tell(trial, state=TrialState.FAIL)
                raise
            trial.set_user_attr(CONFIG_ATTR, encode_flat(flat))
        self._trials[trial.number] = trial
        return self._hold(trial.number, flat)

    def _hold(self, number: int, flat: FlatConfig) -> FlatConfig:
        self._next_number = max(self._next_number, number + 1)
        self._waiting.discard(number)
        self._pending.append(_Pending(number, flat))
        return flat

    def _config_of(self, trial: optuna.Trial) -> FlatConfig:
        flat = flat_config(self._space, self._axes, trial.params)
        if self._define is None:
            return flat
        try:
            returned = self._define(trial)
        except Exception as exc:
            raise RaysweepError(
                f"{self._define_name} raised {type(exc).__name__}: {exc}"
            ) from exc
        if returned is None:
            config: Any = {k: v for k, v in trial.params.items() if k not in self._fixed}
        elif isinstance(returned, Mapping):
            config = returned
        else:
            config = getattr(returned, "config", None)
            if not isinstance(config, Mapping):
                raise RaysweepError(
                    f"{self._define_name} returned a {type(returned).__name__}; return a dict, "
                    "an object with a `config` dict (W&B's RunSuggestion), or None for "
                    "trial.params"
                )
        try:
            flat.update(flatten_returned(config, self._define_name))
        except ValueError as exc:
            raise RaysweepError(str(exc)) from None
        return flat

    def _next_orphan(self) -> _Orphan | None:
        if self._orphans is None:
            held = {p.number for p in self._pending}
            asked = [
                t for t in self._study.get_trials(deepcopy=False)
                if t.state is not TrialState.WAITING and t.number not in held
                and (t.number >= self._next_number or t.number in self._waiting)
            ]
            # In the order they were asked (an enqueued trial keeps its earlier number).
            self._orphans = sorted(asked, key=lambda t: (t.datetime_start is None,
                                                         t.datetime_start, t.number))
        while self._orphans:
            frozen = self._orphans.pop(0)
            saved = frozen.user_attrs.get(CONFIG_ATTR)
            if saved is None:
                # Asked, then the driver died before the config was saved: no trial ran it.
                self._study.tell(frozen.number, state=TrialState.FAIL, skip_if_finished=True)
                self._next_number = max(self._next_number, frozen.number + 1)
                continue
            return _Orphan(frozen.number, decode_flat(saved))
        return None

    # -- results -------------------------------------------------------------------------

    def observe(
        self, config: FlatConfig, loss: float | tuple[float | None, ...] | None
    ) -> None:
        """Tell the study how the proposal's trial ended: its values (``loss`` is one per
        objective, lower is better), pruned (the pruner stopped it), or failed (``loss`` None
        or missing an objective). A trial already told (a replay) is not told again."""
        entry = self._take(config)
        if entry is None:
            self._learn(config, self._values(loss))
            return
        self._trials.pop(entry.number, None)
        self._reported.pop(entry.number, None)
        values = self._values(loss)
        with quiet():
            if entry.pruned:
                self._study.tell(entry.number, state=TrialState.PRUNED, skip_if_finished=True)
            elif values is None:
                self._study.tell(entry.number, state=TrialState.FAIL, skip_if_finished=True)
            else:
                self._study.tell(entry.number, values, skip_if_finished=True)

    def _learn(self, config: FlatConfig, values: list[float] | None) -> None:
        """Add a result the study did not propose as a finished trial: an earlier result
        (``--warm-start``), or a re-run of a trial (``--rerun-failed``).

        Once: not if a trial of this config completed already (a failure: not if the study has
        any trial of it), so a replayed end is not added again. The parameters are those of a
        trial that ran the config (a define-by-run space has no others), else ``parameters``'.
        """
        encoded = encode_flat(config)
        same = [t for t in self._study.get_trials(deepcopy=False)
                if t.user_attrs.get(CONFIG_ATTR) == encoded]
        if (values is None and same) or any(t.state is TrialState.COMPLETE for t in same):
            return
        ran = next((t for t in same if t.distributions), None)
        params: dict[str, Any] | None
        if ran is not None:
            params, distributions = dict(ran.params), dict(ran.distributions)
        elif self._define is None and self._axes:
            params, distributions = study_params(self._axes, config), dict(self._fixed)
        else:
            return  # define-by-run: no distributions for a config it did not define
        if params is None:
            return
        trial = optuna.trial.create_trial(
            params=params, distributions=distributions, values=values,
            state=TrialState.COMPLETE if values is not None else TrialState.FAIL,
            user_attrs={CONFIG_ATTR: encoded},
        )
        with quiet():
            self._study.add_trial(trial)
        self._next_number = max(self._next_number, len(self._study.get_trials(deepcopy=False)))

    def _values(self, loss: float | tuple[float | None, ...] | None) -> list[float] | None:
        return objective_values(self._objectives, loss)

    def _take(self, config: FlatConfig) -> _Pending | None:
        return take_pending(self._pending, config)

    # -- pruning ---------------------------------------------------------------------------

    def bind(self, trial_id: str, config: Mapping[str, Any]) -> bool:
        """Tie Ray's ``trial_id`` to the oldest unbound proposal with this (nested) config.

        Called by the pruner when Tune adds the trial, right after it was proposed. Returns
        whether a proposal was found (a re-run of someone else's config is not one).
        """
        if any(entry.trial_id == trial_id for entry in self._pending):
            return True
        key = _nested_key(config)
        for entry in self._pending:
            if entry.trial_id is None and _nested_key(SearchSpace.unflatten(entry.flat)) == key:
                entry.trial_id = trial_id
                return True
        return False

    def report(self, trial_id: str, value: float, step: int) -> str | None:
        """Report a trial's metric at ``step`` and ask the pruner; return why it stops the
        trial (``"pruned by MedianPruner at step 3"``), or None to let it go on.

        A step the trial already reported (a re-run after a resume) is not reported again.
        """
        entry = next((e for e in self._pending if e.trial_id == trial_id), None)
        if entry is None or not self.prunes:
            return None
        trial = self._trial(entry.number)
        done = self._reported.get(entry.number)
        if done is None:
            frozen = self._study.get_trials(deepcopy=False)[entry.number]
            done = self._reported[entry.number] = set(frozen.intermediate_values)
        with quiet():
            if step not in done:
                trial.report(value, step)
                done.add(step)
            if not trial.should_prune():
                return None
        entry.pruned = True
        return f"pruned by {type(self._study.pruner).__name__} at step {step}"

    def _trial(self, number: int) -> optuna.Trial:
        trial = self._trials.get(number)
        if trial is None:
            frozen = self._study.get_trials(deepcopy=False)[number]
            trial = self._trials[number] = optuna.Trial(self._study, frozen._trial_id)
        return trial

    # -- state ---------------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        """The pending proposals and which trials were handed out (the study itself is in its
        storage)."""
        waiting = self._study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        return {
            "format": STATE_FORMAT,
            "next_number": self._next_number,
            "waiting": [t.number for t in waiting],
            "pending": [
                [p.number, encode_flat(p.flat), p.pruned] for p in self._pending
            ],
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`get_state`'s output on a proposer over the same study.

        Raises:
            ValueError: if ``state`` was not written by this class.
        """
        check_state_format(state, STATE_FORMAT, "Optuna proposer")
        self._pending = [
            _Pending(int(number), decode_flat(items), None, bool(pruned), restored=True)
            for number, items, pruned in state["pending"]
        ]
        self._next_number = int(state["next_number"])
        self._waiting = {int(n) for n in state["waiting"]}
        self._trials.clear()
        self._reported.clear()
        self._orphans = None  # found at the first proposal, once the study is read


@dataclass(frozen=True)
class _Orphan:
    number: int
    flat: FlatConfig


def _nested_key(config: Mapping[str, Any]) -> str:
    return json.dumps(plain(config), sort_keys=True, default=str)
