"""The shipped RGB recipes: they validate, run, replay bit for bit, and do what they say."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

import degrade
from degrade import ops

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
RGB_RECIPES = ["realesrgan_x4plus", "realesrnet_x4plus", "teleai_realesrgan", "bsrgan_x4",
               "bsrgan_plus_x4", "iam_ir", "njust_kmg_track2", "nulltozero"]


@pytest.fixture(scope="module")
def photo():
    """300x300 smooth random texture with edges (every recipe's target fits)."""
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.random((300, 300, 3), dtype=np.float32), (0, 0), 2.0)
    img = np.clip((img - 0.5) * 4 + 0.5, 0, 1)
    img[100:180, 60:200] = [0.9, 0.2, 0.1]
    return np.ascontiguousarray(img, dtype=np.float32)


def load(name):
    return degrade.load_recipe(RECIPES / f"{name}.yaml")


@pytest.mark.parametrize("name", RGB_RECIPES)
def test_recipe_runs_and_replays(name, photo):
    recipe = load(name)
    assert recipe.name == name
    for index in (0, 1):
        s = recipe.run(photo, seed=3, index=index)
        h, w = s.hq.shape[:2]
        assert s.lq.shape == (h // recipe.scale, w // recipe.scale, 3)
        assert s.lq.dtype == np.float32 and np.isfinite(s.lq).all()
        again = recipe.replay(photo, json.loads(json.dumps(s.record)))
        assert np.array_equal(again.hq, s.hq) and np.array_equal(again.lq, s.lq)


def ops_of(record):
    return [st["op"] for st in record["steps"]]


def region_of(photo, t):
    """Real-ESRGAN's 400x400 region as the record places it: the image flipped, reflect-101
    padded at the bottom/right when smaller (RealESRGANDataset's order), cropped at (y, x)."""
    photo = np.ascontiguousarray(photo[:, ::-1] if t["hflip"] else photo)
    h, w = photo.shape[:2]
    img = cv2.copyMakeBorder(photo, 0, max(0, 400 - h), 0, max(0, 400 - w), cv2.BORDER_REFLECT_101)
    return np.ascontiguousarray(img[t["y"]:t["y"] + 400, t["x"]:t["x"] + 400])


def test_realesrgan_hq_is_the_gt_and_lq_starts_from_usm(photo):
    r = load("realesrgan_x4plus")
    for index in range(4):
        s = r.run(photo, 0, index)
        t = s.record["target"]
        assert t["region"] == [400, 400] and t["y"] == 0 and t["x"] == 0   # 300 < 400: padded
        (cy, cx) = t["crop"]
        assert cy % 4 == 0 and cx % 4 == 0 and 0 <= cy <= 400 - 256 and 0 <= cx <= 400 - 256
        assert np.array_equal(s.hq, region_of(photo, t)[cy:cy + 256, cx:cx + 256])
    assert ops_of(s.record)[0] == "usm_sharpen" and ops_of(s.record)[-1] == "quantize"
    assert np.array_equal(s.lq, np.rint(s.lq * 255) / 255)           # 8-bit LQ


def test_realesrnet_hq_is_sharpened_on_the_region(photo):
    r = load("realesrnet_x4plus")
    s = r.run(photo, 0, 0)
    t = s.record["target"]
    (cy, cx) = t["crop"]
    assert np.array_equal(s.hq, ops.usm_sharpen(region_of(photo, t))[cy:cy + 256, cx:cx + 256])
    assert "usm_sharpen" not in ops_of(s.record)


def test_realesrgan_chain_structure():
    r = load("realesrgan_x4plus")
    for i in range(30):
        ops_list = ops_of(r.sample(0, i))
        assert ops_list.count("diffjpeg") == 2 and ops_list.count("quantize") == 1
        assert ops_list.count("resize") == 3
        # the final step is resize+sinc then JPEG, or JPEG then resize+sinc
        tail = [o for o in ops_list[ops_list.index("diffjpeg") + 1:] if o != "quantize"]
        assert tail[-1] in ("diffjpeg", "resize", "psf_blur")


def test_bsrgan_keeps_downsample2_before_downsample3():
    r = load("bsrgan_x4")
    for i in range(60):
        steps = r.sample(0, i)["steps"]
        to_grid = [k for k, st in enumerate(steps) if st["op"] == "resize"
                   and st["params"].get("relative_to") == "target"]
        first = [k for k, st in enumerate(steps) if st["op"] == "blur_decimate_zhang2021"
                 or (st["op"] == "resize" and "relative_to" not in st["params"]
                     and st["params"]["scale"] != 0.5)]
        assert len(to_grid) == 1 and len(first) == 1 and first[0] < to_grid[0]
        assert steps[-1]["op"] == "jpeg"


def test_bsrgan_plus_hq_is_sharpened(photo):
    s = load("bsrgan_plus_x4").run(photo, 0, 2)
    assert s.record["target_steps"][0]["op"] == "usm_sharpen"


def test_iam_ir_has_no_jpeg():
    r = load("iam_ir")
    assert all("jpeg" not in ops_of(r.sample(0, i)) for i in range(30))


def test_nulltozero_picks_one_filter():
    r = load("nulltozero")
    picked = [ops_of(r.sample(0, i)) for i in range(40)]
    assert all(len(p) == 1 and p[0] in ("gaussian_blur", "bilateral_filter") for p in picked)
    assert {p[0] for p in picked} == {"gaussian_blur", "bilateral_filter"}


def binomial_ok(count, n, p, k=5.0):
    """|count - np| within k binomial standard deviations sqrt(n p (1-p))."""
    return abs(count - n * p) <= k * (n * p * (1 - p)) ** 0.5


def test_bsrgan_x4_distributions():
    r = load("bsrgan_x4")
    n = 1500
    plans = [r.sample(0, i)["steps"] for i in range(n)]
    pre = [p for p in plans if p[0]["op"] == "resize" and p[0]["params"]["scale"] == 0.5]
    assert binomial_ok(len(pre), n, 0.25)
    assert binomial_ok(sum(p[0]["params"]["mode"] == "matlab_bicubic" for p in pre), len(pre), 0.5)
    blurs = [s["params"] for p in plans for s in p if s["op"] == "psf_blur"]
    assert len(blurs) == 2 * n and binomial_ok(sum(b["kind"] == "aniso" for b in blurs), 2 * n, 0.5)
    assert {b["ksize"] for b in blurs} == set(range(7, 26, 2))
    decimate = sum(any(s["op"] == "blur_decimate_zhang2021" for s in p) for p in plans)
    assert binomial_ok(decimate, n, 0.25)
    jpegs = [sum(s["op"] == "jpeg" for s in p) for p in plans]
    assert set(jpegs) == {1, 2} and binomial_ok(jpegs.count(2), n, 0.9)
    noise = [s for p in plans for s in p if s["op"] in ("gaussian_noise", "correlated_noise")]
    assert len(noise) == n
    gray = sum(s["op"] == "gaussian_noise" and s["params"].get("gray", False) for s in noise)
    corr = sum(s["op"] == "correlated_noise" for s in noise)
    assert binomial_ok(gray, n, 0.4) and binomial_ok(corr, n, 0.2)
    sigmas = {s["params"]["sigma"] for s in noise if s["op"] == "gaussian_noise"}
    assert sigmas == set(range(2, 26))


def test_bsrgan_plus_distributions():
    r = load("bsrgan_plus_x4")
    n = 1500
    plans = [r.sample(0, i)["steps"] for i in range(n)]
    # each of the two Poisson and two speckle steps runs with probability 0.1
    poisson = sum(s["op"] == "poisson_noise" for p in plans for s in p)
    assert binomial_ok(poisson, 2 * n, 0.1)
    levels = [s["params"]["levels"] for p in plans for s in p if s["op"] == "poisson_noise"]
    assert min(levels) >= 100 and max(levels) <= 10000
    # log10(levels) ~ U(2, 4): mean 3, standard error sqrt(4/12/m)
    assert abs(np.mean(np.log10(levels)) - 3) < 5 * (4 / 12 / len(levels)) ** 0.5
    # JPEG: one in the chain and the final one, always
    assert all(sum(s["op"] == "jpeg" for s in p) == 2 for p in plans)


def test_documented_camera_noise_block_runs_inside_a_shuffle(photo):
    # docs/rgb_pipelines.md: BSRGAN's camera-sensor noise composed from the RAW track
    recipe = degrade.load_recipe(
        "name: isp\ntarget: {size: 64}\nstages:\n"
        "  - shuffle:\n"
        "      - {op: gaussian_noise, sigma: 2, sigma_units: 8bit}\n"
        "      - stages:\n"
        "          - {op: unprocess_brooks2019, sampler: {brooks2019_unprocess: {}}}\n"
        "          - {op: poisson_gaussian_noise, sampler: {brooks2019_shot_read: {}}}\n"
        "          - {op: process_brooks2019}\n")
    s = recipe.run(photo, 0, 0)
    assert s.lq.shape == (64, 64, 3) and [st["op"] for st in s.record["steps"]].count(
        "poisson_gaussian_noise") == 1
