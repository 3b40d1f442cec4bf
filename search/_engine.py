"""What the external engines (Optuna, Ax) share: W&B's distributions as bounds and decoders,
a config's key, and the matching of a result to the proposal it answers.

Both engines search in their own space: a log-uniform parameter is a log-scaled range with the
values' exact bounds, a ``q_`` parameter is sampled unrounded and rounded as W&B does (the
engines refuse a step with a log scale), and a weighted categorical is a quantile in [0, 1].
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from raysweep.numeric import finite_float
from raysweep.sweep.distributions import (
    CategoricalWithProbabilities,
    InvLogUniform,
    InvLogUniformValues,
    LogUniform,
    LogUniformValues,
    quantize,
)
from raysweep.sweep.equality import canonical
from raysweep.sweep.model import Metric

from ._base import FlatConfig
from ._journal import plain

__all__ = [
    "check_state_format",
    "Encodes",
    "Pending",
    "by_probability",
    "choice_of",
    "config_key",
    "encode_params",
    "log_bounds",
    "objective_values",
    "probability_quantile",
    "quiet_import",
    "rounding",
    "take_pending",
]


def check_state_format(state: Mapping[str, Any], expected: str, owner: str) -> None:
    """Refuse a saved proposer state that ``owner`` (its class, in words) did not write.

    Raises:
        ValueError: if ``state["format"]`` is not ``expected``.
    """
    if state.get("format") != expected:
        raise ValueError(
            f"{owner} state format must be {expected!r}, but got {state.get('format')!r}"
        )


def log_bounds(spec: LogUniform | InvLogUniform) -> tuple[float, float]:
    """The values' bounds: as written for the ``_values`` forms, exact (no round trip
    through logarithms); W&B's v1 forms give exponents of the value or of its inverse.

    >>> log_bounds(LogUniformValues(min=0.001, max=0.1))
    (0.001, 0.1)
    """
    if isinstance(spec, (LogUniformValues, InvLogUniformValues)):
        return float(spec.min), float(spec.max)
    if isinstance(spec, InvLogUniform):
        return math.exp(-spec.max), math.exp(-spec.min)
    return math.exp(spec.min), math.exp(spec.max)


def rounding(q: float | int | None) -> Callable[[Any], Any]:
    """Turns an engine's unrounded sample into W&B's value: a float, or a multiple of ``q``.

    >>> rounding(5)(12.4), rounding(None)(3)
    (10, 3.0)
    """
    if q is None:
        return float
    return lambda x: quantize(float(x), q)


def by_probability(spec: CategoricalWithProbabilities) -> Callable[[Any], Any]:
    """Turns a quantile in [0, 1] into the weighted categorical's value."""

    def decode(u: Any) -> Any:
        cumulative = 0.0
        for value, p in zip(spec.values, spec.probabilities, strict=True):
            cumulative += p
            if float(u) < cumulative:
                return value
        return spec.values[-1]

    return decode


def probability_quantile(spec: CategoricalWithProbabilities, value: Any) -> float | None:
    """The quantile in [0, 1) that :func:`by_probability` turns into ``value``: the middle of
    its share, or None if it is none of the values (an engine told an earlier config)."""
    key, low = canonical(value), 0.0
    for v, p in zip(spec.values, spec.probabilities, strict=True):
        if canonical(v) == key:
            return low + p / 2
        low += p
    return None


def choice_of(values: Sequence[Any], choices: Sequence[Any], value: Any) -> Any:
    """The engine's choice for a categorical ``value`` (``choices[i]`` stands for
    ``values[i]``; W&B's equality: ``1`` and ``1.0`` are one value), or None if it is none."""
    key = canonical(value)
    for v, choice in zip(values, choices, strict=True):
        if canonical(v) == key:
            return choice
    return None


def config_key(flat: Mapping[Any, Any]) -> str:
    """One string per config, equal for equal configs (whatever the keys' order).

    >>> config_key({("b",): 1, ("a",): [2]}) == config_key({("a",): [2], ("b",): 1})
    True
    """
    return json.dumps(sorted((list(k), plain(v)) for k, v in flat.items()), default=str)


class Encodes(Protocol):
    """A parameter as an engine holds it: its path in the config, its name for the engine,
    and how a config's value becomes the engine's (None: it has no place there)."""

    @property
    def path(self) -> Any: ...

    @property
    def name(self) -> str: ...

    def encode(self, value: Any) -> Any: ...


def encode_params(params: list[Any], flat: Mapping[Any, Any]) -> dict[str, Any] | None:
    """The engine's values for a trial's flat config (``params``: :class:`Encodes`), or None
    if one parameter has no value there, or none the engine can hold."""
    out = {}
    for p in params:
        if p.path not in flat:
            return None
        value = p.encode(flat[p.path])
        if value is None:
            return None
        out[p.name] = value
    return out


class Pending(Protocol):
    """A proposal waiting for its result: its config, and whether it came back from the
    saved state (a resume) rather than from this driver's own proposal."""

    @property
    def flat(self) -> FlatConfig: ...

    @property
    def restored(self) -> bool: ...


P = TypeVar("P", bound=Pending)


def take_pending(pending: list[P], config: FlatConfig) -> P | None:
    """Remove and return the proposal ``config`` answers, or None (a config the engine did
    not propose: a re-run or an earlier result).

    The adapter hands back the very object proposed; a config equal to a pending one is
    another trial's (a re-run's), unless the proposal was restored from the saved state,
    where only the value survives.
    """
    for i, entry in enumerate(pending):
        if entry.flat is config:
            return pending.pop(i)
    key = config_key(config)
    for i, entry in enumerate(pending):
        if entry.restored and config_key(entry.flat) == key:
            return pending.pop(i)
    return None


@contextlib.contextmanager
def quiet_import() -> Iterator[None]:
    """Import an engine's package without its libraries' import-time warnings (torch's,
    under Ax) and log lines: they are not the user's business."""
    disabled = logging.root.manager.disable
    logging.disable(max(disabled, logging.INFO))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(disabled)


def objective_values(
    objectives: Sequence[Metric], loss: float | tuple[float | None, ...] | None
) -> list[float] | None:
    """Each objective's own value from the adapter's loss (one number, or a tuple for several
    objectives; a maximised one comes negated), or None if one is missing (a failure).

    >>> from raysweep.sweep.model import Goal
    >>> objective_values([Metric("loss"), Metric("acc", Goal.MAXIMIZE)], (0.5, -0.9))
    [0.5, 0.9]
    """
    losses = loss if isinstance(loss, tuple) else (loss,)
    if len(losses) != len(objectives):
        return None
    values = []
    for metric, value in zip(objectives, losses, strict=True):
        number = finite_float(value)
        if number is None:
            return None
        values.append(-number if metric.mode == "max" else number)
    return values
