"""Whole-file writes that readers can never see half done (no Ray, no pandas).

Every file raysweep rewrites while a sweep runs (``trials.json``, ``searcher.json``,
``scheduler.json``, the report, W&B's parameter files) is written next to its target under a
unique temporary name and renamed into place: a reader, or a driver killed mid-write, sees
the old file or the new one, never a mix.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["write_json_atomic", "write_text_atomic"]


def write_text_atomic(path: str | os.PathLike[str], text: str, *, sync: bool = False) -> None:
    """Replace ``path`` by ``text`` in one rename.

    ``sync`` also waits until the data is on disk (survives a crash of the machine, not just
    of the process); it costs a few milliseconds, so frequent writers use it sparingly.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            if sync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        # The rename did not happen: leave no temporary file behind.
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(
    path: str | os.PathLike[str], data: Any, *, sync: bool = False, indent: int | None = None
) -> None:
    """:func:`write_text_atomic` of ``json.dumps(data)`` (values JSON lacks as their ``str``).

    ``json.dumps`` runs the C encoder; ``json.dump`` to a file would not (several times slower
    for the states written after every trial).
    """
    text = json.dumps(data, default=str, indent=indent)
    write_text_atomic(path, text + "\n" if indent is not None else text, sync=sync)
