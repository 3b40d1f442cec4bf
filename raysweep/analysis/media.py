"""What the trials saved besides metrics: the media and artifacts of their ``media/index.jsonl``.

The ``wandb`` stand-in saves images, tables, histograms and logged artifacts in each trial's
folder and lists them in the trial's media index (:mod:`raysweep.program.wandb_media`). The
report shows them for the best trials: images as thumbnails, everything else as links, all
relative to the page so that the sweep folder can be moved or served as a whole.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from raysweep.program.wandb_media import read_index

if TYPE_CHECKING:
    from raysweep.analysis.tables import SweepResult

__all__ = ["MAX_MEDIA_TRIALS", "media_section_html", "trial_folder", "trial_media"]

MAX_MEDIA_TRIALS = 12
"""Trials shown in the report's media section: the best that saved any."""

_SCANNED = 20
"""Trials looked at per trial shown: a sweep whose trials saved nothing costs little."""

_IMAGES_PER_KEY = 4
_KEYS_PER_TRIAL = 24


def trial_folder(sweep_dir: str | os.PathLike[str], trial_id: str) -> Path:
    """A trial's folder in the sweep directory (where the trainable writes its files)."""
    return Path(sweep_dir) / f"trial_{trial_id}"


def trial_media(sweep_dir: str | os.PathLike[str], trial_id: str) -> list[dict[str, Any]]:
    """The media index of one trial, oldest first ([] when it saved nothing)."""
    return read_index(trial_folder(sweep_dir, trial_id))


def _href(target: Path, link_from: Path) -> str:
    try:
        relative = os.path.relpath(target, link_from)
    except ValueError:  # another drive (Windows): no relative path exists
        return target.resolve().as_uri()
    return quote(Path(relative).as_posix())


def _latest_per_key(entries: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per key, the entries of the last value saved (several for a logged list)."""
    latest: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        key = str(entry.get("key", ""))
        group = latest.get(key)
        same_value = group and group[0].get("count") == entry.get("count") \
            and "item" in entry and entry.get("kind") != "artifact"
        if same_value:
            group.append(entry)  # type: ignore[union-attr]
        else:
            latest[key] = [entry]
    return latest


def _describe(entry: dict[str, Any]) -> str:
    kind = str(entry.get("kind", "file"))
    bits = [str(entry.get("chart")) + " chart" if kind == "chart" else kind]
    if "rows" in entry:
        bits.append(f"{entry['rows']} rows" + (", cut" if entry.get("truncated") else ""))
    if "step" in entry:
        bits.append(f"step {entry['step']}")
    return ", ".join(bits)


def _trial_html(result_path: Path, trial_id: str, entries: list[dict[str, Any]],
                link_from: Path, rank: int) -> str:
    esc = html.escape
    folder = trial_folder(result_path, trial_id)
    latest = _latest_per_key(entries)
    saved: dict[str, int] = {}
    for entry in entries:
        saved[str(entry.get("key"))] = saved.get(str(entry.get("key")), 0) + 1
    images, links = [], []
    for key, group in list(latest.items())[:_KEYS_PER_TRIAL]:
        first = group[0]
        label = f"{esc(key)}"
        if first.get("kind") == "image":
            thumbs = []
            for entry in group[:_IMAGES_PER_KEY]:
                href = esc(_href(folder / str(entry["file"]), link_from))
                title = esc(str(entry.get("caption") or f"{key}, step {entry.get('step')}"))
                thumbs.append(f'<a href="{href}"><img src="{href}" alt="{title}" '
                              f'title="{title}" loading="lazy"></a>')
            more = saved[key] - len(group)
            images.append(
                f'<figure>{"".join(thumbs)}<figcaption>{label} · step {first.get("step")}'
                + (f" · {more} earlier saved" if more > 0 else "") + "</figcaption></figure>")
        else:
            href = esc(_href(folder / str(first["file"]), link_from))
            links.append(f'<a href="{href}">{label}</a> <span class="sub">'
                         f"({esc(_describe(first))})</span>")
    hidden = len(latest) - _KEYS_PER_TRIAL
    tail = f'<div class="sub">{hidden} more keys in the trial folder</div>' if hidden > 0 else ""
    return (f'<div class="media-trial"><h3>rank {rank}: trial <code>{esc(trial_id)}</code> '
            f'<a class="sub" href="{esc(_href(folder, link_from))}">folder</a></h3>'
            f'<div class="media-images">{"".join(images)}</div>'
            + (f'<div class="media-links">{" · ".join(links)}</div>' if links else "")
            + tail + "</div>")


MEDIA_CSS = """
.media-trial h3{font-size:14px;margin:10px 0 4px}
.media-images{display:flex;flex-wrap:wrap;gap:10px}
.media-images figure{margin:0}
.media-images img{max-height:120px;max-width:200px;border:1px solid #dde;margin-right:3px;
image-rendering:pixelated}
.media-images figcaption{font-size:12px;color:#555}
.media-links{font-size:13px;margin-top:4px}
"""


def media_section_html(result: SweepResult, link_from: str | os.PathLike[str] | None = None,
                       limit: int = MAX_MEDIA_TRIALS) -> str:
    """The report's media section: for the best ``limit`` trials that saved media or
    artifacts, the latest value of each key; "" when none did.

    Args:
        result: The sweep.
        link_from: The folder the page is written to; links are relative to it (default: the
            sweep directory).
        limit: Trials shown. Only the best ``limit * 20`` trials are looked at.
    """
    base = Path(link_from) if link_from is not None else Path(result.path)
    base = base.resolve()
    shown = []
    if "trial_id" not in result.trials:
        return ""
    ids = [str(t) for t in result.trials["trial_id"].tolist()[:limit * _SCANNED]]
    for rank, trial_id in enumerate(ids, start=1):
        entries = trial_media(result.path, trial_id)
        if entries:
            shown.append(_trial_html(Path(result.path).resolve(), trial_id, entries, base,
                                     rank))
        if len(shown) >= limit:
            break
    if not shown:
        return ""
    return (f'<section class="card" id="media"><h2>Media</h2><div class="sub">What the best '
            f"trials logged besides metrics (images, tables, charts, histograms, artifacts): "
            f"the latest of each key, best trials first (rank 1 is the best). At most {limit} "
            f"trials; every file is in its trial folder.</div>{''.join(shown)}</section>")
