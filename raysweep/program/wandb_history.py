"""The run's history: ``wandb.log`` calls become rows by W&B's step and commit rules.

Without ``step`` a call commits its row; with ``commit=False`` data accumulates into the
current row. With ``step`` the default is not to commit: the row is committed when a later call
uses a larger step, or when the run finishes. A step lower than the current one is ignored with
W&B's warning. Each committed row is one raysweep report (:func:`report_row`), that is one step
for the schedulers, so a script's early-termination behaviour matches W&B's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from raysweep.program.metrics import log
from raysweep.program.once import PROGRAM_DIR, warn_once

__all__ = ["History", "Row", "report_row", "reportable"]

Row = tuple[int, dict[str, Any]]
"""One committed row: its step and its data."""


class History:
    """The rows of one run's history, built from ``log`` calls by W&B's step/commit rules.

    >>> h = History()
    >>> h.log({"a": 1}, commit=False), h.log({"b": 2})
    ([], [(0, {'a': 1, 'b': 2})])
    >>> h.log({"c": 3}, step=5), h.log({"d": 4}, step=5), h.log({"e": 5}, step=6)
    ([], [], [(5, {'c': 3, 'd': 4})])
    >>> h.flush()
    (6, {'e': 5})

    A resumed run's history goes on from the steps it had: ``History(start=k)``.
    """

    def __init__(self, start: int = 0) -> None:
        self.step = start
        self._row: dict[str, Any] = {}
        self._pending = False

    def log(
        self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None
    ) -> list[Row]:
        """Add one ``log`` call; return the rows it committed, oldest first."""
        done: list[Row] = []
        if step is not None:
            if step < self.step:
                warn_once(
                    f"step-{step}<{self.step}",
                    f"Tried to log to step {step} that is less than the current step "
                    f"{self.step}. Steps must be monotonically increasing, so this data will "
                    "be ignored.",
                )
                return done
            if step > self.step:
                flushed = self.flush()
                if flushed is not None:
                    done.append(flushed)
                self.step = step
        self._row.update(data)
        self._pending = True
        if commit is None:
            commit = step is None
        if commit:
            done.append((self.step, self._row))
            self._row, self._pending = {}, False
            self.step += 1
        return done

    def flush(self) -> Row | None:
        """Commit the row being built, if any (at a step change, or when the run finishes)."""
        if not self._pending:
            return None
        row = (self.step, self._row)
        self._row, self._pending = {}, False
        return row


def reportable(row: Mapping[Any, Any], prefix: str = "") -> tuple[dict[str, Any], list[str]]:
    """Split a logged row into what raysweep can record and the names it must drop.

    Numbers, booleans, strings and ``None`` are kept; NumPy scalars and one-element arrays or
    tensors are unwrapped with ``.item()``; nested dicts are kept (raysweep flattens them to
    ``a/b``). Media, tables, lists and arrays are dropped; their names are returned.
    The reserved key ``_step`` is dropped silently (raysweep sets it from the row's step).

    >>> reportable({"loss": 0.5, "img": object(), "val": {"acc": 1}, "_step": 3})
    ({'loss': 0.5, 'val': {'acc': 1}}, ['img'])
    """
    keep: dict[str, Any] = {}
    dropped: list[str] = []
    for key, value in row.items():
        name = f"{prefix}{key}"
        if not isinstance(key, str) or not key:
            dropped.append(repr(key))
            continue
        if not prefix and key == "_step":
            continue
        if isinstance(value, Mapping):
            inner, lost = reportable(value, name + "/")
            if inner:
                keep[key] = inner
            dropped.extend(lost)
            continue
        scalar = _scalar(value)
        if scalar is _DROP:
            dropped.append(name)
        else:
            keep[key] = scalar
    return keep, dropped


_DROP = object()


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    item = getattr(type(value), "item", None)
    if callable(item):
        try:
            unwrapped = value.item()
        except Exception:  # noqa: BLE001 - arrays with more than one element, odd objects
            return _DROP
        if unwrapped is None or isinstance(unwrapped, (bool, int, float, str)):
            return unwrapped
    return _DROP


def report_row(row: Mapping[str, Any], step: int | None, *, send: bool = True) -> dict[str, Any]:
    """Send one committed history row to raysweep; return what could be recorded.

    Values raysweep cannot record (see :func:`reportable`) are dropped with one warning per
    name. With ``send=False`` nothing is sent (a run that is not the sweep's run).
    """
    clean, dropped = reportable(row)
    for name in dropped:
        warn_once(
            f"drop-{name}",
            f"wandb.log: {name!r} is not a number, so raysweep does not record it "
            "(this warning is shown once per name)",
            outside=(PROGRAM_DIR,),
        )
    if send:
        try:
            log(clean, step=step)
        except (TypeError, ValueError) as exc:
            warn_once(f"report-{exc}", f"raysweep could not record a logged row: {exc}")
    return clean
