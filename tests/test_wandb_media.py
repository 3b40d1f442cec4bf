"""Media logged through the ``wandb`` stand-in: saved in the trial's folder, never metrics.

The encoders and limits are tested on :mod:`raysweep.program.wandb_media`; the stand-in is
imported in this process (as ``wandb``, the way tests/test_wandb_shim.py does it) with a
collecting reporter, and run once as a program trial's subprocess. No Ray.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import struct
import subprocess
import sys
import textwrap
import warnings
import wave
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from _standin import enter_trial

from raysweep.errors import RaysweepWarning
from raysweep.execution.trainable import ProgramSpec, trial_environment
from raysweep.program import wandb_media
from raysweep.program.metrics import parse_report_line, set_function_reporter
from raysweep.program.once import reset_warnings
from raysweep.program.wandb_media import (
    KEEP_FIRST,
    MAX_LIST_ITEMS,
    MediaStore,
    image_pixels,
    keeps,
    png_bytes,
    read_index,
    table_csv,
)


@pytest.fixture(autouse=True)
def fresh_warnings() -> Iterator[None]:
    reset_warnings()
    yield
    reset_warnings()


def decode_png(data: bytes) -> tuple[int, int, int, np.ndarray]:
    """Width, height, color type and pixels of a PNG written with filter 0 (ours)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks[kind] = chunks.get(kind, b"") + body
        pos += 12 + length
    width, height, depth, color, _, _, _ = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert depth == 8 and b"IEND" in chunks
    channels = {0: 1, 4: 2, 2: 3, 6: 4}[color]
    raw = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), dtype=np.uint8)
    rows = raw.reshape(height, 1 + width * channels)
    assert (rows[:, 0] == 0).all()
    return width, height, color, rows[:, 1:].reshape(height, width, channels)


# -- the encoders -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "color"),
    [
        pytest.param((5, 7), 0, id="gray"),
        pytest.param((5, 7, 3), 2, id="rgb"),
        pytest.param((5, 7, 4), 6, id="rgba"),
        pytest.param((5, 7, 2), 4, id="gray_alpha"),
    ],
)
def test_png_holds_the_pixels(shape: tuple[int, ...], color: int) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    width, height, got_color, decoded = decode_png(png_bytes(pixels))
    assert (width, height, got_color) == (7, 5, color)
    assert np.array_equal(decoded.reshape(pixels.shape), pixels)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param([[0.0, 1.0]], [[0, 255]], id="unit_floats"),
        pytest.param([[0.0, 200.0]], [[0, 200]], id="large_floats"),
        pytest.param([[-1.0, 1.0]], [[0, 255]], id="negative_floats_stretched"),
        pytest.param(np.array([[-5, 300]]), [[0, 255]], id="ints_clipped"),
        pytest.param(np.array([[True, False]]), [[255, 0]], id="bools"),
    ],
)
def test_image_pixels_scale_as_wandb_does(data: Any, expected: list[list[int]]) -> None:
    pixels = image_pixels(data)
    assert pixels.dtype == np.uint8 and pixels.tolist() == expected


class _Tensor:
    """What image_pixels reads of a torch tensor (torch itself is too heavy for CI): a tensor
    on a device, detached and moved to the CPU before it becomes NumPy."""

    def __init__(self, array: np.ndarray, *, on_cpu: bool = False, detached: bool = False):
        self.array, self.on_cpu, self.detached = array, on_cpu, detached

    def detach(self) -> _Tensor:
        return _Tensor(self.array, on_cpu=self.on_cpu, detached=True)

    def cpu(self) -> _Tensor:
        return _Tensor(self.array, on_cpu=True, detached=self.detached)

    def numpy(self) -> np.ndarray:
        if not (self.on_cpu and self.detached):  # as torch refuses
            raise TypeError("detach() and cpu() first")
        return self.array


def test_image_pixels_of_a_channels_first_tensor_and_bad_shapes() -> None:
    array = np.zeros((3, 4, 6))
    array[0] = 1.0
    pixels = image_pixels(_Tensor(array))
    assert pixels.shape == (4, 6, 3) and (pixels[..., 0] == 255).all()
    with pytest.raises(ValueError, match=r"got shape \(4,\)"):
        image_pixels(np.zeros(4))
    with pytest.raises(ValueError, match=r"1 to 4 channels, got shape \(5, 5, 7\)"):
        image_pixels(np.zeros((5, 5, 7)))


def test_tables_become_csv_and_long_ones_are_cut() -> None:
    text, rows, cut = table_csv(["a", "b"], [[1, 2.5], [None, "x"]])
    assert list(csv.reader(io.StringIO(text))) == [["a", "b"], ["1", "2.5"], ["", "x"]]
    assert (rows, cut) == (2, False)
    _, rows, cut = table_csv(["a"], ([i] for i in range(50)), max_rows=10)
    assert (rows, cut) == (10, True)


def test_keeps_the_first_values_then_powers_of_two() -> None:
    kept = [n for n in range(1, 5000) if keeps(n)]
    assert kept[:KEEP_FIRST] == list(range(1, KEEP_FIRST + 1))
    assert kept[KEEP_FIRST:] == [32, 64, 128, 256, 512, 1024, 2048, 4096]


def test_store_continues_the_counts_of_an_earlier_run(tmp_path: Path) -> None:
    first = MediaStore(tmp_path)
    count = first.next_count("img")
    assert count == 1
    first.save("img", 0, count, None, "image", ".png", b"x")
    second = MediaStore(tmp_path)  # a second run (or process) in the same trial
    assert second.next_count("img") == 2
    assert [e["file"] for e in read_index(tmp_path)] == ["media/img/000000-1.png"]


def test_keys_that_look_alike_get_folders_of_their_own(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    a = store.save("a/b", 0, 1, None, "image", ".png", b"1")
    b = store.save("a_b", 0, 1, None, "image", ".png", b"2")
    assert (a, b) == ("media/a_b/000000-1.png", "media/a_b-2/000000-1.png")
    assert (tmp_path / a).read_bytes() == b"1" and (tmp_path / b).read_bytes() == b"2"


# -- the stand-in, in this process --------------------------------------------------------------


@pytest.fixture
def trial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A trial's environment and a reporter that collects what raysweep would receive."""
    trial_dir = enter_trial(tmp_path, monkeypatch)
    reports: list[dict[str, Any]] = []
    previous = set_function_reporter(reports.append)
    try:
        yield {"dir": trial_dir, "reports": reports}
    finally:
        set_function_reporter(previous)



def _by_key(trial_dir: Path) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for entry in read_index(trial_dir):
        out.setdefault(entry["key"], []).append(entry)
    return out


def test_each_media_kind_is_saved_and_none_becomes_a_metric(
    wandb: ModuleType, trial: dict[str, Any], tmp_path: Path
) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8 not really a jpeg")
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"video bytes")
    pixels = np.random.default_rng(1).integers(0, 256, (6, 4, 3), dtype=np.uint8)
    table = wandb.Table(columns=["x", "y"], data=[[1, 1.0], [2, 4.0]])
    wandb.init()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wandb.log({
            "loss": 0.5,
            "img": wandb.Image(pixels, caption="sample"),
            "photo": wandb.Image(str(photo)),
            "table": table,
            "hist": wandb.Histogram([1, 2, 2, 3], num_bins=2),
            "line": wandb.plot.line(table, "x", "y", title="parabola"),
            "val": {"acc": 0.75, "audio": wandb.Audio(np.zeros(80), sample_rate=8000)},
            "page": wandb.Html("<b>hi</b>"),
            "clip": wandb.Video(str(clip)),
            "batch": [wandb.Image(np.zeros((2, 2))) for _ in range(3)],
        })
    assert not [str(w.message) for w in caught if issubclass(w.category, RaysweepWarning)]
    assert trial["reports"] == [{"loss": 0.5, "val/acc": 0.75, "_step": 0}]

    d = trial["dir"]
    index = _by_key(d)
    assert sorted(index) == ["batch", "clip", "hist", "img", "line", "page", "photo", "table",
                             "val/audio"]
    img = index["img"][0]
    assert img == {"key": "img", "step": 0, "kind": "image", "file": "media/img/000000-1.png",
                   "count": 1, "caption": "sample"}
    assert np.array_equal(decode_png((d / img["file"]).read_bytes())[3], pixels)
    assert (d / index["photo"][0]["file"]).read_bytes() == photo.read_bytes()
    assert index["photo"][0]["file"].endswith(".jpg")
    assert (d / index["clip"][0]["file"]).read_bytes() == b"video bytes"
    assert (d / index["table"][0]["file"]).read_bytes() == b"x,y\r\n1,1.0\r\n2,4.0\r\n"
    assert index["table"][0]["rows"] == 2
    assert json.loads((d / index["hist"][0]["file"]).read_text()) == {
        "bins": [1.0, 2.0, 3.0], "counts": [1.0, 3.0]}
    line = index["line"][0]
    assert (line["kind"], line["chart"], line["title"]) == ("chart", "line", "parabola")
    assert line["fields"]["x"] == "x" and (d / line["file"]).read_text().startswith("x,y")
    with wave.open(str(d / index["val/audio"][0]["file"])) as w:
        assert (w.getframerate(), w.getnframes()) == (8000, 80)
    assert (d / index["page"][0]["file"]).read_text() == "<b>hi</b>"
    assert [e["item"] for e in index["batch"]] == [0, 1, 2]
    assert {e["file"] for e in index["batch"]} == {f"media/batch/000000-1-{i}.png"
                                                   for i in range(3)}


def test_charts_hold_their_tables(wandb: ModuleType, trial: dict[str, Any]) -> None:
    cm = wandb.plot.confusion_matrix(y_true=[0, 1, 1], preds=[0, 0, 1], class_names=["a", "b"])
    assert cm.table.data == [["a", "a", 1], ["a", "b", 0], ["b", "a", 1], ["b", "b", 1]]
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    assert wandb.plot.confusion_matrix(probs=probs, y_true=[0, 1, 1]).table.data[2:] == [
        [1, 0, 1], [1, 1, 1]]
    roc = wandb.plot.roc_curve([0, 1, 1], probs, labels=["a", "b"], classes_to_plot=[1])
    assert roc.table.columns == ["class", "fpr", "tpr"]
    assert roc.table.data[0] == ["b", 0.0, 0.0] and roc.table.data[-1] == ["b", 1.0, 1.0]
    pr = wandb.plot.pr_curve([0, 1, 1], probs)
    assert pr.table.columns == ["class", "precision", "recall"]
    series = wandb.plot.line_series([0, 1], [[1, 2], [3, 4]], keys=["u", "v"], title="t")
    assert series.table.data == [["u", 1, 0], ["u", 2, 1], ["v", 3, 0], ["v", 4, 1]]
    table = wandb.Table(columns=["c", "n"], data=[["a", 1]])
    for chart in (wandb.plot.bar(table, "c", "n"), wandb.plot.scatter(table, "n", "n"),
                  wandb.plot.histogram(table, "n")):
        assert chart.table is table
    with pytest.raises(TypeError, match="from a wandb.Table, got list"):
        wandb.plot.line([[1, 2]], "x", "y")


def test_table_api(wandb: ModuleType) -> None:
    table = wandb.Table(columns=["a", "b"])
    table.add_data(1, "x")
    table.add_data(2, "y")
    table.add_column("c", np.array([0.5, 1.5]))
    assert table.columns == ["a", "b", "c"]
    assert table.get_column("c") == [0.5, 1.5]
    assert table.get_column("a", convert_to="numpy").tolist() == [1, 2]
    assert table.get_index() == [0, 1]
    frame = table.get_dataframe()
    assert wandb.Table(dataframe=frame).data == table.data
    with pytest.raises(ValueError, match=r"This table expects 3 columns: \['a', 'b', 'c'\], "
                                         "found 1"):
        table.add_data(1)
    with pytest.raises(ValueError, match="Column 'c' already exists"):
        table.add_column("c", [1, 2])
    assert wandb.Table(data=np.ones((1, 3))).columns == ["Input", "Output", "Expected"]
    empty = wandb.Table(columns=[])
    empty.add_column("z", [1, 2])
    assert empty.data == [[1], [2]]


def test_histogram_api(wandb: ModuleType) -> None:
    h = wandb.Histogram(np_histogram=np.histogram([1, 2, 3], bins=3))
    assert h.histogram == [1.0, 1.0, 1.0] and len(h.bins) == 4
    assert len(wandb.Histogram(np.arange(100)).histogram) == 64
    with pytest.raises(ValueError, match="maximum length of a histogram is 512"):
        wandb.Histogram(np.arange(1000), num_bins=600)
    with pytest.raises(ValueError, match="one more bin edge than counts"):
        wandb.Histogram(np_histogram=([1, 2], [0, 1]))


def test_an_image_every_step_stays_bounded(wandb: ModuleType, trial: dict[str, Any]) -> None:
    wandb.init()
    with pytest.warns(RaysweepWarning, match="'img' was logged 16 times") as caught:
        for step in range(100):
            wandb.log({"img": wandb.Image(np.zeros((2, 2))), "loss": step})
    assert caught[0].filename == __file__  # the user's line, not the stand-in's
    steps = [e["step"] for e in read_index(trial["dir"])]
    assert steps == [*range(KEEP_FIRST), 31, 63]
    assert len(list((trial["dir"] / "media" / "img").iterdir())) == KEEP_FIRST + 2
    assert [r["loss"] for r in trial["reports"]] == list(range(100))


def test_long_lists_and_spent_budgets_save_part(
    wandb: ModuleType, trial: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    wandb.init()
    with pytest.warns(RaysweepWarning, match=f"saves the first {MAX_LIST_ITEMS}"):
        wandb.log({"batch": [wandb.Image(np.zeros((2, 2))) for _ in range(40)]})
    assert len(read_index(trial["dir"])) == MAX_LIST_ITEMS
    monkeypatch.setattr(wandb_media, "MAX_TRIAL_BYTES", 1)
    with pytest.warns(RaysweepWarning, match="media reached 0 MiB; raysweep saves no more"):
        wandb.log({"other": wandb.Image(np.zeros((2, 2)))})
    assert len(read_index(trial["dir"])) == MAX_LIST_ITEMS


def test_an_image_that_cannot_be_saved_warns_and_the_run_goes_on(
    wandb: ModuleType, trial: dict[str, Any]
) -> None:
    wandb.init()
    with pytest.warns(RaysweepWarning, match="could not save the image logged under 'bad'"):
        wandb.log({"bad": wandb.Image(np.zeros((2, 2, 9))), "loss": 1.0})
    assert trial["reports"] == [{"loss": 1.0, "_step": 0}]
    with pytest.raises(ValueError, match="no image file at 'missing.png'"):
        wandb.Image("missing.png")


def test_outside_a_trial_media_are_accepted_and_nothing_is_saved(
    wandb: ModuleType, trial: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RAYSWEEP_TRIAL_DIR")
    run = wandb.init()
    run.log({"img": wandb.Image(np.zeros((2, 2))), "loss": 1.0})
    assert trial["reports"] == [{"loss": 1.0, "_step": 0}]
    assert list(trial["dir"].iterdir()) == []


def test_media_of_a_run_that_is_not_the_sweeps_are_not_saved(
    wandb: ModuleType, trial: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WANDB_RUN_ID")  # a cross-validation fold's own run
    wandb.init().log({"img": wandb.Image(np.zeros((2, 2)))})
    assert read_index(trial["dir"]) == []


def test_program_trial_saves_media_and_reports_only_numbers(tmp_path: Path) -> None:
    script = """
    import numpy as np
    import wandb

    wandb.init()
    for step in range(3):
        wandb.log({"loss": 1.0 / (step + 1), "sample": wandb.Image(np.full((3, 3), step * 100)),
                   "preds": wandb.Table(columns=["p"], data=[[step]])})
    wandb.finish()
    """
    (tmp_path / "train.py").write_text(textwrap.dedent(script))
    trial_dir = tmp_path / "trial"
    trial_dir.mkdir()
    spec = ProgramSpec(command=None, program="train.py", directory=str(tmp_path),
                       sweep_id="sweep-1")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RAYSWEEP_"))}
    env = trial_environment(base, spec, "t9", trial_dir, {})
    out = subprocess.run([sys.executable, "-W", "error::Warning", "train.py"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    reports = [parse_report_line(line) for line in out.stdout.splitlines()]
    assert [r for r in reports if r is not None] == [
        {"loss": 1.0, "_step": 0}, {"loss": 0.5, "_step": 1}, {"loss": 1 / 3, "_step": 2}]
    index = read_index(trial_dir)
    assert [(e["key"], e["step"]) for e in index] == [
        (k, s) for s in range(3) for k in ("sample", "preds")]
    last = decode_png((trial_dir / index[4]["file"]).read_bytes())[3]
    assert (last == 200).all()


# -- the report ---------------------------------------------------------------------------------


def _sweep_with_media(root: Path) -> Any:
    """A sweep of 40 trials (tests/test_report.py's); the 3 best and the worst saved media."""
    from test_report import write_sweep

    from raysweep.analysis.tables import load_results

    result = load_results(write_sweep(root))
    ranked = [str(t) for t in result.trials["trial_id"]]
    for trial_id in [*ranked[:3], ranked[-1]]:
        store = MediaStore(root / f"trial_{trial_id}")
        for step in range(3):
            store.save("samples", step, step + 1, None, "image", ".png",
                       png_bytes(np.full((4, 4), step * 50, dtype=np.uint8)), caption=f"s{step}")
        text, rows, _ = table_csv(["p"], [[1], [2]])
        store.save("preds", 2, 1, None, "table", ".csv", text.encode(), rows=rows)
    return result, ranked


def _media_html(page: str) -> str:
    start = page.index('<section class="card" id="media">')
    return page[start:page.index("</section>", start)]


def test_the_report_shows_images_and_links_tables_of_the_best_trials(tmp_path: Path) -> None:
    pytest.importorskip("plotly")
    from raysweep.analysis.media import media_section_html
    from raysweep.analysis.report import write_report

    root = tmp_path / "sweep"
    result, ranked = _sweep_with_media(root)
    page = write_report(result, root / "report.html").read_text()
    media = _media_html(page)
    shown = re.findall(r"trial <code>(\w+)</code>", media)
    assert shown == [*ranked[:3], ranked[-1]]  # best first; the rank of each is written
    assert f"rank 40: trial <code>{ranked[-1]}</code>" in media
    images = re.findall(r'<img src="([^"]+)" alt="([^"]+)"', media)
    assert images[0] == (f"trial_{ranked[0]}/media/samples/000002-3.png", "s2")  # the latest
    assert len(images) == 4
    assert all((root / src).is_file() for src, _ in images)
    assert "2 earlier saved" in media
    links = re.findall(r'<a href="([^"]+\.csv)">preds</a>', media)
    assert links[0] == f"trial_{ranked[0]}/media/preds/000002-1.csv"
    assert "(table, 2 rows, step 2)" in media

    # Written elsewhere, the links still reach the files.
    (tmp_path / "out").mkdir()
    other = write_report(result, tmp_path / "out" / "r.html").read_text()
    src = re.findall(r'<img src="([^"]+)"', _media_html(other))[0]
    assert src == f"../sweep/trial_{ranked[0]}/media/samples/000002-3.png"
    assert (tmp_path / "out" / src).resolve().is_file()

    capped = media_section_html(result, limit=2)
    assert re.findall(r"trial <code>(\w+)</code>", capped) == ranked[:2]


def test_a_report_without_media_has_no_media_section(tmp_path: Path) -> None:
    pytest.importorskip("plotly")
    from test_report import write_sweep

    from raysweep.analysis.report import build_report
    from raysweep.analysis.tables import load_results

    page = build_report(load_results(write_sweep(tmp_path / "sweep")))
    assert 'id="media"' not in page


class _Figure:
    """Stands for a matplotlib figure (matplotlib is not a test dependency)."""

    def savefig(self, f: Any, format: str) -> None:  # noqa: A002 - matplotlib's name
        f.write(f"figure as {format}".encode())


class _PilImage:
    """Stands for a PIL image."""

    mode, size = "RGB", (2, 2)

    def save(self, f: Any, format: str) -> None:  # noqa: A002 - PIL's name
        f.write(f"pil as {format}".encode())


def test_figures_and_pil_images_save_themselves(
    wandb: ModuleType, trial: dict[str, Any]
) -> None:
    wandb.init()
    wandb.log({"fig": wandb.Image(_Figure()), "pil": wandb.Image(_PilImage()),
               "copy": wandb.Image(wandb.Image(_Figure()))})
    files = {e["key"]: (trial["dir"] / e["file"]).read_bytes() for e in read_index(trial["dir"])}
    assert files == {"fig": b"figure as png", "pil": b"pil as PNG", "copy": b"figure as png"}
