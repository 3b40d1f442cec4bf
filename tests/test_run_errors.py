"""Mistakes `raysweep run` reports before starting Ray: a clear error, fast, no traceback."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

import raysweep
from raysweep.errors import RaysweepError

SWEEP: dict[str, Any] = {
    "method": "grid",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {"x": {"values": [1, 2]}},
}


def _train(config: dict[str, Any]) -> None:
    raysweep.log({"loss": config["x"]})


def test_a_results_folder_that_cannot_be_created_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    expected = r"cannot create the results folder .*file/sub.*--storage"
    with pytest.raises(RaysweepError, match=expected):
        raysweep.run(SWEEP, function=_train, storage=blocker / "sub")


def test_an_address_nobody_answers_at_fails_fast(tmp_path: Path) -> None:
    # A port that was free a moment ago: connecting is refused at once.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    expected = rf"cannot reach the Ray cluster at '127.0.0.1:{port}'"
    with pytest.raises(RaysweepError, match=expected):
        raysweep.run(SWEEP, function=_train, storage=tmp_path, address=f"127.0.0.1:{port}")
    assert time.monotonic() - started < 10  # Ray itself would retry for minutes


def test_a_local_ray_size_ray_cannot_take_is_refused(tmp_path: Path) -> None:
    # Ray counts a node's CPUs and GPUs in whole units; it would fail later with its own
    # ValueError.
    with pytest.raises(RaysweepError, match=r"num_gpus must be a whole number >= 0, got 1.5"):
        raysweep.run(SWEEP, function=_train, storage=tmp_path, num_gpus=1.5)
    with pytest.raises(RaysweepError, match=r"num_cpus must be a whole number >= 1, got 0"):
        raysweep.run(SWEEP, function=_train, storage=tmp_path, num_cpus=0)
    from click.testing import CliRunner

    from raysweep.cli import main

    sweep = tmp_path / "sweep.yaml"
    sweep.write_text("method: grid\nparameters: {x: {values: [1]}}\nprogram: p.py\n",
                     encoding="utf-8")
    res = CliRunner().invoke(main, ["run", str(sweep), "--num-gpus", "1.5"])
    assert res.exit_code == 2
    assert "--num-gpus" in res.output and "1.5" in res.output
    assert "Traceback" not in res.output


@pytest.mark.parametrize("damage", ["missing", "not text", "not a sweep"])
def test_resume_names_a_missing_or_damaged_saved_sweep_yaml(tmp_path: Path, damage: str) -> None:
    from click.testing import CliRunner

    from raysweep.api import resume
    from raysweep.cli import main
    from raysweep.errors import SweepConfigError

    # The sweep was started from another file; the saved copy is what resume reads.
    meta = {"name": "s", "source": str(tmp_path / "elsewhere" / "sweep.yaml")}
    (tmp_path / "raysweep.json").write_text(json.dumps(meta), encoding="utf-8")
    if damage == "not text":
        (tmp_path / "sweep.yaml").write_bytes(b"\xff\xfe\x00method")
    elif damage == "not a sweep":
        (tmp_path / "sweep.yaml").write_text("method: grdi\n", encoding="utf-8")
    expected = r"unknown method 'grdi'" if damage == "not a sweep" else (
        r"cannot read the sweep's configuration .*sweep\.yaml .*raysweep resume needs"
    )
    error = SweepConfigError if damage == "not a sweep" else RaysweepError
    # Raised before Ray starts (a missing file used to surface as FileNotFoundError).
    with pytest.raises(error, match=expected) as caught:
        resume(tmp_path)
    if damage == "not a sweep":
        assert caught.value.source == str(tmp_path / "sweep.yaml")
    res = CliRunner().invoke(main, ["resume", str(tmp_path)])
    assert res.exit_code == 2
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert "Traceback" not in res.output
    wanted = "unknown method 'grdi'" if damage == "not a sweep" else "raysweep resume needs"
    assert wanted in " ".join(res.output.split())
