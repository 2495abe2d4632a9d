"""BasicSR meta_info files as input lists (degrade.sources.meta_info)."""
from __future__ import annotations

import json

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


def test_shape_suffixes_are_recognised():
    from degrade.sources.meta_info import has_shape_suffix
    assert has_shape_suffix("a.png (480,480,3)") and has_shape_suffix("a.png (48, 48) 1")
    assert not has_shape_suffix("a.png") and not has_shape_suffix("my photo (2).png")


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


# ---------------------------------------------------------------- as --input (end to end)
@pytest.fixture
def df2k(tmp_path):
    """A BasicSR-style layout: images under a dataroot, the meta_info list elsewhere, the
    same images as a plain folder for comparison."""
    from test_run import RECIPE, write_png

    root = tmp_path / "DF2K"
    for k, name in enumerate(["sub/b.png", "a.png", "c.png"]):
        write_png(root / name, 40, 44, k)
    listing = tmp_path / "info" / "meta_info_DF2K.txt"
    listing.parent.mkdir()
    listing.write_text("sub/b.png (40,44,3)\na.png (40,44,3) 1\n")   # c.png left out
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(RECIPE)
    return recipe, root, listing


def _sources_of(store):
    import zarr
    group = zarr.open_group(str(store), mode="r")
    return [json.loads(r)["source"]["path"] for r in group["records"][:]]


def test_generate_cli_reads_a_meta_info_with_root(df2k, tmp_path, capsys):
    from degrade.cli import main

    recipe, root, listing = df2k
    out = tmp_path / "meta.zarr"
    assert main(["generate", str(recipe), "--out", str(out), "--input", str(listing),
                 "--root", str(root), "--num", "4", "--quiet", "--workers", "1"]) == 0
    paths = _sources_of(out)
    assert sorted(set(paths)) == ["a.png", "sub/b.png"] and len(paths) == 4   # file order kept
    attrs = json.loads((out / "zarr.json").read_text())["attributes"]
    assert attrs["roots"] == [str(root)]
    # without --root: one error that names the missing --root, not a skip per line
    assert main(["generate", str(recipe), "--out", str(tmp_path / "plain.zarr"), "--input",
                 str(listing), "--num", "4", "--quiet"]) == 2
    assert "reads as a BasicSR meta_info entry" in capsys.readouterr().err
    assert not (tmp_path / "plain.zarr").exists()


def test_generate_api_reads_a_meta_info_with_root(df2k, tmp_path):
    import degrade

    recipe, root, listing = df2k
    out = tmp_path / "api.zarr"
    degrade.generate(str(recipe), {"path": str(listing), "root": str(root)}, out, num=2,
                     progress=False, scheduler="synchronous")
    assert _sources_of(out) == ["sub/b.png", "a.png"]


def test_root_errors(df2k, tmp_path):
    from degrade.cli import main
    from degrade.sources.spec import as_sources

    recipe, root, listing = df2k
    with pytest.raises(InputError, match="--root .*missing: not a folder"):
        main_args = ["generate", str(recipe), "--out", str(tmp_path / "x.zarr"), "--input",
                     str(listing), "--root", str(tmp_path / "missing"), "--quiet"]
        import degrade
        degrade.generate(str(recipe), {"path": str(listing), "root": str(tmp_path / "missing")},
                         tmp_path / "x.zarr", progress=False)
    assert main(main_args) == 2
    assert main(["generate", str(recipe), "--out", str(tmp_path / "y.zarr"), "--input",
                 str(listing), "--input", str(listing), "--root", "a", "--root", "b", "--root",
                 "c", "--quiet"]) == 2
    from degrade import ParameterError
    with pytest.raises(ParameterError, match="root = 'x' without a path"):
        as_sources({"root": "x"})
    assert as_sources({"path": "l.txt", "root": "r"}, weights=[2.0])[0].root == "r"
