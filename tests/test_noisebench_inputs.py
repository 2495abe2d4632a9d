"""Noise benchmark inputs: pair discovery, every error path (with its message), dark-frame
statistics, the CLI, and the shipped real data (skipped when ../shared/data is absent)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from degrade._errors import InputError, ParameterError
from degrade.noisebench.dark import dark_frame_stats, dark_series_stats, read_dark_frame
from degrade.noisebench.inputs import (find_srgb_pairs, load_raw_pair, load_srgb_pairs, raw_pair,
                                  srgb_pair)
from degrade.noisebench.noise import benchmark_noise
from degrade.cli import main

SHARED_NOISE = Path(__file__).resolve().parents[2] / "shared" / "data" / "noise"


def textured(h=64, w=64, seed=0):
    """Smooth random texture in [0.2, 0.8]: features for alignment, no clipping."""
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.uniform(0, 1, (h, w, 3)).astype(np.float32), (0, 0), 2)
    img = (img - img.min()) / (img.max() - img.min())
    return np.ascontiguousarray(0.2 + 0.6 * img, dtype=np.float32)


def noisy_of(clean, seed=1, sigma=0.02):
    rng = np.random.default_rng(seed)
    return np.clip(clean + rng.normal(0, sigma, clean.shape), 0, 1).astype(np.float32)


def write_png(path, rgb):
    cv2.imwrite(str(path), cv2.cvtColor(np.round(rgb * 255).astype(np.uint8), cv2.COLOR_RGB2BGR))


# -- errors ----------------------------------------------------------------------------------
def test_mismatched_sizes():
    with pytest.raises(InputError, match=r"noisy image is 64x64x3 but clean image is "
                                         r"64x48x3; a pair must have the same size"):
        srgb_pair(noisy_of(textured()), textured()[:, :48], "p")


def test_misaligned_pair_is_detected():
    clean = textured(96, 96)
    shifted = np.roll(clean, (2, 3), axis=(0, 1))
    with pytest.raises(InputError, match=r"p: noisy and clean images are misaligned: clean is "
                                         r"shifted by \(-[23]\.\d, -[12]\.\d\) px"):
        srgb_pair(noisy_of(shifted, sigma=0.01), clean, "p")
    srgb_pair(noisy_of(clean, sigma=0.01), clean, "ok")          # aligned: accepted


def test_misaligned_raw_pair_is_detected():
    clean = textured(96, 96)[:, :, 1]
    with pytest.raises(InputError, match="misaligned"):
        raw_pair(noisy_of(np.roll(clean, 4, axis=1), sigma=0.01), clean, name="r")


def test_smooth_image_is_not_reported_misaligned():
    yy, xx = np.mgrid[0:64, 0:64] / 63.0
    clean = np.stack([0.2 + 0.5 * xx, 0.2 + 0.5 * yy, 0.3 + 0.2 * xx], -1).astype(np.float32)
    pair = srgb_pair(noisy_of(clean), clean, "ramp")       # raises if judged misaligned
    assert pair.name == "ramp" and np.array_equal(pair.clean, clean)


def test_saturated_pair():
    clean = np.ones((64, 64, 3), np.float32)
    clean[:16] = 0.5
    noisy = noisy_of(clean)
    with pytest.raises(InputError, match=r"s: 75% of the clean pixels are saturated .* at most "
                                         r"50% may be"):
        srgb_pair(noisy, clean, "s")


def test_identical_and_tiny_and_nan_pairs():
    clean = textured()
    with pytest.raises(InputError, match="identical"):
        srgb_pair(clean.copy(), clean, "same")
    with pytest.raises(InputError, match="need at least 16x16"):
        srgb_pair(noisy_of(clean[:8, :8]), clean[:8, :8], "tiny")
    bad = noisy_of(clean)
    bad[0, 0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        srgb_pair(bad, clean, "nan")


def test_wrong_shapes():
    with pytest.raises(InputError, match=r"expected \(H, W, 3\) sRGB"):
        srgb_pair(textured()[:, :, 0], textured()[:, :, 0], "g")
    with pytest.raises(InputError, match=r"expected a Bayer mosaic \(H, W\)"):
        raw_pair(noisy_of(textured()), textured(), name="rgb")


def test_raw_integer_arrays_need_levels_and_are_normalised():
    clean_dn = (512 + textured()[:, :, 0] * 4000).astype(np.uint16)
    noisy_dn = (clean_dn + np.random.default_rng(0).integers(-20, 21, clean_dn.shape)
                ).astype(np.uint16)
    with pytest.raises(ParameterError, match="give white_level"):
        raw_pair(noisy_dn, clean_dn, name="dn")
    with pytest.raises(ParameterError, match="must be > black_level"):
        raw_pair(noisy_dn, clean_dn, black_level=600, white_level=500, name="dn")
    pair = raw_pair(noisy_dn, clean_dn, black_level=512, white_level=16383, name="dn")
    assert pair.clean.dtype == np.float32
    assert pair.clean.max() == pytest.approx((clean_dn.max() - 512) / (16383 - 512))


def test_non_image_file_and_missing_partner(tmp_path):
    (tmp_path / "a_real.png").write_text("this is not an image")
    write_png(tmp_path / "a_mean.png", textured())
    with pytest.raises(InputError, match=r"a_real.png: not a readable image"):
        load_srgb_pairs(tmp_path)
    (tmp_path / "a_real.png").unlink()
    write_png(tmp_path / "b_real.png", textured())
    with pytest.raises(InputError, match=r"b_real.png: no clean partner found for 1 noisy"):
        find_srgb_pairs(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no noisy/clean pairs found"):
        find_srgb_pairs(empty)
    with pytest.raises(InputError, match="no such folder"):
        find_srgb_pairs(tmp_path / "missing")


def test_pairs_by_token_and_by_two_folders(tmp_path):
    one = tmp_path / "one_real_noisy"                 # the folder name holds a token too
    one.mkdir()
    for key in ("x_1", "y_2"):
        write_png(one / f"{key}_real.png", noisy_of(textured()))
        write_png(one / f"{key}_mean.png", textured())
    assert [k for k, _, _ in find_srgb_pairs(one)] == ["x_1", "y_2"]
    noisy_dir, clean_dir = tmp_path / "n", tmp_path / "c"
    noisy_dir.mkdir(), clean_dir.mkdir()
    write_png(noisy_dir / "img7.png", noisy_of(textured()))
    write_png(clean_dir / "img7.png", textured())
    pairs = load_srgb_pairs(noisy_dir, clean_dir, crop=32)
    assert pairs[0].name == "img7" and pairs[0].clean.shape == (32, 32, 3)
    assert pairs[0].levels == 256


def test_benchmark_argument_errors():
    pair = srgb_pair(noisy_of(textured()), textured(), "p")
    raw = raw_pair(noisy_of(textured())[:, :, 0], textured()[:, :, 0], name="r")
    with pytest.raises(ParameterError, match=r"unknown model 'gausian' \(did you mean "
                                             r"'gaussian'\?\)"):
        benchmark_noise([pair], models=["gausian"], speed=False)
    with pytest.raises(ParameterError, match=r"unknown ELD profile 'SonyA7s2' \(did you mean "
                                             r"'SonyA7S2'\?\)"):
        benchmark_noise([pair], eld_profile="SonyA7s2", speed=False)
    with pytest.raises(InputError, match="pairs mix domains"):
        benchmark_noise([pair, raw], speed=False)
    with pytest.raises(InputError, match="no noisy/clean pairs given"):
        benchmark_noise([], speed=False)


# -- dark frames -----------------------------------------------------------------------------
def synthetic_dark(seed=0, h=200, w=300, read=3.0, row=1.5):
    rng = np.random.default_rng(seed)
    frame = 64 + read * rng.standard_normal((h, w)) + row * rng.standard_normal((h, 1))
    frame[:, 37] += 200                                    # a bad column
    frame[[10, 50, 120], [11, 61, 201]] += 500             # three hot pixels
    return frame


def test_dark_frame_statistics_recover_known_values():
    h, w, read, row = 200, 300, 3.0, 1.5
    stats = dark_frame_stats(synthetic_dark(h=h, w=w, read=read, row=row), "RGGB")
    assert stats["bad_columns"] == [37] and stats["hot_pixels"] == 3
    assert stats["sites"] == ["R", "G0", "G1", "B"]
    # total per-site std sqrt(read^2 + row^2) = 3.35; its uncertainty is dominated by the
    # only h = 200 row draws: sd(var) ~ row^2 sqrt(2/h) = 0.22 DN^2 -> sd(std) ~ 0.034 DN
    # (1 %); allow 5 of those
    assert np.allclose(stats["std_dn"], np.hypot(read, row), rtol=0.05)
    assert np.allclose(stats["mean_dn"], 64, atol=5 * row / np.sqrt(h))
    # row noise from h/2 = 100 row means per plane: std of a std estimate ~ row/sqrt(2*100)
    # (7 %), averaged over 4 planes that share the rows; allow 5 x 7 %
    assert stats["row_noise_dn"] == pytest.approx(row, rel=0.35)
    assert stats["col_noise_dn"] < 0.5


def test_dark_series_and_raw_loader(tmp_path):
    a, b = synthetic_dark(1), synthetic_dark(2)
    a.astype("<u2").tofile(tmp_path / "dark_300x200_100ms_RGGB_1.raw")
    b.astype("<u2").tofile(tmp_path / "dark_300x200_100ms_RGGB_2.raw")
    long = synthetic_dark(3)
    long[[10, 50, 120], [11, 61, 201]] += 500
    np.save(tmp_path / "dark_400ms.npy", long.astype(np.uint16))
    res = dark_series_stats([tmp_path])
    assert len(res["frames"]) == 3
    pair = res["by_exposure_ms"]["100.0"]
    assert pair["hot_recurrence"] == 1.0
    # temporal noise: std(A - B)/sqrt(2) removes the fixed column and hot pixels, keeps read
    # and row noise (different draws) plus 1/12 DN^2 from the uint16 rounding
    assert pair["temporal_noise_dn"] == pytest.approx(np.hypot(3.0, 1.5), rel=0.05)
    assert res["hot_rate_dn_per_ms"] == pytest.approx(500 / 300, rel=0.01)
    frame, info = read_dark_frame(tmp_path / "dark_300x200_100ms_RGGB_1.raw")
    assert frame.shape == (200, 300) and info["pattern"] == "RGGB"
    (tmp_path / "bad_10x10.raw").write_bytes(b"\0" * 10)
    with pytest.raises(InputError, match=r"holds 5 uint16 values, not 10x10 = 100"):
        read_dark_frame(tmp_path / "bad_10x10.raw")
    (tmp_path / "nosize.raw").write_bytes(b"\0" * 10)
    with pytest.raises(InputError, match="needs its size in the name"):
        read_dark_frame(tmp_path / "nosize.raw")
    write_png(tmp_path / "rgb.png", textured())
    with pytest.raises(InputError, match="must be a single-plane"):
        read_dark_frame(tmp_path / "rgb.png")


# -- CLI -------------------------------------------------------------------------------------
def test_cli_runs_and_writes(tmp_path, capsys):
    folder = tmp_path / "pairs"
    folder.mkdir()
    clean = np.round(textured(64, 64) * 255) / 255
    write_png(folder / "s_real.png", noisy_of(clean, sigma=0.015))
    write_png(folder / "s_mean.png", clean)
    out = tmp_path / "out"
    code = main(["noisebench", "--pairs", str(folder), "--models", "gaussian", "brooks2019",
                 "--no-speed", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0 and "rank" in text and "brooks2019" in text
    assert {p.name for p in out.iterdir()} == {"noisebench.json", "noisebench.csv",
                                               "noisebench.png"}


def test_cli_raw_npy_pair(tmp_path, capsys):
    clean_dn = (600 + textured(64, 64)[:, :, 1] * 8000).astype(np.uint16)
    rng = np.random.default_rng(3)
    noisy_dn = (clean_dn + rng.normal(0, 30, clean_dn.shape)).astype(np.uint16)
    np.save(tmp_path / "n.npy", noisy_dn)
    np.save(tmp_path / "c.npy", clean_dn)
    args = ["noisebench", "--raw-pair", str(tmp_path / "n.npy"), str(tmp_path / "c.npy"),
            "--pattern", "GRBG", "--black", "600", "--models", "gaussian", "--no-speed"]
    assert main(args) == 2
    assert "give white_level" in capsys.readouterr().err
    assert main(args + ["--white", "16383", "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "1 raw pair(s)" in out and "CFA planes" in out
    png = cv2.imread(str(tmp_path / "o" / "noisebench.png"))
    assert png is not None and png.shape[1] == 1120


def test_cli_errors(tmp_path, capsys):
    assert main(["noisebench"]) == 2
    assert "error: noisebench: nothing to benchmark" in capsys.readouterr().err
    assert main(["noisebench", "--noisy", str(tmp_path)]) == 2
    assert "--noisy and --clean go together" in capsys.readouterr().err
    assert main(["noisebench", "--pairs", str(tmp_path / "nope")]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert main(["noisebench", "--pairs", str(tmp_path), "--raw-pair", "a", "b"]) == 2
    assert "give one kind of pairs" in capsys.readouterr().err


# -- shipped real data -----------------------------------------------------------------------
def _shared(name):
    path = SHARED_NOISE / name
    if not path.exists():
        pytest.skip(f"shared noise data not found at {path}")
    return path


def test_polyu_pairs_load_aligned_and_benchmark():
    pairs = load_srgb_pairs(_shared("polyu_real_noisy_srgb"), crop=96)
    assert len(pairs) == 8 and all(p.levels == 256 for p in pairs)
    res = benchmark_noise(pairs[:1], models=["heteroscedastic_gaussian"], speed=False)
    real = np.mean(res.pairs[0]["real"]["lag1"])
    # camera noise is demosaicked / denoised / JPEG'd: strongly correlated; the route model
    # gets part of it from bilinear demosaicking, AWGN in sRGB none (|rho| < 5/sqrt(n))
    assert real > 0.3
    assert np.mean(res.pairs[0]["models"]["heteroscedastic_gaussian"]["lag1"]) > 0.1
    assert abs(np.mean(res.pairs[0]["models"]["gaussian_srgb"]["lag1"])) < 5 / 96


def test_camera_raw_files_are_read_through_read_raw():
    dng = _shared("../raw/dng/nikon_d750_rose_768x512_rggb.dng")
    # the same file twice reads fine (pattern and levels from the file) and is refused as a pair
    with pytest.raises(InputError, match="nikon_d750_rose_768x512_rggb: noisy and clean images "
                                         "are identical"):
        load_raw_pair(dng, dng)


def test_infiniteisp_black_frame_stuck_column():
    stats = dark_series_stats([_shared("infiniteisp_black_frame")])["frames"][0]
    assert stats["bad_columns"] == [1919] and stats["pattern"] == "BGGR"
    assert np.mean(stats["std_dn"]) == pytest.approx(2.2, abs=0.1)     # README: ~2.2 DN
