"""Poisson (Real-ESRGAN / BSRGAN), speckle and channel-correlated noise.

Kernels are compared with plain numpy on the same Generator stream (bit for bit, or to one
float32 ulp where numpy sums in another order). Statistics use tolerances from the sample
size: the mean of N draws has standard error sqrt(var/N); a sample variance of Poisson(λ)
draws has standard error sqrt((λ + 2λ²)/N) (μ4 = λ + 3λ²); we allow 5 of them.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from degrade import ops
from degrade._errors import ParameterError
from degrade._registry import get_sampler
from degrade.ops.rgb_noise import levels_for, poisson_tables


def q8(x):
    """8-bit rounding in float32 as the op does it, returned as float64."""
    x = np.asarray(x, np.float32)
    return (np.clip(np.rint(x * np.float32(255)), 0, 255) / np.float32(255)).astype(np.float64)


@pytest.fixture
def img():
    rng = np.random.default_rng(5)
    return rng.random((20, 24, 3), dtype=np.float32)


def test_levels_rule():
    x = np.zeros((4, 4, 3), np.float32)
    x[0, 0], x[1, 1] = 0.5, 1.0                   # 3 unique values -> 2^ceil(log2 3) = 4
    assert levels_for(q8(x)) == 4.0
    ramp = (np.arange(200)[:, None, None] / 255 * np.ones((1, 2, 3))).astype(np.float32)
    assert levels_for(q8(ramp)) == 256.0
    assert levels_for(q8(np.zeros((3, 3, 3), np.float32))) == 1.0   # log2(1) = 0


def test_poisson_explicit_levels_equals_numpy(img):
    got = ops.poisson_noise(img, 0.7, levels=300.0, rng=np.random.default_rng(9))
    rng = np.random.default_rng(9)
    q = q8(img)
    want = img + 0.7 * (rng.poisson(q * 300.0) / 300.0 - q)
    assert np.array_equal(got, np.clip(want, 0, 1).astype(np.float32))


def test_poisson_table_path_equals_numpy_inverse_cdf(img):
    got = ops.poisson_noise(img, 2.0, clip=False, rng=np.random.default_rng(4))
    q = q8(img)
    L = levels_for(q)
    lo, cdf, _ = poisson_tables(L)
    codes = np.rint(q * 255).astype(int)
    u = np.random.default_rng(4).random(q.shape)
    counts = np.array([lo[c] + np.searchsorted(cdf[c], v, side="right")
                       for c, v in zip(codes.ravel(), u.ravel())]).reshape(q.shape)
    want = (img + 2.0 * (counts / L - q)).astype(np.float32)
    assert np.array_equal(got, want)


def test_poisson_table_statistics():
    # left: all 256 codes (so levels = 256); right: a flat patch at code 77
    x = np.full((100, 356, 3), 77 / 255, np.float32)
    x[:, :256] = (np.arange(256) / 255)[None, :, None]
    out = ops.poisson_noise(x, 1.0, clip=False, rng=np.random.default_rng(1))
    counts = (out[:, 256:] - x[:, 256:]).astype(np.float64) * 256 + 77 / 255 * 256
    lam, n = 77 / 255 * 256, counts.size
    assert abs(counts.mean() - lam) < 5 * math.sqrt(lam / n)
    assert abs(counts.var(ddof=1) - lam) < 5 * math.sqrt((lam + 2 * lam * lam) / n)
    assert np.allclose(counts, np.rint(counts), atol=1e-3)        # whole photon counts


def test_poisson_tables_are_poisson_cdfs():
    from scipy.stats import poisson
    lo, cdf, guide = poisson_tables(256.0)
    for code in (0, 1, 100, 255):
        lam = code / 255 * 256
        x = lo[code] + np.arange(cdf.shape[1] - 1)
        assert np.allclose(cdf[code, :-1], poisson.cdf(x, lam), atol=1e-14)
        assert poisson.cdf(lo[code] - 1, lam) < 1e-20 if lo[code] > 0 else True
        marks = np.arange(guide.shape[1]) / guide.shape[1]
        assert np.array_equal(guide[code], np.searchsorted(cdf[code], marks, side="right"))


def test_poisson_gray_is_shared_across_channels(img):
    x = img * 0.5 + 0.25                                       # no clipping
    out = ops.poisson_noise(x, 0.5, gray=True, levels=256.0, rng=np.random.default_rng(2))
    d = out.astype(np.float64) - x
    assert np.allclose(d[..., 0], d[..., 1], atol=1e-6) and np.allclose(d[..., 0], d[..., 2], atol=1e-6)
    rng = np.random.default_rng(2)
    luma = q8((x[..., 0] * 0.2989 + x[..., 1] * 0.587 + x[..., 2] * 0.114).astype(np.float32))
    want = 0.5 * (rng.poisson(luma * 256.0) / 256.0 - luma)
    assert np.abs(d[..., 0] - want).max() < 1e-6


def test_poisson_quantized_base_bsrgan(img):
    out = ops.poisson_noise(img, 1.0, levels=1000.0, base="quantized", luma="bt601",
                            rng=np.random.default_rng(3))
    rng = np.random.default_rng(3)
    q = q8(img)
    want = np.clip(rng.poisson(q * 1000.0) / 1000.0, 0, 1)     # BSRGAN: img = poisson(q L)/L
    assert np.abs(out - want).max() < 1e-6


def test_speckle_equals_numpy(img):
    x = img * 1.2 - 0.1                                        # speckle clips its input first
    got = ops.speckle_noise(x, 12, sigma_units="8bit", rng=np.random.default_rng(6))
    xc = np.clip(x, 0, 1).astype(np.float64)
    n = np.random.default_rng(6).standard_normal(x.shape) * (12 / 255)
    assert np.array_equal(got, np.clip(xc + xc * n, 0, 1).astype(np.float32))
    got = ops.speckle_noise(x, 0.05, gray=True, rng=np.random.default_rng(6))
    n = np.random.default_rng(6).standard_normal(x.shape[:2])[..., None] * 0.05
    assert np.array_equal(got, np.clip(xc + xc * n, 0, 1).astype(np.float32))


NON_PSD = [[4e-3, 3e-3, 1e-3], [1e-3, 2e-3, 3e-3], [2e-3, 1e-3, 1e-3]]


@pytest.mark.parametrize("cov", [[[2e-3, 1e-3, 0], [1e-3, 2e-3, 5e-4], [0, 5e-4, 1e-3]], NON_PSD])
def test_correlated_equals_multivariate_normal(img, cov):
    x = img * 0.5 + 0.25
    got = ops.correlated_noise(x, cov, clip=False, rng=np.random.default_rng(8))
    noise = np.random.default_rng(8).multivariate_normal(np.zeros(3), np.array(cov),
                                                         x.shape[:2], check_valid="ignore")
    assert np.abs(got - (x + noise).astype(np.float32)).max() < 1e-7


def test_correlated_multiplicative(img):
    cov = [[1e-3, 0, 0], [0, 1e-3, 0], [0, 0, 1e-3]]
    got = ops.correlated_noise(img, cov, multiplicative=True, clip=False,
                               rng=np.random.default_rng(8))
    n = np.random.default_rng(8).multivariate_normal(np.zeros(3), np.array(cov), img.shape[:2])
    assert np.abs(got - (img + img * n).astype(np.float32)).max() < 1e-7


def test_correlated_covariance_statistics():
    cov = np.array([[4e-3, 2e-3, 1e-3], [2e-3, 3e-3, 0.0], [1e-3, 0.0, 2e-3]])
    x = np.full((200, 200, 3), 0.5, np.float32)
    d = (ops.correlated_noise(x, cov.tolist(), clip=False, rng=np.random.default_rng(1))
         .astype(np.float64) - 0.5).reshape(-1, 3)
    emp, n = np.cov(d.T), d.shape[0]
    # standard error of a sample covariance: sqrt((σii σjj + σij²) / n)
    se = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov ** 2) / n)
    assert (np.abs(emp - cov) < 5 * se).all()


def test_bsrgan_covariance_sampler():
    fn = get_sampler("bsrgan_noise_covariance").function
    rng = np.random.default_rng(0)
    for _ in range(50):
        cov = np.array(fn(rng)["cov"])
        assert cov.shape == (3, 3) and (cov >= 0).all() and np.allclose(cov, cov.T)
        assert cov.max() <= (25 / 255) ** 2 + 1e-12


@pytest.mark.parametrize("call, message", [
    (lambda x: ops.poisson_noise(x, 1.0), "poisson_noise: needs rng="),
    (lambda x: ops.poisson_noise(x, -1.0, rng=np.random.default_rng()), "'scale' = -1.0"),
    (lambda x: ops.poisson_noise(x, 1.0, levels=0.0, rng=np.random.default_rng()), "'levels' = 0.0"),
    (lambda x: ops.poisson_noise(x, 1.0, luma="rec709", rng=np.random.default_rng()), "'luma' = 'rec709'"),
    (lambda x: ops.poisson_noise(x[..., :2], 1.0, gray=True, rng=np.random.default_rng()), "needs 3 channels"),
    (lambda x: ops.speckle_noise(x, 1.0), "speckle_noise: needs rng="),
    (lambda x: ops.speckle_noise(x, -1.0, rng=np.random.default_rng()), "'sigma' = -1.0"),
    (lambda x: ops.correlated_noise(x, [[1, 0], [0, 1]], rng=np.random.default_rng()),
     "'cov' = [[1, 0], [0, 1]]: expected a finite 3x3 matrix"),
    (lambda x: ops.correlated_noise(x, [[1, 0, 0]] * 3), "correlated_noise: needs rng="),
])
def test_noise_errors(call, message, img):
    with pytest.raises(ParameterError) as err:
        call(img)
    assert message in str(err.value)
