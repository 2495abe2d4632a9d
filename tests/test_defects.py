"""Bayer defects: kernel vs a plain-Python reference, rates, CFA restriction, lines, errors."""
from __future__ import annotations

import math

import numpy as np
import pytest

from degrade import ParameterError
from degrade._cfa import channel_map
from degrade.ops import bayer_defects
from naive import AXIAL, DIAG, reference_defects
from tool_scripts import load_tool


@pytest.mark.parametrize("mode, channels, pattern", [("stuck", "RGB", "RGGB"),
                                                     ("offset", "G", "BGGR"),
                                                     ("random", "RB", "GBRG")])
def test_kernel_matches_reference(mode, channels, pattern):
    x = np.random.default_rng(0).random((40, 36)).astype(np.float32)
    kw = dict(hot_rate=0.02, dead_rate=0.01, stuck_rate=0.01, hot_min=0.01, hot_max=0.3,
              cluster_fraction=0.4, column_rate=0.08, row_rate=0.05, line_mode=mode,
              line_min=-0.2 if mode == "offset" else 0.1, line_max=0.6, channels=channels,
              pattern=pattern)
    got = bayer_defects(x, **kw, rng=np.random.default_rng(12))
    want = reference_defects(x, (0.02, 0.01, 0.01), 0.01, 0.3, 0.4, 0.08, 0.05, mode,
                             kw["line_min"], 0.6, channels, pattern, np.random.default_rng(12))
    np.testing.assert_array_equal(got, want)


def test_rates_recovered_within_binomial_tolerance():
    """Each site is hot / dead / stuck with probability p_k: count ~ Binomial(n, p_k),
    std sqrt(n p (1 - p)); allow 5 of those. Flat 0.5 input separates the three kinds."""
    x = np.full((256, 256), 0.5, np.float32)
    rates = {"hot": 0.01, "dead": 0.004, "stuck": 0.002}
    y = bayer_defects(x, hot_rate=rates["hot"], dead_rate=rates["dead"],
                      stuck_rate=rates["stuck"], hot_max=0.4, cluster_fraction=0.0,
                      column_rate=0.0, rng=np.random.default_rng(3))
    counts = {"hot": ((y > 0.5) & (y < 1)).sum(), "dead": (y == 0).sum(), "stuck": (y == 1).sum()}
    n = x.size
    for kind, p in rates.items():
        assert abs(counts[kind] - n * p) < 5 * math.sqrt(n * p * (1 - p)), kind
    amps = y[(y > 0.5) & (y < 1)] - 0.5
    assert amps.min() >= 0.004 - 1e-6 and amps.max() <= 0.4 + 1e-6


@pytest.mark.parametrize("channels", ["G", "R", "RB"])
def test_per_channel_restriction(channels):
    """Only allowed sites change; their count ~ Binomial(n_allowed, p) (5 std tolerance)."""
    x = np.full((128, 128), 0.5, np.float32)
    y = bayer_defects(x, hot_rate=0.02, dead_rate=0.0, stuck_rate=0.0, cluster_fraction=0.0,
                      column_rate=0.0, channels=channels, pattern="GRBG",
                      rng=np.random.default_rng(4))
    cmap = channel_map("GRBG", *x.shape)
    allowed = np.isin(cmap, ["RGB".index(c) for c in channels])
    assert not (y != x)[~allowed].any()
    n = allowed.sum()
    assert abs((y != x).sum() - 0.02 * n) < 5 * math.sqrt(n * 0.02 * 0.98)


def test_couplets_are_same_colour_neighbours():
    x = np.full((64, 64), 0.5, np.float32)
    y = bayer_defects(x, hot_rate=0.0, dead_rate=0.0, stuck_rate=0.005, cluster_fraction=1.0,
                      column_rate=0.0, rng=np.random.default_rng(6))
    cmap = channel_map("RGGB", 64, 64)
    stuck = np.argwhere(y == 1)
    assert len(stuck) > 4
    for i, j in stuck:
        if not (2 <= i < 62 and 2 <= j < 62):     # a partner may fall outside the image
            continue
        near = [(i + di, j + dj) for di, dj in (DIAG if cmap[i, j] == 1 else AXIAL)]
        assert any(0 <= a < 64 and 0 <= b < 64 and y[a, b] == 1 for a, b in near)


def test_stuck_columns_present_and_counted():
    """Columns hit ~ Binomial(W, rate); each is stuck at one level on every row."""
    x = np.random.default_rng(1).random((32, 512)).astype(np.float32)
    y = bayer_defects(x, hot_rate=0.0, dead_rate=0.0, stuck_rate=0.0, column_rate=0.02,
                      rng=np.random.default_rng(2))
    changed = np.flatnonzero((y != x).any(0))
    assert abs(len(changed) - 512 * 0.02) < 5 * math.sqrt(512 * 0.02 * 0.98)
    assert len(changed) > 0
    for c in changed:
        assert np.unique(y[:, c]).size == 1
    rows = bayer_defects(x, hot_rate=0.0, dead_rate=0.0, stuck_rate=0.0, column_rate=0.0,
                         row_rate=1.0, line_mode="offset", line_min=0.1, line_max=0.1,
                         rng=np.random.default_rng(2))
    np.testing.assert_allclose(rows, np.minimum(x + 0.1, 1.0), atol=1e-6)


def test_default_rates_are_the_measured_ones():
    x = np.full((16, 16), 0.5, np.float32)
    y = bayer_defects(x, rng=np.random.default_rng(0))          # defaults run
    assert y.shape == x.shape and y.dtype == np.float32
    import inspect
    defaults = {k: v.default for k, v in inspect.signature(bayer_defects).parameters.items()}
    assert defaults["hot_rate"] == 1.5e-4 and defaults["column_rate"] == 5e-4


@pytest.mark.parametrize("kwargs, message", [
    ({"hot_rate": 1.5}, r"bayer_defects: parameter 'hot_rate' = 1.5: expected 0 <= hot_rate <= 1"),
    ({"hot_rate": 0.6, "dead_rate": 0.6},
     r"bayer_defects: parameters 'hot_rate' \+ 'dead_rate' \+ 'stuck_rate' = 1.2\d*: "
     r"expected a sum <= 1"),
    ({"hot_min": 0.2, "hot_max": 0.1}, r"parameter 'hot_max' = 0.1: expected 0.2 <= hot_max"),
    ({"hot_min": 0.0}, r"parameter 'hot_min' = 0.0: expected 0 < hot_min"),
    ({"line_mode": "dead"}, r"parameter 'line_mode' = 'dead': expected one of 'stuck'"),
    ({"line_min": -0.5}, r"parameter 'line_min' = -0.5: expected 0.0 <= line_min"),
    ({"channels": "GR"}, r"parameter 'channels' = 'GR': expected one of 'RGB', 'RG'"),
    ({"pattern": "RGBW"}, r"bayer_defects: parameter 'pattern' = 'RGBW'"),
])
def test_error_messages(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        bayer_defects(np.full((8, 8), 0.5, np.float32), **kwargs, rng=np.random.default_rng(0))


def test_needs_a_mosaic_and_an_rng():
    with pytest.raises(ParameterError, match=r"bayer_defects: image has shape \(8, 8, 3\): "
                                             r"expected a Bayer mosaic \(H, W\)"):
        bayer_defects(np.zeros((8, 8, 3), np.float32), rng=np.random.default_rng(0))
    with pytest.raises(ParameterError, match=r"bayer_defects: needs rng=numpy.random.Generator"):
        bayer_defects(np.zeros((8, 8), np.float32))


def test_default_rates_follow_the_real_dark_frames(shared_data):
    """tools/analyse_dark_frames.py on the shipped dark frames gives the numbers the
    defaults and docs/noise_models.md are based on."""
    noise = shared_data / "noise"
    if not (noise / "infiniteisp_black_frame").is_dir():
        pytest.skip(f"dark frames not found under {noise}")
    tool = load_tool("analyse_dark_frames")
    black = tool.black_frame(noise / "infiniteisp_black_frame"
                             / "BlackImage_1920x1080_12bits_BGGR_u16le.raw")
    assert black["bad_columns"] == [1919] and black["bad_rows"] == []
    assert black["bad_column_rate"] == pytest.approx(5.2e-4, rel=0.01)
    assert black["hot_rate"] == pytest.approx(1.5e-4, rel=0.05)
    lo, hi = black["hot_amplitude_norm_min_max"]
    assert lo == pytest.approx(0.004, abs=5e-4) and hi < 0.05
    flea = tool.flea3(noise / "flea3_dark_frames")
    longest = flea["per_exposure"][-1]
    assert longest["t_ms"] == 3916 and longest["hot_in_both"] == 26
    assert all(row["subset_of_longest"] for row in flea["per_exposure"])
