"""The shipped RAW recipes: each validates, runs on a small image, and replays bit for bit."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import degrade
from degrade.noise_models import camera_profile
from degrade.sources import read_image, sample_paths

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
RAW_RECIPES = ["unprocess_brooks2019", "eld2020", "mialgo_raw", "iid_ai_raw", "njust_kmg_raw"]
#: (HQ shape, LQ shape) for a 128x128 target
SHAPES = {"unprocess_brooks2019": ((128, 128), (128, 128)), "eld2020": ((128, 128), (128, 128)),
          "mialgo_raw": ((128, 128, 3), (64, 64)), "iid_ai_raw": ((128, 128, 3), (64, 64)),
          "njust_kmg_raw": ((128, 128, 3), (128, 128))}


@pytest.fixture(scope="module")
def image():
    """A 160x160 crop of a built-in sample (sRGB, float32)."""
    img = read_image(sample_paths()[2])
    return np.ascontiguousarray(img[100:260, 100:260])


def _steps(record, op):
    return [s["params"] for s in record["steps"] if s["op"] == op]


@pytest.mark.parametrize("name", RAW_RECIPES)
def test_recipe_runs_and_replays_bit_for_bit(name, image):
    recipe = degrade.load_recipe(str(RECIPES / f"{name}.yaml"))
    assert recipe.input_domain == "srgb" and recipe.output_domain == "raw"
    for index in (0, 3):
        sample = recipe.run(image, seed=7, index=index)
        assert (sample.hq.shape, sample.lq.shape) == SHAPES[name]
        assert sample.lq.dtype == np.float32 and np.isfinite(sample.lq).all()
        assert sample.meta["pattern"] == "RGGB"
        record = json.loads(json.dumps(sample.record))
        again = recipe.replay(image, record)
        assert np.array_equal(again.hq, sample.hq) and np.array_equal(again.lq, sample.lq)
    other = recipe.run(image, seed=8, index=0)
    assert not np.array_equal(other.lq, recipe.run(image, seed=7, index=0).lq)


def test_brooks_record_lies_on_the_log_linear_line(image):
    recipe = degrade.load_recipe(str(RECIPES / "unprocess_brooks2019.yaml"))
    for index in range(5):
        (p,) = _steps(recipe.sample(index=index), "poisson_gaussian_noise")
        assert 1e-4 <= p["shot"] <= 0.012 and p["approx"] == "gaussian"
        # ln read_var - 2.18 ln shot - 1.20 ~ N(0, 0.26^2): within 5 std
        resid = np.log(p["read"] ** 2) - 2.18 * np.log(p["shot"]) - 1.20
        assert abs(resid) < 5 * 0.26


def test_iid_ai_noise_is_imx686_at_the_three_isos():
    recipe = degrade.load_recipe(str(RECIPES / "iid_ai_raw.yaml"))
    imx = camera_profile("IMX686")
    isos = set()
    for index in range(12):
        (p,) = _steps(recipe.sample(index=index), "poisson_gaussian_noise")
        isos.add(round(p["shot"] * imx.full_scale / imx.k_per_iso))
    assert isos <= {1600, 3200, 6400} and len(isos) >= 2


def test_eld_and_njust_ranges_in_records():
    eld = degrade.load_recipe(str(RECIPES / "eld2020.yaml"))
    sony = camera_profile("SonyA7S2")
    njust = degrade.load_recipe(str(RECIPES / "njust_kmg_raw.yaml"))
    for index in range(5):
        (p,) = _steps(eld.sample(index=index), "noise_eld2020")
        assert sony.k_min <= p["gain"] <= sony.k_max and 100 <= p["ratio"] <= 300
        assert p["read_lambda"] in sony.tukey_lambda
        record = njust.sample(index=index)
        (d,) = _steps(record, "darken")
        assert 20 <= d["exposure_ratio"] <= 30
        (n,) = _steps(record, "poisson_gaussian_noise")
        k = n["shot"] * sony.full_scale
        assert sony.gain_at_iso(3200) <= k <= sony.gain_at_iso(9600)


def test_eld2020_clips_the_noisy_raw_as_eld_training_does(image):
    """ELD's SynDataset/ISPDataset clip the synthesised noisy raw to [0, 1] right after the
    noise model; without the clip dark pixels go below zero (the op keeps them)."""
    recipe = degrade.load_recipe(str(RECIPES / "eld2020.yaml"))
    dark = np.ascontiguousarray(image * np.float32(0.05))
    negative_unclipped = 0
    for index in range(4):
        sample = recipe.run(dark, seed=0, index=index)
        (p,) = _steps(sample.record, "noise_eld2020")
        assert p["clip"] is True
        assert sample.lq.min() >= 0 and sample.lq.max() <= 1
        unclipped = dict(sample.record)
        unclipped["steps"] = [dict(s, params=dict(s["params"], clip=False))
                              if s["op"] == "noise_eld2020" else s for s in sample.record["steps"]]
        raw = recipe.replay(dark, unclipped).lq
        negative_unclipped += int((raw < 0).sum())
        assert np.array_equal(np.clip(raw, 0, 1), sample.lq)
    assert negative_unclipped > 0

