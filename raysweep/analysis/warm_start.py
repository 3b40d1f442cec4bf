"""Earlier results for a new sweep's searcher (``--warm-start``): configs and metric values.

A source is an earlier sweep directory (its ended trials) or a CSV / Parquet file with one
column per parameter (dotted paths for nested ones: ``opt.lr``) and one per metric. Each
usable row becomes an :class:`EarlierRun`: a flat config of the new sweep's space and the last
value of each of its objectives (W&B's prior runs use the run's summary, the last value).
A failed trial, a row whose ``status`` column says ``failed``, and a missing or non-finite
value count as failed (value None).

A row whose config is not in the new space (a parameter missing, a value the space cannot
produce, e.g. from another sweep) is skipped; :func:`read_warm_start` warns once with how many
were skipped and why. A path that is no source, or a file without a metric's column, is an
error that names the path and the fix, raised before anything starts.
"""

from __future__ import annotations

import json
import os
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from raysweep.analysis.tables import read_meta, read_trials
from raysweep.errors import RaysweepError, RaysweepWarning
from raysweep.files import ENDED_STATUSES, WARM_START_FILE, is_sweep_dir, write_json_atomic
from raysweep.numeric import finite_float
from raysweep.sweep.distributions import Categorical, Constant, ParamSpec
from raysweep.sweep.equality import canonical
from raysweep.sweep.model import Engine
from raysweep.sweep.space import ParamPath, SearchSpace, dotted

if TYPE_CHECKING:
    from raysweep.sweep.model import SweepConfig

__all__ = [
    "EarlierRun",
    "WarmSource",
    "WarmStart",
    "read_warm_start",
]


_CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz")
_PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True)
class EarlierRun:
    """One earlier result.

    Attributes:
        config: A flat config of the new sweep's space (``{path: value}``), every parameter set.
        values: Objective name -> its last value (raw, not sign-adjusted); None: the run
            failed or has no finite value of it.
    """

    config: dict[ParamPath, Any]
    values: Mapping[str, float | None]

    def value(self, name: str | None) -> float | None:
        """The value of the objective ``name`` (None for none, or a failed run)."""
        return None if name is None else self.values.get(name)


@dataclass(frozen=True)
class WarmSource:
    """What one source gave.

    Attributes:
        path: The source, absolute.
        kind: ``"sweep"``, ``"csv"`` or ``"parquet"``.
        rows: Trials (ended or not) or rows read.
        used: How many became an :class:`EarlierRun`.
        skipped: Why the others were left out -> how many.
    """

    path: str
    kind: str
    rows: int
    used: int
    skipped: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class WarmStart:
    """Every earlier result of the sources, in order, and what each source gave."""

    runs: tuple[EarlierRun, ...]
    sources: tuple[WarmSource, ...]

    def save(self, sweep_dir: Path) -> None:
        """Record in the sweep directory which sources were used (:data:`WARM_START_FILE`)."""
        failed = sum(1 for r in self.runs if any(v is None for v in r.values.values()))
        write_json_atomic(sweep_dir / WARM_START_FILE, {
            "observations": len(self.runs),
            "failed": failed,
            "sources": [
                {"path": s.path, "kind": s.kind, "rows": s.rows, "used": s.used,
                 "skipped": s.skipped}
                for s in self.sources
            ],
        })


def read_warm_start(paths: Sequence[str | os.PathLike[str]], cfg: SweepConfig) -> WarmStart:
    """Read every source into earlier results for ``cfg``'s searcher.

    Warns once (:class:`~raysweep.errors.RaysweepWarning`) if rows were skipped.

    Raises:
        RaysweepError: a path is neither a sweep directory nor a CSV / Parquet file, cannot be
            read, or lacks a column of the sweep's metric; or the sweep's Optuna study cannot
            learn earlier results (its space is ``search_space``'s, or has no parameter).

    >>> import tempfile
    >>> from raysweep.sweep.config import from_dict
    >>> cfg = from_dict({"method": "grid", "metric": {"name": "loss"},
    ...                  "parameters": {"x": {"values": [1, 2]}}})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = Path(tmp) / "earlier.csv"
    ...     _ = path.write_text("x,loss\\n2,0.5\\n1,\\n")
    ...     warm = read_warm_start([path], cfg)
    >>> [(r.config, r.value("loss")) for r in warm.runs]
    [({('x',): 2}, 0.5), ({('x',): 1}, None)]
    """
    _refuse_unlearnable(cfg)
    names = [m.name for m in cfg.objectives]
    runs: list[EarlierRun] = []
    sources: list[WarmSource] = []
    for raw in paths:
        path = Path(raw).expanduser().resolve()
        kind, rows = _read_source(path, raw, names)
        used = 0
        skipped: Counter[str] = Counter()
        for row in rows:
            if isinstance(row, str):
                skipped[row] += 1
                continue
            config, values = row
            flat, why = _in_space(cfg.parameters, config)
            if flat is None:
                skipped[why] += 1
                continue
            runs.append(EarlierRun(flat, values))
            used += 1
        sources.append(WarmSource(str(path), kind, used + sum(skipped.values()), used,
                                  dict(skipped)))
    _warn_skipped(sources)
    return WarmStart(tuple(runs), tuple(sources))


def _refuse_unlearnable(cfg: SweepConfig) -> None:
    """An Optuna study that defines its space run by run, or searches no parameter, has no
    place for an earlier config: refused rather than ignored."""
    spec = cfg.scheduler
    if spec is None or spec.engine is not Engine.OPTUNA:
        return
    if spec.search_space is not None:
        raise RaysweepError(
            f"warm start: this sweep's Optuna study defines its parameters itself, run by run "
            f"(scheduler.search_space: {spec.search_space!r}), so it cannot place earlier "
            "configs in its space; leave out --warm-start, or declare the parameters in "
            "`parameters` instead of search_space"
        )
    if not cfg.parameters.searchable:
        raise RaysweepError(
            "warm start: this sweep's Optuna study searches no parameter (`parameters` has "
            "none that varies), so earlier results have nothing to tell it; leave out "
            "--warm-start"
        )


# A row read from a source: (nested or flat config, values), or why it is left out.
_Row = tuple[Mapping[Any, Any], dict[str, float | None]] | str


def _read_source(path: Path, given: object, names: list[str]) -> tuple[str, Iterable[_Row]]:
    if not path.exists():
        raise RaysweepError(
            f"warm start: {given} does not exist; give an earlier sweep directory (the one "
            "`raysweep run` printed) or a CSV / Parquet file of configs and metric values"
        )
    if path.is_dir():
        if not is_sweep_dir(path):
            raise RaysweepError(
                f"warm start: {path} is a folder but not a raysweep sweep directory (it has no "
                "raysweep.json); give the directory `raysweep run` printed, or a CSV / Parquet "
                "file"
            )
        return "sweep", _sweep_rows(path, names)
    lower = path.name.lower()
    if lower.endswith(_CSV_SUFFIXES):
        return "csv", _table_rows(path, "csv", names)
    if lower.endswith(_PARQUET_SUFFIXES):
        return "parquet", _table_rows(path, "parquet", names)
    raise RaysweepError(
        f"warm start: {path} is neither a sweep directory nor a CSV (.csv) or Parquet "
        "(.parquet) file; give one of those (a CSV needs one column per parameter, named by "
        "its dotted path, and one for the metric)"
    )


def _sweep_rows(path: Path, names: list[str]) -> Iterator[_Row]:
    meta = read_meta(path)
    their_metric = meta.get("metric")
    entries = read_trials(path)
    ended = [e for e in entries if e.get("status") in ENDED_STATUSES]
    for name in names:
        if name != their_metric and not any(name in (e.get("summary") or {}) for e in ended):
            raise RaysweepError(
                f"warm start: no trial of the sweep {path} reported the metric {name!r} (that "
                f"sweep's metric is {their_metric!r}); warm-start from a sweep that logged "
                f"{name!r}, or export its results to a CSV with a {name!r} column"
            )
    for entry in entries:
        if entry.get("status") not in ENDED_STATUSES:
            yield "had not ended"
            continue
        failed = entry.get("status") == "failed"
        summary = entry.get("summary") or {}
        values: dict[str, float | None] = {}
        for name in names:
            # The metric's last value; W&B's summary (the last value) for another name.
            raw = entry.get("last") if name == their_metric else summary.get(name)
            values[name] = None if failed else finite_float(raw)
        yield entry.get("config") or {}, values


def _table_rows(path: Path, kind: str, names: list[str]) -> Iterator[_Row]:
    import pandas as pd

    try:
        if kind == "csv":
            # round_trip: a value written by Python reads back as the same float, so a grid
            # point in a CSV equals the grid's own value.
            frame = pd.read_csv(path, float_precision="round_trip")
        else:
            frame = pd.read_parquet(path)
    except ImportError as exc:
        raise RaysweepError(
            f"warm start: reading the Parquet file {path} needs pyarrow ({exc}); "
            "`pip install pyarrow`, or save the results as CSV"
        ) from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise RaysweepError(f"warm start: cannot read {path} as {kind.upper()}: {exc}") from None
    columns = [str(c) for c in frame.columns]
    missing = [n for n in names if n not in columns]
    if missing:
        shown = ", ".join(repr(c) for c in columns[:12]) + (", ..." if len(columns) > 12 else "")
        raise RaysweepError(
            f"warm start: {path} has no column {missing[0]!r} (the sweep's metric); its columns "
            f"are {shown or 'none'}. Name the column of the metric's values {missing[0]!r}"
        )
    statuses = "status" in columns
    records = frame.to_dict("records")
    return _table_records(records, names, statuses)


def _table_records(records: list[dict[Any, Any]], names: list[str],
                   statuses: bool) -> Iterator[_Row]:
    for record in records:
        row = {str(k): _plain(v) for k, v in record.items()}
        status = row.get("status") if statuses else None
        if status is not None and status not in ENDED_STATUSES:
            yield "had not ended"  # a trials table with running rows
            continue
        failed = status == "failed"
        values = {n: None if failed else finite_float(row.get(n)) for n in names}
        yield row, values


def _plain(value: Any) -> Any:
    """A table cell as a plain Python value; an empty cell (NaN, None) as ``_MISSING``."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return _MISSING
    return value


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


def _in_space(space: SearchSpace, config: Mapping[Any, Any]
              ) -> tuple[dict[ParamPath, Any] | None, str]:
    """The config as a flat config of ``space``, or None and why not.

    ``config`` is nested (a sweep's trial) or keyed by dotted names (a table's row). A constant
    missing from it takes the space's value; any other missing parameter, or a value the space
    cannot produce, leaves the row out.
    """
    flat: dict[ParamPath, Any] = {}
    for path, spec in space:
        value = _lookup(config, path)
        if value is _MISSING:
            if isinstance(spec, Constant):
                flat[path] = spec.value
                continue
            return None, f"missing parameter {dotted(path)!r}"
        fitted = _fit(spec, value)
        if fitted is _MISSING:
            return None, f"a value of {dotted(path)!r} outside the space ({spec.describe()})"
        flat[path] = fitted
    return flat, ""


def _lookup(config: Mapping[Any, Any], path: ParamPath) -> Any:
    name = dotted(path)
    if name in config:
        return config[name]
    node: Any = config
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _fit(spec: ParamSpec, value: Any) -> Any:
    """``value`` as the space holds it, or ``_MISSING`` if the space cannot produce it.

    Tables lose types: an int column with an empty cell reads as floats (``3.0``), and a
    column of mixed categorical values as strings. A categorical value is the space's own
    object, so proposers compare it exactly.
    """
    if isinstance(spec, Categorical | Constant):
        options = spec.values if isinstance(spec, Categorical) else (spec.value,)
        key = canonical(value)
        for option in options:
            if canonical(option) == key:
                return option
        if isinstance(value, str):
            for option in options:
                if str(option) == value or json.dumps(option) == value:
                    return option
        return _MISSING
    if spec.contains(value):
        return value
    if isinstance(value, float) and value.is_integer() and spec.contains(int(value)):
        return int(value)
    return _MISSING


def _warn_skipped(sources: Sequence[WarmSource]) -> None:
    reasons: Counter[str] = Counter()
    for source in sources:
        reasons.update(source.skipped)
    total = sum(reasons.values())
    if not total:
        return
    read = sum(s.rows for s in sources)
    listed = "; ".join(f"{n} {why}" for why, n in reasons.most_common(4))
    more = f"; {len(reasons) - 4} other reasons" if len(reasons) > 4 else ""
    warnings.warn(
        f"warm start: skipped {total} of {read} earlier results ({listed}{more}): the searcher "
        "learns only from configs of this sweep's space",
        RaysweepWarning,
        stacklevel=4,
    )
