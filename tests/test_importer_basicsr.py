"""`degrade import basicsr`: Real-ESRGAN options files -> recipes that draw what basicsr draws.

The reference semantics are transcribed below from basicsr 1.4.2 (RealESRGANDataset
__getitem__ and RealESRGANModel.feed_data; the draws, not the random streams): ``official``
draws one plan's parameters from the options the way basicsr does. Imported recipes are
sampled with ``Recipe.sample`` (no image work) and every statistic is compared with
tolerances from the sample size (5 standard errors of the difference of two estimates).
"""
from __future__ import annotations

import copy
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

import degrade
from degrade import InputError
from degrade.importers import import_basicsr
from degrade.sources import load_sample

OPTIONS = Path(__file__).resolve().parents[2] / "shared" / "reference" / "basicsr_options"
FILES = ["train_realesrgan_x4plus.yml", "train_realesrnet_x4plus.yml",
         "finetune_realesrgan_x4plus.yml"]
N = 3000
H0 = 400           # the region Real-ESRGAN degrades: resize 2 sizes are relative to it


@pytest.fixture(scope="module")
def options():
    if not OPTIONS.is_dir():
        pytest.skip(f"Real-ESRGAN option files not found at {OPTIONS}")
    return {f: yaml.safe_load((OPTIONS / f).read_text()) for f in FILES}


# ------------------------------------------------------------------ basicsr's draws
def _kind(rng, ds, sfx):
    if rng.random() < ds["sinc_prob" + sfx]:
        return "sinc"
    p = np.asarray(ds["kernel_prob" + sfx], float)
    return ds["kernel_list" + sfx][rng.choice(len(p), p=p / p.sum())]


def _resize(rng, probs, rng_range):
    kind = ["up", "down", "keep"][rng.choice(3, p=np.asarray(probs) / sum(probs))]
    s = {"up": lambda: rng.uniform(1, rng_range[1]), "down": lambda: rng.uniform(rng_range[0], 1),
         "keep": lambda: 1.0}[kind]()
    return kind, s


def _noise(rng, opt, sfx):
    gauss = rng.random() < opt["gaussian_noise_prob" + sfx]
    level = rng.uniform(*(opt["noise_range" + sfx] if gauss else opt["poisson_scale_range" + sfx]))
    return ("gaussian" if gauss else "poisson"), level, rng.random() < opt["gray_noise_prob" + sfx]


def official(opt, rng):
    """One plan's parameters as basicsr 1.4.2 draws them (R2, R4 of the reference notes)."""
    ds, scale = opt["datasets"]["train"], opt["scale"]
    plan = {"kind1": _kind(rng, ds, ""), "kind2": _kind(rng, ds, "2"),
            "sinc": rng.random() < ds["final_sinc_prob"]}
    plan["resize1"] = _resize(rng, opt["resize_prob"], opt["resize_range"])
    plan["noise1"] = _noise(rng, opt, "")
    plan["jpeg1"] = rng.uniform(*opt["jpeg_range"])
    plan["blur2"] = rng.random() < opt["second_blur_prob"]
    kind, s = _resize(rng, opt["resize_prob2"], opt["resize_range2"])
    plan["resize2"] = kind, int(H0 / scale * s)                  # size=(int(ori_h / scale * s))
    plan["noise2"] = _noise(rng, opt, "2")
    plan["order"] = "A" if rng.random() < 0.5 else "B"
    plan["jpeg2"] = rng.uniform(*opt["jpeg_range2"])
    return plan


def imported_plan(record, scale):
    """The same summary from a degrade record (the steps of realesrgan_x4plus's layout)."""
    steps = [s for s in record["steps"] if s["op"] != "usm_sharpen"]
    p = [s["params"] for s in steps]
    plan = {"kind1": p[0]["kind"]}
    i = 1
    r = p[i]["scale"]
    plan["resize1"] = ("up" if r > 1 else "down" if r < 1 else "keep"), r
    noise = steps[i + 1]
    plan["noise1"] = (("gaussian", noise["params"]["sigma"], noise["params"]["gray"])
                      if noise["op"] == "gaussian_noise" else
                      ("poisson", noise["params"]["scale"], noise["params"]["gray"]))
    plan["jpeg1"] = p[i + 2]["quality"]
    i += 3
    plan["blur2"] = steps[i]["op"] == "psf_blur"
    plan["kind2"] = p[i]["kind"] if plan["blur2"] else None
    i += plan["blur2"]
    rel = p[i]["scale"] * scale
    plan["resize2"] = ("up" if rel > 1 else "down" if rel < 1 else "keep"), int(H0 * p[i]["scale"])
    noise = steps[i + 1]
    plan["noise2"] = (("gaussian", noise["params"]["sigma"], noise["params"]["gray"])
                      if noise["op"] == "gaussian_noise" else
                      ("poisson", noise["params"]["scale"], noise["params"]["gray"]))
    final = steps[i + 2:-1]
    plan["order"] = "A" if final[0]["op"] == "resize" else "B"
    plan["sinc"] = any(s["op"] == "psf_blur" for s in final)
    plan["jpeg2"] = [s["params"]["quality"] for s in final if s["op"] == "diffjpeg"][0]
    assert final[[s["op"] for s in final].index("resize")]["params"]["scale"] == 1 / scale
    return plan


def same_frequency(a, b):
    """Two Bernoulli samples have the same rate within 5 standard errors of the difference."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    p = (a.sum() + b.sum()) / (a.size + b.size)
    se = math.sqrt(max(p * (1 - p), 1e-12) * (1 / a.size + 1 / b.size))
    return abs(a.mean() - b.mean()) <= 5 * se + 1e-12


def same_mean(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    se = math.sqrt(a.var() / a.size + b.var() / b.size)
    return abs(a.mean() - b.mean()) <= 5 * se + 1e-12


def compare(ours, theirs, opt):
    ds = opt["datasets"]["train"]
    for k in ("kind1", "kind2"):
        a = [p[k] for p in ours if p[k] is not None]
        b = [p[k] for p in theirs if k == "kind1" or p["blur2"]]
        for kind in ds["kernel_list"] + ["sinc"]:
            assert same_frequency([x == kind for x in a], [x == kind for x in b]), (k, kind)
    for k in ("sinc", "blur2"):
        assert same_frequency([p[k] for p in ours], [p[k] for p in theirs]), k
    assert same_frequency([p["order"] == "A" for p in ours], [p["order"] == "A" for p in theirs])
    for k in ("resize1", "resize2"):
        for kind in ("up", "down", "keep"):
            assert same_frequency([p[k][0] == kind for p in ours],
                                  [p[k][0] == kind for p in theirs]), (k, kind)
            a = [p[k][1] for p in ours if p[k][0] == kind]
            b = [p[k][1] for p in theirs if p[k][0] == kind]
            assert same_mean(a, b), (k, kind)
            lo, hi = opt["resize_range" + ("2" if k == "resize2" else "")]
            lo, hi = {"up": (1, hi), "down": (lo, 1), "keep": (1, 1)}[kind]
            if k == "resize2":           # sizes: int(H0 / scale * s), up to float rounding
                lo, hi = int(H0 / opt["scale"] * lo) - 1, int(H0 / opt["scale"] * hi) + 1
            assert lo <= min(a) and max(a) <= hi, (k, kind)
    for k in ("noise1", "noise2"):
        for kind in ("gaussian", "poisson"):
            assert same_frequency([p[k][0] == kind for p in ours], [p[k][0] == kind for p in theirs])
            a = [p[k] for p in ours if p[k][0] == kind]
            b = [p[k] for p in theirs if p[k][0] == kind]
            assert same_mean([x[1] for x in a], [x[1] for x in b]), (k, kind)
            assert same_frequency([x[2] for x in a], [x[2] for x in b]), (k, kind, "gray")
    for k in ("jpeg1", "jpeg2"):
        assert same_mean([p[k] for p in ours], [p[k] for p in theirs]), k


def check_against_basicsr(opt):
    recipe = degrade.load_recipe(import_basicsr(opt).text)
    ours = [imported_plan(recipe.sample(0, i), opt["scale"]) for i in range(N)]
    rng = np.random.default_rng(123)
    theirs = [official(opt, rng) for _ in range(N)]
    compare(ours, theirs, opt)
    return recipe


def test_imported_x4plus_draws_what_basicsr_draws(options):
    check_against_basicsr(options["train_realesrgan_x4plus.yml"])


def test_x2_resize2_is_relative_to_the_target_scale(options):
    """Porting x4 to x2: resize 2 goes to int(ori_h / 2 * s), the final resize to ori_h // 2."""
    opt = copy.deepcopy(options["train_realesrgan_x4plus.yml"])
    opt["scale"] = 2
    recipe = check_against_basicsr(opt)
    sizes = {int(H0 * p["scale"]) for i in range(300)
             for p in [s["params"] for s in recipe.sample(0, i)["steps"]]
             if p.get("relative_to") == "target"}
    assert max(sizes) > H0 // 2 and min(sizes) >= int(H0 / 2 * 0.3) and H0 // 2 in sizes
    pair = recipe.run(load_sample("chart"), 0, 1)
    assert pair.hq.shape == (256, 256, 3) and pair.lq.shape == (128, 128, 3)


def test_a_changed_noise_probability_changes_the_weights(options):
    opt = copy.deepcopy(options["train_realesrgan_x4plus.yml"])
    opt["gaussian_noise_prob"], opt["gray_noise_prob2"] = 0.2, 0.9
    check_against_basicsr(opt)


@pytest.mark.parametrize("name, shipped", [("train_realesrgan_x4plus.yml", "realesrgan_x4plus"),
                                           ("finetune_realesrgan_x4plus.yml", "realesrgan_x4plus"),
                                           ("train_realesrnet_x4plus.yml", "realesrnet_x4plus")])
def test_imported_recipes_equal_the_shipped_ones(options, name, shipped, tmp_path):
    """Same structure, same node numbers: identical plans for every index."""
    ours = degrade.load_recipe(import_basicsr(OPTIONS / name).text)
    ref = degrade.load_recipe(shipped)
    assert ours.target == ref.target
    for i in range(400):
        a, b = ours.sample(0, i), ref.sample(0, i)
        a.pop("recipe"), b.pop("recipe")
        assert a == b, i
    image = load_sample("indoor")
    assert np.array_equal(ours.run(image, 0, 5).lq, ref.run(image, 0, 5).lq)


def test_every_imported_value_names_its_option(options):
    text = import_basicsr(OPTIONS / "train_realesrgan_x4plus.yml").text
    opt = options["train_realesrgan_x4plus.yml"]
    comments = " ".join(line.split("#", 1)[1] for line in text.splitlines() if "#" in line)
    keys = [k for k in opt if k not in ("name", "model_type", "num_gpu", "manual_seed", "datasets",
                                        "network_g", "network_d", "path", "train", "logger",
                                        "dist_params", "queue_size")]
    keys += [f"datasets.train.{k}" for k in opt["datasets"]["train"]
             if k in ("kernel_list", "kernel_prob", "sinc_prob", "blur_sigma", "betag_range",
                      "betap_range", "final_sinc_prob", "use_hflip")]
    keys += [f"datasets.train.{k}2" for k in ("kernel_list", "kernel_prob", "sinc_prob",
                                              "blur_sigma", "betag_range", "betap_range")]
    missing = [k for k in keys if k not in comments]
    assert not missing
    # every line that sets a value carries a comment, except fixed structure
    for line in text.splitlines():
        if ("{uniform" in line or "weight:" in line or "sinc_prob" in line) and "#" not in line:
            pytest.fail(f"value without its option: {line}")


def test_use_rot_gives_every_orientation(options):
    opt = copy.deepcopy(options["train_realesrgan_x4plus.yml"])
    opt["datasets"]["train"]["use_rot"] = True
    recipe = degrade.load_recipe(import_basicsr(opt).text)
    assert (recipe.target.hflip, recipe.target.vflip, recipe.target.rot90) == (True, True, True)


@pytest.mark.parametrize("change, message", [
    (lambda o: o.update(blur_prob3=0.2, noise_range3=[1, 2]),
     r"<options>: blur_prob3, noise_range3: unknown option\(s\)"),
    (lambda o: o["datasets"]["train"].update(sinc_prob3=0.1),
     r"<options>: datasets\.train\.sinc_prob3: unknown RealESRGANDataset option"),
    (lambda o: o.update(model_type="SRModel"), r"model_type: 'SRModel': degrade imports"),
    (lambda o: o.pop("jpeg_range2"), r"jpeg_range2: missing"),
    (lambda o: o.update(resize_range=[1.2, 1.5]), r"resize_range: \[1\.2, 1\.5\]: expected \[down, up\]"),
    (lambda o: o.update(gaussian_noise_prob=1.5), r"gaussian_noise_prob: 1\.5: expected a number in \[0, 1\]"),
    (lambda o: o.update(high_order_degradation=False), r"high_order_degradation: false"),
    (lambda o: o["datasets"]["train"].update(type="PairedImageDataset"),
     r"datasets\.train\.type: 'PairedImageDataset': expected RealESRGANDataset"),
])
def test_refusals_name_the_option(options, change, message):
    opt = copy.deepcopy(options["train_realesrgan_x4plus.yml"])
    change(opt)
    with pytest.raises(InputError, match=message):
        import_basicsr(opt)


def test_cli_writes_the_recipe_and_notes_what_it_ignored(options, tmp_path):
    out = tmp_path / "r.yaml"
    run = subprocess.run([sys.executable, "-m", "degrade.cli", "import", "basicsr",
                          str(OPTIONS / "train_realesrgan_x4plus.yml"), "-o", str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    note = [line for line in run.stderr.splitlines() if line.startswith("note:")]
    assert len(note) == 1 and "network_g" in note[0] and "datasets.train.batch_size_per_gpu" in note[0]
    assert degrade.load_recipe(out).scale == 4
    bad = tmp_path / "bad.yml"
    bad.write_text("scale: 4\nnoise_range3: [1, 2]\n")
    run = subprocess.run([sys.executable, "-m", "degrade.cli", "import", "basicsr", str(bad)],
                         capture_output=True, text=True)
    assert run.returncode == 2
    assert run.stderr.strip() == (f"error: {bad}: noise_range3: unknown option(s): neither a "
                                  "Real-ESRGAN degradation key degrade imports ("
                                  + run.stderr.split("imports (")[1].strip())
    assert run.stderr.count("\n") == 1
