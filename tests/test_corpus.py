"""Acceptance tests over the corpus of real sweep files (``_shared.CORPUS``).

valid/ must load, sample inside its space and (for grid files) enumerate; invalid/ and launch/
must be refused with a message that names the offending key of the file's `# expect:` line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _shared import CORPUS

from raysweep.errors import SweepConfigError, UnsupportedSweepError
from raysweep.sweep import config
from raysweep.sweep import space as sp
from raysweep.sweep.model import Method

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="corpus not available")


def files(kind: str) -> list[Path]:
    return sorted((CORPUS / kind).glob("*.yaml")) if CORPUS.is_dir() else []


def ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


VALID = files("valid")
INVALID = files("invalid")
# W&B's own test configs of its 2026 schema (scheduler.engine, metrics:): refused like Launch
# configs until raysweep runs that schema (issue 20).
LAUNCH = files("launch") + files("schema-2026")

# The key paths each refused file must name (from its `# expect:` line); None when the line
# names no key (the file is not YAML at all).
INVALID_KEYS: dict[str, tuple[str, ...] | None] = {
    "001": ("metric.goal",),
    "002": ("parameters.similarity.n_conv_layers", "parameters.similarity.layer_sizes"),
    "003": ("metric", "method"),
    "004": ("sweep_anew", "sweep_id"),
    "005": ("early_terminate.eta",),
    "006": None,
    "007": ("metric.goal",),
    "008": ("parameters",),
    "009": ("parameters.a.min", "parameters.a.max"),
    "010": ("controller.type",),
    "011": ("method",),
    "012": ("parameters.a.max",),
    "013": ("parameters.a.max",),
    "014": ("run_cap",),
    "015": ("run_cap",),
    "016": ("parameters.v1.max",),
    "017": ("parameters.v1.sigma",),
    "018": ("parameters",),
    "019": ("parameters.v1.probabilities",),
    "020": ("parameters.v1.probabilities",),
    "021": ("parameters.v1.probabilities",),
    "022": ("metrics",),
    "023": ("metrics",),
    "024": ("metrics",),
    "025": ("scheduler",),
    "026": ("scheduler", "method"),
    "027": ("scheduler",),
    "028": ("scheduler",),
    "029": ("early_terminate",),
    "030": ("metric",),
    "031": ("metric.goal",),
    "032": ("parameters.param2.probabilities",),
    "033": ("parameters.parameter1",),
}
# Invalid files that use W&B-hosted features (metrics, scheduler, method: custom).
INVALID_UNSUPPORTED = {"022", "023", "024", "025", "026", "027", "028"}

LAUNCH_KEYS: dict[str, tuple[str, ...]] = {
    "011": ("scheduler",),
    "012": ("scheduler", "method"),
    "013": ("scheduler", "method"),
    "014": ("scheduler", "method"),
    "074": ("metrics", "method"),
    "075": ("scheduler",),
    "076": ("scheduler",),
}

_SCI = re.compile(r"^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE][-+]?[0-9]+$")


def number(path: Path) -> str:
    return path.name[:3]


def refusal(path: Path) -> SweepConfigError:
    with pytest.raises(SweepConfigError) as info:
        config.load(path)
    return info.value


def test_corpus_is_complete() -> None:
    assert len(VALID) >= 140
    assert {number(p) for p in INVALID} == set(INVALID_KEYS)
    assert {number(p) for p in LAUNCH} == set(LAUNCH_KEYS)


# --- refused files -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", INVALID, ids=ids(INVALID))
def test_invalid_file_is_refused_naming_the_key(path: Path) -> None:
    assert path.read_text().splitlines()[1].startswith("# expect: INVALID")
    error = refusal(path)
    assert isinstance(error, UnsupportedSweepError) == (number(path) in INVALID_UNSUPPORTED)
    text = error.render()
    assert text.splitlines()[0].startswith(f"{path}: ")
    keys = INVALID_KEYS[number(path)]
    if keys is None:
        assert [i.path for i in error.issues] == [""]
        assert "YAML syntax error" in text and "(line 5)" in text
        return
    paths = [i.path for i in error.issues]
    for key in keys:
        assert key in paths, f"{key!r} not among {paths}"
        assert f"\n  {key}" in text


@pytest.mark.parametrize("path", LAUNCH, ids=ids(LAUNCH))
def test_launch_file_is_unsupported(path: Path) -> None:
    error = refusal(path)
    assert isinstance(error, UnsupportedSweepError)
    assert [i.path for i in error.issues] == list(LAUNCH_KEYS[number(path)])
    assert "raysweep" in error.render()


@pytest.mark.parametrize("path", INVALID + LAUNCH, ids=ids(INVALID + LAUNCH))
def test_issues_found_in_the_file_carry_their_line(path: Path) -> None:
    for issue in refusal(path).issues:
        if issue.message == "missing" or issue.message.startswith("this is a W&B Launch"):
            continue  # the key is not in the file
        assert issue.line is not None, issue.render()
        assert f"(line {issue.line})" in issue.render()


# --- valid files ---------------------------------------------------------------------------------


def wandb_order(parameters: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """W&B's HyperParameterSet.from_config order: sorted keys at each level, depth first."""
    out: list[tuple[str, ...]] = []

    def walk(d: Mapping[str, Any], prefix: tuple[str, ...]) -> None:
        for name, spec in sorted(d.items()):
            if "parameters" in spec:
                walk(spec["parameters"], prefix + (name,))
            else:
                out.append(prefix + (name,))

    walk(parameters, ())
    return out


def sci_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if _SCI.match(value.strip()) else []
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in sci_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in sci_strings(v)]
    return []


@pytest.mark.parametrize("path", VALID, ids=ids(VALID))
def test_valid_file_loads_and_samples_inside_its_space(path: Path) -> None:
    sweep = config.load(path)
    assert sweep.path == path.resolve()
    space = sweep.parameters
    assert len(space) >= 1
    assert list(space.paths) == wandb_order(sweep.raw["parameters"])
    rng = np.random.default_rng(0)
    for _ in range(20):
        flat = space.sample(rng)
        assert space.contains(flat), flat
        nested = space.unflatten(flat)
        assert space.flatten(nested) == flat
    # No number written in scientific notation is left as a string.
    assert sci_strings(sweep.raw.get("parameters")) == []
    if sweep.method is Method.GRID:
        assert space.grid_size() >= 1
        first = next(space.grid())
        assert space.contains(first)


def test_grid_files_exist() -> None:
    grids = [p for p in VALID if re.search(r"^method: grid", p.read_text(), re.M)]
    assert len(grids) >= 40


@pytest.mark.parametrize(
    ("name", "path", "expected"),
    [
        pytest.param("095", ("lr",), sp.LogUniformValues(min=1e-4, max=1e-3), id="095_lr"),
        pytest.param("095", ("i_sim_proto_weight",), sp.LogUniformValues(min=1e-4, max=5e-2),
                     id="095_weight"),
        pytest.param("104", ("training.optim.lr",), sp.LogUniformValues(min=1e-5, max=1e-3),
                     id="104_lr"),
        pytest.param("104", ("training.optim.weight_decay",),
                     sp.LogUniformValues(min=1e-6, max=1e-3), id="104_weight_decay"),
        pytest.param("003", ("decay",), sp.Categorical((1e-5, 1e-6, 1e-7)), id="003_values"),
        pytest.param("008", ("optimizer.config.learning_rate",), sp.Uniform(min=1e-5, max=0.1),
                     id="008_float_tag"),
        pytest.param("087", ("lr",), sp.Categorical((-1e-3, 1e-3, 1.0, -1e-2)), id="087_signed"),
    ],
)
def test_sci_notation_values_are_floats(
    name: str, path: tuple[str, ...], expected: sp.ParamSpec | None
) -> None:
    [file] = [p for p in VALID if number(p) == name]
    spec = config.load(file).parameters[path]
    if expected is not None:
        assert spec == expected
    numbers = [v for k, v in vars(spec).items() if k in ("min", "max")] or list(
        getattr(spec, "values", ())
    )
    assert numbers and all(type(v) is float for v in numbers)
