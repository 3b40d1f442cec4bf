"""``engine: ax`` (W&B's 2026 schema): an Ax ``Client`` driven trial by trial.

:class:`AxProposer` asks the client for one trial at each proposal (``get_next_trials``) and
completes it with the metrics' values when the trial ends (``complete_trial``; a failed trial,
or one missing an objective, is ``mark_trial_failed``). The client is the user's
(``scheduler.optimizer``, a zero-argument function returning an ``ax.api.Client``) or one built
from ``parameters`` (``_ax_space.py``), seeded by ``raysweep.seed``, with one objective per
metric (``-name`` for ``goal: minimize``). A user's client that has no experiment, no
optimization or no generation strategy gets raysweep's. Ax has no define-by-run space:
``scheduler.search_space`` is refused before the sweep starts
(:func:`raysweep.sweep.config.runnable_issues`), and Ax does not stop trials early here (its
early-stopping strategies need the client to poll the trials' curves; a sweep under ``engine:
ax`` has no early termination).

Parallel trials: Ax's default generation strategy waits for results after its initial trials
(``DataRequiredError``); raysweep's own configures it to go on with quasi-random trials
(``allow_exceeding_initialization_budget``) so that any number of trials may run at once. A
user's strategy that waits is an error that says so.

Identity: each proposal is one Ax trial, kept in a list of pending proposals; the adapter
observes with the very config object it was proposed with, so equal configs are never
confused. Only the proposals of a saved state are matched by value (after a resume, equal
configs are completed in order); any other config (a re-run of a failed trial,
``--warm-start``) is attached to the experiment as a trial of its own.

Resume: the client is saved to the sweep directory (``ax_client.json``, Ax's own JSON snapshot,
which ``ax.api.Client.load_from_json_file`` reads) at each proposal and each time the searcher
writes its snapshot (:meth:`AxProposer.get_state`), replaced atomically. So the file holds every
trial the searcher's journal names, and every end before the snapshot; the journal's later ends
are replayed (a trial already completed is not completed again). A proposal replayed after a
restart hands back the trial asked after the snapshot (the client's trials that no pending
proposal holds, in order).

Losses follow the :class:`~raysweep.search.Proposer` rule (lower is better); the client gets
the metrics' own values.

The client's experiment is read through ``Client._experiment`` (Ax 1.x has no public
accessor): its trials on resume, a user client's objectives and parameters.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from raysweep.errors import RaysweepError
from raysweep.sweep.model import Metric, SweepConfig
from raysweep.sweep.space import ParamPath, SearchSpace, dotted

from ._ax_space import AxParam, ax_params, flat_config, parameterization
from ._base import FlatConfig
from ._engine import check_state_format, objective_values, quiet_import, take_pending
from ._hooks import call_hook
from ._journal import decode_flat, encode_flat

if TYPE_CHECKING:
    from ax.api.client import Client
    from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig

__all__ = ["CLIENT_FILE", "AxProposer"]

#: The client's file in the sweep directory.
CLIENT_FILE = "ax_client.json"
STATE_FORMAT = "raysweep.search.AxProposer/1"
# The description of an experiment raysweep built from `parameters` (its values are decoded
# by raysweep's mapping; a user's are taken as they are).
BUILT_BY_RAYSWEEP = "raysweep: built from the sweep's parameters"


@functools.cache
def _ax() -> SimpleNamespace:
    """Ax's classes, imported at the first use (this module imports without Ax: doctests and
    the message of a missing Ax). Importing Ax imports torch and BoTorch, which warn about
    their own deprecations, and logs a line of its own (its storage's version)."""
    with quiet_import():
        from ax.api.client import Client
        from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig
        from ax.exceptions.core import DataRequiredError
    return SimpleNamespace(Client=Client, ChoiceParameterConfig=ChoiceParameterConfig,
                           RangeParameterConfig=RangeParameterConfig,
                           DataRequiredError=DataRequiredError)


@dataclass
class _Pending:
    """A proposal not yet observed: its Ax trial and config; ``restored``: read from a saved
    state (its trial ends with an equal config, not the same object)."""

    index: int
    flat: FlatConfig
    restored: bool = False


class AxProposer:
    """Proposes configurations from an Ax client (see the module's docstring).

    Args:
        client: The client, with its experiment and optimization configured.
        space: The sweep's ``parameters`` (constants are added to every config).
        params: The experiment's parameters and how their values become a trial's.
        objectives: The sweep's metrics, named as the client's objectives.
        path: Where the client is saved (``ax_client.json``); None: in memory.
    """

    def __init__(
        self,
        client: Client,
        space: SearchSpace,
        params: list[AxParam],
        objectives: Sequence[Metric],
        *,
        path: Path | None = None,
    ) -> None:
        self._client = client
        self._space = space
        self._params = params
        self._objectives = tuple(objectives)
        self._path = path
        self._pending: list[_Pending] = []
        # Trials asked after the state was saved (see set_state): what a replay hands back.
        self._orphans: list[int] | None = []
        # Every trial indexed below this was handed out (or is the user's).
        self._next_index = len(_experiment(client).trials)

    @classmethod
    def from_config(
        cls, cfg: SweepConfig, *, seed: int | None = None, sweep_dir: Path | None = None
    ) -> AxProposer:
        """The proposer of an ``engine: ax`` sweep: its client loaded from ``sweep_dir`` on
        resume, else built (and saved there).

        Args:
            cfg: The sweep.
            seed: Seeds raysweep's own client (a user's client keeps its seed).
            sweep_dir: Where the client is kept for ``raysweep resume``; None: in memory.

        Raises:
            RaysweepError: no metric, the user's ``optimizer`` cannot be loaded, fails or
                returns something else than a client fitting the sweep, or a metric or
                parameter Ax cannot hold.
        """
        objectives = cfg.objectives
        if not objectives:
            raise RaysweepError(
                "engine: ax needs a metric to optimise: add `metric: {name: ..., goal: ...}` "
                "(or `metrics:` for several objectives)"
            )
        spec = cfg.scheduler
        user = None
        if spec is not None and spec.optimizer is not None:
            user = call_hook(spec, "optimizer")
            if not isinstance(user, _ax().Client):
                raise RaysweepError(
                    f"scheduler.optimizer: {spec.optimizer!r} in {spec.source} returned a "
                    f"{type(user).__name__}; it must return an ax.api.Client (e.g. "
                    "Client(random_seed=0), configured or not)"
                )
        where = (f"the Ax client of scheduler.optimizer {spec.optimizer!r} in {spec.source}"
                 if user is not None and spec is not None else "the Ax client")
        path = None if sweep_dir is None else sweep_dir / CLIENT_FILE
        with quiet():
            if path is not None and path.is_file():
                client = _ax().Client.load_from_json_file(str(path))
                # The snapshot keeps no seed; the first start's is the same.
                client._random_seed = seed if user is None else user._random_seed
            else:
                client = user if user is not None else _ax().Client(random_seed=seed)
                _configure(client, cfg.parameters, objectives, seed)
            _check_objectives(client, objectives, where)
            params = _params_of(client, cfg.parameters, where)
        proposer = cls(client, cfg.parameters, params, objectives, path=path)
        if path is not None and not path.is_file():
            proposer.save()
        return proposer

    @property
    def client(self) -> Client:
        """The Ax client (its experiment, trials and generation strategy)."""
        return self._client

    # -- proposals -----------------------------------------------------------------------

    def propose(self) -> FlatConfig:
        """Ask the client for one trial and return its config (never None: Ax never runs
        out). A trial asked earlier that no proposal holds comes first (see the module)."""
        orphan = self._next_orphan()
        if orphan is not None:
            return self._hold(orphan, self._config_of(orphan))
        with quiet():
            try:
                trials = self._client.get_next_trials(max_trials=1)
            except _ax().DataRequiredError as exc:
                raise RaysweepError(
                    f"Ax's generation strategy proposes no more trials until some finish "
                    f"({exc}); run fewer trials at once (--max-concurrent), or configure the "
                    "client with client.configure_generation_strategy("
                    "allow_exceeding_initialization_budget=True)"
                ) from exc
        if not trials:
            raise RaysweepError("Ax's generation strategy proposed no trial; run fewer trials "
                                "at once (--max-concurrent)")
        [(index, _)] = trials.items()
        flat = self._config_of(index)
        self.save()
        return self._hold(index, flat)

    def _hold(self, index: int, flat: FlatConfig) -> FlatConfig:
        self._next_index = max(self._next_index, index + 1)
        self._pending.append(_Pending(index, flat))
        return flat

    def _config_of(self, index: int) -> FlatConfig:
        arm = _experiment(self._client).trials[index].arm
        return flat_config(self._space, self._params, arm.parameters)

    def _next_orphan(self) -> int | None:
        if self._orphans is None:
            held = {p.index for p in self._pending}
            self._orphans = [i for i in sorted(_experiment(self._client).trials)
                             if i >= self._next_index and i not in held]
        return self._orphans.pop(0) if self._orphans else None

    # -- results -------------------------------------------------------------------------

    def observe(
        self, config: FlatConfig, loss: float | tuple[float | None, ...] | None
    ) -> None:
        """Complete the proposal's trial with the metrics' values (``loss`` is one per
        objective, lower is better), or mark it failed (``loss`` None or missing an
        objective). A trial already ended (a replay) is left as it is. A config no proposal
        holds (``--warm-start``, a re-run) is attached to the experiment as a finished
        trial."""
        values = self._values(loss)
        entry = self._take(config)
        with quiet():
            trial = None if entry is None else _experiment(self._client).trials.get(entry.index)
            if entry is None or trial is None:
                # Not proposed, or its trial is not in the client (a file deleted by hand).
                self._learn(config, values)
                return
            if trial.status.is_terminal:
                return
            if values is None:
                self._client.mark_trial_failed(entry.index)
            else:
                self._client.complete_trial(entry.index, raw_data=values)

    def _learn(self, config: FlatConfig, values: dict[str, float] | None) -> None:
        """Attach a result the client did not propose (an earlier result, a re-run of a
        failed trial), once: not if a trial of this parameterization completed already (a
        failure: not if the experiment has any trial of it), so a replayed end is not attached
        again."""
        params = parameterization(self._params, config)
        if params is None:
            return
        same = [t for t in _experiment(self._client).trials.values()
                if t.arm is not None and t.arm.parameters == params]
        if (values is None and same) or any(t.status.is_completed for t in same):
            return
        index = self._client.attach_trial(parameters=params)
        if values is None:
            self._client.mark_trial_failed(index)
        else:
            self._client.complete_trial(index, raw_data=values)
        self._next_index = max(self._next_index, index + 1)

    def _values(self, loss: float | tuple[float | None, ...] | None) -> dict[str, float] | None:
        values = objective_values(self._objectives, loss)
        if values is None:
            return None
        return dict(zip((m.name for m in self._objectives), values, strict=True))

    def _take(self, config: FlatConfig) -> _Pending | None:
        return take_pending(self._pending, config)

    # -- state ---------------------------------------------------------------------------

    def save(self) -> None:
        """Write the client to ``ax_client.json`` (if kept in a sweep directory): a new file
        then renamed, so a killed driver leaves the previous one whole."""
        if self._path is None:
            return
        part = self._path.with_name(self._path.name + ".part")
        with quiet():
            self._client.save_to_json_file(str(part))
        os.replace(part, self._path)

    def get_state(self) -> dict[str, Any]:
        """Save the client (see the module), and return the pending proposals and which
        trials were handed out."""
        self.save()
        return {
            "format": STATE_FORMAT,
            "next_index": self._next_index,
            "pending": [[p.index, encode_flat(p.flat)] for p in self._pending],
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`get_state`'s output on a proposer over the same client.

        Raises:
            ValueError: if ``state`` was not written by this class.
        """
        check_state_format(state, STATE_FORMAT, "Ax proposer")
        self._pending = [_Pending(int(index), decode_flat(items), restored=True)
                         for index, items in state["pending"]]
        self._next_index = int(state["next_index"])
        self._orphans = None  # found at the first proposal


# -- the client ------------------------------------------------------------------------------

def _experiment(client: Client) -> Any:
    return client._experiment


def _configure(
    client: Client,
    space: SearchSpace,
    objectives: Sequence[Metric],
    seed: int | None,
) -> None:
    """Give ``client`` what it lacks: an experiment over ``space``, one objective per metric,
    a generation strategy that lets trials run in parallel."""
    if client._maybe_experiment is None:
        try:
            params = ax_params(space)
        except ValueError as exc:
            raise RaysweepError(str(exc)) from None
        if not params:
            raise RaysweepError(
                "engine: ax needs at least one parameter to search in `parameters` (Ax has no "
                "experiment without one)"
            )
        try:
            client.configure_experiment(parameters=[_ax_config(p) for p in params],
                                        name="raysweep", description=BUILT_BY_RAYSWEEP)
        except Exception as exc:
            raise RaysweepError(f"Ax refused the sweep's parameters: {exc}") from exc
    if _experiment(client).optimization_config is None:
        try:
            client.configure_optimization(objective=_objective_expression(objectives))
        except Exception as exc:
            raise RaysweepError(_unreadable(objectives, f"{type(exc).__name__}")) from exc
        names = list(_experiment(client).optimization_config.objective.metric_names)
        if names != [m.name for m in objectives]:
            raise RaysweepError(_unreadable(objectives, f"it read {names}"))
    if client._maybe_generation_strategy is None:
        client.configure_generation_strategy(
            initialization_random_seed=seed, allow_exceeding_initialization_budget=True)


def _objective_expression(objectives: Sequence[Metric]) -> str:
    """Ax's objective for the sweep's metrics: ``"-loss, acc"`` (a minus: minimise)."""
    return ", ".join(("-" if m.mode == "min" else "") + m.name for m in objectives)


def _unreadable(objectives: Sequence[Metric], what: str) -> str:
    names = ", ".join(repr(m.name) for m in objectives)
    return (f"Ax cannot read the metric names {names} as its objective ({what}): Ax parses "
            "objectives as expressions; rename the metric (letters, digits, _, /, - and .; "
            "not starting with a digit), or configure the objective in your own client "
            "(scheduler.optimizer)")


def _ax_config(p: AxParam) -> RangeParameterConfig | ChoiceParameterConfig:
    kind: Any = p.parameter_type  # one of Ax's literals (_ax_space's table)
    if p.kind == "range":
        assert p.bounds is not None  # _ax_space sets bounds on every range
        return _ax().RangeParameterConfig(name=p.name, bounds=p.bounds, parameter_type=kind,
                                    scaling="log" if p.log else None)
    assert p.values is not None  # and values on every choice
    return _ax().ChoiceParameterConfig(name=p.name, values=list(p.values), parameter_type=kind,
                                 is_ordered=p.ordered)


def _check_objectives(client: Client, objectives: Sequence[Metric], where: str) -> None:
    """The client's objectives must be the sweep's metrics, with the same goals."""
    objective = _experiment(client).optimization_config.objective
    weights = dict(zip(objective.metric_names, (w for _, w in objective.metric_weights),
                       strict=True))
    theirs = {name: "minimize" if w < 0 else "maximize" for name, w in weights.items()}
    ours = {m.name: "minimize" if m.mode == "min" else "maximize" for m in objectives}
    scalarized = not objective.is_multi_objective and len(weights) > 1
    if theirs != ours or scalarized:
        shown = ", ".join(f"{k}: {v}" for k, v in theirs.items())
        wanted = ", ".join(f"{k}: {v}" for k, v in ours.items())
        expression = _objective_expression(objectives)
        raise RaysweepError(
            f"{where} optimises ({shown}){' as one sum' if scalarized else ''}, but the "
            f"sweep's metrics are ({wanted}); configure it with "
            f"client.configure_optimization(objective={expression!r})"
        )


def _params_of(client: Client, space: SearchSpace, where: str) -> list[AxParam]:
    """How the experiment's parameters become a trial's config: the sweep's mapping when
    raysweep built the experiment, else each Ax value as it is, under the sweep's path of that
    dotted name (the sweep's searched parameters must all be there)."""
    experiment = _experiment(client)
    ours = {p.name: p for p in ax_params(space)}
    if experiment.description == BUILT_BY_RAYSWEEP:
        return list(ours.values())
    names = list(experiment.search_space.parameters)
    paths: dict[str, ParamPath] = {dotted(path): path for path in space.paths}
    missing = [name for name in ours if name not in names]
    if missing:
        raise RaysweepError(
            f"{where} has an experiment without the sweep's parameters {missing}; define "
            "them there, remove them from `parameters` (or make them constants), or return a "
            "client without an experiment (raysweep then builds it from `parameters`)"
        )
    return [AxParam(paths.get(name, (name,)), name, "user", "", decode=_same, encode=_same)
            for name in names]


def _same(value: Any) -> Any:
    return value


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Ax's INFO lines (one per trial) and its libraries' warnings off: the sweep has its own
    live view. Ax gives each of its loggers the level INFO, so each is raised in turn."""
    raised = []
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if (name == "ax" or name.startswith("ax.")) and isinstance(logger, logging.Logger) \
                and logger.level < logging.WARNING:
            raised.append((logger, logger.level))
            logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in raised:
            logger.setLevel(level)


