"""Folder sources: listing, probing, weighted mixing, the index -> (file, patch) map."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from degrade._errors import InputError, ParameterError
from degrade.sources.samples import raw_sample_paths
from degrade.sources.folders import (Patches, Source, as_sources, grid_starts, patch_position,
                                     plan_samples, read_file)


def _write(path, h, w, seed=0, bits=8):
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    top = 65535 if bits == 16 else 255
    img = (rng.random((h, w, 3)) * top).astype(np.uint16 if bits == 16 else np.uint8)
    assert cv2.imwrite(str(path), img)
    return path


@pytest.fixture
def folder(tmp_path):
    """4 usable images (png, 16-bit png, jpeg, tiff; one in a subfolder), a corrupt file and
    an image too small for a 32x32 crop."""
    root = tmp_path / "imgs"
    _write(root / "a.png", 40, 48, 1)
    _write(root / "b16.png", 48, 40, 2, bits=16)
    _write(root / "c.jpg", 36, 36, 3)
    _write(root / "sub" / "d.tif", 64, 50, 4)
    (root / "e_corrupt.png").write_bytes(b"not an image at all")
    _write(root / "f_small.png", 20, 20, 5)
    return root


def test_probe_skips_corrupt_and_small_files_before_assigning_indices(folder):
    messages = []
    plan = plan_samples(as_sources(str(folder)), num=8, min_size=(32, 32), warn=messages.append)
    names = [p.split("/")[-1] for p in plan.files]
    assert names == ["a.png", "b16.png", "c.jpg", "d.tif"]          # sorted, recursive
    reasons = {s["path"].split("/")[-1]: s["reason"] for s in plan.skipped}
    assert set(reasons) == {"e_corrupt.png", "f_small.png"}
    assert "not a readable image" in reasons["e_corrupt.png"]
    assert "20x20 is smaller than the crop 32x32" in reasons["f_small.png"]
    assert len(messages) == 2 and all(m.startswith("skipping ") for m in messages)
    # 8 samples over 4 files: each file gets 2 consecutive samples
    assert plan.sample_file.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert plan.shapes.tolist() == [[40, 48], [48, 40], [36, 36], [64, 50]]


def test_strict_raises_on_the_first_unusable_file(folder):
    with pytest.raises(InputError, match="e_corrupt.png: not a readable image"):
        plan_samples(as_sources(str(folder)), num=4, min_size=(32, 32), strict=True)


def test_listing_hash_depends_on_content_not_on_location(folder, tmp_path):
    a = plan_samples(as_sources(str(folder)), num=4, min_size=(32, 32))
    moved = tmp_path / "moved"
    folder.rename(moved)
    b = plan_samples(as_sources(str(moved)), num=4, min_size=(32, 32))
    assert a.listing_hash == b.listing_hash
    _write(moved / "g.png", 40, 40, 9)
    c = plan_samples(as_sources(str(moved)), num=4, min_size=(32, 32))
    assert c.listing_hash != a.listing_hash


def test_weights_split_by_largest_remainder_and_interleave_evenly(tmp_path):
    for k in range(3):
        _write(tmp_path / "p" / f"{k}.png", 32, 32, k)
        _write(tmp_path / "g" / f"{k}.png", 32, 32, 10 + k)
    plan = plan_samples(as_sources([str(tmp_path / "p"), str(tmp_path / "g")], weights=[0.8, 0.2]),
                        num=10)
    source = plan.file_source[plan.sample_file]
    assert np.bincount(source).tolist() == [8, 2]
    # the j-th of c samples sits at key (j + 0.5) / c: the two 'g' samples land at 1/4, 3/4
    assert source.tolist() == [0, 0, 1, 0, 0, 0, 0, 1, 0, 0]
    assert [s["samples"] for s in plan.source_info] == [8, 2]
    # 7 samples at 0.5/0.5: 3.5 each -> the tie goes to the earlier source
    plan = plan_samples(as_sources([str(tmp_path / "p"), str(tmp_path / "g")]), num=7)
    assert np.bincount(plan.file_source[plan.sample_file]).tolist() == [4, 3]


def test_counts_are_exact_and_must_agree_with_num(tmp_path):
    for k in range(2):
        _write(tmp_path / "p" / f"{k}.png", 32, 32, k)
        _write(tmp_path / "g" / f"{k}.png", 32, 32, 10 + k)
    paths = [str(tmp_path / "p"), str(tmp_path / "g")]
    plan = plan_samples(as_sources(paths, counts=[5, 1]))
    assert np.bincount(plan.file_source[plan.sample_file]).tolist() == [5, 1]
    with pytest.raises(ParameterError, match="num = 3 but the per-source counts add up to 6"):
        plan_samples(as_sources(paths, counts=[5, 1]), num=3)


def test_default_num_is_one_sample_per_file(folder):
    plan = plan_samples(as_sources(str(folder)), min_size=(32, 32))
    assert plan.num == 4 and plan.sample_file.tolist() == [0, 1, 2, 3]


def test_grid_covers_the_image_with_an_edge_aligned_last_patch():
    assert grid_starts(100, 48, 24) == [0, 24, 48, 52]
    assert grid_starts(96, 48, 24) == [0, 24, 48]
    assert grid_starts(40, 48, 24) == []


def test_grid_mode_enumerates_every_cell_once(tmp_path):
    _write(tmp_path / "a.png", 64, 96, 0)    # 3 x 5 cells of 32 / stride 16
    _write(tmp_path / "b.png", 32, 32, 1)    # 1 cell
    plan = plan_samples(as_sources(str(tmp_path)), patches=Patches(32, 16))
    assert plan.num == 16
    assert plan.sample_file.tolist() == [0] * 15 + [1]
    assert plan.sample_cell.tolist() == list(range(15)) + [0]
    positions = [patch_position((64, 96), plan.patches, c, 0, i, False) for i, c in enumerate(range(15))]
    assert positions[0] == (0, 0) and positions[4] == (0, 64) and positions[14] == (32, 64)


def test_random_patch_positions_are_deterministic_per_seed_and_index():
    p = Patches(16)
    a = [patch_position((100, 80), p, -1, 3, i, False) for i in range(20)]
    assert a == [patch_position((100, 80), p, -1, 3, i, False) for i in range(20)]
    assert a != [patch_position((100, 80), p, -1, 4, i, False) for i in range(20)]
    assert all(0 <= y <= 84 and 0 <= x <= 64 for y, x in a)
    raw = [patch_position((101, 81), p, -1, 3, i, True) for i in range(20)]
    assert all(y % 2 == 0 and x % 2 == 0 and y <= 84 and x <= 64 for y, x in raw)


def test_file_list_source_reads_paths_relative_to_the_list(tmp_path):
    _write(tmp_path / "x" / "one.png", 32, 32, 0)
    _write(tmp_path / "x" / "two.png", 32, 32, 1)
    (tmp_path / "list.txt").write_text("# chosen files\nx/two.png\n\nx/one.png\n")
    plan = plan_samples(as_sources(str(tmp_path / "list.txt")))
    assert [p.split("/")[-1] for p in plan.files] == ["two.png", "one.png"]


def test_builtin_samples_are_the_default_source():
    plan = plan_samples(as_sources(None), num=3)
    assert plan.source_info[0]["path"] == "<samples>" and len(plan.files) >= 1
    raw = plan_samples(as_sources(None), kind="raw", num=3)   # RAW recipes: the built-in DNGs
    assert [p.split("/")[-1] for p in raw.files] == [p.name for p in raw_sample_paths()]


def test_read_file_sixteen_bit_keeps_precision(folder):
    image, meta = read_file(folder / "b16.png", "image")
    assert image.dtype == np.float32 and image.shape == (48, 40, 3) and meta == {}
    levels = np.unique(np.round(image * 65535))
    assert levels.size > 256                      # more than 8 bits of levels survive


@pytest.mark.parametrize("kwargs, message", [
    (dict(spec=["a", "b"], weights=[1.0]), "1 weights for 2 sources"),
    (dict(spec="a", weights=[-1.0]), "weight of a = -1.0: expected a number >= 0"),
    (dict(spec="a", counts=[-2]), "count of a = -2: expected an integer >= 0"),
    (dict(spec={"path": "a", "wieght": 2}), r"unknown key\(s\) \['wieght'\]"),
    (dict(spec=[]), "empty list"),
    (dict(spec=["a", "b"], weights=[0, 0]), "all weights are 0"),
])
def test_as_sources_errors(kwargs, message):
    spec = kwargs.pop("spec")
    with pytest.raises(ParameterError, match=message):
        as_sources(spec, **kwargs)


def test_mixing_counts_and_weights_is_refused(tmp_path):
    _write(tmp_path / "a" / "1.png", 32, 32, 0)
    with pytest.raises(ParameterError, match="give a count for every source"):
        plan_samples([Source(str(tmp_path / "a"), count=2), Source(str(tmp_path / "a"))])


@pytest.mark.parametrize("patches, kind, message", [
    (Patches(None, 8), "image", "patch stride given without a patch size"),
    (Patches(0), "image", "patch size = 0: expected an integer >= 1"),
    (Patches(16), "image", "the recipe crops 32x32 but patches are 16x16"),
    (Patches(33), "raw", "RAW patches need even sizes"),
])
def test_patch_errors(tmp_path, patches, kind, message):
    with pytest.raises(ParameterError, match=message):
        plan_samples(as_sources(str(tmp_path)), kind=kind, patches=patches, min_size=(32, 32))


def test_missing_folder_and_empty_folder(tmp_path):
    with pytest.raises(InputError, match="not a folder or a .txt file list"):
        plan_samples(as_sources(str(tmp_path / "nope")))
    (tmp_path / "bad.png").write_bytes(b"xx")
    with pytest.raises(InputError, match=r"no usable image file \(1 found, all skipped\)"):
        plan_samples(as_sources(str(tmp_path)))


def test_num_must_be_positive(tmp_path):
    with pytest.raises(ParameterError, match="num = 0: expected an integer >= 1"):
        plan_samples(as_sources(str(tmp_path)), num=0)


def test_threaded_probing_gives_the_plan_of_one_thread(tmp_path, monkeypatch):
    from degrade.sources import listing
    root = tmp_path / "many"
    for k in range(24):
        _write(root / f"img{k:02d}.png", 32 + k, 40, k)
    (root / "img07.png").write_bytes(b"broken")             # errors keep their place
    _write(root / "img11.png", 8, 8, 11)                      # too small for the crop
    plans, warned = [], []
    for threads in (1, 4):
        monkeypatch.setattr(listing, "PROBE_THREADS", threads)
        messages = []
        plans.append(plan_samples(as_sources(str(root)), num=30, min_size=(32, 32),
                                  warn=messages.append))
        warned.append(messages)
    one, many = plans
    assert one.files == many.files and len(one.files) == 22
    assert np.array_equal(one.shapes, many.shapes) and one.listing_hash == many.listing_hash
    assert np.array_equal(one.sample_file, many.sample_file)
    assert one.skipped == many.skipped and warned[0] == warned[1] and len(warned[0]) == 2
    monkeypatch.setattr(listing, "PROBE_THREADS", 4)
    with pytest.raises(InputError, match="img07.png: not a readable image"):
        plan_samples(as_sources(str(root)), num=30, min_size=(32, 32), strict=True)


def test_relative_paths_cut_from_the_string_equal_pathlibs(tmp_path):
    from pathlib import Path
    from degrade.sources.folders import relative_path
    root = Path(tmp_path)
    for path, base in ((root / "a" / "b.png", root), (root / "b.png", Path("/")),
                       (Path("x.png"), Path(".")), (root / "b.png", root / "a"),
                       (Path(str(root) + "x") / "b.png", root), ("/a/./b.png", "/a")):
        try:
            expected = Path(path).relative_to(base).as_posix()
        except ValueError:
            expected = Path(path).as_posix()
        assert relative_path(path, base) == expected


def test_the_plan_names_each_file_relative_to_its_source_root(folder):
    from pathlib import Path
    from degrade.sources.folders import relative_path
    plan = plan_samples(as_sources(str(folder)), num=8, min_size=(32, 32),
                        warn=lambda message: None)
    assert plan.rel_paths == ["a.png", "b16.png", "c.jpg", "sub/d.tif"]
    assert plan.rel_paths == [relative_path(Path(f), Path(plan.roots[s]))
                              for f, s in zip(plan.files, plan.file_source)]


def test_raw_listing_skips_hidden_files_as_image_listing_does(tmp_path):
    """macOS writes ``._name.dng`` resource forks beside copied files: not RAW files."""
    import shutil
    from degrade.sources.folders import list_source_files
    dng = raw_sample_paths()[0]
    (tmp_path / ".cache").mkdir()
    (tmp_path / "sub").mkdir()
    for name in ("b.DNG", "._b.dng", ".cache/c.dng", "sub/a.dng", "notes.txt"):
        shutil.copy(dng, tmp_path / name)
    root, files = list_source_files(Source(str(tmp_path)), "raw")
    assert root == tmp_path
    assert [f.relative_to(tmp_path).as_posix() for f in files] == ["b.DNG", "sub/a.dng"]
