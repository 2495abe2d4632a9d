"""Benchmark cases for sensor noise (Poisson-Gaussian, ELD 2020) and Bayer defects.

Inputs are RGGB mosaics of the benchmark image (``size`` x ``size``). Each baseline is the
straightforward numpy implementation of the same model with a numpy Generator (same
distributions; the draw order differs, so the values differ, the statistics do not), in
float32 where a competent user would ask for it (``standard_normal(dtype=np.float32)``,
``random(dtype=np.float32)``; numpy's Poisson sampler has no float32 variant: it takes float64
means and returns int64 counts).

Two cases ask whether exact Poisson-Gaussian noise is bound by its random numbers:
``poisson_noise_exact`` (read = 0: the Poisson counts alone, against ``rng.poisson`` alone),
and ``poisson_gaussian_draws`` (the op against a numba loop that only draws what the op's
kernel draws per element at these means: PD's normal and uniform, or inversion's uniform,
and the read normal);
``poisson_gaussian_ceiling`` times those draws alone against the numpy baseline: the ratio no
implementation of the op with the same draws can pass.
"""
from __future__ import annotations

import numba
import numpy as np

from _common import bench_image

import degrade.ops as ops
from degrade._cfa import rgbg_sites
from degrade.noise_models import tukey_lambda_quantile

SHOT, READ = 4e-3, 6e-3
ELD = dict(gain=2.0, read_sigma=3.0, read_lambda=-0.05, row_sigma=0.6,
           color_bias=[1.0, 0.5, -0.5, 0.2], white_level=16383, black_level=512, ratio=20.0)
DEFECTS = dict(hot_rate=1e-3, dead_rate=1e-4, stuck_rate=1e-4, hot_min=0.004, hot_max=0.05,
               cluster_fraction=0.0, column_rate=1e-3)


def mosaic_setup(size):
    rgb = bench_image(size)
    mosaic = np.empty(rgb.shape[:2], np.float32)
    mosaic[0::2, 0::2] = rgb[0::2, 0::2, 0]
    mosaic[0::2, 1::2] = rgb[0::2, 1::2, 1]
    mosaic[1::2, 0::2] = rgb[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = rgb[1::2, 1::2, 2]
    return mosaic, np.random.default_rng(0)


# ------------------------------------------------------------------ Poisson-Gaussian

def numpy_poisson_gaussian(x, rng):
    noisy = rng.poisson(x / np.float32(SHOT)).astype(np.float32)      # int64 counts -> float32
    noisy *= np.float32(SHOT)
    noisy += np.float32(READ) * rng.standard_normal(x.shape, dtype=np.float32)
    return noisy


def numpy_poisson(x, rng):
    noisy = rng.poisson(x / np.float32(SHOT)).astype(np.float32)
    noisy *= np.float32(SHOT)
    return noisy


@numba.njit(cache=True, nogil=True)
def _draws_only(x, shot, rng):
    """What the exact kernel draws for each element of ``x`` (its mean ``x / shot``): none for
    a zero mean, one uniform below PD's mean of 10 (inversion), else PD's normal and uniform
    (the 1-2 % of tail draws left out); then the read noise's normal. Summed so nothing is
    elided."""
    total = 0.0
    for v in x.ravel():
        m = max(np.float64(v), 0.0) / shot
        if m >= 10.0:
            total += rng.standard_normal() + rng.random()
        elif m > 0.0:
            total += rng.random()
        total += rng.standard_normal()
    return total


def numpy_heteroscedastic(x, rng):
    scale = np.sqrt(np.float32(SHOT) * x + np.float32(READ ** 2))
    return x + scale * rng.standard_normal(x.shape, dtype=np.float32)


# ------------------------------------------------------------------ ELD 2020

def numpy_eld(x, rng):
    p = ELD
    dpu = (p["white_level"] - p["black_level"]) / p["ratio"]
    h, w = x.shape
    y = x.astype(np.float64) * dpu
    z = p["gain"] * rng.poisson(np.maximum(y, 0) / p["gain"])
    z += p["read_sigma"] * tukey_lambda_quantile(rng.random(x.shape), p["read_lambda"])
    sites = rgbg_sites("RGGB")
    z += np.tile(np.asarray(p["color_bias"])[sites], (h // 2, w // 2))
    row = p["row_sigma"] * rng.standard_normal((h, 2))
    z += np.tile(row, (1, w // 2))
    z += rng.random(x.shape, dtype=np.float32) - np.float32(0.5)
    return (z / dpu).astype(np.float32)


# ------------------------------------------------------------------ defects

def numpy_defects(x, rng):
    d = DEFECTS
    out = x.copy()
    u = rng.random(x.shape, dtype=np.float32)
    hot = u < d["hot_rate"]
    dead = (u >= d["hot_rate"]) & (u < d["hot_rate"] + d["dead_rate"])
    stuck = (u >= d["hot_rate"] + d["dead_rate"]) & (u < d["hot_rate"] + d["dead_rate"]
                                                      + d["stuck_rate"])
    amp = np.exp(rng.uniform(np.log(d["hot_min"]), np.log(d["hot_max"]), hot.sum()))
    out[hot] = np.minimum(out[hot] + amp, 1.0)
    out[dead] = 0.0
    out[stuck] = 1.0
    cols = np.flatnonzero(rng.random(x.shape[1]) < d["column_rate"])
    out[:, cols] = rng.random(len(cols)).astype(np.float32)
    return out


CASES = [
    dict(name="poisson_gaussian_noise", setup=mosaic_setup, numba=True,
         degrade=lambda x, rng: ops.poisson_gaussian_noise(x, SHOT, READ, rng=rng),
         baseline=numpy_poisson_gaussian,
         baseline_label="numpy Generator.poisson + standard_normal (f32)"),
    dict(name="poisson_noise_exact", setup=mosaic_setup, numba=True,
         degrade=lambda x, rng: ops.poisson_gaussian_noise(x, SHOT, 0.0, rng=rng),
         baseline=numpy_poisson,
         baseline_label="numpy Generator.poisson alone (read = 0)"),
    dict(name="poisson_gaussian_draws", setup=mosaic_setup, numba=True,
         degrade=lambda x, rng: ops.poisson_gaussian_noise(x, SHOT, READ, rng=rng),
         baseline=lambda x, rng: _draws_only(x, SHOT, rng),
         baseline_label="numba loop of the kernel's draws alone (as it draws per element)"),
    dict(name="poisson_gaussian_ceiling", setup=mosaic_setup,   # (no op: no compile row)
         degrade=lambda x, rng: _draws_only(x, SHOT, rng),
         baseline=numpy_poisson_gaussian,
         baseline_label="the kernel's draws alone (numba) vs the numpy baseline: the op's ceiling"),
    dict(name="heteroscedastic_gaussian_noise", setup=mosaic_setup, numba=True,
         degrade=lambda x, rng: ops.heteroscedastic_gaussian_noise(x, SHOT, READ, rng=rng),
         baseline=numpy_heteroscedastic,
         baseline_label="numpy sqrt(shot x + read^2) * standard_normal (f32)"),
    dict(name="noise_eld2020", setup=mosaic_setup, numba=True,
         degrade=lambda x, rng: ops.noise_eld2020(x, **ELD, rng=rng),
         baseline=numpy_eld,
         baseline_label="numpy poisson + Tukey quantile + bias/row tiles + uniform"),
    dict(name="bayer_defects", setup=mosaic_setup, numba=True,
         degrade=lambda x, rng: ops.bayer_defects(x, **DEFECTS, rng=rng),
         baseline=numpy_defects,
         baseline_label="numpy per-pixel Bernoulli masks + column draws"),
]
