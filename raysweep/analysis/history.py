"""The history table: every report of every trial, read from the sweep's ``history.jsonl``.

One row per report: ``trial_id``, ``step``, ``time_s`` (:data:`HISTORY_KEYS`) and every
metric the trial reported. The figures read it as well as the tables, so it lives apart from
:class:`~raysweep.analysis.tables.SweepResult`.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["HISTORY_KEYS", "read_history", "reported_names"]

# The history table's own columns; every other one is something a trial reported.
HISTORY_KEYS = ("trial_id", "step", "time_s")


def read_history(path: Path) -> pd.DataFrame:
    """Read a ``history.jsonl`` file (missing: an empty table with the :data:`HISTORY_KEYS`).

    A line cut short by a crash is dropped; unreadable lines are skipped.
    """
    import pandas as pd

    if not path.exists():
        return pd.DataFrame(columns=list(HISTORY_KEYS))
    data = path.read_bytes()
    end = data.rfind(b"\n")
    data = data[: end + 1] if end >= 0 else b""  # a crash may cut the last line: drop it
    if not data:
        return pd.DataFrame(columns=list(HISTORY_KEYS))
    try:
        import pyarrow.json as pj

        table = pj.read_json(io.BytesIO(data))
        return table.to_pandas()
    except Exception:  # noqa: BLE001 - mixed column types or odd lines: the slow, tolerant way
        rows = []
        for line in data.splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
        return pd.DataFrame.from_records(rows)


def reported_names(history: pd.DataFrame) -> list[str]:
    """The names trials reported in ``history`` (rows of it), for messages: W&B's internal
    ``_step``-style keys and the table's own columns left out.

    >>> import pandas as pd
    >>> reported_names(pd.DataFrame({"trial_id": ["a"], "step": [1], "_step": [0],
    ...                              "loss": [0.5], "acc": [None]}))
    ['loss']
    """
    return [str(c) for c in history.columns
            if c not in HISTORY_KEYS and not str(c).startswith("_") and history[c].notna().any()]
