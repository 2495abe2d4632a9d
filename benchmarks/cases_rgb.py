"""Benchmark cases of the RGB-track ops (Real-ESRGAN / BSRGAN / edge-aware filters).

Baselines are the straightforward way to get the same result: a dense 2-D ``cv2.filter2D``
for PSFs and USM (basicsr runs them dense), basicsr's DiffJPEG step by step in numpy, numpy's
Poisson sampler with ``np.unique`` level counting, a dense pooling matrix for torch 'area'.
Whole chains are in benchmarks/chains_rgb.py.
"""
from __future__ import annotations

import cv2
import numpy as np
from _common import bench_image
from chains_rgb import dense, port_diffjpeg, port_poisson_noise, port_usm

import degrade.ops as ops
from degrade.ops.edges import canny_mask
from degrade.ops.psf import build_psf


def image_only(size):
    return (bench_image(size),)


def psf_case(kind, ksize, **params):
    def setup(size):
        return bench_image(size), build_psf(kind, ksize, **params), params
    return dict(setup=setup,
                degrade=lambda img, k, p: ops.psf_blur(img, kind, ksize, **p),
                baseline=lambda img, k, p: dense(img, k))


def noise_setup(size):
    return bench_image(size), np.random.default_rng(0)


def area_matrix(n_in, n_out):
    m = np.zeros((n_out, n_in), np.float32)
    for i in range(n_out):
        s, e = i * n_in // n_out, -(-(i + 1) * n_in // n_out)
        m[i, s:e] = 1.0 / (e - s)
    return m


def torch_area_dense(img):
    h, w = int(img.shape[0] * 0.37), int(img.shape[1] * 0.37)
    mh, mw = area_matrix(img.shape[0], h), area_matrix(img.shape[1], w)
    return np.einsum("ij,jkc,lk->ilc", mh, img, mw, optimize=True)


def edge_blur_baseline(img):
    m = canny_mask(img, 100, 200, 1, 0.0)[..., None]
    k = build_psf("iso", 13, 2.0)
    return dense(img, k) * m + img * (1 - m)


CASES = [
    dict(name="psf_blur_iso21", **psf_case("iso", 21, sigma_x=2.5),
         baseline_label="cv2.filter2D dense 21x21 (basicsr: every kernel padded to 21)"),
    dict(name="psf_blur_plateau_aniso21",
         **psf_case("plateau_aniso", 21, sigma_x=2.5, sigma_y=1.0, theta=0.6, beta=1.5),
         baseline_label="cv2.filter2D dense 21x21 (same call: wrapper cost)"),
    dict(name="psf_blur_sinc13", **psf_case("sinc", 13, omega_c=1.2),
         baseline_label="cv2.filter2D dense 13x13"),
    dict(name="usm_sharpen", setup=image_only, numba=True,
         degrade=lambda img: ops.usm_sharpen(img), baseline=port_usm,
         baseline_label="dense 51x51 filter2D twice + numpy (basicsr USMSharp)"),
    dict(name="diffjpeg", setup=image_only, numba=True,
         degrade=lambda img: ops.diffjpeg(img, 57.3),
         baseline=lambda img: port_diffjpeg(img, 57.3),
         baseline_label="numpy port of basicsr DiffJPEG (tensordot DCT)"),
    dict(name="poisson_noise_realesrgan", setup=noise_setup, numba=True,
         degrade=lambda img, rng: ops.poisson_noise(img, 1.0, rng=rng),
         baseline=lambda img, rng: port_poisson_noise(img, {"scale": 1.0}, rng),
         baseline_label="np.unique levels + rng.poisson + clip"),
    dict(name="poisson_noise_bsrgan", setup=noise_setup,
         degrade=lambda img, rng: ops.poisson_noise(img, levels=1000.0, base="quantized",
                                                    luma="bt601", rng=rng),
         baseline=lambda img, rng: port_poisson_noise(
             img, {"levels": 1000.0, "base": "quantized", "luma": "bt601"}, rng),
         baseline_label="rng.poisson on the 8-bit image (BSRGAN)"),
    dict(name="correlated_noise", setup=noise_setup, numba=True,
         degrade=lambda img, rng: ops.correlated_noise(
             img, [[4e-3, 1e-3, 0], [1e-3, 4e-3, 1e-3], [0, 1e-3, 4e-3]], rng=rng),
         baseline=lambda img, rng: np.clip(img + rng.multivariate_normal(
             np.zeros(3), [[4e-3, 1e-3, 0], [1e-3, 4e-3, 1e-3], [0, 1e-3, 4e-3]],
             img.shape[:2]), 0, 1).astype(np.float32),
         baseline_label="rng.multivariate_normal + clip (BSRGAN)"),
    dict(name="resize_area_torch", setup=image_only, numba=True,
         degrade=lambda img: ops.resize(img, scale=0.37, mode="area", convention="torch"),
         baseline=torch_area_dense,
         baseline_label="dense pooling matrices (einsum)"),
    dict(name="edge_masked_blur", setup=image_only,
         degrade=lambda img: ops.edge_masked_blur(img, 2.0, dilate=1),
         baseline=edge_blur_baseline,
         baseline_label="Canny mask + dense 13x13 filter2D blend"),
    dict(name="bilateral_filter", setup=image_only,
         degrade=lambda img: ops.bilateral_filter(img, 9, 50, 5.0),
         baseline=lambda img: cv2.bilateralFilter(img, 9, 50 / 255, 5.0,
                                                  borderType=cv2.BORDER_REFLECT_101),
         baseline_label="cv2.bilateralFilter (same call: wrapper cost)"),
]
