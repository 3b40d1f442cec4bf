"""The dashboard's pages in headless Chromium, while a real sweep runs.

A slow function sweep (one trial at a time, each about half a second) runs in a thread; the
dashboard serves its storage folder with a token. Chromium opens the sweep page (the token in
its URL only) and is driven over its DevTools protocol, through a small websocket client
written here with the standard library: the page's trial count and best value are read twice
and must change without a reload, the trials table sorts, a click on "Stop" must end the sweep
before all its trials ran (``ended_by == "stop"``), a click on a trial shows its
``program.log``, and the sweeps and compare pages list the sweep. The charts must draw when
plotly is installed (a screenshot is kept in ``tests/_artifacts/`` with
``RAYSWEEP_KEEP_SCREENSHOTS``). Any JavaScript error or failed request fails the test.

Chromium missing skips the test, unless ``RAYSWEEP_REQUIRE_BROWSER`` is set: then it fails.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _browser import chromium as find_chromium

import raysweep
from raysweep.dashboard.server import serve, serve_in_thread

pytestmark = [pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parent / "_artifacts"
TOKEN = "test-token-42"
# More than the test ever waits for (about 0.6 s each): the Stop click must find the sweep
# still running, however slow the machine; the stop ends it long before.
TRIALS = 400


def _has_plotly() -> bool:
    import importlib.util

    return importlib.util.find_spec("plotly") is not None


class DevTools:
    """One page of Chromium over the DevTools protocol: a minimal websocket client (RFC 6455,
    text frames, client-masked) that sends commands and collects the events it sees."""

    def __init__(self, ws_url: str) -> None:
        match = re.fullmatch(r"ws://([^/:]+):(\d+)(/.*)", ws_url)
        assert match, ws_url
        host, port, path = match.group(1), int(match.group(2)), match.group(3)
        self.sock = socket.create_connection((host, port), timeout=20)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = self.sock.recv(4096)
            assert chunk, "DevTools closed the connection during the handshake"
            reply += chunk
        head, self.buffer = reply.split(b"\r\n\r\n", 1)
        assert b" 101 " in head.split(b"\r\n")[0], head.decode(errors="replace")
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            assert chunk, "DevTools closed the connection"
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def _frame(self) -> tuple[int, bytes]:
        b0, b1 = self._read(2)
        length = b1 & 0x7F
        if length == 126:
            length = struct.unpack(">H", self._read(2))[0]
        elif length == 127:
            length = struct.unpack(">Q", self._read(8))[0]
        return b0, self._read(length)  # the server never masks its frames

    def _message(self) -> dict[str, Any]:
        payload = b""
        while True:
            b0, data = self._frame()
            if b0 & 0x0F == 0x9:  # ping: answered so that the connection stays up
                self._send(data, opcode=0xA)
                continue
            payload += data
            if b0 & 0x80:
                return dict(json.loads(payload))

    def _send(self, data: bytes, opcode: int = 0x1) -> None:
        mask = os.urandom(4)
        n = len(data)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self._send(json.dumps({"id": self.next_id, "method": method, "params": params}).encode())
        while True:
            message = self._message()
            if message.get("id") == self.next_id:
                assert "error" not in message, message
                return dict(message.get("result", {}))
            self.events.append(message)

    def js(self, expression: str, *, loading: bool = False) -> Any:
        """The value of ``expression`` in the page; with ``loading``, None where it throws
        (the page, or its next one, is not there yet)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if loading and "exceptionDetails" in result:
            return None
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def wait_for(self, expression: str, what: str, timeout: float = 20.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.js(expression, loading=True)
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; errors: {self.errors()}")

    def errors(self) -> list[str]:
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(json.dumps(params.get("exceptionDetails", {}))[:500])
            elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                found.append(json.dumps(params.get("args", []))[:500])
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                # The pages fetch plotly from the server; without plotly installed that 404
                # is expected (they show tables only).
                if "plotly.min.js" not in str(entry.get("url", "")):
                    found.append(f"{entry.get('text')} {entry.get('url', '')}")
        return found

    def close(self) -> None:
        self.sock.close()


def _open_browser(chromium: str, url: str, profile: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-port=0", f"--user-data-dir={profile}", "--window-size=1400,1000",
         url],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # its helper processes too are ended with it (killpg)
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    seen = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        match = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
        if match:
            # Keep reading stderr in the background so that Chromium never blocks on it.
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            return proc, int(match.group(1))
    proc.kill()
    raise AssertionError("Chromium gave no DevTools port:\n" + "".join(seen)[-3000:])


@pytest.fixture
def browser_page() -> Iterator[Callable[[str], DevTools]]:
    chromium = find_chromium()
    opened: list[tuple[subprocess.Popen[str], DevTools]] = []
    with tempfile.TemporaryDirectory(prefix="rs-chromium-") as profile:

        def open_page(url: str) -> DevTools:
            proc, port = _open_browser(chromium, url, profile)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
                pages = [p for p in json.load(r) if p.get("type") == "page"]
            tools = DevTools(pages[0]["webSocketDebuggerUrl"])
            opened.append((proc, tools))
            tools.call("Runtime.enable")
            tools.call("Log.enable")
            return tools

        try:
            yield open_page
        finally:
            for proc, tools in opened:
                tools.close()
                # The whole group: a renderer left alive would still write into the profile
                # folder while it is removed ("Directory not empty").
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


# How many values a figure of the page draws (app.js keeps it in the div's data-points).
_POINTS = "(function (id) { return +(document.getElementById(id).dataset.points || 0); })"


def _figure_points(page: DevTools, what: str) -> list[int]:
    """The parallel coordinates' lines and the importance's bars, once both are drawn."""
    return list(page.wait_for(f"""(function () {{
        var p = {_POINTS}("plot-parallel"), i = {_POINTS}("plot-importance");
        var drawn = ["plot-parallel", "plot-importance"].every(function (id) {{
            var d = document.getElementById(id);
            return !d.hidden && d.querySelector(".main-svg");
        }});
        return drawn && p > 0 && [p, i];
    }})()""", what))


def _read_page(page: DevTools) -> dict[str, Any]:
    return dict(page.js("""({
        trials: document.getElementById("trial-count").textContent,
        ended: document.getElementById("ended-count").textContent,
        best: document.getElementById("best-value").textContent,
        rows: document.querySelectorAll("#trials tbody tr").length,
        marker: window.__notReloaded === true,
        navigations: performance.getEntriesByType("navigation").length,
    })"""))


@pytest.mark.ray
def test_sweep_page_updates_live_and_stops_the_sweep(
        tmp_path: Path, browser_page: Callable[[str], DevTools]) -> None:
    t0 = time.time()

    # Defined here so that Ray pickles it by value: workers cannot import this test module.
    # The loss falls with the time, so that every new trial is the best so far.
    def train(config: dict[str, Any]) -> None:
        import time as clock

        for _ in range(3):
            clock.sleep(0.17)
            raysweep.log({"loss": 1000.0 / (clock.time() - t0) + config["x"] * 1e-6})

    storage = tmp_path / "results"
    started = threading.Event()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = raysweep.run(
                {"method": "random", "metric": {"name": "loss", "goal": "minimize"},
                 "parameters": {"x": {"min": 0.0, "max": 1.0}}, "raysweep": {"seed": 0}},
                function=train, count=TRIALS, storage=storage, name="live",
                max_concurrent_trials=1, on_start=lambda _path, _cfg: started.set())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            outcome["error"] = exc
        finally:
            started.set()

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    assert started.wait(60), "the sweep did not start"
    assert "error" not in outcome, outcome.get("error")

    server = serve([storage], port=0, token=TOKEN)
    serve_in_thread(server)
    port = server.server_address[1]
    try:
        page = browser_page(f"http://127.0.0.1:{port}/sweep/live?token={TOKEN}")
        page.wait_for("document.getElementById('trial-count').textContent !== '0'",
                      "the first trial on the sweep page")
        page.js("window.__notReloaded = true")
        first = _read_page(page)
        # The page polls every second; new trials end about every second.
        ended = "document.getElementById('ended-count')"
        best = "document.getElementById('best-value')"
        page.wait_for(f"""{ended}.textContent !== '{first["ended"]}'
                          && {best}.textContent !== '{first["best"]}'
                          && {best}.textContent !== '–'""",
                      "a change of the trial count and best value")
        second = _read_page(page)
        assert second["marker"] and second["navigations"] == 1, second  # no reload
        assert int(second["ended"]) > int(first["ended"]), (first, second)
        assert float(second["best"]) < float(first["best"] if first["best"] != "–" else "inf")
        assert second["rows"] >= int(second["ended"])

        # The charts drew (plotly, served from the installed package), or, without plotly,
        # the page says that it shows tables only.
        charts = page.wait_for("""(function () {
            if (!window.Plotly) return !document.getElementById("charts-note").hidden && "none";
            var drawn = ["plot-best", "plot-curves"].filter(function (id) {
                var d = document.getElementById(id);
                return d.querySelector(".main-svg") && (d._fullData || []).length > 0;
            });
            return drawn.length === 2 && drawn.join(",");
        })()""", "the best-so-far chart and the learning curves")
        assert charts == ("plot-best,plot-curves" if _has_plotly() else "none"), charts
        shot = base64.b64decode(page.call("Page.captureScreenshot", format="png")["data"])
        assert len(shot) > 20_000
        if os.environ.get("RAYSWEEP_KEEP_SCREENSHOTS"):
            ARTIFACTS.mkdir(exist_ok=True)
            (ARTIFACTS / "dashboard-sweep.png").write_bytes(shot)

        # The report's parallel coordinates and importance are on the page and gain the
        # trials that end while it is open (the page asks for them again as trials end).
        if _has_plotly():
            before = _figure_points(page, "a first drawing of the parameter figures")
            after = page.wait_for(f"""(function () {{
                var p = {_POINTS}("plot-parallel"), i = {_POINTS}("plot-importance");
                return p > {before[0]} && i > 0 && [p, i];
            }})()""", "the parallel coordinates to gain the trials that ended since")
            assert after[0] > before[0] and after[1] > 0, (before, after)

        # The trials table sorts: the trial column, descending on the second click.
        order = page.js("""(function () {
            var th = document.querySelector("#trials thead th");
            th.click(); var up = document.querySelector("#trials tbody td").textContent;
            th.click(); var down = document.querySelector("#trials tbody td").textContent;
            return [up, down];
        })()""")
        assert order[0] != order[1], order

        # A click on a trial shows the tail of its program.log, as text.
        page.js("document.querySelector('#trials tbody tr').click()")
        log = page.wait_for("""!document.getElementById("log-panel").hidden
            && document.getElementById("log").textContent !== "loading…"
            && document.getElementById("log").textContent""", "a trial's log")
        assert not log.startswith("Could not read"), log

        # Stop: no new trials start; the run returns before all trials ran.
        page.wait_for("!document.getElementById('stop').disabled", "the Stop button enabled")
        page.js("document.getElementById('stop').click()")
        message = page.wait_for(
            "document.getElementById('control-message').className.indexOf('ok') >= 0"
            " && document.getElementById('control-message').textContent",
            "the server's answer to stop")
        assert "stop requested" in message, message
        runner.join(60)
        assert not runner.is_alive(), "the sweep did not end after Stop"
        assert "error" not in outcome, outcome.get("error")
        result = outcome["result"]
        assert result.meta["ended_by"] == "stop"
        assert len(result.trials) < TRIALS

        # After the end the page says so, and the sweeps page lists the sweep with its state.
        page.wait_for("document.getElementById('state').textContent !== 'running'",
                      "the sweep page to show the sweep ended")
        page.call("Page.navigate", url=f"http://127.0.0.1:{port}/?token={TOKEN}")
        row = page.wait_for("""(function () {
            var a = document.querySelector("#sweeps a.sweep-link");
            return a && a.textContent === "live" && a.getAttribute("href") +
                " " + a.closest("tr").textContent;
        })()""", "the sweep on the sweeps page")
        assert f"token={TOKEN}" in row, row  # links between pages keep the token
        assert "live" in row and "running" not in row, row

        page.call("Page.navigate", url=f"http://127.0.0.1:{port}/compare?ids=live&token={TOKEN}")
        compared = page.wait_for("""(function () {
            var row = document.querySelector("#compare tbody tr");
            return row && row.cells[0].textContent === "live" && row.cells[4].textContent;
        })()""", "the sweep on the compare page")
        assert int(compared) == len(result.trials), compared
        assert page.errors() == [], page.errors()
    finally:
        server.shutdown()
        server.server_close()
    assert time.time() - t0 < 90


@pytest.mark.ray
def test_run_with_dashboard_serves_the_sweep_and_prints_its_url(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from raysweep.cli import main

    (tmp_path / "train.py").write_text(
        "import json, sys\n"
        "lr = float(sys.argv[1].split('=')[1])\n"
        "for step in range(3):\n"
        "    print('@raysweep ' + json.dumps({'loss': lr * (3 - step)}), flush=True)\n",
        encoding="utf-8")
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(json.dumps({
        "program": "train.py", "method": "grid", "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"lr": {"values": [0.1, 0.2]}},
    }), encoding="utf-8")
    ran = CliRunner().invoke(main, ["run", str(sweep), "--storage", str(tmp_path / "r"),
                                    "--name", "cli", "--dashboard"], env={"COLUMNS": "200"})
    assert ran.exit_code == 0, ran.output
    match = re.search(r"dashboard: (http://127\.0\.0\.1:(\d+)/sweep/cli)\b", ran.output)
    assert match, ran.output
    # The server lives as long as the process that ran the sweep (here: this test's).
    base = f"http://127.0.0.1:{match.group(2)}"
    with urllib.request.urlopen(base + "/api/sweep/cli", timeout=10) as reply:
        body = json.load(reply)
    assert body["counts"] == {"finished": 2} and body["best"]["value"] == 0.1, body
    with urllib.request.urlopen(match.group(1), timeout=10) as reply:
        assert 'data-page="sweep"' in reply.read().decode()


def test_parameter_figures_and_distributions_grow_as_trials_end(
        tmp_path: Path, browser_page: Callable[[str], DevTools]) -> None:
    """Without Ray: sweep folders written as the recorder writes them, and trials appended."""
    if not _has_plotly():
        pytest.skip("the parameter figures need plotly")
    from test_dashboard_server import _append, _entry, _sweep, _tuned

    from raysweep.files import TRIALS_LOG_FILE

    storage = tmp_path / "results"
    tuned = _tuned(storage, 12)
    _sweep(storage, "other", [
        _entry(f"o{i}", "finished", 0.1 * i,
               config={"lr": 0.5 * 10.0 ** -(i % 3), "optimizer": "adam"}) for i in range(7)
    ], parameters=["lr", "optimizer"])
    more = _tuned(tmp_path / "more", 18)
    server = serve([storage], port=0)
    serve_in_thread(server)
    port = server.server_address[1]
    try:
        page = browser_page(f"http://127.0.0.1:{port}/sweep/tuned")
        assert _figure_points(page, "the parameter figures") == [12, 6]  # 3 features x 2 bars
        _append(tuned / TRIALS_LOG_FILE,
                (more / TRIALS_LOG_FILE).read_text(encoding="utf-8").split("\n", 12)[12])
        grown = page.wait_for(f"{_POINTS}('plot-parallel') === 18 && {_POINTS}('plot-parallel')",
                              "the parallel coordinates to gain the trials that ended")
        assert grown == 18

        # Compare: one chart per parameter, a box per sweep for lr, counts for optimizer.
        page.call("Page.navigate", url=f"http://127.0.0.1:{port}/compare?ids=tuned,other")
        shown = """Array.prototype.map.call(
            document.querySelectorAll("#distributions .distribution"),
            function (d) { return d.dataset.parameter + "=" + d.dataset.points; }).join(" ")"""
        first = page.wait_for(f"({shown}).indexOf('lr=25') >= 0 && ({shown})",
                              "the parameter distributions")
        assert first == "lr=25 optimizer=4", first  # 18 + 7 values; 2 levels x 2 sweeps
        traces = page.js("""document.getElementById("dist-1").data.map(function (t) {
            return t.name + ":" + t.type + ":" + t.y.join(","); }).join(" ")""")
        assert traces == "tuned:bar:9,9 other:bar:7,0", traces
        _append(tuned / TRIALS_LOG_FILE, json.dumps(_entry(
            "new", "running", 0.0, config={"lr": 0.3, "optimizer": "rmsprop"})) + "\n")
        second = page.wait_for(f"({shown}).indexOf('lr=26') >= 0 && ({shown})",
                               "the distributions to gain the new trial")
        assert second == "lr=26 optimizer=6", second  # a third level
        assert page.errors() == [], page.errors()
    finally:
        server.shutdown()
        server.server_close()


def test_the_browser_is_refused_without_the_token_and_outside_the_storage(
        tmp_path: Path, browser_page: Callable[[str], DevTools]) -> None:
    """Without Ray: bound to every address (not loopback only), so the token is required."""
    from test_dashboard_server import _entry, _sweep

    storage = tmp_path / "results"
    _sweep(storage, "mine", [_entry("a", "finished", 0.5)])
    server = serve([storage], host="0.0.0.0", port=0, token=TOKEN)  # noqa: S104
    serve_in_thread(server)
    port = server.server_address[1]
    status = """(function (url, token) {
        var x = new XMLHttpRequest(); x.open("GET", url, false);
        if (token) { x.setRequestHeader("X-Raysweep-Token", token); }
        x.send(); return x.status; })"""
    try:
        page = browser_page(f"http://127.0.0.1:{port}/?token={TOKEN}")
        page.wait_for("document.readyState === 'complete' && location.protocol === 'http:'",
                      "the sweeps page")
        assert page.js(f'{status}("/api/sweeps", "{TOKEN}")') == 200
        assert page.js(f'{status}("/api/sweeps", "")') == 401
        assert page.js(f'{status}("/api/sweeps?token=wrong", "")') == 401
        for path in ("/static/..%2F..%2Fserver.py", "/static/../../server.py",
                     "/api/sweep/..%2F..%2F..%2Fetc%2Fpasswd", "/api/sweep/..%2Fmine",
                     "/api/sweep/mine/log/..%2F..%2Fraysweep.json"):
            assert page.js(f'{status}("{path}", "{TOKEN}")') == 404, path
        body = """(function (url) { var x = new XMLHttpRequest(); x.open("GET", url, false);
            x.setRequestHeader("X-Raysweep-Token", "TOKEN"); x.send(); return x.responseText; })"""
        # A sweep page's id is looked up by its API (404 above), never read as a path.
        page_text = page.js(body.replace("TOKEN", TOKEN) + '("/sweep/..%2F..%2Fetc%2Fpasswd")')
        assert "root:" not in page_text and 'data-page="sweep"' in page_text
        # A page opened without the token shows the refusal, not the sweeps.
        page.call("Page.navigate", url=f"http://127.0.0.1:{port}/")
        text = page.wait_for("document.readyState === 'complete' && document.body.innerText",
                             "the refused page")
        assert "mine" not in text and "token" in text.lower(), text
    finally:
        server.shutdown()
        server.server_close()
