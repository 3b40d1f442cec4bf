"""W&B artifacts without a W&B server: inputs mapped to local paths, outputs kept in the trial.

**Inputs.** ``run.use_artifact("name:alias")`` downloads from W&B. Under raysweep the sweep file
maps artifact names to local files or folders::

    raysweep:
      artifacts:
        "mnist:latest": ./data/mnist        # relative to the sweep file's folder
        "my-team/vision/resnet:v3": /models/resnet.pt

Each trial gets the mapping, with absolute paths, as JSON in ``RAYSWEEP_ARTIFACTS``
(:data:`~raysweep.program.wandb_init.ARTIFACTS_ENV`). :func:`resolve_artifact` finds a name in
it: the exact name first; else an entry of the same name and alias, with or without
``entity/project/`` in front; else an entry without alias (``"mnist"`` maps every version). A
name asked without alias means ``:latest``, as in W&B. A name that matches nothing is an error
that names it, the names that are mapped, and the YAML to add.

**Outputs.** ``run.log_artifact`` copies the artifact's files into the trial folder,
``artifacts/<name>/`` (a later log of the same name replaces them: the folder holds the latest
version, and a script that logs a checkpoint every epoch keeps one copy), and adds a line
(``kind: "artifact"``) to the trial's media index. References (``add_reference``) are recorded,
not copied.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from raysweep.program.wandb_init import ARTIFACTS_ENV
from raysweep.program.wandb_media import append_index, folder_name

__all__ = [
    "ARTIFACTS_DIR",
    "ArtifactNotMappedError",
    "artifact_mapping",
    "artifact_yaml",
    "match_artifact",
    "resolve_artifact",
    "save_artifact",
    "split_name",
]

ARTIFACTS_DIR = "artifacts"
"""The folder of logged artifacts inside a trial's folder."""


class ArtifactNotMappedError(LookupError):
    """``use_artifact`` named an artifact that the sweep file does not map to a local path."""


def artifact_mapping(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The trial's artifact names and their local paths, from ``RAYSWEEP_ARTIFACTS``.

    Raises:
        ValueError: the variable is not a JSON object of strings.

    >>> artifact_mapping({"RAYSWEEP_ARTIFACTS": '{"data:v1": "/d"}'})
    {'data:v1': '/d'}
    >>> artifact_mapping({})
    {}
    """
    env = os.environ if environ is None else environ
    text = env.get(ARTIFACTS_ENV)
    if not text:
        return {}
    try:
        mapping = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{ARTIFACTS_ENV} is not JSON ({exc}): {text[:200]!r}") from None
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
    ):
        raise ValueError(f"{ARTIFACTS_ENV} must be a JSON object of names to paths, got "
                         f"{text[:200]!r}")
    return mapping


def split_name(name: str) -> tuple[str, str, str | None]:
    """Split an artifact name into ``(entity/project, name, alias or None)``.

    >>> split_name("team/proj/mnist:v3"), split_name("mnist")
    (('team/proj', 'mnist', 'v3'), ('', 'mnist', None))
    """
    path, _, alias = name.rpartition(":") if ":" in name else (name, "", "")
    prefix, _, base = path.rpartition("/")
    return prefix, base, alias or None


def _same_project(a: str, b: str) -> bool:
    # "proj" and "team/proj" name the same project; an empty prefix matches any.
    if not a or not b:
        return True
    return a == b or a.endswith("/" + b) or b.endswith("/" + a)


def artifact_yaml(name: str, path: str = "./path/to/" + "files") -> str:
    """The lines of a sweep file that map ``name`` to ``path``.

    >>> print(artifact_yaml("mnist:latest", "./data"))
    raysweep:
      artifacts:
        "mnist:latest": ./data
    """
    return f'raysweep:\n  artifacts:\n    {json.dumps(name)}: {path}'


def resolve_artifact(name: str, mapping: Mapping[str, str]) -> str:
    """Return the local path that ``mapping`` gives the artifact ``name``
    (:func:`match_artifact`), once it is known to exist.

    Raises:
        ArtifactNotMappedError: no entry matches, or several match equally well (named).
        FileNotFoundError: the path mapped does not exist on this machine.
    """
    found = match_artifact(name, mapping)
    if not os.path.exists(found):
        raise FileNotFoundError(
            f"artifact {name!r} is mapped to {found}, which does not exist on "
            f"{socket.gethostname()}: fix raysweep.artifacts in the sweep file, or make the "
            "path reachable from every node that runs trials"
        )
    return found


def match_artifact(name: str, mapping: Mapping[str, str]) -> str:
    """Return the path of the entry of ``mapping`` that names the artifact ``name``.

    Raises:
        ArtifactNotMappedError: no entry matches, or several match equally well (named).

    >>> match_artifact("team/proj/mnist:v3", {"mnist": "/d", "mnist:v3": "/d3"})
    '/d3'
    >>> match_artifact("mnist", {"mnist:latest": "/l"})
    '/l'
    >>> match_artifact("mnist:v1", {"mnist": "/d"})
    '/d'
    """
    if not isinstance(name, str) or not name:
        raise ArtifactNotMappedError(f"use_artifact needs an artifact name such as "
                                     f"'dataset:latest', got {name!r}")
    found = mapping.get(name)
    if found is None:
        prefix, base, alias = split_name(name)
        alias = alias or "latest"
        same: list[str] = []
        unversioned: list[str] = []
        for key in mapping:
            k_prefix, k_base, k_alias = split_name(key)
            if k_base != base or not _same_project(prefix, k_prefix):
                continue
            if k_alias is not None and k_alias == alias:
                same.append(key)
            elif k_alias is None:
                unversioned.append(key)
        matches = same or unversioned
        if len(matches) > 1:
            names = ", ".join(repr(m) for m in matches)
            raise ArtifactNotMappedError(
                f"artifact {name!r} matches several entries of raysweep.artifacts: {names}. "
                f"Map the name exactly as the script writes it:\n\n{artifact_yaml(name)}"
            )
        if not matches:
            mapped = ", ".join(repr(k) for k in mapping) or "none"
            raise ArtifactNotMappedError(
                f"artifact {name!r} is not mapped to a local path: raysweep has no W&B server "
                f"to download it from. Mapped artifacts: {mapped}. Map it in the sweep file "
                f"(a relative path is read from the sweep file's folder):\n\n"
                f"{artifact_yaml(name)}"
            )
        found = mapping[matches[0]]
    return found


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
    else:
        shutil.copy2(source, target)


def save_artifact(
    trial_dir: str | os.PathLike[str],
    name: str,
    kind: str,
    files: Iterable[tuple[str, str]],
    references: Iterable[str] = (),
    **meta: Any,
) -> Path:
    """Copy a logged artifact's files into ``artifacts/<name>/`` of the trial; index it.

    Args:
        trial_dir: The trial's folder.
        name: The artifact's name (``model``; an alias after ``:`` is dropped).
        kind: Its W&B type (``model``, ``dataset``...).
        files: ``(local path, name inside the artifact)`` pairs; a folder is copied whole.
        references: URIs recorded without copying (``add_reference``).
        meta: Added to the index line.

    Returns:
        The artifact's folder. It replaces the folder of an artifact logged before under the
        same name, only once the new copy is complete.
    """
    base = Path(trial_dir)
    folder = folder_name(split_name(name)[1] or name)
    target = base / ARTIFACTS_DIR / folder
    staging = base / ARTIFACTS_DIR / f".{folder}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    names = []
    for source, inside in files:
        _copy(Path(source), staging / inside)
        names.append(inside)
    refs = list(references)
    if refs:
        (staging / "references.txt").write_text("\n".join(refs) + "\n", encoding="utf-8")
    old = base / ARTIFACTS_DIR / f".{folder}.old"
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    append_index(base, {"key": name, "kind": "artifact", "type": kind,
                        "file": f"{ARTIFACTS_DIR}/{folder}", "files": names,
                        "references": refs, **meta})
    return target
