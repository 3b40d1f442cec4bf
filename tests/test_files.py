"""raysweep.files: whole-file replacement, never a half-written file or a stray temp file."""

from __future__ import annotations

import json
import os
import stat
import sys
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


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_written_files_get_the_mode_the_umask_gives(
    tmp_path: Path, umask: int, mode: int
) -> None:
    # Shared storage and web servers must read trials.json and report.html as they read any
    # file the user writes; a private temporary file's 0600 must not survive the rename.
    previous = os.umask(umask)
    try:
        write_text_atomic(tmp_path / "report.html", "<html></html>")
        write_json_atomic(tmp_path / "trials.json", {"trials": []}, sync=True)
        write_json_atomic(tmp_path / "trials.json", {"trials": [1]})  # a replaced file too
    finally:
        os.umask(previous)
    for name in ("report.html", "trials.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "trials.json"]


def test_an_append_log_cuts_a_half_written_line_and_starts_its_records_on_their_own(
    tmp_path: Path,
) -> None:
    from raysweep.files import AppendLog, read_log

    path = tmp_path / "events.jsonl"
    path.write_text('{"n": 1}\n3\n{"n": 2}\n{"n": 3, "cut', encoding="utf-8")
    log = AppendLog(path)
    assert log.offset() == len('{"n": 1}\n3\n{"n": 2}\n')  # where the next record starts
    after = log.append({"n": 4}, sync=True)
    assert list(read_log(path)) == [{"n": 1}, {"n": 2}, {"n": 4}]  # objects only
    assert list(read_log(path, log.offset() - len('{"n": 4}\n'))) == [{"n": 4}]
    assert after == path.stat().st_size
    log.close()
    assert not log.sync()  # nothing open to sync
