"""Sensor noise ops: kernels vs plain-numpy references, statistics, errors."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from degrade import ParameterError
from degrade._cfa import rgbg_sites
from degrade.noise_models import shot_read_from_gain
from degrade.ops import heteroscedastic_gaussian_noise, noise_eld2020, poisson_gaussian_noise
from naive import TAILS_SEEN, reference_eld, reference_poisson_gaussian

LEVELS = (0.02, 0.1, 0.4, 0.9)


def _image(shape=(10, 12, 3), seed=0):
    return np.random.default_rng(seed).random(shape).astype(np.float32)


@pytest.mark.parametrize("shot, read", [(0.01, 0.02), (0.0, 0.05), (0.003, 0.0)])
def test_poisson_gaussian_kernel_matches_reference(shot, read):
    x = _image((16, 12, 3))              # Poisson means 0..333: inversion and PD branches
    x[0, 0, 0] = -0.1                      # negative input: Poisson mean 0
    got = poisson_gaussian_noise(x, shot, read, rng=np.random.default_rng(7))
    TAILS_SEEN.clear()
    want = reference_poisson_gaussian(x, shot, read, np.random.default_rng(7))
    np.testing.assert_array_equal(got, want)
    assert (len(TAILS_SEEN) > 0) == (shot > 0)   # the deferred PD tails were exercised


def test_gaussian_approximation_matches_vectorised_numpy():
    x = _image((9, 11))
    got = heteroscedastic_gaussian_noise(x, 0.02, 0.01, rng=np.random.default_rng(3))
    rng = np.random.default_rng(3)
    x64 = x.astype(np.float64)
    want = (x64 + np.sqrt(0.02 * x64 + 0.01 ** 2) * rng.standard_normal(x.shape)).astype(np.float32)
    np.testing.assert_array_equal(got, want)
    same = poisson_gaussian_noise(x, 0.02, 0.01, approx="gaussian", rng=np.random.default_rng(3))
    np.testing.assert_array_equal(got, same)


@pytest.mark.parametrize("approx", ["exact", "gaussian"])
def test_photon_transfer_mean_and_variance(approx):
    """E[y|x] = x, Var[y|x] = shot x + read^2 on flat patches.

    n = 128*128 samples per level. Mean: std of the sample mean = sqrt(V/n), allow 5.
    Variance: std of the sample variance = sqrt(2 V^2/(n-1) + k4/n), with k4 the fourth
    cumulant (shot^3 x for shot*Poisson(x/shot), 0 for the Gaussian parts); allow 5.
    """
    shot, read, n = 4e-3, 6e-3, 128 * 128
    x = np.repeat(np.array(LEVELS, np.float32), n).reshape(len(LEVELS), 128, 128)
    y = np.stack([poisson_gaussian_noise(p, shot, read, approx=approx,
                                         rng=np.random.default_rng(11 + k))
                  for k, p in enumerate(x)]).astype(np.float64)
    for level, patch in zip(LEVELS, y):
        var = shot * level + read ** 2
        k4 = shot ** 3 * level if approx == "exact" else 0.0
        assert abs(patch.mean() - level) < 5 * math.sqrt(var / n)
        assert abs(patch.var(ddof=1) - var) < 5 * math.sqrt(2 * var ** 2 / (n - 1) + k4 / n)


@pytest.mark.parametrize("mean", [0.05, 2.5, 9.99, 10.0, 17.3, 150.0, 1.0e4])
def test_exact_poisson_counts_follow_scipy_poisson(mean):
    """Chi-square goodness of fit of 90,000 counts (read = 0) against scipy.stats.poisson,
    bins merged to >= 20 expected; with a fixed seed the p-value is a fixed number, under
    the null it is uniform, so > 1e-4 would fail 1 seed in 10,000. Covers both samplers
    (inversion below 10, Ahrens-Dieter PD from 10) and PD's rare tail steps near 10."""
    shot = 1e-5
    x = np.full((300, 300), mean * shot, np.float32)
    counts = np.rint(poisson_gaussian_noise(x, shot, 0.0, rng=np.random.default_rng(31))
                     .astype(np.float64) / shot).astype(np.int64).ravel()
    mu = float(x[0, 0]) / shot
    lo, hi = int(stats.poisson.ppf(1e-7, mu)), int(stats.poisson.ppf(1 - 1e-7, mu)) + 1
    edges = np.arange(lo, hi + 1)
    observed = np.bincount(np.clip(counts, lo, hi) - lo, minlength=hi - lo + 1)
    expected = np.diff(np.concatenate([[0.0], stats.poisson.cdf(edges[:-1], mu), [1.0]]))
    expected *= counts.size
    obs, exp, acc_o, acc_e = [], [], 0, 0.0
    for o, e in zip(observed, expected):
        acc_o, acc_e = acc_o + o, acc_e + e
        if acc_e >= 20:
            obs.append(acc_o), exp.append(acc_e)
            acc_o, acc_e = 0, 0.0
    obs[-1] += acc_o
    exp[-1] += acc_e
    exp = np.array(exp) * sum(obs) / sum(exp)
    assert stats.chisquare(obs, exp).pvalue > 1e-4


def test_vanishing_shot_factor_does_not_overflow():
    """Poisson means up to ~1e21 (a read-only fit gives shot ~1e-21): the count stays a
    float, so shot * count = x to float32 precision (relative std sqrt(shot / x) ~ 4e-11)."""
    x = np.linspace(0.05, 1, 64, dtype=np.float32).reshape(8, 8)
    y = poisson_gaussian_noise(x, 1e-21, 0.0, rng=np.random.default_rng(0))
    np.testing.assert_allclose(y, x, rtol=1e-6)


def test_exact_poisson_lives_on_the_electron_lattice():
    shot = 0.01
    x = np.full((64, 64), 0.3, np.float32)
    y = poisson_gaussian_noise(x, shot, 0.0, rng=np.random.default_rng(5))
    counts = y.astype(np.float64) / shot
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-4)
    assert len(np.unique(np.round(counts))) > 10


def test_clip_and_shape_preserved():
    x = np.full((16, 16), 0.01, np.float32)
    y = poisson_gaussian_noise(x, 1e-3, 0.05, clip=True, rng=np.random.default_rng(0))
    assert y.shape == x.shape and y.dtype == np.float32 and y.min() >= 0 and y.max() <= 1
    assert (poisson_gaussian_noise(x, 1e-3, 0.05, rng=np.random.default_rng(0)) < 0).any()


@pytest.mark.parametrize("pattern", ["RGGB", "GBRG"])
@pytest.mark.parametrize("lam, quant", [(0.1, "uniform"), (None, "round"), (-0.2, "none")])
def test_eld_kernel_matches_reference(pattern, lam, quant):
    x = _image((8, 10)) * 0.05
    kw = dict(gain=0.8, read_sigma=2.5, read_lambda=lam, row_sigma=0.7,
              color_bias=[1.0, -0.5, 2.0, 0.25], white_level=1023, black_level=64, ratio=2.0,
              quantization=quant, pattern=pattern)        # Poisson means 0..30
    got = noise_eld2020(x, **kw, rng=np.random.default_rng(9))
    want = reference_eld(x, 0.8, 2.5, lam, 0.7, [1.0, -0.5, 2.0, 0.25], 1023, 64, 2.0, quant,
                         pattern, np.random.default_rng(9))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_eld_poisson_gaussian_part_equals_poisson_gaussian_noise():
    """P+g with no row/bias/quantisation is shot K ratio / S, read sigma ratio / S."""
    x = _image((12, 14)) * 0.2
    gain, sigma, ratio, white, black = 1.7, 3.0, 25.0, 16383, 512
    got = noise_eld2020(x, gain=gain, read_sigma=sigma, white_level=white, black_level=black,
                        ratio=ratio, quantization="none", rng=np.random.default_rng(4))
    rng = np.random.default_rng(4)
    rng.standard_normal((12, 2))                      # the (zero) row noise draws first
    shot, read = shot_read_from_gain(gain, sigma, white - black, ratio)
    want = poisson_gaussian_noise(x, shot, read, rng=rng)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_eld_photon_transfer_of_the_full_model():
    """Flat patches through the full model (Tukey read, row, bias, uniform quantisation).

    In DN (z = out S / ratio): E[z] = y + bias, Var[z] = K y + s_TL^2 Var_TL(lambda)
    + s_row^2 + 1/12. Patch R x C = 1024 x 16 of one CFA site (R rows share a row value).
    Mean tolerance 5 sqrt(V_pix / n + s_row^2 / R). Variance: std of the sample variance
    ~ sqrt((2 V_pix^2 + k4) / n + 2 s_row^4 / R), k4 = K^3 y + s_TL^4 k4_TL(lambda) (the
    Poisson and Tukey fourth cumulants); allow 5 of those.
    """
    gain, s_tl, lam, s_row, ratio, white, black = 2.0, 3.0, -0.1, 0.8, 10.0, 16383, 512
    bias = [1.5, 0.5, -1.0, 2.5]
    var_tl, kurt_tl = (float(v) for v in stats.tukeylambda.stats(lam, moments="vk"))
    dpu = (white - black) / ratio
    rows, cols = 1024, 16
    for k, level in enumerate((0.002, 0.02, 0.1)):
        x = np.full((2 * rows, 2 * cols), level, np.float32)
        out = noise_eld2020(x, gain=gain, read_sigma=s_tl, read_lambda=lam, row_sigma=s_row,
                            color_bias=bias, white_level=white, black_level=black, ratio=ratio,
                            rng=np.random.default_rng(40 + k)).astype(np.float64) * dpu
        z = out[0::2, 0::2]                                     # the R sites (RGGB)
        y = float(x[0, 0]) * dpu
        v_pix = gain * y + s_tl ** 2 * var_tl + 1 / 12
        k4 = gain ** 3 * y + s_tl ** 4 * kurt_tl * var_tl ** 2
        n = z.size
        assert abs(z.mean() - (y + bias[0])) < 5 * math.sqrt(v_pix / n + s_row ** 2 / rows)
        tol = 5 * math.sqrt((2 * v_pix ** 2 + k4) / n + 2 * s_row ** 4 / rows)
        assert abs(z.var(ddof=1) - (v_pix + s_row ** 2)) < tol


def test_eld_tukey_read_noise_follows_the_tukey_lambda_distribution():
    """On a black frame with only read noise, out * S / scale ~ TukeyLambda(lambda).

    KS test against scipy's distribution (the oracle); with a fixed seed the p-value is a
    fixed number, under the null it would be uniform, so > 1e-3 fails 1 in 1000 seeds.
    """
    lam, scale = -0.12, 4.0
    x = np.zeros((64, 64), np.float32)
    y = noise_eld2020(x, gain=1.0, read_sigma=scale, read_lambda=lam, white_level=16383,
                      black_level=0, quantization="none", rng=np.random.default_rng(21))
    draws = y.ravel().astype(np.float64) * 16383 / scale
    assert stats.kstest(draws, "tukeylambda", args=(lam,)).pvalue > 1e-3


def test_eld_row_noise_and_color_bias_per_cfa_site():
    h, w, sigma = 256, 16, 2.0
    x = np.zeros((h, w), np.float32)
    bias = [4.0, 1.0, -3.0, 2.0]
    y = noise_eld2020(x, gain=1.0, read_sigma=0.0, row_sigma=sigma, color_bias=bias,
                      white_level=1000, black_level=0, quantization="none", pattern="BGGR",
                      rng=np.random.default_rng(8)).astype(np.float64) * 1000
    sites = rgbg_sites("BGGR")
    for r in range(2):
        for c in range(2):
            block = y[r::2, c::2] - bias[sites[r, c]]
            # one row-noise value per row and column phase: constant along the row
            np.testing.assert_allclose(block, block[:, :1].repeat(block.shape[1], 1), atol=1e-3)
    rows = (y[:, 0::2] - y[:, 0::2].mean(1, keepdims=True)).std()
    assert rows < 1e-3
    # 2h row values ~ N(bias, sigma^2): mean within 5 sigma/sqrt(h) of the bias
    for r in range(2):
        for c in range(2):
            col = y[r::2, c]
            assert abs(col.mean() - bias[sites[r, c]]) < 5 * sigma / math.sqrt(len(col))
    v = np.concatenate([y[r::2, c] - bias[sites[r, c]] for r in range(2) for c in range(2)])
    assert abs(v.var() - sigma ** 2) < 5 * sigma ** 2 * math.sqrt(2 / (len(v) - 1))


def test_eld_packed_and_rgb_layouts():
    x = np.zeros((8, 8, 4), np.float32)
    y = noise_eld2020(x, gain=1.0, read_sigma=0.0, color_bias=[1, 2, 3, 4], white_level=101,
                      black_level=1, quantization="none", pattern="GRBG",
                      rng=np.random.default_rng(0))
    # GRBG packed planes are G(R row), R, B, G(B row) -> RGBG indices 1, 0, 2, 3
    np.testing.assert_allclose(y[0, 0] * 100, [2, 1, 3, 4], atol=1e-5)
    rgb = noise_eld2020(np.zeros((4, 4, 3), np.float32), gain=1.0, read_sigma=0.0,
                        color_bias=[1, 2, 3, 4], white_level=101, black_level=1,
                        quantization="none", rng=np.random.default_rng(0))
    np.testing.assert_allclose(rgb[0, 0] * 100, [1, 3, 3], atol=1e-5)


@pytest.mark.parametrize("call, message", [
    (lambda x: poisson_gaussian_noise(x, -1.0, rng=np.random.default_rng(0)),
     r"poisson_gaussian_noise: parameter 'shot' = -1.0: expected 0 <= shot"),
    (lambda x: poisson_gaussian_noise(x, 0.1, approx="poisson", rng=np.random.default_rng(0)),
     r"poisson_gaussian_noise: parameter 'approx' = 'poisson': expected one of 'exact', "
     r"'gaussian'"),
    (lambda x: poisson_gaussian_noise(x, 0.1),
     r"poisson_gaussian_noise: needs rng=numpy.random.Generator \(got NoneType\)"),
    (lambda x: heteroscedastic_gaussian_noise(x, 0.1, read=-2, rng=np.random.default_rng(0)),
     r"heteroscedastic_gaussian_noise: parameter 'read' = -2.0: expected 0 <= read"),
    (lambda x: poisson_gaussian_noise(x, 1e-320, rng=np.random.default_rng(0)),
     r"poisson_gaussian_noise: parameter 'shot' = 1e-320: too small for the image \(the "
     r"Poisson mean of its maximum 0.5 overflows\)"),
    (lambda x: noise_eld2020(x, gain=1e-310, read_sigma=1, rng=np.random.default_rng(0)),
     r"noise_eld2020: parameter 'gain' = 1e-310: too small for the image"),
    (lambda x: noise_eld2020(x, gain=0, read_sigma=1, rng=np.random.default_rng(0)),
     r"noise_eld2020: parameter 'gain' = 0.0: expected 0 < gain"),
    (lambda x: noise_eld2020(x, gain=1, read_sigma=1, color_bias=[1, 2, 3],
                             rng=np.random.default_rng(0)),
     r"noise_eld2020: parameter 'color_bias' = \[1, 2, 3\]: expected 4 finite numbers"),
    (lambda x: noise_eld2020(x, gain=1, read_sigma=1, white_level=500, black_level=512,
                             rng=np.random.default_rng(0)),
     r"noise_eld2020: parameter 'black_level' = 512: expected black_level < white_level "
     r"\(500\)"),
    (lambda x: noise_eld2020(x, gain=1, read_sigma=1, read_lambda=9,
                             rng=np.random.default_rng(0)),
     r"noise_eld2020: parameter 'read_lambda' = 9.0: expected -5 <= read_lambda <= 5"),
    (lambda x: noise_eld2020(x, gain=1, read_sigma=1, quantization="floor",
                             rng=np.random.default_rng(0)),
     r"noise_eld2020: parameter 'quantization' = 'floor': expected one of"),
    (lambda x: noise_eld2020(x, gain=1, read_sigma=1, pattern="RGBG",
                             rng=np.random.default_rng(0)),
     r"noise_eld2020: parameter 'pattern' = 'RGBG': expected one of 'RGGB'"),
    (lambda x: noise_eld2020(np.zeros((4, 4, 2), np.float32), gain=1, read_sigma=1,
                             rng=np.random.default_rng(0)),
     r"noise_eld2020: image has 2 channels: expected 3 or 4"),
])
def test_error_messages(call, message):
    with pytest.raises(ParameterError, match=message):
        call(np.full((4, 4), 0.5, np.float32))
