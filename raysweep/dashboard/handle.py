"""``raysweep.open_dashboard()``: the dashboard served from the caller's own process.

In a notebook, one cell starts it and shows its link; the next runs ``raysweep.run`` and the
page follows the sweep while the cell runs (the server answers from a daemon thread, so the
kernel's work goes on). It ends with ``.stop()`` or with the process.
"""

from __future__ import annotations

import errno
import html
import os
import secrets
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

from raysweep.dashboard.server import DashboardServer, is_loopback, serve, serve_in_thread
from raysweep.errors import RaysweepError
from raysweep.files import default_storage

__all__ = ["DEFAULT_PORT", "Dashboard", "open_dashboard"]

# Tried first when no port is given (as `raysweep dashboard` and `raysweep run --dashboard`).
DEFAULT_PORT = 8765


class Dashboard:
    """A dashboard served by this process: its :attr:`url`, :meth:`stop`, and a link when a
    notebook shows it. Returned by :func:`dashboard`."""

    def __init__(self, server: DashboardServer, storages: list[Path]) -> None:
        self._server = server
        self.storages = storages
        self._thread: threading.Thread | None = serve_in_thread(server)

    @property
    def url(self) -> str:
        """The sweeps page's address (with ``?token=`` when the dashboard has a token)."""
        return self._server.url

    @property
    def running(self) -> bool:
        """Whether it still serves (False after :meth:`stop`)."""
        return self._thread is not None

    def sweep_url(self, name: str) -> str:
        """The address of the page of sweep ``name`` (its folder's name)."""
        base, _, query = self.url.partition("?")
        return f"{base}sweep/{quote(name, safe='')}" + (f"?{query}" if query else "")

    def stop(self) -> None:
        """Stop serving and free the port (again: nothing)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._server.shutdown()
        self._server.server_close()
        thread.join(timeout=5)

    def __enter__(self) -> Dashboard:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = self.url if self.running else "stopped"
        return f"Dashboard({state}, storage={', '.join(map(str, self.storages))})"

    def _repr_html_(self) -> str:
        folders = ", ".join(html.escape(str(s)) for s in self.storages)
        if not self.running:
            return f"<p>raysweep dashboard of <code>{folders}</code>: stopped.</p>"
        url = html.escape(self.url, quote=True)
        return (f'<p>raysweep dashboard of <code>{folders}</code>: '
                f'<a href="{url}" target="_blank" rel="noopener noreferrer">{url}</a> '
                f"<small>(served by this kernel; <code>.stop()</code> ends it)</small></p>")


def open_dashboard(
    storage: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    *,
    port: int | None = None,
    host: str = "127.0.0.1",
    token: str | None = None,
) -> Dashboard:
    """Serve ``raysweep dashboard`` from this process, in a background thread.

    Args:
        storage: A storage folder, or several [default: ``$RAYSWEEP_STORAGE`` or
            ``./raysweep_results``]; sweeps started there later show up too.
        port: The port [default: 8765, or any free one when 8765 is taken]; 0: any free one.
        host: The address to listen on; any but a loopback one needs a token (one is made
            when ``token`` is None, and is part of :attr:`Dashboard.url`).
        token: A secret every request must carry.

    Returns:
        The running :class:`Dashboard`: ``.url``, ``.stop()``; a notebook shows its link.

    Raises:
        RaysweepError: ``port`` is taken, or ``host`` cannot be listened on.
    """
    if storage is None:
        given: list[str | os.PathLike[str]] = [default_storage()]
    elif isinstance(storage, (str, os.PathLike)):
        given = [storage]
    else:
        given = list(storage)
    # Absolute now: a notebook that changes its folder later still sees the same sweeps.
    folders = [Path(s).expanduser().absolute() for s in given]
    if not is_loopback(host) and not token:
        token = secrets.token_urlsafe(24)
    try:
        server = serve(folders, host=host, port=DEFAULT_PORT if port is None else port,
                       token=token)
    except OSError as exc:
        if port is None and exc.errno == errno.EADDRINUSE:
            server = serve(folders, host=host, port=0, token=token)
        elif exc.errno == errno.EADDRINUSE:
            raise RaysweepError(
                f"port {port} on {host} is in use (another dashboard, or another program): "
                "give another port, or leave it out for 8765 or any free one"
            ) from None
        else:
            raise RaysweepError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}; give an address of "
                "this machine as host"
            ) from None
    return Dashboard(server, folders)
