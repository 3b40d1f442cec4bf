"""W&B artifacts under raysweep: ``raysweep: {artifacts: ...}`` maps names to local paths;
logged artifacts are copied into the trial's folder.

The name rules are tested on :mod:`raysweep.program.wandb_artifacts`, the sweep file's key on
the config loader, the stand-in in this process and as a program trial's subprocess; one test
runs a sweep on Ray.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from _standin import enter_trial

from raysweep.errors import SweepConfigError
from raysweep.execution.trainable import ProgramSpec, trial_environment
from raysweep.program.metrics import parse_report_line, set_function_reporter
from raysweep.program.once import reset_warnings
from raysweep.program.wandb_agent import (
    agent_environment,
    function_trial,
)
from raysweep.program.wandb_artifacts import (
    ArtifactNotMappedError,
    artifact_mapping,
    match_artifact,
    resolve_artifact,
)
from raysweep.program.wandb_init import ARTIFACTS_ENV
from raysweep.program.wandb_media import read_index
from raysweep.sweep.config import from_dict, loads

UNMAPPED = """\
artifact 'data:v2' is not mapped to a local path: raysweep has no W&B server to download it \
from. Mapped artifacts: 'mnist:latest', 'model'. Map it in the sweep file (a relative path is \
read from the sweep file's folder):

raysweep:
  artifacts:
    "data:v2": ./path/to/files"""


@pytest.fixture(autouse=True)
def fresh_warnings() -> Iterator[None]:
    reset_warnings()
    yield
    reset_warnings()


# -- names --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "mapping", "expected"),
    [
        pytest.param("mnist:v3", {"mnist:v3": "/a", "mnist": "/b"}, "/a", id="exact"),
        pytest.param("team/proj/mnist:v3", {"mnist:v3": "/a"}, "/a", id="entity_project_asked"),
        pytest.param("mnist:v3", {"team/proj/mnist:v3": "/a"}, "/a", id="entity_project_mapped"),
        pytest.param("team/proj/mnist:v3", {"proj/mnist:v3": "/a", "other/mnist:v3": "/b"}, "/a",
                     id="project_only"),
        pytest.param("mnist", {"mnist:latest": "/a", "mnist:v1": "/b"}, "/a",
                     id="no_alias_is_latest"),
        pytest.param("mnist:v7", {"mnist": "/a", "mnist:v1": "/b"}, "/a",
                     id="unversioned_maps_every_version"),
        pytest.param("mnist:v1", {"mnist": "/a", "mnist:v1": "/b"}, "/b", id="alias_wins"),
    ],
)
def test_artifact_names_match_as_written_or_by_name_and_alias(
    name: str, mapping: dict[str, str], expected: str
) -> None:
    assert match_artifact(name, mapping) == expected


def test_an_unmapped_artifact_names_itself_the_mapped_ones_and_the_yaml() -> None:
    with pytest.raises(ArtifactNotMappedError) as info:
        match_artifact("data:v2", {"mnist:latest": "/a", "model": "/b"})
    assert str(info.value) == UNMAPPED
    with pytest.raises(ArtifactNotMappedError, match="Mapped artifacts: none."):
        match_artifact("data", {})


def test_an_ambiguous_name_is_refused() -> None:
    with pytest.raises(ArtifactNotMappedError,
                       match="'data:v1' matches several entries of raysweep.artifacts: "
                             "'a/data:v1', 'b/data:v1'"):
        match_artifact("data:v1", {"a/data:v1": "/a", "b/data:v1": "/b"})


def test_a_mapped_path_that_is_missing_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError,
                       match=f"artifact 'd' is mapped to {tmp_path}/gone, which does not exist"):
        resolve_artifact("d", {"d": str(tmp_path / "gone")})


def test_the_mapping_variable_must_be_an_object_of_paths() -> None:
    with pytest.raises(ValueError, match="RAYSWEEP_ARTIFACTS is not JSON"):
        artifact_mapping({ARTIFACTS_ENV: "{oops"})
    with pytest.raises(ValueError, match="must be a JSON object of names to paths"):
        artifact_mapping({ARTIFACTS_ENV: '{"a": 1}'})


# -- the sweep file's key -----------------------------------------------------------------------

SWEEP = {"method": "grid", "parameters": {"x": {"values": [1]}}}


def test_the_sweep_file_maps_names_to_paths_relative_to_its_folder(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    text = yaml.safe_dump({**SWEEP, "raysweep": {"artifacts": {
        "mnist:latest": "./data", "team/p/model:v3": "/abs/model.pt"}}})
    cfg = loads(text, path=tmp_path / "sweep.yaml")
    assert cfg.options.artifacts == (("mnist:latest", "./data"),
                                     ("team/p/model:v3", "/abs/model.pt"))
    assert cfg.artifact_paths() == {"mnist:latest": str(tmp_path / "data"),
                                    "team/p/model:v3": "/abs/model.pt"}
    # The missing one is a warning: it may exist on the nodes that run trials only.
    assert [(w.path, w.message) for w in cfg.warnings] == [
        ("raysweep.artifacts.team/p/model:v3",
         "'/abs/model.pt' does not exist here (/abs/model.pt); a trial that uses artifact "
         "'team/p/model:v3' fails unless the path exists on its node")]


@pytest.mark.parametrize(
    ("artifacts", "problems"),
    [
        pytest.param("  artifacts: [a]", ["raysweep.artifacts (line 5): must be a mapping of "
                                          "artifact names to paths, got a list"], id="list"),
        pytest.param("  artifacts:\n    a: 3\n    b:\n    c: ''",
                     ["raysweep.artifacts.a (line 6): must be a path (a file or a folder), got 3",
                      "raysweep.artifacts.b (line 7): must be a path (a file or a folder), got "
                      "nothing (null)",
                      "raysweep.artifacts.c (line 8): must be a path (a file or a folder), got "
                      "the string ''"], id="bad_paths"),
        pytest.param("  artifacts: {1: ./x}",
                     ["raysweep.artifacts.1 (line 5): an artifact name must be non-empty text, "
                      "got 1"], id="bad_name"),
    ],
)
def test_bad_artifact_entries_are_errors_with_their_key_path(
    tmp_path: Path, artifacts: str, problems: list[str]
) -> None:
    text = f"method: grid\nparameters:\n  x: {{values: [1]}}\nraysweep:\n{artifacts}\n"
    with pytest.raises(SweepConfigError) as info:
        loads(text, path=tmp_path / "sweep.yaml")
    rendered = [line.strip() for line in str(info.value).splitlines()[1:]]
    assert [line.split(". Map each name")[0] for line in rendered] == problems
    assert all(line.endswith('e.g. `artifacts: {"mnist:latest": ./data}`.') for line in rendered)


def test_trials_get_the_mapping_as_json(tmp_path: Path) -> None:
    cfg = from_dict({**SWEEP, "raysweep": {"artifacts": {"d:v1": str(tmp_path)}}})
    env = agent_environment({}, trial_id="t", trial_dir=tmp_path, sweep_id="s", mode="shim",
                            artifacts=cfg.artifact_paths())
    assert json.loads(env[ARTIFACTS_ENV]) == {"d:v1": str(tmp_path)}
    spec = ProgramSpec.from_config(cfg, "s")
    env = trial_environment({}, spec, "t", tmp_path, {})
    assert json.loads(env[ARTIFACTS_ENV]) == {"d:v1": str(tmp_path)}
    assert ARTIFACTS_ENV not in agent_environment({}, trial_id="t", trial_dir=tmp_path,
                                                  sweep_id="s", mode="shim")


# -- the stand-in, in this process --------------------------------------------------------------


@pytest.fixture
def trial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A trial's environment with a mapped folder ``data:v1`` and a mapped file ``model``."""
    trial_dir = enter_trial(tmp_path, monkeypatch)
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "train.csv").write_text("a,b\n1,2\n")
    (data / "sub" / "more.txt").write_text("more")
    model = tmp_path / "model.pt"
    model.write_bytes(b"weights")
    monkeypatch.setenv(ARTIFACTS_ENV, json.dumps({"data:v1": str(data), "model": str(model)}))
    previous = set_function_reporter(lambda row: None)
    try:
        yield {"dir": trial_dir, "data": data, "model": model}
    finally:
        set_function_reporter(previous)



def test_a_used_artifact_is_its_mapped_path(
    wandb: ModuleType, trial: dict[str, Any], tmp_path: Path
) -> None:
    run = wandb.init()
    artifact = run.use_artifact("my-team/proj/data:v1", type="dataset")
    assert (artifact.name, artifact.type, artifact.version) == (
        "my-team/proj/data:v1", "dataset", "v1")
    folder = artifact.download()
    assert folder == str(trial["data"])
    assert open(os.path.join(folder, "train.csv")).read() == "a,b\n1,2\n"
    assert artifact.get_path("sub/more.txt").download() == str(trial["data"] / "sub/more.txt")
    assert artifact.get_entry("train.csv").path == "train.csv"
    with pytest.raises(KeyError, match="has no file 'nope.txt'"):
        artifact.get_entry("nope.txt")
    with pytest.raises(ValueError, match="holds 2 files; file\\(\\) needs exactly one"):
        artifact.file()
    copied = artifact.download(root=str(tmp_path / "copy"))
    assert copied == str(tmp_path / "copy")
    assert (tmp_path / "copy" / "sub" / "more.txt").read_text() == "more"

    model = wandb.use_artifact("model:latest")  # the module-level call; an unversioned entry
    assert model.file() == str(trial["model"])
    assert run.use_model("model:v4") == str(trial["model"])
    assert run.use_artifact(model) is model


def test_an_unmapped_artifact_is_refused_with_the_yaml_to_add(wandb: ModuleType) -> None:
    run = wandb.init()
    with pytest.raises(wandb.errors.CommError) as info:
        run.use_artifact("features:latest")
    assert isinstance(info.value, ArtifactNotMappedError)
    assert str(info.value) == (
        "artifact 'features:latest' is not mapped to a local path: raysweep has no W&B server "
        "to download it from. Mapped artifacts: 'data:v1', 'model'. Map it in the sweep file "
        "(a relative path is read from the sweep file's folder):\n\nraysweep:\n  artifacts:\n"
        '    "features:latest": ./path/to/files'
    )


@pytest.mark.parametrize("kind", ["copy", "deepcopy", "pickle"])
def test_artifact_errors_survive_copy_and_pickle(wandb: ModuleType, kind: str) -> None:
    # A function trial's exception reaches the driver pickled, and Ray copies it.
    import copy
    import pickle

    duplicate = {"copy": copy.copy, "deepcopy": copy.deepcopy,
                 "pickle": lambda e: pickle.loads(pickle.dumps(e))}[kind]
    run = wandb.init()
    with pytest.raises(wandb.errors.CommError) as info:
        run.use_artifact("nope")
    for error in (info.value, ArtifactNotMappedError("artifact 'x' is not mapped")):
        twin = duplicate(error)
        assert type(twin) is type(error) and str(twin) == str(error)


def test_use_artifact_before_init_is_wandbs_error(wandb: ModuleType) -> None:
    with pytest.raises(wandb.Error, match=r"call wandb.init\(\) before wandb.use_artifact"):
        wandb.use_artifact("data:v1")


def test_logged_artifacts_are_copied_into_the_trial(
    wandb: ModuleType, trial: dict[str, Any], tmp_path: Path
) -> None:
    run = wandb.init()
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "w.bin").write_bytes(b"1")
    artifact = wandb.Artifact("model", type="model", metadata={"epochs": 3})
    artifact.add_file(str(trial["model"]), name="best.pt")
    artifact.add_dir(str(ckpt), name="ckpt")
    artifact.add_reference("s3://bucket/raw")
    with artifact.new_file("notes.txt", mode="w") as f:
        f.write("note")
    artifact.add(wandb.Table(columns=["a"], data=[[1]]), "preds")
    logged = run.log_artifact(artifact, aliases=["best"])
    folder = trial["dir"] / "artifacts" / "model"
    assert logged.download() == str(folder)
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) \
        == ["best.pt", "ckpt/w.bin", "notes.txt", "preds.csv", "references.txt"]
    assert (folder / "best.pt").read_bytes() == b"weights"
    assert (folder / "references.txt").read_text() == "s3://bucket/raw\n"
    entry = read_index(trial["dir"])[-1]
    assert entry == {"key": "model", "kind": "artifact", "type": "model",
                     "file": "artifacts/model", "files": ["best.pt", "ckpt", "notes.txt",
                                                          "preds.csv"],
                     "references": ["s3://bucket/raw"], "aliases": ["best"], "run": "t1"}

    # A later version replaces the copy: one folder per name, the latest.
    (ckpt / "w.bin").write_bytes(b"2")
    wandb.log_artifact(str(ckpt), name="model", type="model")
    assert sorted(p.name for p in folder.iterdir()) == ["w.bin"]
    assert (folder / "w.bin").read_bytes() == b"2"

    run.log_model(str(trial["model"]))
    assert (trial["dir"] / "artifacts" / "run-t1-model.pt" / "model.pt").read_bytes() \
        == b"weights"
    with pytest.raises(ValueError, match="Path is not a file"):
        wandb.Artifact("x", type="t").add_file("nope")


def test_outside_a_trial_logged_artifacts_are_accepted(
    wandb: ModuleType, trial: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RAYSWEEP_TRIAL_DIR")
    run = wandb.init()
    logged = run.log_artifact(str(trial["model"]), type="model")
    assert logged.name == "model.pt" and logged.download() == str(trial["model"])
    assert list(trial["dir"].iterdir()) == []


def test_function_trials_get_the_mapping(tmp_path: Path) -> None:
    (tmp_path / "d.txt").write_text("42")
    before = os.environ.get(ARTIFACTS_ENV)
    seen: list[str] = []
    with function_trial({}, trial_id="f1", trial_dir=tmp_path, sweep_id="s",
                        artifacts={"d": str(tmp_path / "d.txt")}):
        import wandb

        with wandb.init() as run:
            seen.append(open(run.use_artifact("d").file()).read())
    assert seen == ["42"]
    assert os.environ.get(ARTIFACTS_ENV) == before  # the trial's mapping ends with it


# -- a program trial ----------------------------------------------------------------------------

SCRIPT = """
import os
import wandb

run = wandb.init()
folder = run.use_artifact("corpus:v2").download()
wandb.log({"n": float(open(os.path.join(folder, "n.txt")).read())})
run.use_artifact("missing:latest")
"""


def test_a_program_reads_a_mapped_artifact_and_dies_on_an_unmapped_one(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(textwrap.dedent(SCRIPT))
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "n.txt").write_text("7")
    cfg = from_dict({**SWEEP, "program": "train.py",
                     "raysweep": {"artifacts": {"corpus:v2": "corpus"}}},
                    path=tmp_path / "sweep.yaml")
    trial_dir = tmp_path / "trial"
    trial_dir.mkdir()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RAYSWEEP_"))}
    env = trial_environment(base, ProgramSpec.from_config(cfg, "s"), "t9", trial_dir, {})
    out = subprocess.run([sys.executable, "train.py"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    reports = [parse_report_line(line) for line in out.stdout.splitlines()]
    assert [r for r in reports if r is not None] == [{"n": 7.0, "_step": 0}]
    assert out.returncode == 1
    assert ("UnmappedArtifactError: artifact 'missing:latest' is not mapped to a local path"
            in out.stderr)
    assert "Mapped artifacts: 'corpus:v2'." in out.stderr
    assert '    "missing:latest": ./path/to/files' in out.stderr


# -- on Ray -------------------------------------------------------------------------------------

RAY_SCRIPT = """
import wandb

with wandb.init() as run:
    path = run.use_artifact("numbers:latest").file()
    run.log({"value": float(open(path).read()) * wandb.config.scale})
    run.log_artifact(path, name="copy", type="dataset")
"""


@pytest.mark.ray
@pytest.mark.skipif(sys.platform == "win32", reason="process groups are POSIX")
def test_a_sweep_maps_an_artifact_for_its_trials(tmp_path: Path) -> None:
    import raysweep

    (tmp_path / "train.py").write_text(textwrap.dedent(RAY_SCRIPT))
    (tmp_path / "inputs").mkdir()
    (tmp_path / "inputs" / "n.txt").write_text("1.5")
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({
        "program": "train.py", "method": "grid", "metric": {"name": "value", "goal": "maximize"},
        "parameters": {"scale": {"values": [1, 2]}},
        "raysweep": {"artifacts": {"numbers": "inputs/n.txt"}},
    }))
    result = raysweep.run(path, storage=tmp_path / "results", name="artifacts")
    trials = result.trials
    assert (trials["status"] == "finished").all(), trials["error"].tolist()
    assert sorted(trials["value"]) == [1.5, 3.0]
    for trial_id in trials["trial_id"]:
        copy = result.path / f"trial_{trial_id}" / "artifacts" / "copy" / "n.txt"
        assert copy.read_text() == "1.5"
