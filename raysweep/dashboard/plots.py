"""The sweep page's parallel coordinates and parameter importance, as the report draws them.

Both figures are the report's own (:func:`raysweep.analysis.figures.parallel_figure` and
:func:`~raysweep.analysis.figures.importance_figure`), computed on the server from the sweep's
trials and sent as plotly JSON. Fitting the importance forest takes seconds for a sweep of
thousands of trials, so each sweep's figures are kept (as JSON, not as frames) until the
number of ended trials changes (or ``trials.jsonl`` is rewritten), and one computation serves
every request that arrives while it runs.

The trials are read by :func:`~raysweep.analysis.tables.load_results` without the history:
neither figure uses it, and reading it would cost most of the time and memory of a large
sweep.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from raysweep.errors import RaysweepError

__all__ = ["FigureCache", "sweep_figures"]


def sweep_figures(path: Path) -> dict[str, Any]:
    """The parallel-coordinates and importance figures of the sweep in ``path`` as plotly
    JSON (``parallel``, ``importance``); one that cannot be drawn is None, with its
    ``parallel_error`` or ``importance_error``.

    Raises:
        RaysweepError: ``path`` is no readable sweep folder.
    """
    from raysweep.analysis.figures import importance_figure, parallel_figure
    from raysweep.analysis.tables import load_results

    result = load_results(path, history=False)  # the figures need the trials only
    result.path = path  # the figures name the sweep by its folder where its meta has no name
    out: dict[str, Any] = {"parallel": None, "importance": None}
    try:
        out["parallel"] = json.loads(parallel_figure(result).to_json())
    except (RaysweepError, ImportError) as exc:  # plotly missing: the page says so
        out["parallel_error"] = str(exc)
    try:
        out["importance"] = json.loads(importance_figure(result).to_json())
    except (RaysweepError, ImportError) as exc:  # plotly or scikit-learn missing
        out["importance_error"] = str(exc)
    return out


def _import_once() -> None:
    """Import plotly and scikit-learn (about a second, once) before a computation is timed:
    the page spaces its requests by the time a computation takes."""
    import importlib

    for name in ("raysweep.analysis.figures", "plotly.graph_objects", "sklearn.ensemble"):
        try:
            importlib.import_module(name)
        except ImportError:
            continue  # sweep_figures says what is missing


class FigureCache:
    """Each sweep's figures, kept until its number of ended trials (or its trials file)
    changes, for the ``keep`` sweeps asked for last; thread-safe, one computation per sweep
    at a time."""

    def __init__(self, keep: int = 16) -> None:
        self.keep = keep  # sweeps whose figures are kept (the ones asked for last)
        self._lock = threading.Lock()
        self._locks: dict[Path, threading.Lock] = {}
        self._held: OrderedDict[Path, tuple[Any, dict[str, Any]]] = OrderedDict()

    def get(self, path: Path, key: Any) -> dict[str, Any]:
        """The figures of ``path`` for ``key`` (the ended count and the trials file's
        identity): the kept ones, or computed now (``seconds`` says how long that took)."""
        with self._lock:
            lock = self._locks.setdefault(path, threading.Lock())
        with lock:  # a second request for the same sweep waits for the first's answer
            with self._lock:
                held = self._held.get(path)
                if held is not None and held[0] == key:
                    self._held.move_to_end(path)
                    return {**held[1], "cached": True}
            _import_once()
            started = time.perf_counter()
            figures = sweep_figures(path)
            figures["seconds"] = round(time.perf_counter() - started, 3)
            figures["computed"] = time.time()
            with self._lock:
                self._held[path] = (key, figures)
                self._held.move_to_end(path)
                while len(self._held) > self.keep:
                    self._held.popitem(last=False)
            return {**figures, "cached": False}
