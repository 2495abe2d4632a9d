"""Benchmark cases for the inverse / forward ISP (tone, gamma, CCM, mosaic, unprocess).

Inputs are the benchmark image (``size`` x ``size`` sRGB, real content). Baselines are the
straightforward numpy / OpenCV / colour-demosaicing way to compute the same formulas.
The issue's target for the fused unprocessing is >= 10x its numpy chain on one thread.
"""
from __future__ import annotations

import cv2
import numpy as np

from _common import bench_image

import degrade.ops as ops
from degrade.ops.color import BROOKS2019_XYZ2CAMS, rgb_to_camera_matrix

CCM = BROOKS2019_XYZ2CAMS.mean(axis=0).tolist()
BROOKS = dict(ccm=CCM, rgb_gain=1.25, red_gain=2.1, blue_gain=1.7, pattern="RGGB")


def image_only(size):
    return (bench_image(size),)


def linear_setup(size):
    return (ops.gamma_expand(bench_image(size)),)


# ------------------------------------------------------------------ unprocess

def numpy_unprocess(img):
    """Brooks 2019 unprocess written the plain numpy way (float32 arrays, one op each)."""
    x = np.clip(img, 0.0, 1.0)
    x = 0.5 - np.sin(np.arcsin(1.0 - 2.0 * x) / 3.0)
    x = np.maximum(x, 1e-8) ** 2.2
    x = x @ rgb_to_camera_matrix(CCM).T.astype(np.float32)
    g = (1.0 / np.array([BROOKS["red_gain"], 1.0, BROOKS["blue_gain"]])
         / BROOKS["rgb_gain"]).astype(np.float32)
    gray = x.mean(axis=-1, keepdims=True)
    mask = (np.maximum(gray - 0.9, 0.0) / 0.1) ** 2
    x = np.clip(x * np.maximum(mask + (1.0 - mask) * g, g), 0.0, 1.0)
    out = np.empty(x.shape[:2], np.float32)
    out[0::2, 0::2] = x[0::2, 0::2, 0]
    out[0::2, 1::2] = x[0::2, 1::2, 1]
    out[1::2, 0::2] = x[1::2, 0::2, 1]
    out[1::2, 1::2] = x[1::2, 1::2, 2]
    return out


def degrade_op_by_op_unprocess(img):
    cam = ops.remove_ccm(ops.gamma_expand(ops.inverse_smoothstep(img)), CCM)
    cam = ops.remove_wb_gains(cam, BROOKS["red_gain"], BROOKS["blue_gain"], BROOKS["rgb_gain"])
    return ops.mosaic(cam, "RGGB")


def fused_unprocess(img):
    return ops.unprocess_brooks2019(img, **BROOKS)


# ------------------------------------------------------------------ colour / mosaic

def colour_mosaic(img):
    import colour_demosaicing

    return colour_demosaicing.mosaicing_CFA_Bayer(img, "RGGB")


def numpy_ccm(img):
    return img @ rgb_to_camera_matrix(CCM).T.astype(np.float32)


def cv2_ccm(img):
    return cv2.transform(img, rgb_to_camera_matrix(CCM).astype(np.float32))


def mosaic_setup(size):
    return (ops.mosaic(bench_image(size), "RGGB"),)


def colour_bilinear(mosaic):
    import colour_demosaicing

    return colour_demosaicing.demosaicing_CFA_Bayer_bilinear(mosaic, "RGGB")


CASES = [
    dict(name="unprocess_brooks2019", setup=image_only, numba=True,
         degrade=fused_unprocess, baseline=numpy_unprocess,
         baseline_label="numpy chain, same formulas (float32)"),
    dict(name="unprocess_brooks2019_vs_ops", setup=image_only, numba=True,
         degrade=fused_unprocess, baseline=degrade_op_by_op_unprocess,
         baseline_label="degrade ops one by one (5 passes)"),
    dict(name="mosaic", setup=image_only, numba=True,
         degrade=lambda img: ops.mosaic(img, "RGGB"), baseline=colour_mosaic,
         baseline_label="colour_demosaicing.mosaicing_CFA_Bayer"),
    dict(name="remove_ccm", setup=linear_setup, numba=True,
         degrade=lambda img: ops.remove_ccm(img, CCM), baseline=numpy_ccm,
         baseline_label="numpy img @ M.T (float32)"),
    dict(name="remove_ccm_cv2", setup=linear_setup, numba=True,
         degrade=lambda img: ops.remove_ccm(img, CCM), baseline=cv2_ccm,
         baseline_label="cv2.transform"),
    dict(name="gamma_expand", setup=image_only, numba=True,
         degrade=lambda img: ops.gamma_expand(img, "power", 2.2),
         baseline=lambda img: np.power(np.maximum(img, np.float32(1e-8)), np.float32(2.2)),
         baseline_label="np.power(np.maximum(x, 1e-8), 2.2) float32"),
    dict(name="gamma_expand_srgb", setup=image_only, numba=True,
         degrade=lambda img: ops.gamma_expand(img, "srgb"),
         baseline=lambda img: np.where(img <= 0.04045, img / np.float32(12.92),
                                       ((img + np.float32(0.055)) / np.float32(1.055))
                                       ** np.float32(2.4)),
         baseline_label="numpy where/power sRGB EOTF float32"),
    dict(name="demosaic_cv2_ea", setup=mosaic_setup,
         degrade=lambda m: ops.demosaic(m, "RGGB", "cv2_ea"), baseline=colour_bilinear,
         baseline_label="colour_demosaicing bilinear (float64)"),
    dict(name="demosaic_bilinear", setup=mosaic_setup,
         degrade=lambda m: ops.demosaic(m, "RGGB", "bilinear"), baseline=colour_bilinear,
         baseline_label="colour_demosaicing bilinear (wrapper cost)"),
]
