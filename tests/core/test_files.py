"""Atomic output files: an error leaves the old file whole, an output that is the input is refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from alignkit.core.errors import ConfigError
from alignkit.core.files import atomic_path, check_not_input, write_text_atomic


def test_an_error_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    out.write_text("old")

    def crash() -> None:
        with atomic_path(out) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash mid-write")

    with pytest.raises(RuntimeError):
        crash()
    assert out.read_text() == "old" and os.listdir(tmp_path) == ["out.json"]
    write_text_atomic(out, "new")
    assert out.read_text() == "new" and os.listdir(tmp_path) == ["out.json"]


def test_a_symlinked_output_replaces_its_target_and_keeps_the_link(tmp_path: Path) -> None:
    real = tmp_path / "real.txt"
    real.write_text("old")
    (tmp_path / "link.txt").symlink_to(real)
    write_text_atomic(tmp_path / "link.txt", "new")
    assert (tmp_path / "link.txt").is_symlink() and real.read_text() == "new"


def test_new_files_get_ordinary_permissions_and_old_ones_keep_theirs(tmp_path: Path) -> None:
    write_text_atomic(tmp_path / "a.txt", "x")
    assert (tmp_path / "a.txt").stat().st_mode & 0o044  # readable like any file this user writes (umask 022/002)
    private = tmp_path / "p.txt"
    private.write_text("x")
    private.chmod(0o600)
    write_text_atomic(private, "y")
    assert private.stat().st_mode & 0o777 == 0o600


def test_an_output_that_is_the_input_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "a.jsonl"
    src.write_text("{}\n")
    (tmp_path / "alias.jsonl").symlink_to(src)
    for output in (src, tmp_path / "alias.jsonl", tmp_path / "." / "a.jsonl"):
        with pytest.raises(ConfigError, match="is the input file"):
            check_not_input(output, [src])
    check_not_input(tmp_path / "b.jsonl", [src])  # a new file is fine
