"""raysweep.files: whole-file replacement, never a half-written file or a stray temp file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from raysweep.files import write_json_atomic, write_text_atomic


def test_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_text("old", encoding="utf-8")
    write_text_atomic(target, "new", sync=True)
    assert target.read_text(encoding="utf-8") == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_json_values_json_lacks_become_strings(tmp_path: Path) -> None:
    target = tmp_path / "s.json"
    write_json_atomic(target, {"path": tmp_path, "n": 1})
    assert json.loads(target.read_text(encoding="utf-8")) == {"path": str(tmp_path), "n": 1}
    write_json_atomic(target, {"a": 1}, indent=2)
    assert target.read_text(encoding="utf-8") == '{\n  "a": 1\n}\n'


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path: Path) -> None:
    target = tmp_path / "s.json"
    target.write_text('{"old": true}', encoding="utf-8")
    with pytest.raises(UnicodeEncodeError):
        write_text_atomic(target, "half \ud800 written")  # fails inside the write
    assert target.read_text(encoding="utf-8") == '{"old": true}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json"]
