"""dark_frame_noise (Zhang et al. 2021) and the dark-frame fit (degrade.noisebench.darkfit)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from degrade._errors import InputError
from degrade.noisebench.darkfit import fit_dark_folder, fit_dark_frames
from degrade.noisebench.noise import benchmark_noise, raw_pair
from degrade.ops import dark_frame_noise

FLEA3 = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "noise" / \
    "flea3_dark_frames"
needs_flea3 = pytest.mark.skipif(not FLEA3.is_dir(),
                                 reason=f"real dark frames not present at {FLEA3}")


def _synthetic_frames(n=4, h=120, w=160, read=3.0, row=1.0, col=0.5, pix=0.8, black=64.0,
                      seed=0):
    rng = np.random.default_rng(seed)
    c, p = rng.normal(0, col, w), rng.normal(0, pix, (h, w))
    return np.stack([black + c[None] + p + rng.normal(0, row, (h, 1)) + rng.normal(0, read, (h, w))
                     for _ in range(n)])


def test_crop_follows_the_cfa_phase(tmp_path):
    # each site of the bank holds the code of its colour; a GBRG bank cut for an RGGB image
    codes = {"R": 10.0, "G": 20.0, "B": 30.0}
    cell = np.array([[codes["G"], codes["B"]], [codes["R"], codes["G"]]])
    bank = tmp_path / "bank_GBRG.npy"
    np.save(bank, np.tile(cell, (3, 20, 24)).reshape(3, 40, 48))
    for pattern in ("RGGB", "BGGR", "GRBG", "GBRG"):
        for seed in range(4):
            out = dark_frame_noise(np.zeros((8, 10), np.float32), str(bank), gain=1.0,
                                   white_level=1000.0, black_level=0.0, pattern=pattern,
                                   rng=np.random.default_rng(seed))
            want = np.array([[codes[pattern[0]], codes[pattern[1]]],
                             [codes[pattern[2]], codes[pattern[3]]]])
            assert np.array_equal(out * 1000.0, np.tile(want, (4, 5)).astype(np.float32))


def test_shot_noise_and_dark_noise_add_up(tmp_path):
    frames = _synthetic_frames(n=3, h=256, w=256, row=0.0, col=0.0, pix=0.0)
    np.save(tmp_path / "bank.npy", frames)
    x = np.full((200, 200), 0.25, np.float32)
    s, k = 1023.0 - 64.0, 2.0
    out = dark_frame_noise(x, str(tmp_path / "bank.npy"), gain=k, white_level=1023.0,
                           black_level=64.0, rng=np.random.default_rng(1))
    # variance in DN^2: K * signal (Poisson, K DN per electron) + read^2 (9)
    expected = k * 0.25 * s + 9.0
    n = out.size
    assert np.var(out * s) == pytest.approx(expected, rel=5 * np.sqrt(2 / n) + 0.01)
    again = dark_frame_noise(x, str(tmp_path / "bank.npy"), gain=k, white_level=1023.0,
                             black_level=64.0, rng=np.random.default_rng(1))
    assert np.array_equal(out, again)


def test_bank_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        dark_frame_noise(np.zeros((8, 8), np.float32), str(tmp_path / "nope"), gain=1.0,
                         white_level=255, rng=np.random.default_rng(0))
    np.save(tmp_path / "small.npy", np.zeros((2, 8, 8)))
    with pytest.raises(InputError, match="at least as large"):
        dark_frame_noise(np.zeros((16, 16), np.float32), str(tmp_path / "small.npy"),
                         gain=1.0, white_level=255, rng=np.random.default_rng(0))


def test_fit_recovers_read_row_and_fixed_pattern():
    fit = fit_dark_frames(_synthetic_frames(n=6, h=200, w=240))
    # ~48k good values per frame: the std of the estimates is well under 2 %
    assert fit["black_dn"] == pytest.approx(64.0, abs=0.2)
    assert fit["read_gaussian_dn"] == pytest.approx(3.0, rel=0.03)
    assert fit["row_dn"] == pytest.approx(1.0, rel=0.15)           # 100 rows x 6 frames
    assert fit["column_fpn_dn"] == pytest.approx(0.5, rel=0.15)    # 240 columns
    assert fit["pixel_fpn_dn"] == pytest.approx(0.8, rel=0.1)
    assert fit["tukey_lambda"] == pytest.approx(0.14, abs=0.04)    # a normal is TL(0.14)
    assert not fit["warnings"]


def test_fit_recovers_tukey_shape():
    from scipy import stats

    frames = 100 + 2.0 * stats.tukeylambda.rvs(-0.1, size=(3, 200, 240), random_state=3)
    fit = fit_dark_frames(frames)
    assert fit["tukey_lambda"] == pytest.approx(-0.1, abs=0.04)
    assert fit["tukey_scale_dn"] == pytest.approx(2.0, rel=0.1)


@needs_flea3
def test_real_flea3_bank_fit_and_op():
    fit = fit_dark_folder(FLEA3)
    assert fit["frames"] == 28 and fit["black_dn"] == 0.0
    assert any("black-clamped" in w for w in fit["warnings"])     # the data are 8-bit clamped
    x = np.zeros((128, 128), np.float32)
    out = dark_frame_noise(x, str(FLEA3), gain=0.5, white_level=255.0, pattern="GBRG",
                           rng=np.random.default_rng(0))
    # a zero image gets only dark-frame values: non-negative integers of the 8-bit frames
    dn = out * 255.0
    assert np.allclose(dn, np.round(dn), atol=1e-3) and dn.min() >= 0


def test_benchmark_with_dark_frame_models(tmp_path):
    frames = _synthetic_frames(n=4, h=160, w=160, read=3.0, row=1.5)
    np.save(tmp_path / "bank.npy", frames)
    fit = {**fit_dark_folder(tmp_path / "bank.npy"), "white_level": 1023.0}
    s = 1023.0 - fit["black_dn"]
    yy, xx = np.mgrid[0:128, 0:128]
    clean = (0.002 + 0.2 * (xx + yy) / 254).astype(np.float32)
    pairs = [raw_pair(dark_frame_noise(clean, str(tmp_path / "bank.npy"), gain=1.5,
                                       white_level=1023.0, black_level=fit["black_dn"],
                                       rng=np.random.default_rng(i)), clean, name=f"z{i}")
             for i in range(2)]
    res = benchmark_noise(pairs, models=["gaussian", "poisson_gaussian", "eld2020_dark",
                                         "dark_frame"], speed=False, dark_fit=fit,
                          bootstrap_replicates=200)
    v = res.verdict
    assert "dark_frame" in [v["best"]] + v["indistinguishable"]
    assert "gaussian" in v["worse"]
    for p in res.pairs:
        m = p["models"]["dark_frame"]
        assert abs(np.log(m["params"]["gain"] / 1.5)) < 5 * m["fit"]["stderr"]["ln_gain"]
        assert p["models"]["eld2020_dark"]["params"]["row_sigma"] == pytest.approx(1.5, rel=0.2)
    assert s > 0


def test_cli_dark_bank_with_raw_pairs(tmp_path):
    import json
    import subprocess
    import sys

    frames = _synthetic_frames(n=3, h=100, w=100)
    np.save(tmp_path / "bank.npy", np.round(frames).astype(np.uint16))
    yy, xx = np.mgrid[0:64, 0:64]
    clean = (0.01 + 0.3 * (xx + yy) / 126).astype(np.float32)
    noisy = dark_frame_noise(clean, str(tmp_path / "bank.npy"), gain=1.0, white_level=1023.0,
                             black_level=64.0, rng=np.random.default_rng(0))
    np.save(tmp_path / "noisy.npy", noisy)
    np.save(tmp_path / "clean.npy", clean)
    base = [sys.executable, "-m", "degrade.cli", "noisebench", "--raw-pair",
            str(tmp_path / "noisy.npy"), str(tmp_path / "clean.npy"), "--dark-bank",
            str(tmp_path / "bank.npy"), "--no-speed", "--bootstrap", "30"]
    bad = subprocess.run(base, capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "--dark-white" in \
        bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    out = tmp_path / "nb.json"
    ok = subprocess.run(base + ["--dark-white", "1023", "--models", "gaussian", "dark_frame",
                                "--json", str(out)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "dark-frame fit: 3 frame(s)" in ok.stdout and "verdict: best" in ok.stdout
    data = json.loads(out.read_text())
    assert data["verdict"]["best"] == "dark_frame"
    assert data["settings"]["dark_fit"]["white_level"] == 1023.0
