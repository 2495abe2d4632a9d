"""Resampling ops: OpenCV, or exact torch ``F.interpolate`` / MATLAB ``imresize`` rules.

``convention='opencv'`` (default) is ``cv2.resize``. ``convention='torch'`` reproduces
``torch.nn.functional.interpolate(align_corners=False, antialias=False)``: with a scale
factor the source coordinate is ``(dst + 0.5)/s - 0.5`` using s itself (not out/in), and
``area`` is ``adaptive_avg_pool2d`` (equal-weight bins), which differs from cv2 INTER_AREA
for non-integer factors. ``mode='matlab_bicubic'`` is MATLAB's antialiased bicubic
(BSRGAN's ``imresize_np``). Both run as two 1-D passes over precomputed tap tables.
"""
from __future__ import annotations

import math
from typing import Literal

import cv2
import numpy as np

from .._errors import ParameterError
from .._registry import RGB_DOMAINS, Range, register_op, register_sampler
from .._validate import as_image, check_choice, check_finite_values, check_scalar, check_size
from .psf import KSIZE, SIGMA

INTERPOLATION = {
    "nearest": cv2.INTER_NEAREST,
    "area": cv2.INTER_AREA,
    "bilinear": cv2.INTER_LINEAR,
    "bicubic": cv2.INTER_CUBIC,
}


def torch_taps(n_in: int, n_out: int, mode: str, inv_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """``(index, weight)`` tables (n_out, taps) of torch's 1-D interpolation rule.

    ``inv_scale`` is ``1/scale_factor`` when torch is given a scale factor, else
    ``n_in/n_out``. Linear and nearest copy an axis whose size does not change whatever the
    scale factor (torch 2.x CPU behaviour, checked against torch); cubic does not. Linear: ``src = max(inv·(d+0.5) - 0.5, 0)``; cubic (A = -0.75):
    ``src = inv·(d+0.5) - 0.5``, four taps clamped to the edge; nearest:
    ``min(floor(d·inv), n_in-1)`` in float32; area: ``adaptive_avg_pool`` bins
    ``[floor(d·n_in/n_out), ceil((d+1)·n_in/n_out))``.
    """
    d = np.arange(n_out, dtype=np.float64)
    if n_in == n_out and mode in ("bilinear", "nearest"):
        inv_scale = 1.0
    if mode == "area":
        start = (np.arange(n_out) * n_in) // n_out
        end = ((np.arange(n_out) + 1) * n_in + n_out - 1) // n_out
        taps = int((end - start).max())
        index = np.minimum(start[:, None] + np.arange(taps)[None, :], n_in - 1)
        weight = np.where(np.arange(taps)[None, :] < (end - start)[:, None],
                          1.0 / (end - start)[:, None], 0.0)
        return index, weight
    if mode == "nearest":
        # torch computes floor(d·scale) in float32; float64 can land just below an integer
        src = d.astype(np.float32) * np.float32(inv_scale)
        index = np.minimum(np.floor(src).astype(np.int64), n_in - 1)[:, None]
        return index, np.ones((n_out, 1))
    src = inv_scale * (d + 0.5) - 0.5
    if mode == "bilinear":
        src = np.maximum(src, 0.0)
        i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
        lam = np.clip(src - i0, 0.0, 1.0)
        i1 = i0 + (i0 < n_in - 1)
        return np.stack([i0, i1], 1), np.stack([1.0 - lam, lam], 1)
    a = -0.75
    i0 = np.floor(src).astype(np.int64)
    t = src - i0
    near = lambda x: ((a + 2) * x - (a + 3)) * x * x + 1            # |x| <= 1
    far = lambda x: ((a * x - 5 * a) * x + 8 * a) * x - 4 * a       # 1 < |x| < 2
    weight = np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], 1)
    index = np.clip(i0[:, None] + np.arange(-1, 3)[None, :], 0, n_in - 1)
    return index, weight


def matlab_cubic(x: np.ndarray) -> np.ndarray:
    """MATLAB's bicubic kernel (a = -0.5)."""
    ax = np.abs(x)
    return ((1.5 * ax ** 3 - 2.5 * ax ** 2 + 1) * (ax <= 1)
            + (-0.5 * ax ** 3 + 2.5 * ax ** 2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2)))


def matlab_taps(n_in: int, n_out: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """``(index, weight)`` of MATLAB ``imresize`` bicubic (antialiased when ``scale < 1``).

    ``u = x/scale + 0.5(1 - 1/scale)`` (x 1-based), kernel width ``4/scale`` and weights
    ``scale·cubic(scale·(u - j))`` when downscaling, rows normalised, indices outside the
    image mirrored with the edge repeated (BSRGAN ``imresize_np`` / ``calculate_weights_indices``).
    """
    width = 4.0 / scale if scale < 1 else 4.0
    x = np.arange(1, n_out + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = int(math.ceil(width)) + 2
    index = left[:, None] + np.arange(taps)[None, :]
    dist = u[:, None] - index
    weight = scale * matlab_cubic(dist * scale) if scale < 1 else matlab_cubic(dist)
    weight = weight / weight.sum(1, keepdims=True)
    i = index.astype(np.int64) - 1                                   # 0-based
    i = np.where(i < 0, -i - 1, i)
    i = np.where(i >= n_in, 2 * n_in - i - 1, i)
    return np.clip(i, 0, n_in - 1), weight


def resample_separable(img: np.ndarray, rows: tuple, cols: tuple) -> np.ndarray:
    """Apply ``(index, weight)`` tables along rows (H) then columns (W); float32 out."""
    from .._nb.resample import _resample_axis_kernel

    view = img[:, :, None] if img.ndim == 2 else img
    tmp = np.empty((rows[0].shape[0], view.shape[1], view.shape[2]), np.float32)
    _resample_axis_kernel(view, np.ascontiguousarray(rows[0]), np.ascontiguousarray(rows[1]), 0, tmp)
    out = np.empty((tmp.shape[0], cols[0].shape[0], view.shape[2]), np.float32)
    _resample_axis_kernel(tmp, np.ascontiguousarray(cols[0]), np.ascontiguousarray(cols[1]), 1, out)
    return out.reshape(out.shape[:2] + img.shape[2:])


def output_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """``(floor(H*s), floor(W*s))``, the size torch and Real-ESRGAN use for a scale factor."""
    return int(height * scale), int(width * scale)


#: largest resize factor (a 64x64 patch at 16x is 1024x1024); outputs are also held to the
#: image pixel limit (degrade.sources.headers.max_image_pixels)
MAX_SCALE = 16.0


@register_op("resize", domain_in=RGB_DOMAINS, meta_in=("target_size",),
             limits={"scale": Range(0, MAX_SCALE, low_open=True)})
def resize(image: np.ndarray, scale: float | None = None, size: int | tuple[int, int] | None = None,
           mode: Literal["area", "bilinear", "bicubic", "nearest", "matlab_bicubic"] = "bicubic",
           relative_to: Literal["image", "target"] = "image",
           target_size: int | tuple[int, int] | None = None,
           convention: Literal["opencv", "torch"] = "opencv", clip: bool = False,
           *, rng=None) -> np.ndarray:
    """Resample to a scale factor or an explicit size (cv2.resize).

    Parameters
    ----------
    image : ndarray, float32, (H, W, 3)
    scale : float > 0, optional
        Output size ``floor(H*scale) x floor(W*scale)``, where H, W are the current image
        (``relative_to='image'``) or the recipe's target (``relative_to='target'``, e.g.
        Real-ESRGAN's "resize to the LR grid times s").
    size : int or (int, int), optional
        Explicit output (height, width). Exactly one of ``scale`` and ``size``.
    mode : {'area', 'bilinear', 'bicubic', 'nearest', 'matlab_bicubic'}
        Interpolation (bicubic uses a = -0.75 in OpenCV and torch). ``matlab_bicubic`` is
        MATLAB ``imresize`` (a = -0.5, antialiased when shrinking; output size
        ``ceil(H·scale)``), BSRGAN's ``imresize_np``.
    target_size : (int, int), optional
        The target's (height, width); filled in by the recipe engine.
    convention : {'opencv', 'torch'}
        ``'opencv'``: ``cv2.resize``. ``'torch'``: exactly ``F.interpolate`` (module
        docstring); with ``scale`` relative to the image, torch's scale-factor mapping
        ``src = (dst+0.5)/s - 0.5`` (Real-ESRGAN's first resize), otherwise in/out.
    clip : bool
        Clip the result to [0, 1] (BSRGAN clips after every resize; Real-ESRGAN does not).

    Returns
    -------
    ndarray, float32; not clipped unless ``clip`` (bicubic may overshoot [0, 1], as in
    Real-ESRGAN).

    Examples
    --------
    >>> resize(np.zeros((10, 10, 3), np.float32), scale=0.5).shape
    (5, 5, 3)
    """
    img = as_image(image, op="resize", check_finite=False)     # checked below, on the smaller
    if (scale is None) == (size is None):
        raise ParameterError("resize: give exactly one of 'scale' and 'size'")
    if size is not None:
        out_h, out_w = check_size("size", size, op="resize")
    else:
        s = check_scalar("scale", scale, op="resize", low=0, low_open=True, high=MAX_SCALE)
        if relative_to == "target":
            if target_size is None:
                raise ParameterError("resize: relative_to='target' needs 'target_size' "
                                     "(set by the recipe engine)")
            base_h, base_w = check_size("target_size", target_size, op="resize")
        else:
            base_h, base_w = img.shape[:2]
        out_h, out_w = output_size(base_h, base_w, s)
        if out_h < 1 or out_w < 1:
            raise ParameterError(f"resize: scale {s} makes a {base_h}x{base_w} image empty")
    from ..sources.headers import max_image_pixels
    if max_image_pixels() is not None and out_h * out_w > max_image_pixels():
        raise ParameterError(f"resize: an output of {out_h}x{out_w} is more than the image pixel "
                             f"limit of {max_image_pixels()}")
    check_choice("mode", mode, tuple(INTERPOLATION) + ("matlab_bicubic",), op="resize")
    check_choice("relative_to", relative_to, ("image", "target"), op="resize")
    check_choice("convention", convention, ("opencv", "torch"), op="resize")
    H, W = img.shape[:2]
    if mode == "matlab_bicubic":
        if scale is not None:
            out_h, out_w = math.ceil(base_h * s), math.ceil(base_w * s)
        sy, sx = (s, s) if scale is not None and relative_to == "image" else (out_h / H, out_w / W)
        out = resample_separable(img, matlab_taps(H, out_h, sy), matlab_taps(W, out_w, sx))
    elif convention == "torch" and mode != "area" and scale is not None and \
            relative_to == "image" and s != 1.0:
        # torch's scale-factor mapping resamples even when floor(H·s) == H
        out = resample_separable(img, torch_taps(H, out_h, mode, 1.0 / s),
                                 torch_taps(W, out_w, mode, 1.0 / s))
    elif (out_h, out_w) == img.shape[:2]:
        out = img.copy()
    elif convention == "torch":
        out = resample_separable(img, torch_taps(H, out_h, mode, H / out_h),
                                 torch_taps(W, out_w, mode, W / out_w))
    else:
        out = cv2.resize(img, (out_w, out_h), interpolation=INTERPOLATION[mode])
        out = out.reshape(out_h, out_w, *img.shape[2:])
    # NaN/inf: the resampled output carries every non-finite input value it uses, so the
    # smaller of the two arrays is checked (a 4x downscale checks 1/16 of the pixels).
    check_finite_values(out if out.size <= img.size else img, name="image", op="resize")
    return np.clip(out, 0.0, 1.0, out=out) if clip else out


def shift_kernel(kernel: np.ndarray, shift: float) -> np.ndarray:
    """Resample ``kernel`` at ``(i + shift, j + shift)`` (clipped to the grid) by bilinear
    interpolation and renormalise — BSRGAN's ``shift_pixel`` (``interp2d``, linear).

    A ``(1, n)`` kernel is shifted along x only (a 1-D factor of a separable kernel).
    """
    n = kernel.shape[1]
    grid = np.arange(n, dtype=np.float64)
    pos = np.clip(grid + shift, 0, n - 1)
    out = np.stack([np.interp(pos, grid, r) for r in kernel])            # along x
    if kernel.shape[0] > 1:
        out = np.stack([np.interp(pos, grid, c) for c in out.T], axis=1)  # along y
    return out / out.sum()


@register_op("blur_decimate_zhang2021", domain_in=RGB_DOMAINS,
             limits={"sigma": SIGMA, "ksize": KSIZE})
def blur_decimate_zhang2021(image: np.ndarray, sigma: float, factor: int, ksize: int = 25,
                            *, rng=None) -> np.ndarray:
    """BSRGAN's second downsampling branch: shifted Gaussian blur, then keep every
    ``factor``-th pixel.

    Parameters
    ----------
    image : ndarray, float32, (H, W, 3)
    sigma : float > 0
        σ of the isotropic Gaussian (BSRGAN draws ``U(0.1, 0.6·sf)``).
    factor : int >= 1
        Decimation factor (BSRGAN's current sf).
    ksize : int
        Odd kernel size (BSRGAN 25).

    Returns
    -------
    ndarray, float32, ``(ceil(H/factor), ceil(W/factor), 3)``; not clipped (a Gaussian
    cannot leave [0, 1]).

    Notes
    -----
    ``k = gaussian(ksize, σ)`` shifted by ``(factor-1)/2`` pixels up-left (bilinear
    resampling with clipped coordinates, renormalised: :func:`shift_kernel`), a true
    convolution with reflect-101 border (``scipy.ndimage.convolve(mode='mirror')``), then
    ``y = (k * x)[0::factor, 0::factor]``. The shift centres the decimation grid. A Gaussian
    resampled on a shifted grid stays separable (bilinear weights factor per axis), so it
    runs as two 1-D passes. Zhang et al., "Designing a Practical Degradation Model for Deep Blind Image Super-Resolution",
    ICCV 2021; cszn/BSRGAN ``degradation_bsrgan`` (op 2, 25 % branch). MATLAB's
    ``fspecial`` zeroes weights below ``eps·max``; that changes weights by < 1e-16.

    Examples
    --------
    >>> blur_decimate_zhang2021(np.zeros((16, 16, 3), np.float32), 1.0, 4).shape
    (4, 4, 3)
    """
    from .blur import convolve_separable
    from .psf import check_ksize, check_sigma, gaussian_psf_1d

    op = "blur_decimate_zhang2021"
    img = as_image(image, op=op)
    s = check_sigma("sigma", sigma, op=op)
    f = check_scalar("factor", factor, op=op, integer=True, low=1)
    k = check_ksize(ksize, op=op)
    g = shift_kernel(gaussian_psf_1d(s, k)[None, :], (f - 1) * 0.5)[0]
    g = g[::-1] / g.sum()                                     # convolution = flipped correlation
    one = np.ones(1)
    rows = convolve_separable(img, one, g)[:, ::f]            # along x, keep every f-th column
    return np.ascontiguousarray(convolve_separable(np.ascontiguousarray(rows), g, one)[::f])


@register_sampler("bsrgan_downsample", ops=["resize"])
def bsrgan_downsample(rng: np.random.Generator, sf: int = 4) -> dict:
    """BSRGAN's first random downsampling: ``scale = 1 / U(1, 2·sf)`` (op 2, 75 % branch).

    Returns ``{"scale": s}``; the recipe sets the interpolation (a uniform choice of
    bilinear, bicubic, area) and ``clip: true``. BSRGAN computes ``int(W / sf1)``; degrade
    ``int(W · (1/sf1))``, which can differ by one pixel only when ``W / sf1`` is within
    rounding error of an integer.

    Parameters
    ----------
    rng : numpy.random.Generator
    sf : int
        The current scale factor (4, or 2 after BSRGAN's optional pre-downsampling).

    Examples
    --------
    >>> 1 / 8 <= bsrgan_downsample(np.random.default_rng(0))["scale"] <= 1
    True
    """
    f = check_scalar("sf", sf, op="bsrgan_downsample", integer=True, low=1)
    return {"scale": 1.0 / rng.uniform(1.0, 2.0 * f)}
