"""Where the project's shared reference material is (``shared/corpus``, ``shared/data``).

The checkout normally sits beside ``shared/``; a clone elsewhere finds it through
``RAYSWEEP_SHARED`` or at ``/work/shared``. Tests that need the corpus skip without it,
unless ``RAYSWEEP_REQUIRE_CORPUS`` is set (``.ci/run`` sets it), which makes them fail.
"""

from __future__ import annotations

import os
from pathlib import Path


def _find_shared() -> Path:
    env = os.environ.get("RAYSWEEP_SHARED")
    candidates = [Path(env)] if env else []
    candidates += [Path(__file__).resolve().parents[2] / "shared", Path("/work/shared")]
    for candidate in candidates:
        if (candidate / "corpus").is_dir():
            return candidate
    return candidates[0]


SHARED = _find_shared()
CORPUS = SHARED / "corpus"
REQUIRED = bool(os.environ.get("RAYSWEEP_REQUIRE_CORPUS"))
