"""The names `raysweep` exports are the public API: each resolves, and the Ray-dependent ones
load only when used."""

from __future__ import annotations

import copy
import importlib
import inspect
import pickle
import pkgutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import raysweep


def test_every_exported_name_resolves() -> None:
    for name in raysweep.__all__:
        assert getattr(raysweep, name) is not None, name
    assert {"run", "resume", "results", "load", "loads", "from_dict"} <= set(raysweep.__all__)


def test_every_error_raysweep_defines_is_exported() -> None:
    import raysweep.errors

    assert set(raysweep.errors.__all__) <= set(raysweep.__all__)
    for name in raysweep.errors.__all__:
        assert getattr(raysweep, name) is getattr(raysweep.errors, name)


def test_importing_raysweep_does_not_import_ray() -> None:
    code = "import sys, raysweep; raysweep.from_dict; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def _error_samples() -> list[BaseException]:
    """One instance of every exception class raysweep defines, each with its fields set."""
    from raysweep.cli.script import _SweepEnded
    from raysweep.errors import (
        Issue,
        ProgramFailedError,
        ProgramStartError,
        RaysweepError,
        RaysweepWarning,
        ReportLineError,
        SweepConfigError,
        UnsupportedSweepError,
    )
    from raysweep.execution.trainable import _Pause
    from raysweep.program.wandb_artifacts import ArtifactNotMappedError
    from raysweep.program.wandb_config import ConfigError, ConfigKeyError

    issue = Issue("parameters.lr.max", "must be greater than min", "Swap them.", 3)
    return [
        RaysweepError("x"),
        RaysweepWarning("probably not meant"),
        ProgramFailedError("exit 1"),
        ProgramStartError("train.py", "/tmp", "not found", "check the path"),
        ProgramStartError("train.py", "/tmp", "permission denied"),
        ReportLineError("payload is not JSON", tag="@raysweep"),
        SweepConfigError([issue], "sweep.yaml"),
        UnsupportedSweepError([issue]),
        ConfigError("Attempted to change value of key 'lr'"),
        ConfigKeyError("lr"),
        _SweepEnded(130, Path("/tmp/sweep")),
        ArtifactNotMappedError("artifact 'data:latest' is not mapped to a local path"),
        _Pause({"loss": 0.5}),
    ]


def _pickled(error: BaseException) -> BaseException:
    result: BaseException = pickle.loads(pickle.dumps(error))
    return result


COPIES = [
    pytest.param(copy.copy, id="copy"),
    pytest.param(copy.deepcopy, id="deepcopy"),
    pytest.param(_pickled, id="pickle"),
]


@pytest.mark.parametrize("duplicate", COPIES)
def test_every_error_survives_copy_and_pickle(
    duplicate: Callable[[BaseException], BaseException],
) -> None:
    # Errors raised in a Ray worker reach the driver pickled, and Ray copies them
    # (copy.copy) before it shows them: a failed copy replaces the user's message by a
    # TypeError about __init__'s arguments.
    for error in _error_samples():
        error.add_note("added after raising")  # attributes set later travel too
        twin = duplicate(error)
        assert type(twin) is type(error), error
        assert str(twin) == str(error) and twin.args == error.args
        assert vars(twin) == vars(error)
        assert twin.__notes__ == ["added after raising"]


def test_a_copied_program_start_error_keeps_its_fields() -> None:
    from raysweep.errors import ProgramStartError

    error = ProgramStartError("train.py", "/work", "permission denied", "chmod +x train.py")
    for twin in (copy.copy(error), copy.deepcopy(error), _pickled(error)):
        assert isinstance(twin, ProgramStartError)
        assert (twin.program, twin.cwd, twin.reason, twin.hint) == (
            "train.py", "/work", "permission denied", "chmod +x train.py")
        assert str(twin) == (
            "cannot start program 'train.py' in '/work': permission denied. chmod +x train.py")


def _defined_exception_classes() -> set[type[BaseException]]:
    """Every exception class defined in a module of raysweep, its searchers and schedulers
    (the wandb stand-in is checked in test_wandb_shim.py, imported under its own name)."""
    import raysweep.schedulers
    import raysweep.search

    found: set[type[BaseException]] = set()
    for package in (raysweep, raysweep.search, raysweep.schedulers):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if info.name.endswith(".__main__"):  # runs the command line on import
                continue
            if info.name == "raysweep.wandb":  # installs the stand-in as `wandb` on import
                continue
            module = importlib.import_module(info.name)
            for value in vars(module).values():
                if (inspect.isclass(value) and issubclass(value, BaseException)
                        and value.__module__ == module.__name__):
                    found.add(value)
    return found


def test_the_copy_test_covers_every_exception_class() -> None:
    # A new exception class must join _error_samples, so its copy and pickle are tested.
    defined = _defined_exception_classes()
    sampled = {type(error) for error in _error_samples()}
    assert defined - sampled == set()
    assert len(defined) >= 9  # the walk did find the modules
