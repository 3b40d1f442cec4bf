"""``raysweep dashboard``: a live view of every sweep in a browser.

``state`` reads the sweep folders incrementally (no Ray, no pandas until a download);
``server`` answers the pages and the JSON API over them; ``static/`` holds the pages' files.
"""

from raysweep.dashboard.server import DashboardServer, serve, serve_in_thread

__all__ = ["DashboardServer", "serve", "serve_in_thread"]
