"""Benchmark cases for the foundation ops: blur, resize, gaussian noise, JPEG, crop, flip_rot.

Each case is a dict (see docs/benchmarks.md): ``setup(size)`` returns the argument tuple
given to both ``degrade`` and ``baseline``; the baseline is the plain numpy / OpenCV way of
computing the same result, so the ratio shows what degrade's implementation (or its
wrapper overhead) costs or gains.
"""
from __future__ import annotations

import cv2
import numpy as np

from _common import bench_image

import degrade.ops as ops
from degrade.ops.psf import gaussian_psf

REFLECT = cv2.BORDER_REFLECT_101


def image_only(size):
    return (bench_image(size),)


# ------------------------------------------------------------------ blur

def blur_setup(sigma_x, sigma_y=None, theta=0.0):
    def setup(size):
        img = bench_image(size)
        kernel = gaussian_psf(sigma_x, sigma_y, theta).astype(np.float32)
        return img, kernel, (sigma_x, sigma_y, theta)
    return setup


def degrade_blur(img, kernel, sigmas):
    return ops.gaussian_blur(img, sigmas[0], sigmas[1], sigmas[2])


def filter2d_blur(img, kernel, sigmas):
    return cv2.filter2D(img, cv2.CV_32F, kernel, borderType=REFLECT)


def scipy_gaussian_filter(img, kernel, sigmas):
    from scipy import ndimage

    s = sigmas[0]
    return ndimage.gaussian_filter(img, (s, s, 0), mode="mirror", truncate=3.0)


# ------------------------------------------------------------------ noise

def noise_setup(size):
    return bench_image(size), np.random.default_rng(0), 0.05


def degrade_noise(img, rng, sigma):
    return ops.gaussian_noise(img, sigma, rng=rng)


def numpy_noise(img, rng, sigma):
    noisy = img + np.float32(sigma) * rng.standard_normal(img.shape, dtype=np.float32)
    return np.clip(noisy, 0.0, 1.0, out=noisy)


def degrade_noise_gray(img, rng, sigma):
    return ops.gaussian_noise(img, sigma, gray=True, rng=rng)


def numpy_noise_gray(img, rng, sigma):
    noise = np.float32(sigma) * rng.standard_normal(img.shape[:2], dtype=np.float32)
    noisy = img + noise[:, :, None]
    return np.clip(noisy, 0.0, 1.0, out=noisy)


# ------------------------------------------------------------------ jpeg

def cv2_jpeg(img):
    u8 = cv2.cvtColor(np.rint(np.clip(img, 0, 1) * 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
    _, buf = cv2.imencode(".jpg", u8, [cv2.IMWRITE_JPEG_QUALITY, 75])
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) / np.float32(255)


# ------------------------------------------------------------------ the table

CASES = [
    dict(name="gaussian_blur_iso", setup=blur_setup(2.0),
         degrade=degrade_blur, baseline=filter2d_blur,
         baseline_label="cv2.filter2D, 2-D numpy kernel (13x13)"),
    dict(name="gaussian_blur_iso_scipy", setup=blur_setup(2.0),
         degrade=degrade_blur, baseline=scipy_gaussian_filter,
         baseline_label="scipy.ndimage.gaussian_filter (mirror)"),
    dict(name="gaussian_blur_aniso", setup=blur_setup(3.0, 1.0, 0.5),
         degrade=degrade_blur, baseline=filter2d_blur,
         baseline_label="cv2.filter2D, 2-D numpy kernel (19x19)"),
    dict(name="resize_down_bicubic", setup=image_only,
         degrade=lambda img: ops.resize(img, scale=0.5),
         baseline=lambda img: cv2.resize(img, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_CUBIC),
         baseline_label="cv2.resize INTER_CUBIC"),
    dict(name="resize_down_area", setup=image_only,
         degrade=lambda img: ops.resize(img, scale=0.25, mode="area"),
         baseline=lambda img: cv2.resize(img, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA),
         baseline_label="cv2.resize INTER_AREA"),
    dict(name="gaussian_noise", setup=noise_setup, numba=True,
         degrade=degrade_noise, baseline=numpy_noise,
         baseline_label="numpy standard_normal (f32) + clip"),
    dict(name="gaussian_noise_gray", setup=noise_setup, numba=True,
         degrade=degrade_noise_gray, baseline=numpy_noise_gray,
         baseline_label="numpy standard_normal (f32, HxW) + clip"),
    dict(name="jpeg", setup=image_only,
         degrade=lambda img: ops.jpeg(img, 75), baseline=cv2_jpeg,
         baseline_label="cv2.imencode/imdecode q75"),
    dict(name="crop", setup=image_only,
         degrade=lambda img: ops.crop(img, img.shape[0] // 2),
         baseline=lambda img: img[img.shape[0] // 4:img.shape[0] // 4 + img.shape[0] // 2,
                                  img.shape[1] // 4:img.shape[1] // 4 + img.shape[1] // 2].copy(),
         baseline_label="numpy slice .copy()"),
    dict(name="flip_rot", setup=image_only,
         degrade=lambda img: ops.flip_rot(img, hflip=True, rot90=1),
         baseline=lambda img: np.ascontiguousarray(np.rot90(img[:, ::-1])),
         baseline_label="numpy rot90(img[:, ::-1]) contiguous"),
]
