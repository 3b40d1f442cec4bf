"""A worker node dies mid-sweep: its trials are rescheduled on the other node and every
trial is accounted for (fake multi-node cluster in a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).parent / "_scripts" / "node_loss.py"


def test_sweep_completes_when_a_worker_node_dies() -> None:
    work = Path(tempfile.mkdtemp(prefix="rsn", dir="/tmp"))
    env = dict(os.environ, RAY_TMPDIR=str(work))
    env.pop("RAY_ADDRESS", None)
    try:
        done = subprocess.run([sys.executable, str(SCRIPT), str(work)], env=env,
                              capture_output=True, text=True, timeout=300)
    finally:
        subprocess.run(["rm", "-rf", str(work)], check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    trials = json.loads(done.stdout.strip().splitlines()[-1])
    assert sorted(t["x"] for t in trials) == [0, 1, 2, 3, 4, 5]
    assert {t["status"] for t in trials} == {"finished"}
    assert all(t["steps"] == 6 for t in trials)
    # Trials that were on the lost node ran again on the other one.
    assert sum(t["retries"] for t in trials) >= 1
