"""How the stand-in saves what ``wandb.log`` gets besides numbers: images, tables, histograms.

W&B uploads media to its server; raysweep keeps what is cheap to keep in the trial's folder
(``RAYSWEEP_TRIAL_DIR``), under ``media/``:

- images as PNG files (NumPy arrays are encoded here, without PIL), or a copy of the file given;
- tables and the tables behind ``wandb.plot.*`` charts as CSV (at most :data:`MAX_TABLE_ROWS`
  rows each);
- histograms as JSON (``{"bins": [...], "counts": [...]}``); audio arrays as WAV; HTML as is.

Each saved file is one line of the trial's index, ``media/index.jsonl``
(``{"key", "step", "kind", "file", ...}``, ``file`` relative to the trial folder), which the
report reads (:mod:`raysweep.analysis.media`). Media never become metrics.

Saving stays bounded, so a script that logs an image at every step does not fill the disk:

- per key, the first :data:`KEEP_FIRST` values are saved, then only the 32nd, 64th, 128th...
  (so a long run still keeps late values, about 20 per million steps);
- of a list of images logged under one key, the first :data:`MAX_LIST_ITEMS`;
- a file over :data:`MAX_FILE_BYTES` is skipped, and once a trial's media reach
  :data:`MAX_TRIAL_BYTES`, nothing more is saved.

Each limit that drops something says so once, in a warning.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import struct
import zlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from raysweep.program.once import PROGRAM_DIR, warn_once

__all__ = [
    "INDEX_FILE",
    "KEEP_FIRST",
    "MAX_FILE_BYTES",
    "MAX_LIST_ITEMS",
    "MAX_TABLE_ROWS",
    "MAX_TRIAL_BYTES",
    "MEDIA_DIR",
    "MediaStore",
    "append_index",
    "confusion_counts",
    "folder_name",
    "histogram_counts",
    "image_pixels",
    "keeps",
    "png_bytes",
    "pr_points",
    "read_index",
    "roc_points",
    "table_csv",
    "warn_media",
    "wav_bytes",
]

MEDIA_DIR = "media"
"""The folder of saved media inside a trial's folder."""

INDEX_FILE = "media/index.jsonl"
"""The trial's media index, relative to its folder: one JSON line per saved file."""

KEEP_FIRST = 16
"""Values saved per key before only power-of-two counts are (see :func:`keeps`)."""

MAX_LIST_ITEMS = 16
"""Items saved of one logged list (``wandb.log({"samples": [wandb.Image(x) for x in batch]})``)."""

MAX_TABLE_ROWS = 10_000
"""Rows written per table; the index marks a cut table ``"truncated": true``."""

MAX_FILE_BYTES = 20 * 2**20
"""A larger file (an image or a copied file) is not saved."""

MAX_TRIAL_BYTES = 256 * 2**20
"""Media bytes saved per trial (per process) before saving stops."""


def warn_media(kind: str, message: str) -> None:
    """Warn once per ``kind``, pointing at the user's line (the first outside raysweep's
    ``program`` folder, which holds the stand-in too)."""
    warn_once(kind, message, outside=(PROGRAM_DIR,))


def keeps(count: int) -> bool:
    """Whether the ``count``-th value logged under one key (counting from 1) is saved.

    >>> [n for n in range(1, 300) if keeps(n)][KEEP_FIRST - 2:]
    [15, 16, 32, 64, 128, 256]
    """
    return count <= KEEP_FIRST or (count & (count - 1)) == 0


# -- images -------------------------------------------------------------------------------------


def image_pixels(data: Any) -> np.ndarray:
    """Turn an image array (NumPy, or a tensor with ``.numpy()``) into 8-bit pixels.

    Integers are clipped to 0..255. Floats are scaled as W&B does: values in [0, 1] are
    multiplied by 255; an array with negative values is first stretched to [0, 1]. A
    channels-first image (``(3, H, W)``, as PyTorch holds them) is turned channels-last.

    Returns:
        A ``uint8`` array of shape ``(H, W)`` or ``(H, W, C)`` with C in 1..4.

    Raises:
        ValueError: the array is not an image.

    >>> image_pixels([[0.0, 0.5], [1.0, 1.0]]).tolist()
    [[0, 127], [255, 255]]
    >>> image_pixels(np.zeros((3, 4, 5))).shape
    (4, 5, 3)
    """
    if hasattr(data, "detach"):  # a torch tensor
        data = data.detach()
    if hasattr(data, "cpu"):
        data = data.cpu()
    if hasattr(data, "numpy") and not isinstance(data, np.ndarray):
        data = data.numpy()
    array = np.asarray(data)
    if array.ndim > 2:
        array = array.squeeze()
        if array.ndim < 2:
            raise ValueError(f"an image needs 2 dimensions or 3, got shape {np.shape(data)}")
    if array.ndim == 3 and array.shape[-1] not in (1, 2, 3, 4) and array.shape[0] in (1, 3, 4):
        array = np.moveaxis(array, 0, -1)
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] > 4) or array.size == 0:
        raise ValueError(
            f"an image is (height, width) or (height, width, channels) with 1 to 4 channels, "
            f"got shape {np.shape(data)}"
        )
    if array.dtype == np.bool_:
        return np.where(array, 255, 0).astype(np.uint8)
    if np.issubdtype(array.dtype, np.integer):
        clipped: np.ndarray = np.clip(array, 0, 255)
        return clipped.astype(np.uint8)
    floats = np.nan_to_num(array.astype(np.float64))
    low, high = float(floats.min()), float(floats.max())
    if low < 0:
        floats = (floats - low) / ((high - low) or 1.0)
        high = 1.0
    if high <= 1.0:
        floats = floats * 255
    return np.clip(floats, 0, 255).astype(np.uint8)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return (struct.pack(">I", len(body)) + kind + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))


def png_bytes(pixels: np.ndarray) -> bytes:
    """Encode 8-bit pixels (from :func:`image_pixels`) as a PNG file.

    >>> png_bytes(np.zeros((2, 3), dtype=np.uint8))[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
    """
    height, width = pixels.shape[:2]
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]  # gray, gray+alpha, RGB, RGBA
    rows = np.ascontiguousarray(pixels, dtype=np.uint8).reshape(height, width * channels)
    # Filter type 0 (none) in front of every row: simple, and zlib does the rest.
    raw = np.hstack([np.zeros((height, 1), dtype=np.uint8), rows]).tobytes()
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(raw, 6)) + _png_chunk(b"IEND", b""))


def wav_bytes(samples: Any, sample_rate: int) -> bytes:
    """Encode audio samples (floats in [-1, 1] or integers; ``(n,)`` or ``(n, channels)``) as a
    16-bit WAV file.

    >>> wav_bytes([0.0, 0.5, -0.5], 8000)[:4]
    b'RIFF'
    """
    import wave

    array = np.asarray(samples)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"audio is (samples,) or (samples, channels), got shape {array.shape}")
    if np.issubdtype(array.dtype, np.floating):
        pcm = (np.clip(np.nan_to_num(array), -1.0, 1.0) * 32767).astype("<i2")
    else:
        pcm = np.clip(array, -32768, 32767).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(pcm.shape[1])
        wav.setsampwidth(2)
        wav.setframerate(int(sample_rate))
        wav.writeframes(pcm.tobytes())
    return out.getvalue()


# -- tables and charts --------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (bool, int, float, str)):
        return value
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", 0) == 0:
        try:
            return item()
        except (TypeError, ValueError):
            pass
    if isinstance(value, (list, tuple, dict)):
        try:
            return json.dumps(value, default=str)
        except (TypeError, ValueError):
            pass
    return str(value)  # media in a cell: their own short text (``Image(...)``)


def table_csv(columns: Sequence[Any], rows: Iterable[Sequence[Any]],
              max_rows: int = MAX_TABLE_ROWS) -> tuple[str, int, bool]:
    """Write a table as CSV text; return the text, the rows written and whether rows were cut.

    >>> table_csv(["a", "b"], [[1, None], ["x,y", [1, 2]]])
    ('a,b\\r\\n1,\\r\\n"x,y","[1, 2]"\\r\\n', 2, False)
    """
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([str(c) for c in columns])
    written = 0
    truncated = False
    for row in rows:
        if written >= max_rows:
            truncated = True
            break
        writer.writerow([_cell(v) for v in row])
        written += 1
    return out.getvalue(), written, truncated


def histogram_counts(sequence: Any = None, np_histogram: Any = None,
                     num_bins: int = 64) -> tuple[list[float], list[float]]:
    """Return ``(bin edges, counts)`` of ``sequence``, or of ``np_histogram=(counts, edges)``.

    Raises:
        ValueError: neither is given, the pair does not fit (one more edge than counts), or
            there are more than 512 bins (W&B's limit).

    >>> histogram_counts([1, 2, 2, 3], num_bins=2)
    ([1.0, 2.0, 3.0], [1.0, 3.0])
    """
    if np_histogram is not None:
        try:
            counts, edges = np_histogram
        except (TypeError, ValueError):
            raise ValueError("np_histogram must be a pair (counts, bin edges), as "
                             "numpy.histogram returns") from None
        counts_list = [float(c) for c in np.asarray(counts).ravel()]
        edges_list = [float(e) for e in np.asarray(edges).ravel()]
        if len(edges_list) != len(counts_list) + 1:
            raise ValueError(f"np_histogram needs one more bin edge than counts, got "
                             f"{len(counts_list)} counts and {len(edges_list)} edges")
    elif sequence is not None:
        values = np.asarray(_as_numpy(sequence), dtype=np.float64).ravel()
        values = values[np.isfinite(values)]
        counts_np, edges_np = np.histogram(values, bins=int(num_bins))
        counts_list = [float(c) for c in counts_np]
        edges_list = [float(e) for e in edges_np]
    else:
        raise ValueError("Histogram needs a sequence or np_histogram")
    if len(counts_list) > 512:
        raise ValueError(f"The maximum length of a histogram is 512, got {len(counts_list)} "
                         "bins")
    return edges_list, counts_list


def _as_numpy(data: Any) -> Any:
    if hasattr(data, "detach"):
        data = data.detach()
    if hasattr(data, "cpu"):
        data = data.cpu()
    if hasattr(data, "numpy") and not isinstance(data, np.ndarray):
        return data.numpy()
    return data


def confusion_counts(y_true: Sequence[Any], preds: Sequence[Any],
                     class_names: Sequence[Any] | None = None) -> list[list[Any]]:
    """The rows ``[actual, predicted, count]`` of a confusion matrix, every pair of classes.

    Classes are integers ``0..n-1``; ``class_names`` names them.

    >>> confusion_counts([0, 1, 1], [0, 0, 1], ["cat", "dog"])
    [['cat', 'cat', 1], ['cat', 'dog', 0], ['dog', 'cat', 1], ['dog', 'dog', 1]]
    """
    actual = [int(v) for v in np.asarray(_as_numpy(y_true)).ravel()]
    predicted = [int(v) for v in np.asarray(_as_numpy(preds)).ravel()]
    if len(actual) != len(predicted):
        raise ValueError(f"y_true and preds differ in length ({len(actual)} and "
                         f"{len(predicted)})")
    n = len(class_names) if class_names is not None else max(actual + predicted, default=-1) + 1
    names = list(class_names) if class_names is not None else list(range(n))
    counts = np.zeros((n, n), dtype=np.int64)
    for a, p in zip(actual, predicted, strict=True):
        if not (0 <= a < n and 0 <= p < n):
            raise ValueError(f"class {max(a, p)} is outside the {n} class names")
        counts[a, p] += 1
    return [[names[a], names[p], int(counts[a, p])] for a in range(n) for p in range(n)]


def _ranked(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray, int, int]:
    truth = np.asarray(y_true).ravel().astype(bool)
    score = np.asarray(scores, dtype=np.float64).ravel()
    order = np.argsort(-score, kind="stable")
    truth, score = truth[order], score[order]
    # The last position of each distinct score: a threshold between two scores.
    cut = np.r_[np.flatnonzero(np.diff(score)), len(score) - 1]
    tps = np.cumsum(truth)[cut]
    fps = (cut + 1) - tps
    return tps, fps, int(truth.sum()), int((~truth).sum())


def roc_points(y_true: Any, scores: Any) -> list[tuple[float, float]]:
    """The ROC curve of one class, ``(false positive rate, true positive rate)`` points.

    >>> roc_points([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    [(0.0, 0.0), (0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (1.0, 1.0)]
    """
    tps, fps, pos, neg = _ranked(y_true, scores)
    tpr = tps / pos if pos else np.zeros(len(tps))
    fpr = fps / neg if neg else np.zeros(len(fps))
    return [(0.0, 0.0)] + [(float(f), float(t)) for f, t in zip(fpr, tpr, strict=True)]


def pr_points(y_true: Any, scores: Any) -> list[tuple[float, float]]:
    """The precision-recall curve of one class, ``(precision, recall)`` points.

    >>> pr_points([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    [(1.0, 0.0), (1.0, 0.5), (0.5, 0.5), (0.6666666666666666, 1.0), (0.5, 1.0)]
    """
    tps, fps, pos, _ = _ranked(y_true, scores)
    precision = tps / np.maximum(tps + fps, 1)
    recall = tps / pos if pos else np.zeros(len(tps))
    return [(1.0, 0.0)] + [(float(p), float(r)) for p, r in zip(precision, recall, strict=True)]


# -- the trial's store --------------------------------------------------------------------------


def folder_name(key: str) -> str:
    """A file-system-safe folder name for a logged key.

    >>> folder_name("val/examples 1")
    'val_examples_1'
    """
    return re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("._") or "media"


class MediaStore:
    """The media of one trial: counts per key, the files under ``media/`` and the index.

    A store continues the counts of an index already in the folder (a second run in the same
    trial does not overwrite the first run's files).
    """

    def __init__(self, trial_dir: str | os.PathLike[str]) -> None:
        self.trial_dir = Path(trial_dir)
        self.bytes_written = 0
        self._counts: dict[str, int] = {}
        self._folders: dict[str, str] = {}
        for entry in read_index(self.trial_dir):
            key = str(entry.get("key", ""))
            if entry.get("item", 0) == 0:
                self._counts[key] = max(self._counts.get(key, 0), int(entry.get("count", 0)))
            folder = str(entry.get("file", "")).split("/")
            if len(folder) >= 3 and folder[0] == MEDIA_DIR:
                self._folders.setdefault(key, folder[1])

    def next_count(self, key: str) -> int | None:
        """Count one more value logged under ``key``; return its number if it is to be saved.

        None when :func:`keeps` drops it or the trial's byte budget is spent (said once).
        """
        count = self._counts.get(key, 0) + 1
        self._counts[key] = count
        if self.bytes_written >= MAX_TRIAL_BYTES:
            warn_media(f"media-budget-{self.trial_dir}",
                       f"wandb.log: this trial's media reached {MAX_TRIAL_BYTES // 2**20} MiB; "
                       "raysweep saves no more of them")
            return None
        if not keeps(count):
            warn_media(f"media-thin-{key}",
                       f"wandb.log: {key!r} was logged {KEEP_FIRST} times; raysweep now saves "
                       "only its 32nd, 64th, 128th... value (shown once per key)")
            return None
        return count

    def save(self, key: str, step: int, count: int, item: int | None, kind: str, suffix: str,
             payload: bytes, **meta: Any) -> str | None:
        """Write one file of a value logged under ``key`` and add it to the index.

        ``item`` numbers the files of one logged list (None for a single value); ``suffix`` is
        the file's extension with its dot; ``meta`` is added to the index line.

        Returns:
            The file's path relative to the trial folder, or None when it was too large.
        """
        if len(payload) > MAX_FILE_BYTES:
            warn_media(f"media-large-{key}",
                       f"wandb.log: a {kind} logged under {key!r} has "
                       f"{len(payload) / 2**20:.0f} MiB; raysweep does not save files over "
                       f"{MAX_FILE_BYTES // 2**20} MiB")
            return None
        folder = self._folder(key)
        name = f"{step:06d}-{count}" + ("" if item is None else f"-{item}") + suffix
        relative = f"{MEDIA_DIR}/{folder}/{name}"
        path = self.trial_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload)
        self.bytes_written += len(payload)
        entry = {"key": key, "step": step, "kind": kind, "file": relative, "count": count,
                 **({} if item is None else {"item": item}), **meta}
        self.record(entry)
        return relative

    def record(self, entry: Mapping[str, Any]) -> None:
        """Append one line to the trial's index."""
        append_index(self.trial_dir, entry)

    def _folder(self, key: str) -> str:
        folder = self._folders.get(key)
        if folder is None:
            base = folder_name(key)
            taken = set(self._folders.values())
            folder, n = base, 2
            while folder in taken:  # "a/b" and "a_b" get folders of their own
                folder, n = f"{base}-{n}", n + 1
            self._folders[key] = folder
        return folder


def append_index(trial_dir: str | os.PathLike[str], entry: Mapping[str, Any]) -> None:
    """Append one entry to a trial's media index (media, and logged artifacts)."""
    index = Path(trial_dir) / INDEX_FILE
    index.parent.mkdir(parents=True, exist_ok=True)
    with open(index, "a", encoding="utf-8") as f:
        f.write(json.dumps(dict(entry), default=str) + "\n")


def read_index(trial_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The entries of a trial's media index, oldest first ([] when it has none).

    A line cut short by a killed program is skipped.
    """
    path = Path(trial_dir) / INDEX_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return []
    entries = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries
