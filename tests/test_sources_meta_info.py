"""BasicSR meta_info files as input lists (degrade.sources.meta_info)."""
from __future__ import annotations

import pytest

from degrade import InputError
from degrade.sources.meta_info import parse_meta_info, read_meta_info


def test_the_basicsr_forms():
    text = ("DF2K_HR_sub/000001_s001.png\n"
            "0001_s001.png (480,480,3)\n"
            "0002_s001.png (480, 480, 3) 1\n"
            "\n# a comment\n"
            "gray.png (64,64)\n"
            "gt/a.png, lq/a.png\n")
    assert parse_meta_info(text) == ["DF2K_HR_sub/000001_s001.png", "0001_s001.png",
                                     "0002_s001.png", "gray.png", "gt/a.png"]


def test_a_bad_line_is_named():
    with pytest.raises(InputError, match=r"list\.txt: line 2: 'my photo\.png': expected 'PATH'"):
        parse_meta_info("a.png\nmy photo.png\n", file="list.txt")


def test_entries_resolve_against_the_root(tmp_path):
    root = tmp_path / "DF2K"
    (root / "sub").mkdir(parents=True)
    listing = tmp_path / "meta_info.txt"
    listing.write_text("sub/a.png (8,8,3)\nb.png\n")
    base, files = read_meta_info(listing, root)
    assert base == root and files == [root / "sub" / "a.png", root / "b.png"]
    assert read_meta_info(listing)[1] == [tmp_path / "sub" / "a.png", tmp_path / "b.png"]
    with pytest.raises(InputError, match="--root .*: not a folder"):
        read_meta_info(listing, tmp_path / "missing")
