"""The denoiser test of the noise benchmark (needs torch): a denoiser trained on the model
that made the "real" noise beats one trained on plain sRGB Gaussian noise."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("torch")

from degrade.noisebench.denoiser import (DenoiserConfig, denoiser_benchmark,  # noqa: E402
                                         training_cleans)
from degrade.noisebench.noise import benchmark_noise, srgb_pair, synthesize_noisy  # noqa: E402

TINY = DenoiserConfig(steps=50, batch=8, crop=32, crops=48, features=16, depth=3)


def _pairs(model="heteroscedastic_gaussian", params=None, n=2, size=80):
    params = params or {"shot": 0.02, "read": 0.01}
    out = []
    for i, clean in enumerate(training_cleans(None, "srgb")[:n]):
        c = (np.round(clean[:size, :size] * 255) / 255).astype(np.float32)
        noisy = synthesize_noisy(c, "srgb", model, params, np.random.default_rng(i))
        out.append(srgb_pair(noisy, c, f"p{i}"))
    return out


def test_model_a_denoiser_beats_srgb_gaussian_denoiser():
    pairs = _pairs()
    res = benchmark_noise(pairs, models=["heteroscedastic_gaussian"], speed=False,
                          bootstrap_replicates=50)
    den = denoiser_benchmark(res, pairs, config=TINY, replicates=100)
    rows = {r["model"]: r for r in den["rows"]}
    assert set(rows) == {"heteroscedastic_gaussian", "gaussian_srgb", "noisy input"}
    a, g = rows["heteroscedastic_gaussian"], rows["gaussian_srgb"]
    assert a["psnr"] > g["psnr"] + 1.0 and a["psnr"] > rows["noisy input"]["psnr"]
    assert den["best"] == ["heteroscedastic_gaussian"]
    for r in rows.values():
        assert r["psnr_ci"][0] <= r["psnr"] <= r["psnr_ci"][1]
        assert r["ssim_ci"][0] <= r["ssim"] <= r["ssim_ci"][1]
    again = denoiser_benchmark(res, pairs, config=TINY, replicates=100)
    assert again["rows"] == den["rows"]                      # seeded end to end


def test_cli_denoiser_json(tmp_path):
    pairs = _pairs(n=1, size=64)
    folder = tmp_path / "pairs"
    folder.mkdir()
    import cv2

    for p in pairs:
        for kind, img in (("real", p.noisy), ("mean", p.clean)):
            cv2.imwrite(str(folder / f"{p.name}_{kind}.png"),
                        np.round(img[:, :, ::-1] * 255).astype(np.uint8))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "degrade.cli", "noisebench", "--pairs",
                           str(folder), "--models", "poisson_gaussian", "--no-speed",
                           "--bootstrap", "50", "--denoiser", "--denoiser-steps", "5",
                           "--out", str(out), "--no-figure"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "denoiser test" in proc.stdout and "verdict: best" in proc.stdout
    data = json.loads((out / "noisebench.json").read_text())
    assert data["denoiser"]["settings"]["steps"] == 5
    assert {r["model"] for r in data["denoiser"]["rows"]} == \
        {"poisson_gaussian", "gaussian_srgb", "noisy input"}
    assert data["verdict"]["best"] in ("poisson_gaussian", "gaussian_srgb")


def test_raw_pairs_train_on_the_builtin_mosaics():
    from degrade.noisebench.models import MODELS
    from degrade.noisebench.noise import raw_pair

    clean = training_cleans(None, "raw")[0][:64, :64]
    pairs = [raw_pair(MODELS["poisson_gaussian"].apply(clean, {"shot": 4e-3, "read": 4e-3},
                                                       np.random.default_rng(0), "RGGB", False),
                      clean, name="raw0")]
    res = benchmark_noise(pairs, models=["gaussian", "poisson_gaussian"], speed=False,
                          bootstrap_replicates=30)
    den = denoiser_benchmark(res, pairs, config=TINY, replicates=50)
    rows = {r["model"]: r for r in den["rows"]}
    assert set(rows) == {"gaussian", "poisson_gaussian", "noisy input"}
    # trained on the right noise, the network beats the noisy input on the packed planes
    assert rows["poisson_gaussian"]["psnr"] > rows["noisy input"]["psnr"]
