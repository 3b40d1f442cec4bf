"""The run's ``summary``: one value per metric, for the run's end and W&B's sweep.

By default a metric's summary is its last logged value. ``define_metric(name,
summary="min"|"max"|"mean"|"first"|"last"|"best"|"none")`` asks for aggregates over all logged
values instead (``name`` may be a glob such as ``val/*``). An explicit ``summary[k] = v`` wins
until the key is logged again; such values, never logged, are reported when the run finishes,
because W&B's sweeps read the summary too.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterator, Mapping
from typing import Any

from raysweep.program.once import warn_once
from raysweep.program.wandb_config import ConfigKeyError

__all__ = ["SUMMARY_MODES", "MetricDefinition", "Summary"]

SUMMARY_MODES = ("min", "max", "mean", "first", "last", "best", "copy", "none")
"""What ``define_metric(summary=...)`` accepts, as W&B does (comma-separated for several)."""


class MetricDefinition:
    """What ``define_metric`` declared for one metric name (or glob such as ``val/*``)."""

    def __init__(
        self,
        name: str,
        step_metric: str | None = None,
        summary: str | None = None,
        goal: str | None = None,
        hidden: bool | None = None,
        **extra: Any,
    ) -> None:
        self.name = name
        self.step_metric = step_metric
        self.hidden = hidden
        self.goal = None
        if goal is not None:
            text = str(goal).lower()
            if text in ("minimize", "maximize"):
                self.goal = text
            else:
                warn_once(
                    f"goal-{goal}",
                    f"define_metric({name!r}, goal={goal!r}): goal must be 'minimize' or "
                    "'maximize'; ignored",
                )
        self.summary: tuple[str, ...] = ()
        for mode in str(summary or "").replace(" ", "").split(","):
            if not mode:
                continue
            if mode not in SUMMARY_MODES:
                warn_once(
                    f"summary-{mode}",
                    f"define_metric({name!r}, summary={summary!r}): unknown summary {mode!r} "
                    f"(known: {', '.join(SUMMARY_MODES)}); ignored",
                )
                continue
            self.summary += (mode,)

    def matches(self, key: str) -> bool:
        """Whether this definition applies to the metric ``key`` (by name or glob)."""
        return key == self.name or ("*" in self.name and fnmatch.fnmatchcase(key, self.name))

    def __repr__(self) -> str:
        return f"MetricDefinition({self.name!r}, summary={self.summary!r}, goal={self.goal!r})"


class _Aggregate:
    def __init__(self, value: Any) -> None:
        self.first = self.last = value
        self.count = 1
        number = _as_number(value)
        self.min = self.max = self.total = number

    def add(self, value: Any) -> None:
        self.last = value
        self.count += 1
        number = _as_number(value)
        if number is None:
            return
        if self.min is None or self.max is None or self.total is None:
            self.min = self.max = self.total = number
            return
        self.min = min(self.min, number)
        self.max = max(self.max, number)
        self.total += number


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return None if math.isnan(value) else float(value)


class Summary:
    """The run's ``summary``: last logged values, ``define_metric`` aggregates, explicit sets.

    >>> s = Summary([MetricDefinition("loss", summary="min")])
    >>> s.observe({"loss": 0.5, "acc": 0.7}); s.observe({"loss": 0.7, "acc": 0.8})
    >>> s["test_acc"] = 0.9
    >>> s.as_dict(), s.unlogged()
    ({'loss': {'min': 0.5}, 'acc': 0.8, 'test_acc': 0.9}, {'test_acc': 0.9})
    """

    _definitions: list[MetricDefinition]
    _data: dict[str, Any]
    _aggregates: dict[str, _Aggregate]
    _explicit: set[str]

    def __init__(self, definitions: list[MetricDefinition] | None = None) -> None:
        object.__setattr__(self, "_definitions", definitions if definitions is not None else [])
        object.__setattr__(self, "_data", {})
        object.__setattr__(self, "_aggregates", {})
        object.__setattr__(self, "_explicit", set())

    def observe(self, row: Mapping[str, Any]) -> None:
        """Update the summary from one committed history row."""
        for key, value in row.items():
            agg = self._aggregates.get(key)
            if agg is None:
                agg = self._aggregates[key] = _Aggregate(value)
            else:
                agg.add(value)
            self._explicit.discard(key)
            definition = self._definition(key)
            modes = definition.summary if definition is not None else ()
            if not modes or modes == ("copy",):
                self._data[key] = value
            elif "none" in modes:
                self._data.pop(key, None)
            else:
                self._data[key] = self._aggregated(agg, modes, definition)

    def _definition(self, key: str) -> MetricDefinition | None:
        exact = [d for d in self._definitions if d.name == key]
        if exact:
            return exact[-1]
        globbed = [d for d in self._definitions if d.matches(key)]
        return globbed[-1] if globbed else None

    @staticmethod
    def _aggregated(
        agg: _Aggregate, modes: tuple[str, ...], definition: MetricDefinition | None
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for mode in modes:
            if mode == "min":
                out["min"] = agg.min
            elif mode == "max":
                out["max"] = agg.max
            elif mode == "mean":
                out["mean"] = None if agg.total is None else agg.total / agg.count
            elif mode == "first":
                out["first"] = agg.first
            elif mode in ("last", "copy"):
                out["last"] = agg.last
            elif mode == "best":
                goal = definition.goal if definition is not None else None
                out["best"] = agg.max if goal == "maximize" else agg.min
        return out

    def unlogged(self) -> dict[str, Any]:
        """Explicitly set entries whose keys were never logged since (reported at finish)."""
        return {k: v for k, v in self._data.items() if k in self._explicit}

    def as_dict(self) -> dict[str, Any]:
        """A copy of the summary, as written to ``summary.json``."""
        return dict(self._data)

    # Mapping interface ----------------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._data[key] = value
        self._explicit.add(key)

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self._explicit.discard(key)

    def __getattr__(self, name: str) -> Any:
        data = self.__dict__.get("_data")
        if data is None or name.startswith("__"):
            raise AttributeError(name)
        try:
            return data[name]
        except KeyError:
            raise ConfigKeyError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return repr(self._data)

    def update(self, d: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        """Set several entries explicitly, as ``summary[k] = v`` does."""
        for key, value in {**(d or {}), **kwargs}.items():
            self[key] = value

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def keys(self) -> Any:
        return self._data.keys()

    def values(self) -> Any:
        return self._data.values()

    def items(self) -> Any:
        return self._data.items()
