"""Acceptance tests over the corpus of real sweep files (``_shared.CORPUS``).

valid/ must load, sample inside its space and (for grid files) enumerate; invalid/ and launch/
must be refused with a message that names the offending key of the file's `# expect:` line.
schema-2026/ (W&B's own tests of its 2026 schema) must pass every 2026 rule; what is left is
raysweep's own rules, listed per file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
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
LAUNCH = files("launch")
# W&B's own test configs of its 2026 schema (scheduler.engine, metrics:).
SCHEMA_2026 = files("schema-2026")

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
    "025": ("method", "scheduler.source"),
    "026": ("method",),
    "027": ("early_terminate",),
    "028": ("controller",),
    "029": ("early_terminate",),
    "030": ("metric",),
    "031": ("metric.goal",),
    "032": ("parameters.param2.probabilities",),
    "033": ("parameters.parameter1",),
}
# Invalid files that use W&B-hosted features (`method: custom` without a `scheduler`: W&B
# Launch's scheduler job).
INVALID_UNSUPPORTED = {"023", "024"}

LAUNCH_KEYS: dict[str, tuple[str, ...]] = {
    "011": ("scheduler",),
    "012": ("scheduler", "method"),
    "013": ("scheduler", "method"),
    "014": ("scheduler", "method"),
}

# What W&B's 2026 test configs get from raysweep once the `scheduler.py` they name exists (as
# W&B's tests assume): no 2026 rule fails; left are raysweep's own refusals. 074: `method:
# custom` with no `scheduler` names no engine raysweep runs (W&B hands it to a Launch scheduler
# job); 075, 076: bayes without a metric, which W&B's bayes search also refuses when it starts.
SCHEMA_2026_LEFT: dict[str, tuple[type[SweepConfigError], list[str]]] = {
    "074": (UnsupportedSweepError, ["method"]),
    "075": (SweepConfigError, ["metric"]),
    "076": (SweepConfigError, ["metric"]),
}
# And what each needs to run on raysweep, appended to the file.
SCHEMA_2026_FIX = {
    "074": "scheduler: {engine: optuna}\n",
    "075": "metric: {name: loss}\n",
    "076": "metric: {name: loss}\n",
}
HOOKS = "def build_study():\n    pass\n\n\ndef search_space(trial):\n    pass\n"

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
    assert {number(p) for p in SCHEMA_2026} == set(SCHEMA_2026_LEFT)


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


@pytest.mark.parametrize("path", SCHEMA_2026, ids=ids(SCHEMA_2026))
def test_schema_2026_file_passes_every_2026_rule(path: Path, tmp_path: Path) -> None:
    copy = tmp_path / path.name
    copy.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "scheduler.py").write_text(HOOKS, encoding="utf-8")
    kind, paths = SCHEMA_2026_LEFT[number(path)]
    with pytest.raises(SweepConfigError) as info:
        config.load(copy)
    assert type(info.value) is kind
    assert [i.path for i in info.value.issues] == paths
    # With what raysweep needs added, the file loads as W&B's 2026 schema reads it.
    copy.write_text(copy.read_text(encoding="utf-8") + SCHEMA_2026_FIX[number(path)],
                    encoding="utf-8")
    sweep = config.load(copy)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if "metrics" in raw:
        assert [(m.name, str(m.goal)) for m in sweep.metrics] == [
            (m["name"], m["goal"]) for m in raw["metrics"]]
        assert sweep.metric is None and sweep.method is Method.CUSTOM
    if "scheduler" in raw:
        assert sweep.scheduler is not None
        assert sweep.scheduler.source == tmp_path.resolve() / raw["scheduler"]["source"]
        assert (sweep.scheduler.optimizer, sweep.scheduler.search_space) == (
            raw["scheduler"]["optimizer"], raw["scheduler"]["search_space"])
        # Valid W&B, but raysweep's bayes reads `parameters`, not the hooks: refused at run.
        assert [i.path for i in config.runnable_issues(sweep)] == [
            "scheduler.optimizer", "scheduler.search_space"]
    assert len(sweep.parameters) == len(raw.get("parameters", {}))


def test_schema_2026_source_is_read_from_the_files_folder() -> None:
    [path] = [p for p in SCHEMA_2026 if number(p) == "075"]
    error = refusal(path)
    [issue] = [i for i in error.issues if i.path == "scheduler.source"]
    looked = path.parent / "scheduler.py"
    assert issue.message == f"'scheduler.py' not found (looked for {looked})"


def top_keys(path: Path) -> set[str]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return set()
    return set(data) if isinstance(data, dict) else set()


@pytest.mark.parametrize("path", INVALID + LAUNCH, ids=ids(INVALID + LAUNCH))
def test_issues_found_in_the_file_carry_their_line(path: Path) -> None:
    keys = top_keys(path)
    for issue in refusal(path).issues:
        if issue.path and re.split(r"[.\[]", issue.path)[0] not in keys:
            continue  # the key is not in the file (a missing metric, a missing method)
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
