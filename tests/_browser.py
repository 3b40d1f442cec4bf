"""Finding the headless browser the browser tests drive (Debian's ``chromium``)."""

from __future__ import annotations

import os
import shutil

import pytest


def chromium() -> str:
    """The Chromium executable; skips the test without one, or fails it when
    ``RAYSWEEP_REQUIRE_BROWSER`` is set (``.ci/run`` sets it and installs Chromium)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    why = "Chromium is not installed (apt-get install chromium; .ci/run installs it)"
    if os.environ.get("RAYSWEEP_REQUIRE_BROWSER"):
        pytest.fail(why + ", and RAYSWEEP_REQUIRE_BROWSER is set")
    pytest.skip(why)
