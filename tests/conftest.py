"""Shared fixtures. Unit tests never start Ray; tests marked ``ray`` share one local Ray."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def pytest_sessionstart(session: pytest.Session) -> None:
    """With ``RAYSWEEP_REQUIRE_CORPUS`` set (CI), a missing corpus is an error, not skips."""
    from _shared import CORPUS, REQUIRED

    if REQUIRED and not CORPUS.is_dir():
        raise pytest.UsageError(
            f"RAYSWEEP_REQUIRE_CORPUS is set but the corpus is not at {CORPUS}: clone beside "
            "shared/ or set RAYSWEEP_SHARED"
        )


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    """One local Ray for the whole test session: its own temp dir, 2 CPUs, 2 fake GPUs, no
    dashboard. Shut down at the end."""
    from raysweep.execution.ray_session import RAY_QUIET_ENV, WORKER_ENV

    for key, value in {**RAY_QUIET_ENV, **WORKER_ENV}.items():
        os.environ.setdefault(key, value)
    # A short path: Ray's socket paths must stay under the 107-byte AF_UNIX limit.
    tmp = tempfile.mkdtemp(prefix="rst", dir="/tmp")
    os.environ["RAY_TMPDIR"] = tmp
    import ray

    ray.init(
        "local",
        num_cpus=2,
        num_gpus=2,
        include_dashboard=False,
        logging_level="ERROR",
        log_to_driver=False,
        _temp_dir=tmp,
        runtime_env={"env_vars": dict(WORKER_ENV)},
    )
    try:
        yield
    finally:
        ray.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests marked `ray` get the shared session automatically.
    for item in items:
        if item.get_closest_marker("ray") is not None:
            item.fixturenames.insert(0, "ray_session")  # type: ignore[attr-defined]


@pytest.fixture
def wandb(trial: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The stand-in, imported as ``wandb``, inside the test module's own ``trial`` fixture
    (the environment of a trial); forgotten again afterwards."""
    from _standin import stand_in_imported

    with stand_in_imported(monkeypatch) as module:
        yield module
