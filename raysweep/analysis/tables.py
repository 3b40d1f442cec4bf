"""Read a sweep directory into pandas tables. Works while the sweep runs and after the driver
is gone; never imports Ray.

Two tables:

- ``trials``: one row per trial: ``trial_id``, ``status`` (finished, stopped, failed, running,
  pending, retrying, interrupted), one column per parameter named by its dotted path, the
  metric's last value (column named after the metric) and best value (``<metric>_best``), the
  last value of every other reported metric (as W&B's run summary; ``<name>_reported`` where
  the name is taken), ``steps`` (reports with a numeric value of the metric), ``runtime_s``,
  ``node``, ``gpus``, ``stop_reason``, ``error`` (the whole text), ``retries`` (starts again
  after a failure) and ``bad_lines`` (invalid ``@raysweep`` lines). Sorted best first.

  A multi-objective sweep (``metrics:``) has each objective's last and best value in place of
  the metric's (``<name>`` and ``<name>_best``, each best per its own goal), ``steps`` counts
  reports with a number for any objective, and a ``pareto`` column says which trials are on
  the Pareto front (:mod:`raysweep.analysis.pareto`): of the finished and stopped trials with
  a value for every objective, those no other beats in every objective at once, judged by
  each one's last reported finite value (W&B's run summary: what a run ends with, not its
  best; the value the engine was told).
  Front first, each part ordered by the first objective.
- ``history``: one row per report: ``trial_id``, ``step``, ``time_s`` and every reported metric
  (read by :mod:`raysweep.analysis.history`).

The trials come from ``trials.jsonl`` (a trial's whole entry on a line each time the driver
wrote it; the last line of a trial wins), or, in sweeps of earlier versions, ``trials.json``
(one list). :func:`read_trials` reads either; :func:`compact_trials` rewrites the log with
one line per trial.
"""

from __future__ import annotations

import gc
import json
import os
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raysweep.analysis.history import read_history
from raysweep.analysis.pareto import FRONT_STATUSES, meta_objectives, pareto_mask
from raysweep.errors import RaysweepError
from raysweep.files import (
    ENDED_STATUSES,
    HISTORY_FILE,
    META_FILE,
    TRIALS_FILE,
    TRIALS_LOG_FILE,
    default_storage,
    is_sweep_dir,
    write_lines_atomic,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "SweepResult",
    "compact_trials",
    "ended_trial_ids",
    "find_latest_sweep",
    "load_results",
    "read_meta",
    "read_trial_log",
    "read_trials",
]


def find_latest_sweep(storage: Path | None = None) -> Path:
    """Return the most recently started sweep directory under ``storage``.

    Raises:
        RaysweepError: if there is none.
    """
    root = storage or default_storage()
    candidates = [p for p in root.glob("*") if p.is_dir() and is_sweep_dir(p)]
    if not candidates:
        raise RaysweepError(
            f"no sweep found in {root.resolve()}; run `raysweep run SWEEP.yaml` first, or give "
            "the sweep directory"
        )
    return max(candidates, key=lambda p: (p / META_FILE).stat().st_mtime)


def _flatten_config(config: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from _flatten_config(value, name + ".")
        else:
            yield name, value


@dataclass
class SweepResult:
    """The results of a sweep.

    Attributes:
        path: The sweep directory.
        meta: The sweep's metadata (``raysweep.json``).
        trials: One row per trial (see the module docstring), best first.
        history: One row per report.
    """

    path: Path
    meta: dict[str, Any]
    trials: pd.DataFrame
    history: pd.DataFrame

    @property
    def metric(self) -> str | None:
        """The sweep's metric name, or None if it has none."""
        return self.meta.get("metric")

    @property
    def objectives(self) -> list[tuple[str, str]]:
        """A multi-objective sweep's objectives as ``(name, mode)`` pairs (``mode``: ``"min"``
        or ``"max"``), in the sweep file's order; empty for other sweeps."""
        return meta_objectives(self.meta)

    @property
    def metrics(self) -> list[str]:
        """A multi-objective sweep's objective names (``metrics:``); empty for other sweeps,
        whose metric is :attr:`metric`."""
        return [name for name, _ in self.objectives]

    @property
    def pareto(self) -> pd.DataFrame:
        """A multi-objective sweep's Pareto front: the ``trials`` rows whose ``pareto`` is
        True (see the module docstring), ordered by the first objective, best first.

        Raises:
            RaysweepError: the sweep is not multi-objective (its best trial is :attr:`best`).
        """
        if not self.objectives:
            what = f"its metric is {self.metric!r}" if self.metric else "it has no metric"
            raise RaysweepError(
                f"{self.path} is not a multi-objective sweep ({what}): a Pareto front needs "
                "`metrics:` with two or more objectives; its best trial is `.best`"
            )
        trials = self.trials
        return trials[trials["pareto"].astype(bool)].reset_index(drop=True)

    def best_of(self, name: str) -> dict[str, Any] | None:
        """The trial with the best value of objective ``name`` (its ``<name>_best``; the
        first to start among equals) in a multi-objective sweep, as :attr:`best` gives it;
        None if no trial has a value.

        Raises:
            RaysweepError: ``name`` is not one of the sweep's objectives.
        """
        modes = dict(self.objectives)
        if name not in modes:
            raise RaysweepError(
                f"{name!r} is not an objective of the sweep {self.path}; its objectives: "
                f"{', '.join(modes) or 'none (not a multi-objective sweep)'}"
            )
        col = f"{name}_best"
        if self.trials.empty:
            return None
        import pandas as pd

        values = pd.to_numeric(self.trials[col], errors="coerce")
        if values.isna().all():
            return None
        best = values.min() if modes[name] == "min" else values.max()
        place = {tid: i for i, tid in enumerate(self._configs)}
        rows = self.trials[values == best]
        row = min((r for _, r in rows.iterrows()),
                  key=lambda r: place.get(r["trial_id"], len(place)))
        return {
            "trial_id": row["trial_id"],
            "config": self._configs.get(row["trial_id"], {}),
            "value": float(row[col]),
            "status": row["status"],
        }

    @property
    def best(self) -> dict[str, Any] | None:
        """The best trial: ``{"trial_id", "config", "value", "status"}``, or None (also in a
        multi-objective sweep: see :attr:`pareto` and :meth:`best_of`)."""
        if self.metric is None or self.trials.empty:
            return None
        col = f"{self.metric}_best"
        ranked = self.trials.dropna(subset=[col]) if col in self.trials else self.trials[:0]
        if ranked.empty:
            return None
        row = ranked.iloc[0]
        return {
            "trial_id": row["trial_id"],
            "config": self._configs.get(row["trial_id"], {}),
            "value": float(row[col]),
            "status": row["status"],
        }

    @property
    def best_config(self) -> dict[str, Any] | None:
        """The best trial's configuration (nested as the sweep file is), or None."""
        best = self.best
        return None if best is None else best["config"]

    def __post_init__(self) -> None:
        self._configs: dict[str, Any] = {}
        self._summary_columns: list[str] = []

    @property
    def summary_columns(self) -> list[str]:
        """The ``trials`` columns that hold the last value of a metric other than the sweep's
        (or its objectives), in the order the metrics were first reported."""
        return list(self._summary_columns)

    @property
    def trial_order(self) -> list[str]:
        """Trial ids in the order the trials started (empty if unknown)."""
        return list(self._configs)

    # -- pictures: analysis.figures and analysis.report, which take a SweepResult without
    # importing this module (plotly is optional: pip install 'raysweep[report]') --
    def plot_parallel(self, metric: str | None = None) -> Any:
        """Parallel coordinates of the parameters and the metric (a plotly Figure)."""
        from raysweep.analysis.figures import parallel_figure

        return parallel_figure(self, metric)

    def plot_importance(self, metric: str | None = None) -> Any:
        """Parameter importance and correlation with the metric (a plotly Figure)."""
        from raysweep.analysis.figures import importance_figure

        return importance_figure(self, metric)

    def importance(self, metric: str | None = None) -> pd.DataFrame:
        """The numbers behind :meth:`plot_importance`: one row per (encoded) parameter."""
        from raysweep.analysis.figures import importance_table

        return importance_table(self, metric)

    def plot_curves(self, metric: str | None = None) -> Any:
        """The metric against the step for every trial (a plotly Figure)."""
        from raysweep.analysis.figures import curves_figure

        return curves_figure(self, metric)

    def plot_pareto(self) -> Any:
        """A multi-objective sweep's Pareto front: a scatter of two objectives, parallel
        coordinates for more (a plotly Figure)."""
        from raysweep.analysis.figures import pareto_figure

        return pareto_figure(self)

    def plot_best(self, metric: str | None = None) -> Any:
        """Each trial's value and the best so far against the trial number (a plotly Figure)."""
        from raysweep.analysis.figures import best_figure

        return best_figure(self, metric)

    def report(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the HTML report (opens offline) to ``path`` [default: the sweep directory's
        ``report.html``] and return its path."""
        from raysweep.analysis.report import write_report

        return write_report(self, path if path is not None else self.path / "report.html")

    def _repr_html_(self) -> str:
        from raysweep.analysis.report import repr_html

        return repr_html(self)

    def __repr__(self) -> str:
        counts = self.trials["status"].value_counts().to_dict() if len(self.trials) else {}
        text = ", ".join(f"{n} {s}" for s, n in counts.items()) or "no trials"
        return f"SweepResult({str(self.path)!r}: {text})"


def read_meta(root: Path) -> dict[str, Any]:
    """The sweep directory's ``raysweep.json``.

    Raises:
        RaysweepError: if ``root`` has none, or it is not a JSON object (a damaged file).
    """
    meta_path = root / META_FILE
    if not root.exists():
        raise RaysweepError(
            f"{root} does not exist; give the directory that `raysweep run` printed, or no "
            "directory for the latest sweep"
        )
    if not root.is_dir():
        raise RaysweepError(f"{root} is a file, not a sweep directory")
    if not meta_path.is_file():
        raise RaysweepError(
            f"{root} is not a raysweep sweep directory (no {META_FILE}); give the directory "
            "that `raysweep run` printed"
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        meta = exc
    if not isinstance(meta, dict):
        detail = f": {meta}" if isinstance(meta, Exception) else ""
        raise RaysweepError(
            f"{meta_path} is damaged (not the JSON object raysweep writes{detail}); the trial "
            "folders and history.jsonl beside it are still there to read"
        )
    return meta


def load_results(path: str | os.PathLike[str], *, history: bool = True) -> SweepResult:
    """Load the tables of a sweep directory (finished or still running). With
    ``history=False`` the history is left empty (cheaper where only the trials are needed).

    Raises:
        RaysweepError: if ``path`` is not a raysweep sweep directory.
    """
    import pandas as pd

    root = Path(path)
    meta = read_meta(root)
    metric: str | None = meta.get("metric")
    mode = meta.get("mode", "min")
    objectives = meta_objectives(meta) if metric is None else []
    names = [name for name, _ in objectives]
    param_names: list[str] = list(meta.get("parameters", []))
    entries = read_trials(root)
    if meta.get("define_by_run"):
        # The engine's search_space() chooses each trial's parameters: the columns are every
        # name some trial has, the file's `parameters` first.
        seen = dict.fromkeys(param_names)
        for e in entries:
            seen.update(dict.fromkeys(n for n, _ in _flatten_config(e.get("config") or {})))
        param_names = list(seen)
    history = read_history(root / (HISTORY_FILE if history else f"{HISTORY_FILE}.unread"))

    rows = []
    configs = {}
    # Only sweeps under `type: promotion` re-run configurations; others get no such column.
    reruns = any("rerun_of" in e for e in entries)
    # `resume: checkpoint`: the trail of pauses and resumptions, one step number each.
    trail = [c for c in ("paused_at", "resumed_from_step") if any(c in e for e in entries)]
    # The other metrics' columns, named once for all trials: "<name>_reported" where the name
    # is already a column (a parameter, the metric, one of raysweep's own).
    taken = {"trial_id", "status", *_OWN_COLUMNS}
    taken |= set(param_names) or {n for e in entries for n, _ in _flatten_config(
        e.get("config") or {})}
    if reruns:
        taken.add("rerun_of")
    taken |= set(trail)
    if metric is not None:
        taken |= {metric, f"{metric}_best"}
    taken |= {*names, *(f"{n}_best" for n in names), *(["pareto"] if names else [])}
    summary_columns = {name: f"{name}_reported" if name in taken else name
                       for name in _summary_names(entries, {metric, *names})}
    for e in entries:
        config = e.get("config") or {}
        configs[e["trial_id"]] = config
        row: dict[str, Any] = {"trial_id": e["trial_id"], "status": e.get("status")}
        if reruns:
            row["rerun_of"] = e.get("rerun_of")
        for column in trail:
            row[column] = e.get(column)
        flat = dict(_flatten_config(config))
        for name in param_names or list(flat):
            row[name] = flat.get(name)
        if metric is not None:
            row[metric] = e.get("last")
            row[f"{metric}_best"] = e.get("best")
        found = e.get("objectives") or {}
        for name in names:
            slot = found.get(name) or {}
            row[name] = slot.get("last")
            row[f"{name}_best"] = slot.get("best")
        summary = e.get("summary") or {}
        for name, column in summary_columns.items():
            row[column] = summary.get(name)
        started, ended = e.get("started"), e.get("ended")
        row["steps"] = e.get("steps", 0)
        row["runtime_s"] = (ended - started) if started and ended else None
        row["node"] = e.get("node")
        row["gpus"] = e.get("gpus")
        row["stop_reason"] = e.get("stop_reason")
        row["error"] = e.get("error")
        row["retries"] = _retries(e)
        row["bad_lines"] = e.get("bad_lines") or 0
        rows.append(row)
    trials = pd.DataFrame.from_records(rows)
    if trials.empty:
        base = ["trial_id", "status", *param_names]
        if metric:
            base += [metric, f"{metric}_best"]
        for name in names:
            base += [name, f"{name}_best"]
        if names:
            base.append("pareto")
        trials = pd.DataFrame(columns=base + list(_OWN_COLUMNS))
    elif objectives:
        trials = _with_front(trials, objectives)
    elif metric is not None:
        trials = trials.sort_values(
            f"{metric}_best", ascending=(mode == "min"), na_position="last", kind="stable"
        ).reset_index(drop=True)
    result = SweepResult(path=root, meta=meta, trials=trials, history=history)
    result._configs = configs
    result._summary_columns = list(summary_columns.values()) if rows else []
    return result


# The trials table's columns after the parameters and metrics.
_OWN_COLUMNS = ("steps", "runtime_s", "node", "gpus", "stop_reason", "error", "retries",
                "bad_lines")


def _with_front(trials: pd.DataFrame, objectives: list[tuple[str, str]]) -> pd.DataFrame:
    """``trials`` of a multi-objective sweep with its ``pareto`` column (after the
    objectives' columns), sorted front first, then by the first objective's last value."""
    import numpy as np

    names = [name for name, _ in objectives]
    values = np.column_stack([_numbers(trials[name]) for name in names])
    values[~trials["status"].isin(FRONT_STATUSES).to_numpy()] = np.nan
    at = trials.columns.get_loc(f"{names[-1]}_best") + 1
    trials.insert(int(at), "pareto", pareto_mask(values, [mode for _, mode in objectives]))
    first, mode = objectives[0]
    # The first objective as a number (a string there would break the sort); lexsort is
    # stable and sorts by its last key first: front, then having a value, then the value.
    key = _numbers(trials[first]) * (1.0 if mode == "min" else -1.0)
    order = np.lexsort((key, np.isnan(key), ~trials["pareto"].to_numpy(dtype=bool)))
    return trials.iloc[order].reset_index(drop=True)


def _numbers(series: pd.Series) -> Any:
    """``series`` as a float array, NaN where a value is missing or not a number."""
    import numpy as np
    import pandas as pd

    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _summary_names(entries: list[dict[str, Any]], own: Collection[str | None]) -> list[str]:
    """The metrics other than the sweep's (``own``: its metric or objectives) that any trial
    reported, in first-seen order; W&B's own ``_step``-style keys left out."""
    names: dict[str, None] = {}
    for e in entries:
        for name in e.get("summary") or {}:
            if name not in own and not name.startswith("_"):
                names.setdefault(name, None)
    return list(names)


def _retries(entry: Mapping[str, Any]) -> int:
    """How many times the trial started again after a failure (older files kept Ray's count
    of failures only, which includes a failed trial's last, unretried one)."""
    if "retries" in entry:
        return int(entry["retries"] or 0)
    failures = int(entry.get("failures") or 0)
    return max(failures - 1, 0) if entry.get("status") == "failed" else failures



# -- the trials file ---------------------------------------------------------------------------


def read_trials(sweep_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every trial's entry in a sweep directory, in the order the trials first appear.

    Read from ``trials.jsonl`` (each trial's last line) when the sweep has it, else from the
    ``trials.json`` of earlier versions; a sweep with neither has no trials yet.
    """
    root = Path(sweep_dir)
    log = root / TRIALS_LOG_FILE
    if log.exists():
        return list(read_trial_log(log)[0].values())
    try:
        entries = json.loads((root / TRIALS_FILE).read_text(encoding="utf-8"))["trials"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [e for e in entries if isinstance(e, dict) and "trial_id" in e]


def ended_trial_ids(sweep_dir: str | os.PathLike[str], *, but_failed: bool = False) -> list[str]:
    """The ids of the trials that ended (finished, stopped, failed), from the trials file
    alone (not the whole tables); ``but_failed`` leaves the failed ones out (they run again
    under ``raysweep resume --rerun-failed``)."""
    return [str(e["trial_id"]) for e in read_trials(sweep_dir)
            if e.get("status") in ENDED_STATUSES
            and not (but_failed and e.get("status") == "failed")]


def read_trial_log(path: Path) -> tuple[dict[str, dict[str, Any]], int]:
    """The last entry of each trial in a ``trials.jsonl`` file (by trial id, in the order the
    trials first appear) and the number of whole lines read.

    A last line cut by a crash and lines that are not a trial's entry are skipped.
    """
    try:
        data = path.read_bytes()
    except OSError:
        return {}, 0
    end = data.rfind(b"\n")  # what follows was cut by a crash
    lines = data.count(b"\n", 0, end + 1)
    if not lines:
        return {}, 0
    # JSON strings hold no raw newline, so the lines joined by commas are one JSON list: one
    # call of the C parser instead of one per line.
    text = bytearray(b"[")
    text += memoryview(data)[:end]
    text = text.replace(b"\n", b",")
    text += b"]"
    # The collector would walk the young entries again and again while they are built (a
    # third of the time for 100,000 trials); none of them can be garbage.
    collecting = gc.isenabled()
    gc.disable()
    try:
        try:
            records = json.loads(text)
        except ValueError:  # a damaged line: parse them one by one, skipping it
            records = []
            for line in data[:end].split(b"\n"):
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue
        del text, data
        try:
            # Assigning again keeps a key's first place: the order is that of first lines.
            return {record["trial_id"]: record for record in records}, lines
        except (TypeError, KeyError):
            return {str(r["trial_id"]): r for r in records
                    if isinstance(r, dict) and "trial_id" in r}, lines
    finally:
        if collecting:
            gc.enable()


# A line as the recorder writes it starts with the trial's id; anything else is parsed.
_ID_PREFIX = re.compile(rb'^\{"trial_id": "([^"\\]*)"')


def _line_id(line: bytes) -> str | None:
    match = _ID_PREFIX.match(line)
    if match is not None:
        return match[1].decode("utf-8")
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return str(record["trial_id"]) if isinstance(record, dict) and "trial_id" in record else None


def compact_trials(sweep_dir: str | os.PathLike[str], drop: Collection[str] = ()) -> int:
    """Rewrite a sweep's trials as ``trials.jsonl`` with one line per trial, its last.

    The file is replaced in one rename, synced to disk first: a crash leaves the old file or
    the new one. Only where each trial's last line starts is kept in memory. A sweep of an
    earlier version (``trials.json`` only) gets a ``trials.jsonl``, and its ``trials.json``
    is removed once that is on disk.

    Args:
        sweep_dir: The sweep directory.
        drop: The ids of trials to leave out.

    Returns:
        How many trials the file keeps.
    """
    root = Path(sweep_dir)
    log = root / TRIALS_LOG_FILE
    old = root / TRIALS_FILE
    if not log.exists():
        if not old.exists():
            return 0
        kept = [e for e in read_trials(root) if str(e["trial_id"]) not in drop]
        write_lines_atomic(log, (json.dumps(e, default=str).encode() + b"\n" for e in kept))
        old.unlink()
        return len(kept)
    # First pass: where each trial's last line starts; the dict's order is that of the
    # trials' first lines, which the new file keeps.
    last: dict[str, int] = {}
    with open(log, "rb") as f:
        offset = 0
        for line in f:
            start, offset = offset, offset + len(line)
            if not line.endswith(b"\n"):
                break  # cut by a crash
            tid = _line_id(line)
            if tid is not None:
                last[tid] = start
    for tid in drop:
        last.pop(tid, None)

    def kept_lines() -> Iterator[bytes]:
        with open(log, "rb") as f:
            for start in last.values():
                f.seek(start)
                yield f.readline()

    write_lines_atomic(log, kept_lines())
    return len(last)
