"""Recipes that start from real RAW files (``input: raw``): the built-in DNG samples, the crop
origin and file path in the sample metadata, ``render_libraw_aahd`` (the AAHD sRGB target)
and the raw2raw_eld2020 / iid_ai_raw2srgb recipes through recipe.run and degrade.generate."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import degrade
from degrade._errors import InputError, ParameterError, RecipeError
from degrade.cli import main
from degrade.ops import render_libraw_aahd
from degrade.recipe import dry_run
from degrade.run import open_store, replay_sample
from degrade.run.store import quantise
from degrade.sources import raw_sample_paths, read_raw, render_srgb
from degrade.sources.folders import as_sources, plan_samples

SHARED_DNG = (Path(__file__).resolve().parents[2] / "shared" / "data" / "raw" / "dng"
              / "nokia_n900_halide_bayer_small_344x256_grbg.dng")
RECIPES = ["raw2raw_eld2020", "iid_ai_raw2srgb"]


@pytest.fixture(scope="module")
def n900():
    """The N900 DNG (344x256 GRBG, 10-bit): AAHD renders it in ~20 ms."""
    return read_raw(raw_sample_paths()[1])


@pytest.fixture(scope="module")
def n900_render(n900):
    return render_srgb(n900.path)


def test_raw_samples_are_the_shared_dngs_and_the_default_raw_source():
    paths = raw_sample_paths()
    assert [p.name for p in paths] == ["nikon_d750_rose_768x512_rggb.dng",
                                       "nokia_n900_halide_bayer_small_344x256_grbg.dng"]
    assert [read_raw(p).pattern for p in paths] == ["RGGB", "GRBG"]
    plan = plan_samples(as_sources(None), kind="raw", num=4)
    assert [Path(f).name for f in plan.files] == [p.name for p in paths]
    if SHARED_DNG.is_file():    # byte-for-byte copies of ../shared/data/raw/dng
        assert paths[1].read_bytes() == SHARED_DNG.read_bytes()


def test_read_raw_meta_carries_the_absolute_source_path(n900):
    assert n900.meta["source_path"] == str(raw_sample_paths()[1].resolve())
    json.dumps(n900.meta)


def test_render_equals_the_full_frame_render_window(n900, n900_render):
    path = n900.meta["source_path"]
    for y, x, h, w in ((0, 0, 64, 32), (100, 58, 128, 96), (216, 128, 128, 128)):
        out = render_libraw_aahd(n900.mosaic[y:y + h, x:x + w], path, [y, x])
        assert out.dtype == np.float32 and out.flags.c_contiguous and out.shape == (h, w, 3)
        assert np.array_equal(out, n900_render[y:y + h, x:x + w])
    out[:] = 0      # the result is a copy: the cached full-frame render is untouched
    assert np.array_equal(render_libraw_aahd(n900.mosaic[216:, 128:], path, [216, 128]),
                          n900_render[216:, 128:])


def test_render_on_the_shared_dng_equals_render_srgb():
    if not SHARED_DNG.is_file():
        pytest.skip(f"shared RAW test file not found: {SHARED_DNG}")
    raw = read_raw(SHARED_DNG)
    out = render_libraw_aahd(raw.mosaic[40:104, 60:124], str(SHARED_DNG), [40, 60])
    assert np.array_equal(out, render_srgb(SHARED_DNG)[40:104, 60:124])


def test_a_modified_crop_changes_the_render_only_near_the_change(n900, n900_render):
    y, x, size = 100, 60, 96
    crop = n900.mosaic[y:y + size, x:x + size].copy()
    crop[40:56, 40:56] = 0.5                     # a flat gray square inside the crop
    out = render_libraw_aahd(crop, n900.meta["source_path"], [y, x])
    changed = np.abs(out - n900_render[y:y + size, x:x + size]).max(axis=-1) > 0
    rows, cols = np.nonzero(changed)
    assert changed[40:56, 40:56].mean() > 0.9    # the square itself is re-rendered
    # AAHD looks a few pixels around each site (measured: 6 px); allow 12
    assert rows.min() >= 40 - 12 and rows.max() < 56 + 12
    assert cols.min() >= 40 - 12 and cols.max() < 56 + 12
    # the same mosaic written back into the file renders like the file itself
    assert np.array_equal(render_srgb(n900.path, mosaic=n900.mosaic), n900_render)


def test_render_errors_name_what_is_missing(n900):
    crop, path = n900.mosaic[:32, :32], n900.meta["source_path"]
    with pytest.raises(ParameterError, match=r"render_libraw_aahd: parameter 'source_path' is "
                                             r"missing: .*in-memory mosaic has none"):
        render_libraw_aahd(crop, None, [0, 0])
    with pytest.raises(ParameterError, match=r"render_libraw_aahd: parameter 'crop_origin' is "
                                             r"missing"):
        render_libraw_aahd(crop, path)
    with pytest.raises(ParameterError, match=r"a 32x32 crop at crop_origin \[330, 0\] does not "
                                             r"fit in the 344x256 mosaic of "):
        render_libraw_aahd(crop, path, [330, 0])
    with pytest.raises(ParameterError, match=r"'crop_origin' = \[2, 3\]: expected even"):
        render_libraw_aahd(crop, path, [2, 3])
    with pytest.raises(ParameterError, match=r"'crop_origin' = \[2\]: expected \[y, x\], two "
                                             r"integers"):
        render_libraw_aahd(crop, path, [2])
    with pytest.raises(ParameterError, match=r"'crop_origin' = \[2.5, 0\]: expected \[y, x\]"):
        render_libraw_aahd(crop, path, [2.5, 0])
    with pytest.raises(ParameterError, match=r"image has shape \(32, 32, 3\): expected a Bayer "
                                             r"mosaic"):
        render_libraw_aahd(np.zeros((32, 32, 3), np.float32), path, [0, 0])
    with pytest.raises(InputError, match=r"nope\.dng: no such RAW file"):
        render_libraw_aahd(crop, "nope.dng", [0, 0])


def test_recipe_on_an_in_memory_mosaic_stops_with_a_clear_error(n900):
    recipe = degrade.load_recipe("iid_ai_raw2srgb")
    with pytest.raises(RecipeError, match=r"target.stages\[0\]: sample 0: render_libraw_aahd: "
                                          r"parameter 'source_path' is missing"):
        recipe.run(n900.mosaic, index=0, meta={"pattern": n900.pattern})


@pytest.mark.parametrize("name", RECIPES)
def test_recipes_run_on_real_raw_and_replay_bit_for_bit(name, n900, n900_render):
    recipe = degrade.load_recipe(name)
    assert recipe.input_domain == "raw" and recipe.output_domain == "raw"
    for index in (0, 3):
        sample = recipe.run(n900.mosaic, seed=7, index=index, meta=n900.meta)
        y, x = sample.record["target"]["y"], sample.record["target"]["x"]
        assert sample.meta["crop_origin"] == [y, x] and sample.meta["source_path"] == n900.meta["source_path"]
        clean = n900.mosaic[y:y + 128, x:x + 128]
        if name == "raw2raw_eld2020":
            assert np.array_equal(sample.hq, clean)               # the clean RAW crop
            assert sample.lq.shape == (128, 128) and sample.meta["pattern"] == "GRBG"
            (p,) = [s["params"] for s in sample.record["steps"]]
            assert p["quantization"] == "round" and 100 <= p["ratio"] <= 300
            dn = sample.lq * (p["white_level"] - p["black_level"]) / p["ratio"]
            assert np.allclose(dn, np.rint(dn), atol=1e-2)      # integer DN before the ratio
        else:
            assert np.array_equal(sample.hq, n900_render[y:y + 128, x:x + 128])
            assert sample.lq.shape == (64, 64) and sample.meta["pattern"] == "RGGB"
            codes = sample.lq * (1023 - 64) + 64                # 10-bit quantised
            assert np.allclose(codes, np.rint(codes), atol=1e-3)
        assert sample.lq.dtype == np.float32 and np.isfinite(sample.lq).all()
        record = json.loads(json.dumps(sample.record))
        again = recipe.replay(n900.mosaic, record, meta=read_raw(n900.path).meta)
        assert np.array_equal(again.hq, sample.hq) and np.array_equal(again.lq, sample.lq)


def test_iid_ai_raw2srgb_noise_is_imx686_at_the_three_isos():
    from degrade.noise_models import camera_profile
    recipe, imx = degrade.load_recipe("iid_ai_raw2srgb"), camera_profile("IMX686")
    isos = {round(s["params"]["shot"] * imx.full_scale / imx.k_per_iso)
            for i in range(12) for s in recipe.sample(index=i)["steps"]
            if s["op"] == "poisson_gaussian_noise"}
    assert isos <= {1600, 3200, 6400} and len(isos) >= 2


@pytest.mark.parametrize("name, patch", [("iid_ai_raw2srgb", None), ("raw2raw_eld2020", 160)])
def test_generate_on_the_builtin_raw_samples_replays_bit_for_bit(name, patch, tmp_path):
    out = tmp_path / "store"
    degrade.generate(name, None, str(out), num=3, seed=5, shard_size=2, workers=1,
                     patch_size=patch, progress=False)
    group = open_store(out)
    hq_dtype, lq_dtype = str(group["hq"].dtype), str(group["lq"].dtype)
    for i in range(3):
        record = json.loads(str(group["records"][i]))
        source, target = record["source"], record["target"]
        assert "source_path" not in record["meta"]        # the record stays location-free
        py, px = source["patch"][:2] if source["patch"] else (0, 0)
        assert record["meta"]["crop_origin"] == [py + target["y"], px + target["x"]]
        again = replay_sample(out, i)
        assert np.array_equal(quantise(again.hq, hq_dtype), group["hq"][i])
        assert np.array_equal(quantise(again.lq, lq_dtype), group["lq"][i])
        if name == "iid_ai_raw2srgb":      # the HQ is the window of the file's AAHD render
            full = render_srgb(next(p for p in raw_sample_paths() if p.name == source["path"]))
            y, x = record["meta"]["crop_origin"]
            assert np.array_equal(again.hq, full[y:y + 128, x:x + 128])


def test_validate_and_preview_run_raw_input_recipes(tmp_path, capsys):
    for name in RECIPES:
        dry_run(degrade.load_recipe(name), samples=2)
    assert main(["validate", *RECIPES]) == 0
    out = tmp_path / "grid.png"
    assert main(["preview", "iid_ai_raw2srgb", "-n", "2", "-o", str(out)]) == 0
    assert re.search(r"wrote .*grid.png \(\d+x\d+\): HQ \+ 2 LQ draws of iid_ai_raw2srgb",
                     capsys.readouterr().out)
    assert out.stat().st_size > 1000
