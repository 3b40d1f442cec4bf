"""Running the ``raysweep`` command in a subprocess, as a user does, on its own private Ray."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path


def cli_argv() -> list[str]:
    """The installed ``raysweep`` script, or the same entry point through this Python."""
    script = Path(sys.executable).with_name("raysweep")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from raysweep.cli import main; main()"]


@contextlib.contextmanager
def private_ray_env(prefix: str) -> Iterator[dict[str, str]]:
    """An environment whose ``raysweep run`` starts its own Ray, not the session's: its own
    short temp dir (Ray's socket paths must stay under the AF_UNIX limit), removed after."""
    ray_tmp = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["RAY_TMPDIR"] = ray_tmp
    try:
        yield env
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)


def run_cli(args: list[str], *, cwd: Path, env: dict[str, str],
            timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run ``raysweep ARGS`` and capture its output as text."""
    return subprocess.run([*cli_argv(), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
