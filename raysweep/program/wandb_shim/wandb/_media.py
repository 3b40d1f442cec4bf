"""The stand-in's media: ``wandb.Image``, ``Table``, ``Histogram``, ``Audio``, ``Html``, ...

They take W&B's arguments and keep their data; nothing is encoded until ``wandb.log`` saves
them in the trial's folder (the rules and limits: :mod:`raysweep.program.wandb_media`).
:func:`take_media` takes them out of a logged row, so they never become metrics. Outside a
raysweep trial they are accepted and nothing is saved.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from raysweep.program.wandb_init import TRIAL_DIR_ENV
from raysweep.program.wandb_media import (
    MAX_LIST_ITEMS,
    MediaStore,
    histogram_counts,
    image_pixels,
    png_bytes,
    table_csv,
    warn_media,
    wav_bytes,
)

__all__ = [
    "Audio",
    "Histogram",
    "Html",
    "Image",
    "Media",
    "Molecule",
    "Object3D",
    "Plotly",
    "Table",
    "Video",
    "take_media",
]


class Media:
    """What W&B logs as media: kept out of metrics, saved where it is cheap to."""

    _kind = "media"

    def _encode(self) -> tuple[str, bytes, dict[str, Any]] | None:
        """Return ``(file suffix, bytes, index fields)``, or None when this is not saved."""
        return None

    def __str__(self) -> str:  # a table cell holding media
        return f"{type(self).__name__}()"


def _is_path(value: Any) -> bool:
    return isinstance(value, (str, os.PathLike))


def _file_payload(path: str | os.PathLike[str]) -> tuple[str, bytes]:
    return Path(path).suffix.lower(), Path(path).read_bytes()


class Image(Media):
    """``wandb.Image(data_or_path, mode=None, caption=None, ...)``: a NumPy array or tensor, a
    PIL image, a matplotlib figure, or an image file; saved as PNG (a file is copied)."""

    _kind = "image"

    def __init__(self, data_or_path: Any, mode: str | None = None, caption: str | None = None,
                 grouping: int | None = None, classes: Any = None, boxes: Any = None,
                 masks: Any = None, file_type: str | None = None, normalize: bool = True,
                 **kwargs: Any) -> None:
        if isinstance(data_or_path, Image):
            self._data: Any = data_or_path._data
        else:
            if _is_path(data_or_path) and not os.path.isfile(data_or_path):
                raise ValueError(f"wandb.Image: no image file at {os.fspath(data_or_path)!r}")
            self._data = data_or_path
        self.mode = mode
        self.caption = caption
        self._caption = caption
        self.normalize = normalize

    def _encode(self) -> tuple[str, bytes, dict[str, Any]] | None:
        data = self._data
        meta = {"caption": self.caption} if self.caption else {}
        if _is_path(data):
            suffix, payload = _file_payload(data)
            return suffix or ".png", payload, meta
        out = io.BytesIO()
        if hasattr(data, "savefig"):  # a matplotlib figure, or pyplot itself
            data.savefig(out, format="png")
        elif hasattr(data, "save") and hasattr(data, "mode") and hasattr(data, "size"):  # PIL
            data.save(out, format="PNG")
        else:
            return ".png", png_bytes(image_pixels(data)), meta
        return ".png", out.getvalue(), meta

    def __str__(self) -> str:
        return f"Image({self.caption})" if self.caption else "Image()"


class Table(Media):
    """``wandb.Table(columns=None, data=None, rows=None, dataframe=None, ...)``: saved as CSV.

    Attributes:
        columns: The column names.
        data: The rows, each a list as long as ``columns``.
    """

    _kind = "table"

    def __init__(self, columns: Any = None, data: Any = None, rows: Any = None,
                 dataframe: Any = None, dtype: Any = None, optional: Any = True,
                 allow_mixed_types: bool = False, log_mode: str | None = None) -> None:
        if dataframe is not None:
            columns = [str(c) for c in dataframe.columns]
            data = dataframe.itertuples(index=False, name=None)
        if data is None:
            data = rows
        if hasattr(data, "tolist"):
            data = data.tolist()
        self.columns: list[Any] = list(columns) if columns is not None else [
            "Input", "Output", "Expected"]
        self.data: list[list[Any]] = []
        for row in data if data is not None else ():
            self.add_data(*row)

    def add_data(self, *data: Any) -> None:
        """Add one row (one value per column)."""
        if len(data) != len(self.columns):
            raise ValueError(f"This table expects {len(self.columns)} columns: "
                             f"{self.columns}, found {len(data)}")
        self.data.append(list(data))

    add_row = add_data

    def add_column(self, name: str, data: Any, optional: bool = False) -> None:
        """Add a column of values, one per row."""
        if name in self.columns:
            raise ValueError(f"Column {name!r} already exists in the table")
        values = data.tolist() if hasattr(data, "tolist") else list(data)
        if self.data and len(values) != len(self.data):
            raise ValueError(f"Column {name!r} has {len(values)} values, the table has "
                             f"{len(self.data)} rows")
        if not self.data:
            self.data = [[] for _ in values]
            for row in self.data:
                row.extend([None] * len(self.columns))
        self.columns.append(name)
        for row, value in zip(self.data, values, strict=True):
            row.append(value)

    def get_column(self, name: str, convert_to: str | None = None) -> Any:
        """The values of one column, a list (or a NumPy array with ``convert_to="numpy"``)."""
        if name not in self.columns:
            raise ValueError(f"Column {name!r} is not in the table (columns: {self.columns})")
        i = self.columns.index(name)
        values = [row[i] for row in self.data]
        if convert_to == "numpy":
            import numpy as np

            return np.array(values)
        return values

    def get_index(self) -> list[int]:
        """The row numbers."""
        return list(range(len(self.data)))

    def get_dataframe(self) -> Any:
        """The table as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.data, columns=self.columns)

    def _encode(self) -> tuple[str, bytes, dict[str, Any]] | None:
        text, written, truncated = table_csv(self.columns, self.data)
        meta: dict[str, Any] = {"columns": [str(c) for c in self.columns], "rows": written}
        if truncated:
            meta["truncated"] = True
        return ".csv", text.encode("utf-8"), meta

    def __str__(self) -> str:
        return f"Table({len(self.data)} rows)"


class Histogram(Media):
    """``wandb.Histogram(sequence=None, np_histogram=None, num_bins=64)``: saved as JSON.

    Attributes:
        bins: The bin edges (one more than ``histogram``).
        histogram: The count of each bin.
    """

    _kind = "histogram"
    MAX_LENGTH = 512

    def __init__(self, sequence: Any = None, np_histogram: Any = None,
                 num_bins: int = 64) -> None:
        self.bins, self.histogram = histogram_counts(sequence, np_histogram, num_bins)

    def _encode(self) -> tuple[str, bytes, dict[str, Any]] | None:
        import json

        text = json.dumps({"bins": self.bins, "counts": self.histogram})
        return ".json", text.encode("utf-8"), {"bins": len(self.histogram)}


class _FileMedia(Media):
    """Media W&B reads from a file or builds from data: a file is copied; data is not saved."""

    def __init__(self, data_or_path: Any, caption: str | None = None, **kwargs: Any) -> None:
        self._data = data_or_path
        self.caption = caption

    def _encode(self) -> tuple[str, bytes, dict[str, Any]] | None:
        if _is_path(self._data) and os.path.isfile(self._data):
            suffix, payload = _file_payload(self._data)
            return suffix, payload, {"caption": self.caption} if self.caption else {}
        warn_media(f"media-data-{self._kind}",
                   f"wandb.{type(self).__name__} from data (not a file) is not saved by "
                   "raysweep; it is accepted and left out of the metrics")
        return None


class Video(_FileMedia):
    """``wandb.Video(data_or_path, caption=None, fps=None, format=None)``."""

    _kind = "video"


class Object3D(_FileMedia):
    """``wandb.Object3D(data_or_path, ...)``."""

    _kind = "object3d"


class Molecule(_FileMedia):
    """``wandb.Molecule(data_or_path, ...)``."""

    _kind = "molecule"


class Plotly(_FileMedia):
    """``wandb.Plotly(figure)``: saved as an HTML page of the figure when plotly can write it."""

    _kind = "plotly"

    def _encode(self) -> tuple[str, bytes, dict[str, Any]] | None:
        to_html = getattr(self._data, "to_html", None)
        if callable(to_html):
            return ".html", str(to_html(include_plotlyjs="cdn")).encode("utf-8"), {}
        return super()._encode()


class Audio(_FileMedia):
    """``wandb.Audio(data_or_path, sample_rate=None, caption=None)``: an array is saved as WAV."""

    _kind = "audio"

    def __init__(self, data_or_path: Any, sample_rate: int | None = None,
                 caption: str | None = None) -> None:
        super().__init__(data_or_path, caption)
        if not _is_path(data_or_path) and sample_rate is None:
            raise ValueError("Argument sample_rate is required when passing numpy data")
        self.sample_rate = sample_rate

    def _encode(self) -> tuple[str, bytes, dict[str, Any]] | None:
        if _is_path(self._data):
            return super()._encode()
        meta = {"caption": self.caption} if self.caption else {}
        return ".wav", wav_bytes(self._data, int(self.sample_rate or 0)), meta


class Html(Media):
    """``wandb.Html(data, inject=True, data_is_not_path=False)``: text, a file or a file object."""

    _kind = "html"

    def __init__(self, data: Any, inject: bool = True, data_is_not_path: bool = False) -> None:
        if hasattr(data, "read"):
            data = data.read()
        elif _is_path(data) and not data_is_not_path and os.path.isfile(data):
            data = Path(data).read_text(encoding="utf-8")
        self.html = str(data)

    def _encode(self) -> tuple[str, bytes, dict[str, Any]] | None:
        return ".html", self.html.encode("utf-8"), {}


# -- taking media out of a logged row -------------------------------------------------------------

_stores: dict[str, MediaStore] = {}


def _is_media_list(value: Any) -> bool:
    return (isinstance(value, (list, tuple)) and len(value) > 0
            and all(isinstance(v, Media) for v in value))


def _split(data: Mapping[str, Any], prefix: str,
           found: dict[str, Any]) -> dict[str, Any]:
    rest: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Media) or _is_media_list(value):
            found[name] = value
        elif isinstance(value, Mapping):
            inner = _split(value, f"{name}/", found)
            if inner or not value:
                rest[key] = inner
        else:
            rest[key] = value
    return rest


def take_media(run: Any, data: Mapping[str, Any], step: int | None) -> dict[str, Any]:
    """Return ``data`` without its media (at any depth); save them if ``run`` is a trial's run.

    Args:
        run: The stand-in's run: its step and whether it reports to raysweep.
        data: The row given to ``log``.
        step: ``log``'s ``step`` argument (None: the run's current step).
    """
    found: dict[str, Any] = {}
    rest = _split(data, "", found)
    trial_dir = os.environ.get(TRIAL_DIR_ENV)
    if not found or not getattr(run, "_reports", False) or not trial_dir \
            or not os.path.isdir(trial_dir):
        return rest
    store = _stores.get(trial_dir)
    if store is None:
        store = _stores[trial_dir] = MediaStore(trial_dir)
    at = run.step if step is None else step
    for key, value in found.items():
        _save(store, key, at, value)
    return rest


def _save(store: MediaStore, key: str, step: int, value: Any) -> None:
    count = store.next_count(key)
    if count is None:
        return
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if len(items) > MAX_LIST_ITEMS:
        warn_media(f"media-list-{key}",
                   f"wandb.log: {key!r} holds {len(items)} items; raysweep saves the first "
                   f"{MAX_LIST_ITEMS} of each such list")
    for i, item in enumerate(items[:MAX_LIST_ITEMS]):
        try:
            encoded = item._encode()
        except Exception as exc:  # noqa: BLE001 - a bad image must not end the user's run
            warn_media(f"media-fail-{key}",
                       f"wandb.log: raysweep could not save the {item._kind} logged under "
                       f"{key!r}: {type(exc).__name__}: {exc}")
            continue
        if encoded is None:
            continue
        suffix, payload, meta = encoded
        store.save(key, step, count, i if isinstance(value, (list, tuple)) else None,
                   item._kind, suffix, payload, **meta)
