"""``raysweep dashboard``: a live view of every sweep in a browser.

``state`` reads the sweep folders incrementally (no Ray, no pandas until a download);
``plots`` computes the sweep page's parameter figures (the report's); ``server`` answers the
pages and the JSON API over them; ``static/`` holds the pages' files; ``handle`` serves it
from the caller's process (``raysweep.dashboard(...)``, in a notebook).

This package is also the function :func:`~raysweep.dashboard.handle.dashboard`:
``raysweep.dashboard(storage=...)`` works whether ``raysweep.dashboard`` names the function
(before the package is imported) or the package (after: importing a submodule binds the
package to that name on ``raysweep``).
"""

from __future__ import annotations

import sys
import types
from typing import Any

from raysweep.dashboard.handle import Dashboard, dashboard
from raysweep.dashboard.server import DashboardServer, serve, serve_in_thread

__all__ = ["Dashboard", "DashboardServer", "dashboard", "serve", "serve_in_thread"]


class _CallablePackage(types.ModuleType):
    """This package, callable as :func:`dashboard`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Dashboard:
        return dashboard(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
