"""Default sweep directory names tell sweeps apart. No Ray."""

from __future__ import annotations

import re
from pathlib import Path

from raysweep.execution.options import sweep_name
from raysweep.sweep.config import load

SWEEP = "method: random\nparameters:\n  x: {min: 0.0, max: 1.0}\n"


def _named(path: Path, text: str = SWEEP) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    name = sweep_name(load(path))
    assert re.fullmatch(r".+-\d{8}-\d{6}", name), name
    return name.rsplit("-", 2)[0]


def test_a_sweep_yaml_is_named_after_its_folder(tmp_path: Path) -> None:
    assert _named(tmp_path / "mnist-cnn" / "sweep.yaml") == "mnist-cnn"
    assert _named(tmp_path / "two words" / "config.yaml") == "two-words"


def test_a_telling_file_name_is_kept(tmp_path: Path) -> None:
    assert _named(tmp_path / "proj" / "lr_search.yaml") == "lr_search"


def test_the_sweep_name_wins(tmp_path: Path) -> None:
    assert _named(tmp_path / "proj" / "sweep.yaml", "name: big run\n" + SWEEP) == "big-run"
