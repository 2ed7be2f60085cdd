"""The pure parts of archives.extract: entry names, volume names, the bomb caps."""

from __future__ import annotations

from pathlib import Path

import pytest

from hauler.archives.formats import Archive, first_volume, folder_name, volumes
from hauler.archives.limits import Budget
from hauler.archives.names import entry_parts, sanitise_tree
from hauler.errors import UnsafeArchive


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("a/b.txt", ("a", "b.txt")),
        ("/etc/passwd", ("etc", "passwd")),
        ("C:\\Windows\\x.dll", ("Windows", "x.dll")),
        ("./a//b", ("a", "b")),
        ("dir/.hidden", ("dir", "hidden")),
        ("a/b\x00c:d", ("a", "b_c_d")),
        ("", ()),
    ],
)
def test_entry_names_become_relative_sanitised_parts(name, parts):
    assert entry_parts(name) == parts


@pytest.mark.parametrize("name", ["../x", "a/../../x", "..\\..\\x", "C:..\\x"])
def test_a_parent_part_refuses_the_entry(name):
    with pytest.raises(UnsafeArchive, match="outside"):
        entry_parts(name)


def test_names_written_by_a_tool_are_sanitised_in_place(tmp_path: Path):
    (tmp_path / "bad:dir").mkdir()
    (tmp_path / "bad:dir" / "x?.txt").write_text("x")
    (tmp_path / "x_.txt").write_text("taken")
    (tmp_path / "x?.txt").write_text("y")
    sanitise_tree(tmp_path)
    names = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert names == ["bad_dir", "bad_dir/x_.txt", "x_ (1).txt", "x_.txt"]


@pytest.mark.parametrize(
    ("name", "folder"),
    [
        ("movie.part01.rar", "movie"),
        ("movie.7z.001", "movie"),
        ("backup.tar.gz", "backup"),
        ("pack.tgz", "pack"),
        ("Photos.ZIP", "Photos"),
        ("weird", "weird"),
    ],
)
def test_the_folder_is_the_name_without_archive_suffixes(name, folder):
    assert folder_name(Path(name)) == folder


def test_volumes_are_found_in_order_up_to_the_first_gap(tmp_path: Path):
    for name in ("s.part01.rar", "s.part02.rar", "s.part04.rar", "t.7z.001", "t.7z.002"):
        (tmp_path / name).write_bytes(b"x")
    assert first_volume(tmp_path / "s.part02.rar") == tmp_path / "s.part01.rar"
    rar = volumes(tmp_path / "s.part01.rar", "rar")
    assert [v.name for v in rar] == ["s.part01.rar", "s.part02.rar"]
    assert Archive("rar", rar[0], rar).next_volume() == "s.part03.rar"
    seven = volumes(tmp_path / "t.7z.001", "7z")
    assert Archive("7z", seven[0], seven).next_volume() == "t.7z.003"
    (tmp_path / "old.rar").write_bytes(b"x")
    (tmp_path / "old.r00").write_bytes(b"x")
    old = volumes(tmp_path / "old.rar", "rar")
    assert Archive("rar", old[0], old).next_volume() == "old.r01"


def test_the_budget_refuses_past_each_cap():
    budget = Budget(archive_bytes=1000, max_bytes=10**9, max_ratio=100, max_entries=3)
    budget.declared(100_000, 3)
    with pytest.raises(UnsafeArchive, match="MAX_RATIO"):
        budget.declared(100_001, 3)
    with pytest.raises(UnsafeArchive, match="MAX_ENTRIES"):
        budget.declared(1, 4)
    budget.add(100_000)
    with pytest.raises(UnsafeArchive, match="MAX_RATIO"):
        budget.add(1)
    small = Budget(archive_bytes=10**6, max_bytes=500, max_ratio=100, max_entries=10)
    assert small.limit == 500
    with pytest.raises(UnsafeArchive, match="MAX_BYTES"):
        small.add(501)
