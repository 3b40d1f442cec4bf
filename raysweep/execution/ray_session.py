"""Starting or joining the Ray that runs a sweep, quietly, and failing fast where Ray would hang.

Ray reads its settings from environment variables when its modules are imported, so they are
set before the first ``import ray`` of a run.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from typing import Any

from raysweep.errors import RaysweepError
from raysweep.execution.options import RunOptions, check_whole

__all__ = ["RAY_QUIET_ENV", "WORKER_ENV", "quiet_callbacks", "ray_for", "start_ray"]

RAY_QUIET_ENV = {
    # Tune's new console output would interleave with raysweep's own view.
    "RAY_AIR_NEW_OUTPUT": "0",
    "RAY_TRAIN_ENABLE_V2_MIGRATION_WARNINGS": "0",
    # raysweep records every report itself (history.jsonl, trials.jsonl) and never reads Tune's
    # per-trial result.json / progress.csv / TensorBoard files: writing them cost about a fifth
    # of the driver's time in short trials (benchmarks/README.md). "0" brings them back.
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    "RAY_DEDUP_LOGS": "0",
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "100000",
    "TUNE_WARN_SLOW_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "100000",
    # A report without the sweep's metric is a normal step (W&B skips such rows); Tune would
    # otherwise end the whole sweep with a ValueError on the first one.
    "TUNE_DISABLE_STRICT_METRIC_CHECKING": "1",
}
# Trials must run where the user expects (their cwd for functions); programs get an explicit cwd.
WORKER_ENV = {"RAY_CHDIR_TO_TRIAL_DIR": "0"}


def _unreachable(address: str | None, reason: object) -> RaysweepError:
    """The error for a cluster that does not answer.

    >>> print(_unreachable("auto", "no Ray instance. Set RAY_ADDRESS.."))  # doctest: +ELLIPSIS
    cannot reach the Ray cluster at 'auto': no Ray instance. Set RAY_ADDRESS. Start one ...
    """
    # Ray's own messages end with a full stop (one of them with two).
    said = str(reason).rstrip(". ")
    return RaysweepError(
        f"cannot reach the Ray cluster at {address!r}: {said}. Start one with "
        "`ray start --head`, check the address (`ray status` on the head node shows it), or "
        "run without --address to use a private local Ray"
    )


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast on a ``host:port`` nobody answers at: Ray would retry for minutes."""
    import socket

    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or "://" in address:
        return  # "auto", "ray://...": Ray resolves those itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise _unreachable(address, exc.strerror or exc) from None


def start_ray(options: RunOptions) -> bool:
    """Start or join Ray; return True if this call started it (and must shut it down).

    Raises:
        RaysweepError: the cluster at ``options.address`` does not answer, or the local
            node's size is not a whole number of CPUs/GPUs (Ray counts them in units).
    """
    for key, value in RAY_QUIET_ENV.items():
        os.environ.setdefault(key, value)
    for key, value in WORKER_ENV.items():
        os.environ.setdefault(key, value)
    if options.address:
        _check_reachable(options.address)  # also when Ray is up: a wrong address is a mistake
    else:
        check_whole("num_cpus", options.num_cpus, 1)
        check_whole("num_gpus", options.num_gpus, 0)
    import ray

    if ray.is_initialized():
        return False
    common: dict[str, Any] = {
        "logging_level": "ERROR",
        "log_to_driver": False,
        "runtime_env": {"env_vars": dict(WORKER_ENV)},
        "configure_logging": True,
    }
    try:
        if options.address:
            ray.init(address=options.address, **common)
        else:
            # "local" always starts a new instance: "auto" (and no address) would attach to any
            # cluster this machine ran before, even a stale one.
            ray.init(
                address="local",
                num_cpus=options.num_cpus,
                num_gpus=options.num_gpus,
                include_dashboard=False,
                **common,
            )
    except ConnectionError as exc:
        raise _unreachable(options.address, exc) from None
    return True


@contextlib.contextmanager
def ray_for(options: RunOptions) -> Iterator[None]:
    """Ray for the length of the block: started (and then shut down) only if not running."""
    started = start_ray(options)
    try:
        yield
    finally:
        if started:
            import ray

            ray.shutdown()


def quiet_callbacks() -> list[Any]:
    """Return the Tune callbacks that keep Tune's own trial lines off the terminal.

    Tune adds a ``TrialProgressCallback`` to every run that has none. Whatever the verbosity,
    it prints ``Trial ... completed. Last result: `` when a trial that reported nothing ends;
    raysweep shows every trial itself (its lines, the live view), so it passes a silent one,
    for its own runs only.
    """
    return [_silent_progress_class()()]


@functools.cache
def _silent_progress_class() -> type:
    # Built on first use: importing ray.tune here, when this module is imported, would read
    # Ray's settings before start_ray() sets RAY_QUIET_ENV.
    from ray.tune.progress_reporter import TrialProgressCallback

    class SilentTrialProgress(TrialProgressCallback):
        """Tune's trial progress callback, printing nothing: raysweep shows trials itself."""

        def on_trial_result(self, *args: Any, **kwargs: Any) -> None:
            pass

        def on_trial_error(self, *args: Any, **kwargs: Any) -> None:
            pass

        def on_trial_complete(self, *args: Any, **kwargs: Any) -> None:
            pass

    # Tune pickles its callbacks with the run's settings (tuner.pkl): pickle finds the class
    # by this module-level name, through __getattr__ below.
    SilentTrialProgress.__module__ = __name__
    SilentTrialProgress.__qualname__ = "SilentTrialProgress"
    return SilentTrialProgress


def __getattr__(name: str) -> Any:
    if name == "SilentTrialProgress":
        return _silent_progress_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
