"""The stand-in's artifacts: ``wandb.Artifact``, ``use_artifact``, ``log_artifact``, ``log_model``.

An artifact a run uses is a local path the sweep file maps (``raysweep: {artifacts: ...}``);
one it logs is copied into the trial's folder. The rules:
:mod:`raysweep.program.wandb_artifacts`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from raysweep.program.wandb_artifacts import (
    ArtifactNotMappedError,
    artifact_mapping,
    resolve_artifact,
    save_artifact,
    split_name,
)
from raysweep.program.wandb_init import TRIAL_DIR_ENV

from ._soft import soft
from .errors import CommError

__all__ = ["Artifact", "ArtifactEntry", "log_artifact", "log_model", "use_artifact",
           "use_model"]


class UnmappedArtifactError(ArtifactNotMappedError, CommError):
    """W&B raises ``CommError`` for an artifact it cannot find; so does the stand-in."""


class ArtifactEntry:
    """One file of an artifact (``artifact.get_entry(name)``, ``get_path(name)``)."""

    def __init__(self, path: str, local_path: str) -> None:
        self.path = path
        self.ref = None
        self._local = local_path

    def download(self, root: str | None = None, skip_cache: bool | None = None) -> str:
        """The file's local path (copied into ``root`` if given)."""
        if root is None:
            return self._local
        target = Path(root) / self.path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(self._local, target)
        return str(target)

    def __repr__(self) -> str:
        return f"<ArtifactEntry {self.path}>"


class Artifact:
    """``wandb.Artifact(name, type, description=None, metadata=None, ...)``.

    Built by a script, it collects files (``add_file``, ``add_dir``, ``new_file``, ``add``)
    and references for ``log_artifact``. Returned by ``use_artifact``, it stands for the local
    path the sweep file maps its name to: ``download()`` returns that path.
    """

    def __init__(self, name: str, type: str,  # noqa: A002 - W&B's name
                 description: str | None = None, metadata: dict[str, Any] | None = None,
                 incremental: bool = False, use_as: str | None = None,
                 **kwargs: Any) -> None:
        self.name = name
        self.type = type
        self.description = description
        self.metadata = dict(metadata or {})
        self.aliases: list[str] = []
        self.version = split_name(name)[2] or "latest"
        self._files: list[tuple[str, str]] = []
        self._references: list[str] = []
        self._local: str | None = None  # the mapped or logged folder (or file)
        self._staging: str | None = None

    @property
    def qualified_name(self) -> str:
        return self.name

    @property
    def source_name(self) -> str:
        return self.name

    # Building ----------------------------------------------------------------------------

    def add_file(self, local_path: str, name: str | None = None, is_tmp: bool | None = False,
                 skip_cache: bool | None = False, policy: str | None = None,
                 overwrite: bool = False) -> ArtifactEntry:
        """Add a file (copied when the artifact is logged)."""
        if not os.path.isfile(local_path):
            raise ValueError(f"Path is not a file: {local_path!r}")
        inside = name or os.path.basename(local_path)
        self._files.append((os.path.abspath(local_path), inside))
        return ArtifactEntry(inside, os.path.abspath(local_path))

    def add_dir(self, local_path: str, name: str | None = None,
                skip_cache: bool | None = False, policy: str | None = None,
                merge: bool = False) -> None:
        """Add a folder's files (copied when the artifact is logged), under ``name`` if given."""
        if not os.path.isdir(local_path):
            raise ValueError(f"Path is not a directory: {local_path!r}")
        self._files.append((os.path.abspath(local_path), name or ""))

    def add_reference(self, uri: Any, name: str | None = None, checksum: bool = True,
                      max_objects: int | None = None) -> list[ArtifactEntry]:
        """Record a reference (a URI); nothing is copied or fetched."""
        self._references.append(str(uri))
        return []

    @contextlib.contextmanager
    def new_file(self, name: str, mode: str = "x",
                 encoding: str | None = None) -> Iterator[IO[Any]]:
        """Open a new file of the artifact for writing."""
        if self._staging is None:
            self._staging = tempfile.mkdtemp(prefix="wandb-artifact-")
        path = Path(self._staging) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, mode, encoding=encoding) as f:
            yield f
        self._files.append((str(path), name))

    def add(self, obj: Any, name: str, overwrite: bool = False) -> ArtifactEntry | None:
        """Add a ``wandb.Table`` or other media, saved as its file (CSV, PNG...)."""
        encode = getattr(obj, "_encode", None)
        encoded = encode() if callable(encode) else None
        if encoded is None:
            soft("Artifact.add", "wandb.Artifact.add of this object")
            return None
        suffix, payload, _ = encoded
        inside = name if name.endswith(suffix) else name + suffix
        with self.new_file(inside, mode="wb") as f:
            f.write(payload)
        return ArtifactEntry(inside, str(Path(self._staging or "") / inside))

    # Reading -----------------------------------------------------------------------------

    def _path(self) -> str:
        if self._local is not None:
            return self._local
        if len(self._files) == 1:
            return self._files[0][0]  # built from one file or folder, and not logged
        raise ValueError(f"artifact {self.name!r} has no local files: it was neither mapped "
                         "by raysweep.artifacts nor logged")

    def download(self, root: str | None = None, allow_missing_references: bool = False,
                 skip_cache: bool | None = None, path_prefix: str | None = None,
                 **kwargs: Any) -> str:
        """The artifact's local path; with ``root``, its files are copied there first."""
        source = self._path()
        if root is None or os.path.abspath(root) == os.path.abspath(source):
            return source
        if os.path.isdir(source):
            shutil.copytree(source, root, dirs_exist_ok=True)
        else:
            os.makedirs(root, exist_ok=True)
            shutil.copy2(source, Path(root) / os.path.basename(source))
        return str(root)

    def checkout(self, root: str | None = None) -> str:
        return self.download(root)

    def file(self, root: str | None = None) -> str:
        """The artifact's one file.

        Raises:
            ValueError: the artifact holds more than one file, or none.
        """
        source = self._path()
        if os.path.isfile(source):
            return source if root is None else ArtifactEntry(
                os.path.basename(source), source).download(root)
        files = [p for p in Path(source).rglob("*") if p.is_file()]
        if len(files) != 1:
            raise ValueError(f"artifact {self.name!r} ({source}) holds {len(files)} files; "
                             "file() needs exactly one: use download() instead")
        entry = ArtifactEntry(files[0].relative_to(source).as_posix(), str(files[0]))
        return entry.download(root)

    def get_entry(self, name: str) -> ArtifactEntry:
        """The file ``name`` of the artifact.

        Raises:
            KeyError: the artifact has no such file.
        """
        source = self._path()
        path = Path(source) / name if os.path.isdir(source) else Path(source)
        if not path.is_file() or (not os.path.isdir(source)
                                  and name != os.path.basename(source)):
            raise KeyError(f"artifact {self.name!r} ({source}) has no file {name!r}")
        return ArtifactEntry(name, str(path))

    get_path = get_entry

    def get(self, name: str) -> Any:
        """W&B's media objects stored in an artifact are not read back: None, as for a name
        the artifact lacks."""
        soft("Artifact.get", "wandb.Artifact.get")
        return None

    def wait(self, timeout: int | None = None) -> Artifact:
        return self

    def save(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return soft(f"Artifact.{name}", f"wandb.Artifact.{name}")

    def __repr__(self) -> str:
        return f"<wandb Artifact {self.name} ({self.type}; raysweep stand-in)>"


def use_artifact(run: Any, artifact_or_name: Any, type: str | None = None,  # noqa: A002
                 aliases: Any = None, use_as: str | None = None) -> Artifact:
    """``run.use_artifact``: the artifact the sweep file maps this name to.

    Raises:
        UnmappedArtifactError: the name is not mapped (the message says what to add).
        FileNotFoundError: the mapped path does not exist here.
    """
    if isinstance(artifact_or_name, Artifact):
        return artifact_or_name
    name = str(artifact_or_name)
    try:
        path = resolve_artifact(name, artifact_mapping())
    except ArtifactNotMappedError as exc:
        raise UnmappedArtifactError(str(exc)) from None
    artifact = Artifact(name, type or "unspecified")
    artifact._local = path
    return artifact


def log_artifact(run: Any, artifact_or_path: Any, name: str | None = None,
                 type: str | None = None,  # noqa: A002 - W&B's name
                 aliases: Any = None, tags: Any = None) -> Artifact:
    """``run.log_artifact``: copy the files into the trial folder's ``artifacts/<name>/``.

    A path (file or folder) becomes an artifact named ``name`` (default: its base name). Outside
    a raysweep trial, the artifact is accepted and nothing is copied.
    """
    if isinstance(artifact_or_path, Artifact):
        artifact = artifact_or_path
    else:
        path = os.fspath(artifact_or_path)
        artifact = Artifact(name or os.path.basename(os.path.normpath(path)),
                            type or "unspecified")
        if os.path.isdir(path):
            artifact.add_dir(path)
        else:
            artifact.add_file(path)
    if aliases:
        artifact.aliases = [aliases] if isinstance(aliases, str) else list(aliases)
    trial_dir = os.environ.get(TRIAL_DIR_ENV)
    if getattr(run, "_reports", False) and trial_dir and os.path.isdir(trial_dir):
        folder = save_artifact(trial_dir, artifact.name, artifact.type, artifact._files,
                               artifact._references, aliases=artifact.aliases,
                               run=getattr(run, "id", None))
        artifact._local = str(folder)
    if artifact._staging is not None:
        shutil.rmtree(artifact._staging, ignore_errors=True)
        artifact._staging = None
        artifact._files = [f for f in artifact._files if os.path.exists(f[0])]
    return artifact


def log_model(run: Any, path: Any, name: str | None = None, aliases: Any = None) -> Artifact:
    """``run.log_model``: :func:`log_artifact` of type ``model``, named as W&B names it."""
    base = os.path.basename(os.path.normpath(os.fspath(path)))
    return log_artifact(run, path, name=name or f"run-{getattr(run, 'id', 'run')}-{base}",
                        type="model", aliases=aliases)


def use_model(run: Any, name: str) -> str:
    """``run.use_model``: the local path of the model the sweep file maps ``name`` to."""
    return use_artifact(run, name, type="model").download()
