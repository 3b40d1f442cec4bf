"""The contract between search algorithms and the Ray adapter.

A proposer is pure: no Ray import, no I/O. It proposes flat assignments (``{path: value}``,
paths as in :class:`raysweep.sweep.space.SearchSpace`) and learns from finished trials. The adapter
(``_adapter.py``) is the only Ray-aware search code: it owns trial ids, the goal's sign, NaN
filtering, nesting and ``Searcher.FINISHED``.
"""

from __future__ import annotations

from typing import Any, Protocol

from raysweep.sweep.space import ParamPath

__all__ = ["FlatConfig", "Proposer"]

FlatConfig = dict[ParamPath, Any]


class Proposer(Protocol):
    """Proposes configurations for one sweep.

    Losses are always "lower is better": the adapter negates maximised metrics before calling
    :meth:`observe`.
    """

    def propose(self) -> FlatConfig | None:
        """Return the next flat config, or None when the space is exhausted (grid).

        Called each time Ray can start a trial. A proposal is *pending* until :meth:`observe`
        is called with it (parallel-aware algorithms use pending proposals).
        """
        ...

    def observe(self, config: FlatConfig, loss: float | None) -> None:
        """Record a finished trial.

        Called once per proposal when its trial ends. ``loss`` is the trial's score (the best
        value it reported, sign-adjusted), or None if it failed or never reported a finite
        value.
        """
        ...

    def get_state(self) -> dict[str, Any]:
        """Return everything needed to continue later, as JSON-compatible data where possible.

        Called when Ray checkpoints the experiment.
        """
        ...

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`get_state` returned (on a fresh instance built from the same
        config). After it, proposals continue exactly where they stopped."""
        ...
