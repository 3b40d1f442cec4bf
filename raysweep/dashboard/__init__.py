"""``raysweep dashboard``: a live view of every sweep in a browser.

``state`` reads the sweep folders incrementally (no Ray, no pandas until a download);
``plots`` computes the sweep page's parameter figures (the report's); ``server`` answers the
pages and the JSON API over them; ``static/`` holds the pages' files; ``handle`` serves it
from the caller's process (``raysweep.open_dashboard(...)``, in a notebook).
"""

from __future__ import annotations

from raysweep.dashboard.handle import Dashboard, open_dashboard
from raysweep.dashboard.server import DashboardServer, serve, serve_in_thread

__all__ = ["Dashboard", "DashboardServer", "open_dashboard", "serve", "serve_in_thread"]
