"""``raysweep.open_dashboard(...)``: the dashboard served from the caller's process (a notebook's
kernel), with its URL, ``stop()`` and the link a notebook shows. No Ray."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import raysweep
from raysweep.dashboard import handle
from raysweep.errors import RaysweepError


def _sweep(storage: Path, name: str) -> None:
    root = storage / name
    root.mkdir(parents=True)
    (root / "raysweep.json").write_text(json.dumps(
        {"name": name, "method": "random", "metric": "loss", "goal": "minimize", "mode": "min",
         "parameters": ["lr"]}), encoding="utf-8")
    (root / "trials.jsonl").write_text(json.dumps(
        {"trial_id": "a", "status": "finished", "config": {"lr": 0.1}, "best": 0.25,
         "last": 0.25, "steps": 1}) + "\n", encoding="utf-8")


def _read(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as reply:
        body: bytes = reply.read()
        return body


def test_import_raysweep_leaves_the_dashboard_unimported() -> None:
    code = ("import sys, raysweep; print('raysweep.dashboard' in sys.modules, "
            "'open_dashboard' in raysweep.__all__, callable(raysweep.open_dashboard))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "True", "True"]


def test_it_serves_the_storage_from_a_thread_until_stopped(tmp_path: Path) -> None:
    _sweep(tmp_path / "results", "mine")
    board = raysweep.open_dashboard(storage=tmp_path / "results", port=0)
    try:
        assert board.running and board.url.startswith("http://127.0.0.1:")
        sweeps = json.loads(_read(board.url + "api/sweeps"))["sweeps"]
        assert [(s["id"], s["best"]) for s in sweeps] == [("mine", 0.25)]
        assert b'data-page="sweep"' in _read(board.sweep_url("mine"))
        link = board._repr_html_()
        assert f'<a href="{board.url}" target="_blank"' in link and "results" in link
        second = raysweep.open_dashboard([tmp_path / "results", tmp_path / "none"], port=0)
        with second:
            assert second.url != board.url and len(second.storages) == 2
        assert not second.running and "stopped" in second._repr_html_()
    finally:
        board.stop()
    assert not board.running
    with pytest.raises(urllib.error.URLError):
        _read(board.url + "api/sweeps")
    board.stop()  # again: nothing


def test_a_taken_port_is_refused_when_given_and_replaced_when_not(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(RaysweepError, match=f"port {port} on 127.0.0.1 is in use"):
            raysweep.open_dashboard(tmp_path, port=port)
        monkeypatch.setattr(handle, "DEFAULT_PORT", port)
        with raysweep.open_dashboard(tmp_path) as board:
            assert f":{port}/" not in board.url
            assert _read(board.url + "api/sweeps") == b'{"sweeps": []}'


def test_another_host_gets_a_token_that_the_url_carries(tmp_path: Path) -> None:
    with raysweep.open_dashboard(tmp_path, host="0.0.0.0", port=0) as board:  # noqa: S104
        assert "?token=" in board.url
        port = board.url.split(":")[2].split("/")[0]
        with pytest.raises(urllib.error.HTTPError) as refused:
            _read(f"http://127.0.0.1:{port}/api/sweeps")
        assert refused.value.code == 401
        token = board.url.split("?token=")[1]
        assert _read(f"http://127.0.0.1:{port}/api/sweeps?token={token}") == b'{"sweeps": []}'
        assert board.sweep_url("x").endswith(f"/sweep/x?token={token}")
