"""Search algorithms for raysweep sweeps, and their adapter to Ray Tune.

Each algorithm is a *proposer* (:class:`Proposer`): pure Python that proposes flat configs and
learns from finished trials, with no Ray import. :class:`TuneSearcher` (``_adapter.py``, the
only Ray-aware module here) binds one proposer to ``ray.tune.search.Searcher``: it owns trial
ids, the goal's sign, NaN filtering, nesting, ``metric.target`` and ``Searcher.FINISHED``.

=========  ==============================  ===========================================
method     proposer                        module
=========  ==============================  ===========================================
grid       :class:`GridProposer`           ``grid.py`` (W&B order, seen set)
random     :class:`RandomProposer`         ``random.py`` (optional ``unique``)
bayes      ``BayesProposer``               ``bayes.py`` (its model loads when used), with
                                           ``_encoding.py``, ``_gaussian_process.py``
                                           and ``_acquisition.py``
=========  ==============================  ===========================================

``_support.py`` counts and enumerates finite spaces for the searches that never repeat a
configuration. ``_journal.py`` is the searcher's saved state in a sweep directory (a paced
snapshot and a journal of the events since it): :func:`read_saved_searcher` reads it without
Ray, for ``raysweep resume``.

Adding an algorithm: write one module holding a class that follows :class:`Proposer`
(``propose`` / ``observe`` / ``get_state`` / ``set_state``, losses lower-is-better), then add
one line to :data:`SEARCHERS` in ``_registry.py``: a :class:`ProposerFactory` (a
``from_options`` class method if it reads ``raysweep:`` options, else
``_ignoring_options(TheClass)``), plus the name in :class:`~raysweep.sweep.model.Method`,
which the config loader validates against. The contract suite
``tests/test_search_contract.py`` runs over every entry of :data:`SEARCHERS` without changes.

Importing this package does not import Ray, SciPy or scikit-learn: :func:`make_searcher` and
the ``TuneSearcher`` attribute import the adapter on first use, and the bayes searcher loads
its model (scikit-learn, SciPy) with its first model-based proposal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._base import FlatConfig, Proposer
from ._journal import SavedSearcher, SearchLedger, read_saved_searcher
from ._registry import (
    ENGINES,
    SEARCHERS,
    ProposerFactory,
    check_engine,
    make_proposer,
    make_searcher,
)
from .grid import GridProposer
from .random import RandomProposer

if TYPE_CHECKING:
    from ._adapter import TuneSearcher

__all__ = [
    "ENGINES",
    "SEARCHERS",
    "FlatConfig",
    "GridProposer",
    "Proposer",
    "ProposerFactory",
    "RandomProposer",
    "SavedSearcher",
    "SearchLedger",
    "TuneSearcher",
    "check_engine",
    "make_proposer",
    "make_searcher",
    "read_saved_searcher",
]


def __getattr__(name: str) -> Any:
    # Lazy, so `import raysweep.search` stays free of Ray until the adapter is needed.
    if name == "TuneSearcher":
        from ._adapter import TuneSearcher

        return TuneSearcher
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
