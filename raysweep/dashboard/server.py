"""The dashboard's HTTP server: pages, static files and the JSON API over the sweep folders.

Built on the standard library's :class:`http.server.ThreadingHTTPServer` (one daemon thread
per request). Every id in a URL is looked up among the sweep folders and trials found, never
joined into a path; a static file is served only if its name is one of the files of
``static/``. With a token every request needs it (header ``X-Raysweep-Token`` or query
``token``; stop and cancel only take the header); without one the server binds loopback only,
answers only requests addressed to a loopback name (a page of another site that rebinds its
name to 127.0.0.1 gets 403), and refuses a POST from another origin.
"""

from __future__ import annotations

import hmac
import io
import ipaddress
import json
import re
import socket
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.util import find_spec
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from raysweep.dashboard.plots import FigureCache
from raysweep.dashboard.state import Catalog
from raysweep.errors import RaysweepError
from raysweep.execution.lock import live_holder, request

__all__ = ["TOKEN_HEADER", "DashboardServer", "is_loopback", "serve", "serve_in_thread", "tail"]

TOKEN_HEADER = "X-Raysweep-Token"
STATIC = Path(__file__).resolve().parent / "static"
# Where a page gets the script that loads its style, plotly and app.js (static/loader.html).
LOADER_MARK = b"<!-- raysweep:loader -->"
PAGES = {"": "index.html", "sweep": "sweep.html", "compare": "compare.html"}
_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".json": "application/json",
          ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon"}
_LOG_TAIL_BYTES = 1 << 20  # at most this much of a program.log is read for its tail
_MAX_LOG_LINES = 5000
_DOWNLOADS = {"trials.csv": "text/csv; charset=utf-8",
              "trials.parquet": "application/vnd.apache.parquet",
              "history.csv": "text/csv; charset=utf-8"}


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (``localhost``, 127.x, ``::1``).

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def plotly_js() -> Path | None:
    """The installed plotly package's own ``plotly.min.js``, or None."""
    spec = find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location) / "package_data" / "plotly.min.js"
        if path.is_file():
            return path
    return None


class DashboardServer(ThreadingHTTPServer):
    """The server: a :class:`Catalog` of the storage folders and the token (or None)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], catalog: Catalog, token: str | None) -> None:
        self.catalog = catalog
        self.token = token
        self.figures = FigureCache()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)

    @property
    def url(self) -> str:
        """The dashboard's address, with the token when there is one."""
        host, port = self.server_address[:2]
        shown = host if isinstance(host, str) else host.decode()
        if not is_loopback(shown) and shown in ("0.0.0.0", "::"):
            shown = socket.gethostname()
        if ":" in shown:
            shown = f"[{shown}]"
        return f"http://{shown}:{port}/" + (f"?token={self.token}" if self.token else "")


class Handler(BaseHTTPRequestHandler):
    """One request; see the module's docstring for what it answers."""

    server: DashboardServer
    server_version = "raysweep-dashboard"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # the terminal shows the URL, not every poll

    # -- answering ---------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")  # the URL may carry the token
        for key, value in {"Cache-Control": "no-store", **(headers or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, data: Any, status: int = 200) -> None:
        # "<" and ">" only occur inside JSON strings: escaped, no text of a log or a config
        # can ever read as markup, whatever a browser guesses.
        text = json.dumps(data, default=str, allow_nan=False)
        body = text.replace("<", "\\u003c").replace(">", "\\u003e").encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8")

    def _error(self, status: int, message: str) -> None:
        self._json({"error": message}, status)

    # -- checks ------------------------------------------------------------------------------
    def _authorised(self, query: dict[str, list[str]], *, header_only: bool) -> bool:
        token = self.server.token
        if token is None:
            return True
        given = self.headers.get(TOKEN_HEADER)
        if given is None and not header_only and query.get("token"):
            given = query["token"][0]
        return given is not None and hmac.compare_digest(given.encode(), token.encode())

    def _host_allowed(self) -> bool:
        """Without a token, only a request addressed to a loopback name (DNS rebinding)."""
        if self.server.token is not None:
            return True
        host = self.headers.get("Host", "")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return is_loopback(name) or not host

    def _same_origin(self) -> bool:
        origin = self.headers.get("Origin")
        if origin is None:
            return True  # not a browser's cross-site form: curl, or the same page
        return urlsplit(origin).netloc == self.headers.get("Host", "")

    # -- routing -----------------------------------------------------------------------------
    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def _handle(self, method: str) -> None:
        try:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            # Split first, unquote each part: a quoted slash or dot-dot stays inside one id.
            parts = [unquote(p) for p in url.path.split("/")[1:]]
            if not self._host_allowed():
                self._error(403, "this dashboard answers only at localhost; start it with "
                                 "--host and --token to reach it by another name")
                return
            post = method == "POST"
            if not self._authorised(query, header_only=post):
                self._error(401, f"a token is needed: open the URL the dashboard printed "
                                 f"(?token=...) or send the {TOKEN_HEADER} header")
                return
            if post:
                self._post(parts)
            else:
                self._get(parts, query)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:  # noqa: BLE001 - one bad request must not end the server
            try:
                self._error(500, f"{type(exc).__name__}: {exc}")
            except OSError:
                pass

    def _get(self, parts: list[str], query: dict[str, list[str]]) -> None:
        if parts == [""] or parts == ["compare"] or (len(parts) == 2 and parts[0] == "sweep"):
            self._page(PAGES[parts[0]])
        elif len(parts) == 2 and parts[0] == "static":
            self._static(parts[1])
        elif parts == ["api", "sweeps"]:
            self._json({"sweeps": self.server.catalog.sweeps()})
        elif len(parts) == 3 and parts[:2] == ["api", "sweep"]:
            self._sweep(parts[2], query["cursor"][0] if query.get("cursor") else None)
        elif len(parts) == 4 and parts[:2] == ["api", "sweep"] and parts[3] == "figures":
            self._figures(parts[2])
        elif len(parts) == 5 and parts[:2] == ["api", "sweep"] and parts[3] == "log":
            self._log(parts[2], parts[4], (query.get("lines") or ["200"])[0])
        elif len(parts) == 5 and parts[:2] == ["api", "sweep"] and parts[3] == "download":
            self._download(parts[2], parts[4])
        else:
            self._error(404, "no such page")

    def _post(self, parts: list[str]) -> None:
        if not (len(parts) == 4 and parts[:2] == ["api", "sweep"]
                and parts[3] in ("stop", "cancel")):
            self._error(404 if not parts or parts[0] != "api" else 405, "no such action")
            return
        if not self._same_origin():
            self._error(403, "stop and cancel are only taken from the dashboard's own pages")
            return
        path = self.server.catalog.path_of(parts[2])
        if path is None:
            self._error(404, f"no sweep {parts[2]!r} in the dashboard's storage folders")
            return
        what = parts[3]
        holder = live_holder(path)
        if holder is None:
            message = (f"no driver is running the sweep in {path}: nothing to {what}; "
                       f"`raysweep resume {path}` continues it")
            self._json({"ok": False, "message": message, "error": message}, 409)
            return
        marker = request(path, what)
        then = ("running trials get SIGTERM (SIGKILL 5 s later), then the driver ends"
                if what == "cancel" else "no new trials start; running ones finish")
        self._json({"ok": True, "message": f"{what} requested ({marker.name}): its driver, "
                    f"{holder.describe(time.time())}, sees it within a second; {then}"})

    # -- pages and files ---------------------------------------------------------------------
    def _page(self, name: str) -> None:
        # The pages ship in the package (package-data): one missing is a broken install.
        # Each page's files are loaded by the same script (with the page's token): one copy.
        page = (STATIC / name).read_bytes()
        self._send(200, page.replace(LOADER_MARK, (STATIC / "loader.html").read_bytes()),
                   _TYPES[".html"])

    def _static(self, name: str) -> None:
        if name == "plotly.min.js":
            found = plotly_js()
        else:
            # Only a name listed in static/ is served (never a path built from the URL).
            listed = {p.name for p in STATIC.iterdir()} if STATIC.is_dir() else set()
            ok = _SAFE_NAME.fullmatch(name) and ".." not in name and name in listed
            found = STATIC / name if ok else None
        if found is None or not found.is_file():
            self._error(404, f"no static file {name!r}")
            return
        kind = _TYPES.get(found.suffix, "application/octet-stream")
        self._send(200, found.read_bytes(), kind, {"Cache-Control": "max-age=60"})

    # -- the API -----------------------------------------------------------------------------
    def _sweep(self, sweep_id: str, cursor: str | None) -> None:
        state = self.server.catalog.state(sweep_id)
        if state is None:
            self._error(404, f"no sweep {sweep_id!r} in the dashboard's storage folders")
            return
        self._json({"id": sweep_id, **state.read(cursor)})

    def _figures(self, sweep_id: str) -> None:
        state = self.server.catalog.state(sweep_id)
        if state is None:
            self._error(404, f"no sweep {sweep_id!r} in the dashboard's storage folders")
            return
        key = state.ended_key()
        self._json({"id": sweep_id, "ended": key[0],
                    **self.server.figures.get(state.path, key)})

    def _log(self, sweep_id: str, trial_id: str, lines_text: str) -> None:
        state = self.server.catalog.state(sweep_id)
        if state is None:
            self._error(404, f"no sweep {sweep_id!r}")
            return
        state.read_trials()
        if trial_id not in state.trials or not _SAFE_NAME.fullmatch(trial_id):
            self._error(404, f"no trial {trial_id!r} in sweep {sweep_id!r}")
            return
        try:
            lines = min(max(int(lines_text), 1), _MAX_LOG_LINES)
        except ValueError:
            self._error(400, f"lines={lines_text!r} is not a whole number")
            return
        self._json({"text": tail(state.path / f"trial_{trial_id}" / "program.log", lines)})

    def _download(self, sweep_id: str, name: str) -> None:
        path = self.server.catalog.path_of(sweep_id)
        if path is None or name not in _DOWNLOADS:
            self._error(404, f"no download {name!r} of sweep {sweep_id!r}")
            return
        from raysweep.analysis.tables import load_results

        result = load_results(path)
        table = result.history if name == "history.csv" else result.trials
        if name.endswith(".parquet"):
            buffer = io.BytesIO()
            table.to_parquet(buffer, index=False)
            body = buffer.getvalue()
        else:
            body = table.to_csv(index=False).encode("utf-8")
        self._send(200, body, _DOWNLOADS[name],
                   {"Content-Disposition": f'attachment; filename="{sweep_id}-{name}"'})


def tail(path: Path, lines: int) -> str:
    """The last ``lines`` lines of a text file (at most its last MiB), or ``""``."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - _LOG_TAIL_BYTES))
            data = f.read()
    except OSError:
        return ""
    text = data.decode("utf-8", errors="replace")
    return "".join(text.splitlines(keepends=True)[-lines:])


def serve(storages: Sequence[Path | str], host: str = "127.0.0.1", port: int = 8765,
          token: str | None = None) -> DashboardServer:
    """Bind the dashboard over ``storages`` and return it (not yet serving).

    Call ``serve_forever()`` on it (in a thread, or the main one) and ``shutdown()`` to end.

    Raises:
        RaysweepError: a non-loopback ``host`` without a token.
        OSError: the port cannot be bound (in use).
    """
    if not is_loopback(host) and not token:
        raise RaysweepError(
            f"--host {host} makes the dashboard reachable from other machines: it needs a "
            "token (give --token, or leave it out and one is generated)"
        )
    return DashboardServer((host, port), Catalog([Path(s) for s in storages]), token or None)


def serve_in_thread(server: DashboardServer) -> threading.Thread:
    """Run ``server`` in a daemon thread (tests, and ``raysweep run --dashboard``)."""
    # A short poll interval: shutdown() returns within 50 ms instead of half a second.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="raysweep-dashboard", daemon=True)
    thread.start()
    return thread
