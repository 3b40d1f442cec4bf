"""The names `raysweep` exports are the public API: each resolves, and the Ray-dependent ones
load only when used."""

from __future__ import annotations

import subprocess
import sys

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


def test_every_error_survives_a_pickle_round_trip() -> None:
    # Errors raised in a Ray worker reach the driver pickled.
    import pickle

    from raysweep.errors import (
        Issue,
        ProgramFailedError,
        ProgramStartError,
        RaysweepError,
        ReportLineError,
        SweepConfigError,
        UnsupportedSweepError,
    )

    issue = Issue("parameters.lr.max", "must be greater than min", "Swap them.", 3)
    errors = [
        RaysweepError("x"),
        ProgramFailedError("exit 1"),
        ProgramStartError("train.py", "/tmp", "not found", "check the path"),
        ReportLineError("payload is not JSON", tag="@raysweep"),
        SweepConfigError([issue], "sweep.yaml"),
        UnsupportedSweepError([issue]),
    ]
    for error in errors:
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error)
        assert vars(copy) == vars(error)
