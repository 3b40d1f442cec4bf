"""The Optuna study of an ``engine: optuna`` sweep: the user's hooks, the storage, the study.

- The user's functions load with :func:`raysweep.search._hooks.load_hook` (shared with Ax).
- :func:`user_study`: calls ``optimizer()``, noting whether the study got a pruner: Optuna gives
  a study created without one a ``MedianPruner``, which would stop trials the user never asked
  to stop, so such a study gets a ``NopPruner``.
- :func:`open_study`: the study the sweep drives, kept in the sweep directory
  (``optuna.journal``, Optuna's journal format) so that ``raysweep resume`` continues it.
  A user's study lends its sampler, pruner, directions and name (and, on the first start, its
  trials: enqueued or added ones); its own storage is not written to. On resume the sampler
  is reseeded (raysweep's from its seed and the number of trials, the user's at random), or it
  would propose its first trials again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.storages.journal import JournalFileBackend

from raysweep.errors import RaysweepError
from raysweep.files import cut_partial_line
from raysweep.sweep.model import Metric, SchedulerSpec

from ._hooks import load_hook

__all__ = ["JOURNAL_FILE", "open_study", "quiet", "user_study"]

#: The study's file in the sweep directory.
JOURNAL_FILE = "optuna.journal"


def user_study(spec: SchedulerSpec) -> optuna.Study:
    """Call ``optimizer()`` and return its study; one created (or loaded) without a pruner
    gets ``NopPruner`` in place of the ``MedianPruner`` Optuna gave it.

    Raises:
        RaysweepError: loading fails (:func:`load_hook`), the call raises, or it returns
            something other than an ``optuna.Study``.
    """
    optimizer = load_hook(spec, "optimizer")
    where = f"scheduler.optimizer: {spec.optimizer!r} in {spec.source}"
    # quiet(): Optuna's "A new study created in memory" would mislead: raysweep keeps the
    # study in the sweep folder's journal.
    with _studies_without_pruner() as unpruned, quiet():
        try:
            study = optimizer()
        except Exception as exc:
            raise RaysweepError(f"{where} raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(study, optuna.Study):
        raise RaysweepError(
            f"{where} returned a {type(study).__name__}; it must return an optuna.Study "
            "(e.g. optuna.create_study(sampler=..., pruner=...))"
        )
    if study in unpruned:
        study.pruner = optuna.pruners.NopPruner()
    return study


@contextlib.contextmanager
def _studies_without_pruner() -> Iterator[weakref.WeakSet[Any]]:
    """Note every ``optuna.Study`` built in the block without a pruner.

    Optuna's ``Study.__init__`` replaces a missing pruner by a ``MedianPruner``, which leaves
    no trace on the study; ``create_study`` and ``load_study`` both go through it.
    """
    from optuna.study import Study

    unpruned: weakref.WeakSet[Any] = weakref.WeakSet()
    original = Study.__init__

    def init(self: Any, study_name: str, storage: Any, sampler: Any = None,
             pruner: Any = None) -> None:
        original(self, study_name, storage, sampler, pruner)
        if pruner is None:
            unpruned.add(self)

    Study.__init__ = init  # type: ignore[method-assign]
    try:
        yield unpruned
    finally:
        Study.__init__ = original  # type: ignore[method-assign]


def _open_study(
    objectives: Sequence[Metric],
    *,
    seed: int | None,
    sweep_dir: Path | None,
    template: optuna.Study | None = None,
) -> optuna.Study:
    """The study the sweep drives: in ``sweep_dir`` (created, or loaded on resume), else in
    memory.

    Args:
        objectives: The sweep's metrics; their goals are the study's directions.
        seed: Seeds the default sampler (``TPESampler``, ``constant_liar`` for the trials that
            run in parallel); a user's sampler keeps its own seed.
        sweep_dir: Where the study lives (``optuna.journal``); None: in memory.
        template: The user's study (from ``optimizer()``): its sampler, pruner and name are
            used, its trials copied in on the first start. None: raysweep's own study, with
            ``NopPruner`` (trials are stopped only by a pruner the user chose).

    Raises:
        RaysweepError: no objective, or the user's study optimises in other directions than
            the sweep's goals.
    """
    if not objectives:
        raise RaysweepError(
            "engine: optuna needs a metric to optimise: add `metric: {name: ..., goal: ...}` "
            "(or `metrics:` for several objectives)"
        )
    directions = [
        optuna.study.StudyDirection.MAXIMIZE if m.mode == "max"
        else optuna.study.StudyDirection.MINIMIZE
        for m in objectives
    ]
    if template is not None and list(template.directions) != directions:
        theirs = ", ".join(d.name.lower() for d in template.directions)
        ours = ", ".join(f"{m.name}: {m.goal}" for m in objectives)
        raise RaysweepError(
            f"the study from scheduler.optimizer optimises ({theirs}), but the sweep's "
            f"metrics are ({ours}); create the study with "
            f"directions={[d.name.lower() for d in directions]!r}"
        )
    if template is None and sweep_dir is None:
        return optuna.create_study(
            directions=directions, sampler=_default_sampler(seed),
            pruner=optuna.pruners.NopPruner(), study_name="raysweep",
        )
    if sweep_dir is None:
        assert template is not None  # checked above: not user input
        return template
    storage = optuna.storages.JournalStorage(_JournalFile(sweep_dir / JOURNAL_FILE))
    if template is None:
        study = optuna.create_study(
            storage=storage, directions=directions, study_name="raysweep", load_if_exists=True,
            sampler=_default_sampler(seed), pruner=optuna.pruners.NopPruner(),
        )
        asked = len(study.get_trials(deepcopy=False))
        if asked:
            # Resumed: a sampler seeded as at the first start would propose its first trials
            # again; seeded from the seed and the trials so far, it goes on, still repeatably.
            study.sampler = _default_sampler(_resumed_seed(seed, asked))
        return study
    # On resume, the study of the first start (optimizer() may name each study anew).
    names = optuna.get_all_study_names(storage)
    if names:
        study = optuna.load_study(study_name=names[0], storage=storage,
                                  sampler=template.sampler, pruner=template.pruner)
        if study.get_trials(deepcopy=False):
            # The user's sampler restarts from its seed each time optimizer() builds it, and
            # would repeat its first proposals; Optuna can only reseed it at random.
            study.sampler.reseed_rng()
        return study
    study = optuna.create_study(
        storage=storage, directions=directions, study_name=template.study_name,
        sampler=template.sampler, pruner=template.pruner,
    )
    study.add_trials(template.get_trials(deepcopy=True))
    return study


def open_study(
    objectives: Sequence[Metric],
    *,
    seed: int | None,
    sweep_dir: Path | None,
    template: optuna.Study | None = None,
) -> optuna.Study:
    """See :func:`_open_study` (Optuna's "study created" line silenced)."""
    with quiet():
        return _open_study(objectives, seed=seed, sweep_dir=sweep_dir, template=template)


def _default_sampler(seed: int | None) -> optuna.samplers.BaseSampler:
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True)


def _resumed_seed(seed: int | None, asked: int) -> int | None:
    """The default sampler's seed for a study resumed with ``asked`` trials (None: unseeded).

    >>> _resumed_seed(0, 4) == _resumed_seed(0, 4) != _resumed_seed(0, 5)
    True
    """
    if seed is None:
        return None
    return int(np.random.SeedSequence([seed, asked]).generate_state(1)[0])


class _JournalFile(JournalFileBackend):
    """Optuna's journal file, written by the sweep's driver alone (its lock ensures that).

    A line that a killed driver left half written is cut on opening: Optuna skips it when
    reading, but would glue the next append to it. Appends are flushed, not synced (as the
    searcher's own journal), and take no file lock.
    """

    def __init__(self, path: Path) -> None:
        cut_partial_line(path)  # a half-written last line: the driver was killed mid-append
        super().__init__(str(path))
        self._path = path

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs)
        with open(self._path, "ab") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Optuna's INFO lines (one per trial told) off: the sweep has its own live view."""
    logger = logging.getLogger("optuna")
    level = logger.level
    if level <= logging.INFO:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
