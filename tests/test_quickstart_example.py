"""The quickstart's program runs alone, as its docstring says, without warnings of its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

QUICKSTART = Path(__file__).resolve().parents[1] / "examples" / "quickstart"


@pytest.mark.parametrize("lr", ["0.3", "0.0001"])  # the sweep's range: diverging and slow
def test_the_quickstart_program_reports_every_epoch_without_warnings(lr: str) -> None:
    run = subprocess.run(
        [sys.executable, "-W", "default", "train.py", "--epochs=3", f"--lr={lr}"],
        cwd=QUICKSTART, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert [line.split(":")[0] for line in run.stdout.splitlines()] == [
        "epoch 1", "epoch 2", "epoch 3"]
    # Only raysweep's note that raysweep.log was called outside a sweep (run alone).
    warnings = [line for line in run.stderr.splitlines() if "Warning" in line]
    assert all("RaysweepWarning" in line for line in warnings), run.stderr
