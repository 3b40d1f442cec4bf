"""The one way ``raysweep resume`` restores a scheduler saved by a sweep that crashed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class ResumableState:
    """Mixin for raysweep's schedulers: :meth:`resume_from` on top of the scheduler's own
    ``state_dict``, ``load_state_dict`` and ``forget``; also the interface the state
    callbacks rely on."""

    stop_reasons: dict[str, str]  # trial_id -> why the scheduler stopped it

    def state_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def forget(self, trial_ids: Iterable[str]) -> None:
        raise NotImplementedError

    def resume_from(self, state: Mapping[str, Any], dropped_ids: Iterable[str]) -> None:
        """Load a crashed sweep's last saved state, minus the trials that had not ended:
        a resumed sweep runs them again as new trials, so their old reports must not count
        twice."""
        self.load_state_dict(state)
        self.forget(dropped_ids)
