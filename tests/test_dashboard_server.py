"""`raysweep dashboard`'s server and its incremental reading, over sweep folders written as the
recorder writes them (no Ray): a real server on a free port, real HTTP requests."""

from __future__ import annotations

import base64
import http.client
import io
import json
import math
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from raysweep.cli import main
from raysweep.dashboard import serve, serve_in_thread
from raysweep.dashboard import state as state_module
from raysweep.dashboard.plots import FigureCache
from raysweep.dashboard.server import DashboardServer
from raysweep.errors import RaysweepError
from raysweep.execution.lock import DriverLock
from raysweep.files import (
    CANCEL_FILE,
    HISTORY_FILE,
    STOP_FILE,
    TRIALS_LOG_FILE,
    write_lines_atomic,
)


def _entry(tid: str, status: str, best: float | None = 0.5, **fields: Any) -> dict[str, Any]:
    base = {"trial_id": tid, "status": status, "config": {"lr": 0.1}, "steps": 2, "reports": 2,
            "last": best, "best": best, "summary": {}, "started": 100.0, "ended": None,
            "node": None, "gpus": None, "error": None, "stop_reason": None, "failures": 0,
            "retries": 0, "dir": f"trial_{tid}"}
    base.update(fields)
    return base


def _lines(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def _sweep(storage: Path, name: str, entries: list[dict[str, Any]],
           history: list[dict[str, Any]] | None = None, **meta: Any) -> Path:
    root = storage / name
    root.mkdir(parents=True)
    base = {"name": name, "method": "random", "metric": "loss", "goal": "minimize",
            "mode": "min", "parameters": ["lr"], "created": 50.0}
    base.update(meta)
    (root / "raysweep.json").write_text(json.dumps(base), encoding="utf-8")
    (root / TRIALS_LOG_FILE).write_text(_lines(entries), encoding="utf-8")
    (root / HISTORY_FILE).write_text(_lines(history or []), encoding="utf-8")
    return root


def _append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)


def _row(tid: str, step: int, loss: float) -> dict[str, Any]:
    return {"trial_id": tid, "step": step, "time_s": float(step), "loss": loss}


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    _sweep(root, "done", [_entry("a", "finished", 0.3), _entry("b", "stopped", 0.2)],
           [_row("a", 0, 0.4), _row("a", 1, 0.3), _row("b", 0, 0.2)])
    _sweep(root, "broken", [_entry("a", "finished"), _entry("b", "failed", None)])
    _sweep(root, "cut", [_entry("a", "finished", 0.1), _entry("b", "running", 0.7)])
    (root / "not_a_sweep").mkdir()
    return root


def _start(storages: list[Path], host: str = "127.0.0.1",
           token: str | None = None) -> DashboardServer:
    server = serve(storages, host=host, port=0, token=token)
    serve_in_thread(server)
    return server


@pytest.fixture
def server(storage: Path) -> Iterator[DashboardServer]:
    srv = _start([storage])
    yield srv
    srv.shutdown()
    srv.server_close()


def _base(server: DashboardServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def _get(server: DashboardServer, path: str,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(_base(server) + path, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def _json(server: DashboardServer, path: str, **headers: str) -> Any:
    status, _, body = _get(server, path, headers)
    assert status == 200, body
    return json.loads(body)


def _raw(server: DashboardServer, method: str, path: str,
         headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """A request whose path is sent exactly as written (no client-side normalisation)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


# -- the sweeps list ---------------------------------------------------------------------------
def test_the_sweeps_list_has_every_sweep_folder_with_its_state(
    server: DashboardServer, storage: Path, tmp_path: Path
) -> None:
    sweeps = {s["id"]: s for s in _json(server, "/api/sweeps")["sweeps"]}
    assert set(sweeps) == {"done", "broken", "cut"}  # not_a_sweep has no raysweep.json
    assert {k: s["state"] for k, s in sweeps.items()} == {
        "done": "finished", "broken": "failed", "cut": "interrupted"}
    done = sweeps["done"]
    assert (done["trials"], done["ended"], done["best"], done["started"]) == (2, 2, 0.2, 100.0)
    assert (done["method"], done["metric"], done["goal"]) == ("random", "loss", "minimize")
    assert done["storage"] == str(storage)
    assert sweeps["cut"]["ended"] == 1 and sweeps["cut"]["best"] == 0.1
    # A live driver makes it running; the list follows the trials file as it grows.
    with DriverLock(storage / "cut", heartbeat_s=0):
        states = {s["id"]: s["state"] for s in _json(server, "/api/sweeps")["sweeps"]}
        assert states == {"done": "finished", "broken": "failed", "cut": "running"}
    _append(storage / "cut" / TRIALS_LOG_FILE, json.dumps(_entry("b", "finished", 0.05)) + "\n")
    cut = {s["id"]: s for s in _json(server, "/api/sweeps")["sweeps"]}["cut"]
    assert (cut["state"], cut["best"], cut["ended"]) == ("finished", 0.05, 2)


def test_a_name_in_two_storage_folders_gets_the_second_folders_index(
    storage: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    _sweep(other, "done", [_entry("z", "running")])
    srv = _start([storage, other])
    try:
        sweeps = {s["id"]: s for s in _json(srv, "/api/sweeps")["sweeps"]}
        assert sweeps["done@1"]["storage"] == str(other)
        assert [t["trial_id"] for t in _json(srv, "/api/sweep/done@1")["trials"]] == ["z"]
    finally:
        srv.shutdown()
        srv.server_close()


# -- one sweep, incrementally ------------------------------------------------------------------
def test_a_poll_with_the_cursor_returns_only_what_was_appended(
    server: DashboardServer, storage: Path
) -> None:
    first = _json(server, "/api/sweep/cut")
    assert first["id"] == "cut" and first["meta"]["name"] == "cut"
    assert first["counts"] == {"finished": 1, "running": 1}
    assert first["best"] == {"trial_id": "a", "value": 0.1}
    assert first["history"] == [] and first["reset"] is True and first["thinned"] is False
    root = storage / "cut"
    _append(root / TRIALS_LOG_FILE, json.dumps(_entry("b", "running", 0.05)) + "\n"
            + json.dumps(_entry("c", "running", None))[:30])  # c's line is being written
    _append(root / HISTORY_FILE, _lines([_row("b", 0, 0.7), _row("b", 1, 0.05)])
            + json.dumps(_row("b", 2, 0.01))[:20])
    second = _json(server, f"/api/sweep/cut?cursor={first['cursor']}")
    assert second["reset"] is False
    assert [(t["trial_id"], t["best"]) for t in second["trials"]] == [("b", 0.05)]
    assert second["history"] == [_row("b", 0, 0.7), _row("b", 1, 0.05)]
    assert second["best"] == {"trial_id": "b", "value": 0.05}
    # Nothing new: nothing returned; then the cut lines are completed.
    third = _json(server, f"/api/sweep/cut?cursor={second['cursor']}")
    assert third["trials"] == [] and third["history"] == []
    _append(root / TRIALS_LOG_FILE, json.dumps(_entry("c", "running", None))[30:] + "\n")
    _append(root / HISTORY_FILE, json.dumps(_row("b", 2, 0.01))[20:] + "\n")
    fourth = _json(server, f"/api/sweep/cut?cursor={third['cursor']}")
    assert [t["trial_id"] for t in fourth["trials"]] == ["c"]
    assert fourth["history"] == [_row("b", 2, 0.01)]
    assert fourth["counts"] == {"finished": 1, "running": 2}
    # Without a cursor (or with another server's): everything again.
    again = _json(server, "/api/sweep/cut?cursor=ffff.1.0.10")
    assert again["reset"] is True and len(again["history"]) == 3 and len(again["trials"]) == 3


def test_a_compacted_trials_file_is_read_again_from_the_start(
    server: DashboardServer, storage: Path
) -> None:
    root = storage / "cut"
    _append(root / TRIALS_LOG_FILE, _lines([_entry("b", "running", 0.6)] * 20))
    first = _json(server, "/api/sweep/cut")
    assert first["counts"] == {"finished": 1, "running": 1}
    # The recorder's compaction: one line per trial, renamed into place (smaller, new file);
    # b ended meanwhile, a is unchanged.
    write_lines_atomic(root / TRIALS_LOG_FILE, [
        (json.dumps(_entry("a", "finished", 0.1)) + "\n").encode(),
        (json.dumps(_entry("b", "finished", 0.6)) + "\n").encode()])
    second = _json(server, f"/api/sweep/cut?cursor={first['cursor']}")
    assert [(t["trial_id"], t["status"]) for t in second["trials"]] == [("b", "finished")]
    assert second["counts"] == {"finished": 2} and second["state"] == "finished"
    # Rewritten in place (same file, shorter than the offset read): read again too.
    (root / TRIALS_LOG_FILE).write_text(_lines([_entry("a", "failed", None)]), encoding="utf-8")
    third = _json(server, f"/api/sweep/cut?cursor={second['cursor']}")
    assert [(t["trial_id"], t["status"]) for t in third["trials"]] == [("a", "failed")]
    assert third["counts"]["failed"] == 1 and third["state"] == "failed"


def test_a_replaced_history_file_gives_everything_again(
    server: DashboardServer, storage: Path
) -> None:
    root = storage / "done"
    first = _json(server, "/api/sweep/done")
    assert len(first["history"]) == 3
    # `raysweep resume` rewrites the history without an unfinished trial's rows.
    write_lines_atomic(root / HISTORY_FILE, [(json.dumps(_row("a", 0, 0.4)) + "\n").encode()])
    second = _json(server, f"/api/sweep/done?cursor={first['cursor']}")
    assert second["reset"] is True and second["history"] == [_row("a", 0, 0.4)]


def test_a_huge_sweeps_first_read_is_thinned_and_keeps_each_curves_end(
    storage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state_module, "HISTORY_PER_TRIAL", 20)
    rows = [_row("long", i, 1.0 / (i + 1)) for i in range(1001)] + [_row("short", 0, 0.5)]
    _sweep(storage, "huge", [_entry("long", "finished", reports=1001),
                             _entry("short", "finished", reports=1)], rows)
    srv = _start([storage])
    try:
        data = _json(srv, "/api/sweep/huge")
        assert data["thinned"] is True
        long_steps = [r["step"] for r in data["history"] if r["trial_id"] == "long"]
        assert len(long_steps) <= 21 and long_steps[0] == 0 and long_steps[-1] == 1000
        assert long_steps == sorted(long_steps) and long_steps[1] > 1  # spread evenly
        assert [r for r in data["history"] if r["trial_id"] == "short"] == [rows[-1]]
        # A poll afterwards gets the new rows whole.
        _append(storage / "huge" / HISTORY_FILE, _lines([_row("long", 1001, 0.0)]))
        more = _json(srv, f"/api/sweep/huge?cursor={data['cursor']}")
        assert more["history"] == [_row("long", 1001, 0.0)] and more["thinned"] is False
        # A poll after a long gap (a throttled tab) gets every row since: none is lost.
        gap = [_row("long", i, 0.0) for i in range(1002, 1102)]
        _append(storage / "huge" / HISTORY_FILE, _lines(gap))
        later = _json(srv, f"/api/sweep/huge?cursor={more['cursor']}")
        assert later["history"] == gap and later["thinned"] is False
    finally:
        srv.shutdown()
        srv.server_close()


def test_a_multi_objective_sweep_has_each_objectives_best(storage: Path) -> None:
    objectives = [{"name": "loss", "goal": "minimize", "mode": "min", "target": None},
                  {"name": "acc", "goal": "maximize", "mode": "max", "target": None}]

    def entry(tid: str, loss: float, acc: float) -> dict[str, Any]:
        return _entry(tid, "finished", None, objectives={
            "loss": {"last": loss, "best": loss}, "acc": {"last": acc, "best": acc}})

    _sweep(storage, "moo", [entry("a", 0.3, 0.9), entry("b", 0.1, 0.8)], metric=None,
           goal=None, metrics=objectives)
    srv = _start([storage])
    try:
        data = _json(srv, "/api/sweep/moo")
        assert data["best"] is None
        assert data["objectives"] == [
            {"name": "loss", "mode": "min", "best": {"trial_id": "b", "value": 0.1}},
            {"name": "acc", "mode": "max", "best": {"trial_id": "a", "value": 0.9}}]
        row = {s["id"]: s for s in _json(srv, "/api/sweeps")["sweeps"]}["moo"]
        assert row["metric"] == "loss, acc" and row["best"] is None
    finally:
        srv.shutdown()
        srv.server_close()


# -- logs, stop and cancel, downloads ----------------------------------------------------------
def _array(values: Any) -> list[float]:
    """A plotly JSON array, also in its typed form (``{dtype, bdata}``, how numpy arrays go)."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


def _tuned(storage: Path, n: int) -> Path:
    """A sweep of ``n`` ended trials whose loss follows lr alone (optimizer is noise)."""
    entries = [_entry(f"t{i:02d}", "finished", 1.0 + math.log10(10.0 ** -(1 + i % 5)) + 0.01 * i,
                      config={"lr": 10.0 ** -(1 + i % 5), "optimizer": ["adam", "sgd"][i % 2]})
               for i in range(n)]
    return _sweep(storage, "tuned", entries, parameters=["lr", "optimizer"])


def test_the_figures_are_the_reports_and_are_drawn_again_when_trials_end(
    tmp_path: Path,
) -> None:
    pytest.importorskip("plotly")
    pytest.importorskip("sklearn")
    root = _tuned(tmp_path / "results", 12)
    srv = _start([tmp_path / "results"])
    try:
        first = _json(srv, "/api/sweep/tuned/figures")
        assert first["ended"] == 12 and first["cached"] is False
        (par,) = first["parallel"]["data"]
        assert par["type"] == "parcoords"
        labels = [d["label"] for d in par["dimensions"]]
        assert labels == ["lr (log)", "optimizer", "loss (best)"]
        assert sorted(_array(par["dimensions"][0]["values"])) == sorted(
            math.log10(10.0 ** -(1 + i % 5)) for i in range(12))
        importance, correlation = first["importance"]["data"]
        assert importance["type"] == "bar" and importance["y"][0] == "log10(lr)"
        assert _array(importance["x"])[0] > 0.8 and "12 trials" in first[
            "importance"]["layout"]["title"]["text"]
        # A running trial's new report leaves them as they are (kept, not computed again).
        _append(root / TRIALS_LOG_FILE, json.dumps(_entry("r", "running", 0.0)) + "\n")
        kept = _json(srv, "/api/sweep/tuned/figures")
        assert kept["cached"] is True and kept["ended"] == 12
        assert kept["parallel"] == first["parallel"]
        # Trials that end: computed again, over them too.
        more = _tuned(tmp_path / "more", 18)
        _append(root / TRIALS_LOG_FILE, (more / TRIALS_LOG_FILE).read_text()
                .split("\n", 12)[12])
        again = _json(srv, "/api/sweep/tuned/figures")
        assert again["cached"] is False and again["ended"] == 18
        # The running trial has a value too: a line, as in the report.
        assert len(_array(again["parallel"]["data"][0]["dimensions"][0]["values"])) == 19
        assert "19 trials" in again["importance"]["layout"]["title"]["text"]
        assert _get(srv, "/api/sweep/nothing/figures")[0] == 404
    finally:
        srv.shutdown()
        srv.server_close()


def test_the_figures_of_only_the_sweeps_asked_for_last_are_kept(tmp_path: Path) -> None:
    pytest.importorskip("plotly")
    pytest.importorskip("sklearn")
    one, two = _tuned(tmp_path / "a", 6), _tuned(tmp_path / "b", 6)
    cache = FigureCache(keep=1)
    assert cache.get(one, (6, 1))["cached"] is False
    assert cache.get(one, (6, 1))["cached"] is True
    assert cache.get(two, (6, 1))["cached"] is False
    assert cache.get(one, (6, 1))["cached"] is False  # pushed out by the other sweep's
    assert cache.get(one, (7, 1))["cached"] is False  # a trial ended


def test_the_log_tail_is_text_in_json(server: DashboardServer, storage: Path) -> None:
    trial = storage / "done" / "trial_a"
    trial.mkdir()
    text = "".join(f"line {i}\n" for i in range(300)) + "<script>alert(1)</script>\n"
    (trial / "program.log").write_text(text, encoding="utf-8")
    status, headers, body = _get(server, "/api/sweep/done/log/a?lines=2")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert json.loads(body) == {"text": "line 299\n<script>alert(1)</script>\n"}
    assert b"<script>" not in body  # escaped as \u003c in the JSON text too
    assert len(_json(server, "/api/sweep/done/log/a")["text"].splitlines()) == 200
    assert _json(server, "/api/sweep/done/log/b") == {"text": ""}  # no log yet
    assert _get(server, "/api/sweep/done/log/nope")[0] == 404
    assert _get(server, "/api/sweep/done/log/a?lines=many")[0] == 400


def test_stop_and_cancel_need_a_live_driver(server: DashboardServer, storage: Path) -> None:
    root = storage / "cut"
    status, body = _raw(server, "POST", "/api/sweep/cut/stop")
    assert status == 409 and json.loads(body)["ok"] is False
    assert "no driver is running" in json.loads(body)["message"]
    assert not (root / STOP_FILE).exists()
    with DriverLock(root, heartbeat_s=0):
        status, body = _raw(server, "POST", "/api/sweep/cut/stop")
        assert status == 200 and json.loads(body)["ok"] is True
        assert (root / STOP_FILE).read_text(encoding="utf-8").startswith("stop requested at")
        # A page of another site cannot post to it.
        status, _ = _raw(server, "POST", "/api/sweep/cut/cancel",
                         {"Origin": "http://evil.example"})
        assert status == 403 and not (root / CANCEL_FILE).exists()
        port = server.server_address[1]
        status, _ = _raw(server, "POST", "/api/sweep/cut/cancel",
                         {"Origin": f"http://127.0.0.1:{port}", "Host": f"127.0.0.1:{port}"})
        assert status == 200 and (root / CANCEL_FILE).is_file()
        assert _raw(server, "GET", "/api/sweep/cut/stop")[0] == 404  # POST only
    assert _raw(server, "POST", "/api/sweep/nope/stop")[0] == 404


def test_downloads_are_the_results_tables(server: DashboardServer) -> None:
    status, headers, body = _get(server, "/api/sweep/done/download/trials.csv")
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert "attachment" in headers["Content-Disposition"]
    trials = pd.read_csv(io.BytesIO(body))
    assert trials.set_index("trial_id")["loss_best"].to_dict() == {"a": 0.3, "b": 0.2}
    status, _, body = _get(server, "/api/sweep/done/download/trials.parquet")
    assert status == 200 and body[:4] == b"PAR1"
    assert sorted(pd.read_parquet(io.BytesIO(body))["trial_id"]) == ["a", "b"]
    history = pd.read_csv(io.BytesIO(_get(server, "/api/sweep/done/download/history.csv")[2]))
    assert len(history) == 3 and set(history["trial_id"]) == {"a", "b"}
    assert _get(server, "/api/sweep/done/download/secrets.txt")[0] == 404


# -- security ----------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [
    "/api/sweep/..", "/api/sweep/%2e%2e", "/api/sweep/%2E%2E/raysweep.json",
    "/api/sweep/done%2F..%2Fcut", "/api/sweep/..%2Fresults/download/trials.csv",
    "/api/sweep/done/log/..%2F..%2Fraysweep.json", "/api/sweep/done/log/%2e%2e",
    "/static/..", "/static/%2e%2e", "/static/..%2Fserver.py", "/static/../server.py",
    "/static/%2e%2e%2fstate.py", "/static/server.py", "/static/.%2F__init__.py",
    "/../../etc/passwd", "/sweep/../api/sweeps/x",
])
def test_dot_dot_and_slashes_in_ids_and_names_are_not_found(
    server: DashboardServer, path: str
) -> None:
    status, body = _raw(server, "GET", path)
    assert status == 404, (path, body)
    assert b"raysweep.json" not in body or b"error" in body


def test_a_token_is_needed_by_every_request_when_set(storage: Path) -> None:
    srv = _start([storage], host="0.0.0.0", token="s3cret")
    try:
        assert srv.url.endswith("/?token=s3cret")
        for path in ("/api/sweeps", "/", "/api/sweep/done", "/static/app.js"):
            assert _get(srv, path)[0] == 401, path
        assert _get(srv, "/api/sweeps?token=wrong")[0] == 401
        assert _get(srv, "/api/sweeps", {"X-Raysweep-Token": "s3cret"})[0] == 200
        assert _get(srv, "/api/sweeps?token=s3cret")[0] == 200
        assert _get(srv, "/?token=s3cret")[0] == 200
        # Stop and cancel take the header only (a link cannot carry it).
        with DriverLock(storage / "cut", heartbeat_s=0):
            assert _raw(srv, "POST", "/api/sweep/cut/stop?token=s3cret")[0] == 401
            assert _raw(srv, "POST", "/api/sweep/cut/stop", {"X-Raysweep-Token": "s3cret"})[0] \
                == 200
    finally:
        srv.shutdown()
        srv.server_close()
    with pytest.raises(RaysweepError, match="needs a token"):
        serve([storage], host="0.0.0.0", port=0)


def test_without_a_token_only_loopback_names_are_answered(server: DashboardServer) -> None:
    assert _raw(server, "GET", "/api/sweeps", {"Host": "localhost:1"})[0] == 200
    # DNS rebinding: a site whose name now points at 127.0.0.1.
    assert _raw(server, "GET", "/api/sweeps", {"Host": "evil.example:8765"})[0] == 403


def test_pages_and_plotly_are_served_with_their_types(server: DashboardServer) -> None:
    for path in ("/", "/sweep/done", "/compare?ids=done,cut"):
        status, headers, body = _get(server, path)
        assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
        assert headers["X-Content-Type-Options"] == "nosniff" and b"<html" in body.lower()
    pytest.importorskip("plotly")
    status, headers, body = _get(server, "/static/plotly.min.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    assert headers["Cache-Control"] == "max-age=60"  # one header, not no-store as well
    assert len(body) > 1_000_000
    assert _get(server, "/nope")[0] == 404


# -- the command -------------------------------------------------------------------------------
def test_the_command_names_a_port_in_use(storage: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        res = CliRunner().invoke(main, ["dashboard", str(storage), "--port", str(port)])
    assert res.exit_code == 2
    assert f"port {port}" in res.output and "--port" in res.output


def test_the_help_says_how_to_reach_it_on_a_cluster() -> None:
    res = CliRunner().invoke(main, ["dashboard", "--help"])
    assert res.exit_code == 0 and "ssh -L 8765:localhost:8765" in res.output


def test_the_command_serves_until_ctrl_c(storage: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "raysweep", "dashboard", str(storage), "--port", "0",
         "--host", "0.0.0.0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        assert proc.stdout is not None
        url = ""
        while not url:
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else ""
            if line.strip().startswith("http://"):
                url = line.strip()
        port = int(url.split(":")[2].split("/")[0])
        token = url.split("?token=")[1]
        assert len(token) >= 24  # generated for a non-loopback host
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/sweeps?token={token}",
                                    timeout=10) as resp:
            assert len(json.loads(resp.read())["sweeps"]) == 3
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0  # generous: the suite may load the machine
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
