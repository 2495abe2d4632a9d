"""Per-pixel ISP kernels: tone curves, 3x3 colour, gains, CFA, fused unprocessing.

(Plain power / sRGB gamma curves are numpy float32 ufuncs in degrade/ops/tone.py: numpy's
SIMD ``power`` beats a scalar numba loop.)

Arithmetic is float64 inside, rounded to float32 once when written to ``out``.
Elementwise kernels take a flat 1-D view (any image shape); pixel kernels an ``(N, C)``
view; CFA kernels an ``(H, W)`` mosaic with the 2x2 cell of per-position values.
"""
from __future__ import annotations

import math

import numba
import numpy as np

# Transfer curve codes for _transfer_kernel (see degrade/ops/tone.py).
INVERSE_SMOOTHSTEP = 0
SMOOTHSTEP = 1
POWER = 2

POWER_FLOOR = 1e-8      # Brooks 2019: max(x, 1e-8) ** p
HIGHLIGHT_START = 0.9   # Brooks 2019 safe_invert_gains: mask = (max(gray - 0.9, 0) / 0.1)^2


@numba.njit(cache=True, nogil=True)
def _inverse_smoothstep(x):
    """0.5 - sin(asin(1 - 2 clip(x, 0, 1)) / 3), the inverse of 3y^2 - 2y^3 on [0, 1]."""
    x = min(max(x, 0.0), 1.0)
    return 0.5 - math.sin(math.asin(1.0 - 2.0 * x) / 3.0)


@numba.njit(cache=True, nogil=True)
def _smoothstep(x):
    """3x^2 - 2x^3 of clip(x, 0, 1)."""
    x = min(max(x, 0.0), 1.0)
    return x * x * (3.0 - 2.0 * x)


@numba.njit(cache=True, nogil=True)
def _power(x, p):
    """max(x, 1e-8) ** p (Brooks' gamma expansion / compression)."""
    return max(x, POWER_FLOOR) ** p


@numba.njit(cache=True, nogil=True)
def _transfer(v, curve, p):
    if curve == INVERSE_SMOOTHSTEP:
        return _inverse_smoothstep(v)
    if curve == SMOOTHSTEP:
        return _smoothstep(v)
    return _power(v, p)


@numba.njit(cache=True, nogil=True)
def _transfer_kernel(flat, curve, p, out):
    """out[i] = curve(flat[i]) for a curve code above (``p`` is the power exponent)."""
    for i in range(flat.shape[0]):
        out[i] = _transfer(np.float64(flat[i]), curve, p)


@numba.njit(cache=True, nogil=True)
def _safe_gain(gray, g):
    """Brooks' safe_invert_gains for one channel: max(mask + (1 - mask) g, g)."""
    t = max(gray - HIGHLIGHT_START, 0.0) / (1.0 - HIGHLIGHT_START)
    mask = t * t
    return max(mask + (1.0 - mask) * g, g)


@numba.njit(cache=True, nogil=True)
def _safe_gains_kernel(pix, gains, clip, out):
    """Highlight-protected gains on (N, 3) pixels: gray = mean of the pixel's channels."""
    for n in range(pix.shape[0]):
        a = np.float64(pix[n, 0])
        b = np.float64(pix[n, 1])
        c = np.float64(pix[n, 2])
        gray = (a + b + c) / 3.0
        for k in range(3):
            v = np.float64(pix[n, k]) * _safe_gain(gray, gains[k])
            if clip:
                v = min(max(v, 0.0), 1.0)
            out[n, k] = v


@numba.njit(cache=True, nogil=True)
def _channel_affine_kernel(pix, scale, offset, lo, hi, out):
    """out[n, k] = clip(pix[n, k] * scale[k] + offset[k], lo, hi) for pix (N, C)."""
    c = pix.shape[1]
    for n in range(pix.shape[0]):
        for k in range(c):
            v = np.float64(pix[n, k]) * scale[k] + offset[k]
            out[n, k] = min(max(v, lo), hi)


@numba.njit(cache=True, nogil=True)
def _cfa_affine_kernel(mosaic, scale, offset, lo, hi, out):
    """out[i, j] = clip(mosaic[i, j] * scale[i%2, j%2] + offset[i%2, j%2], lo, hi)."""
    h, w = mosaic.shape
    for i in range(h):
        for j in range(w):
            v = np.float64(mosaic[i, j]) * scale[i & 1, j & 1] + offset[i & 1, j & 1]
            out[i, j] = min(max(v, lo), hi)


@numba.njit(cache=True, nogil=True)
def _mosaic_kernel(img, cell, out):
    """out[i, j] = img[i, j, cell[i%2, j%2]] for img (H, W, 3)."""
    h, w = out.shape
    for i in range(h):
        for j in range(w):
            out[i, j] = img[i, j, cell[i & 1, j & 1]]


@numba.njit(cache=True, nogil=True)
def _adc_kernel(img, black_map, white, max_code, out):
    """The sensor ADC of the ``quantize`` op: normalised value -> integer code ``round(x (white - b) + b)`` clipped to
    [0, max_code] -> back to normalised ``(code - b) / (white - b)``, per element of ``img``
    (H, W, C) with its black level ``b = black_map[i % 2, j % 2, k]``."""
    h, w, c = img.shape
    for i in range(h):
        for j in range(w):
            for k in range(c):
                black = black_map[i % 2, j % 2, k]
                span = white - black
                code = np.rint(np.float64(img[i, j, k]) * span + black)
                code = min(max(code, 0.0), max_code)
                out[i, j, k] = (code - black) / span


@numba.njit(cache=True, nogil=True)
def _expand_row_lut(src, lut, kbuf, buf):
    """buf[t] = max(inverse_smoothstep(src[t]), 1e-8) ** 2.2 for one image row (flat RGB).

    ``lut`` samples the curve uniformly in ``u = s + sign(x - 1/2) (s - sqrt(min(x, 1 - x)))``,
    ``s = sqrt(1/2)`` (``u`` runs from 0 at x = 0 to 2s at x = 1): the curve behaves like
    ``sqrt(x)`` and ``sqrt(1 - x)`` at the ends, and is smooth in ``u``, so plain linear
    interpolation is accurate everywhere. Two loops: the first (no table access, no
    data-dependent branch: ``copysign``) vectorises and leaves the interval index in
    ``kbuf`` (int32) and the fraction in ``buf``; the second does the table lookups.
    """
    n = lut.shape[0] - 1
    s = np.float32(math.sqrt(0.5))
    scale = np.float32(n / (2.0 * math.sqrt(0.5)))
    for t in range(src.shape[0]):
        v = min(max(src[t], np.float32(0.0)), np.float32(1.0))
        d = v - np.float32(0.5)
        pos = (s + math.copysign(s - math.sqrt(np.float32(0.5) - abs(d)), d)) * scale
        k = min(np.int32(pos), np.int32(n - 1))
        kbuf[t] = k
        buf[t] = pos - np.float32(k)
    for t in range(src.shape[0]):
        k = kbuf[t]
        a = lut[k]
        buf[t] = a + buf[t] * (lut[k + 1] - a)


@numba.njit(cache=True, nogil=True)
def _unprocess_pixel(a, b, c, m0, m1, m2, s0, s1, s2, g):
    """One camera channel ``m . (a, b, c)`` times the highlight-protected gain ``g``,
    clipped to [0, 1]; ``s`` are rgb2cam's column sums / 3 (so gray = s . (a, b, c))."""
    v = m0 * a + m1 * b + m2 * c
    gray = s0 * a + s1 * b + s2 * c
    t = max(gray - np.float32(HIGHLIGHT_START), np.float32(0.0)) * np.float32(
        1.0 / (1.0 - HIGHLIGHT_START))
    mask = t * t
    v *= max(mask + (np.float32(1.0) - mask) * g, g)
    return min(max(v, np.float32(0.0)), np.float32(1.0))


@numba.njit(cache=True, nogil=True)
def _unprocess_brooks2019_kernel(img, lut, rgb2cam, gains, cell, kbuf, buf, out):
    """Fused Brooks 2019 unprocessing of an sRGB (H, W, 3) image into an (H, W) mosaic.

    Per row: tone + gamma expansion into ``buf`` (W*3 float32; ``kbuf`` W*3 int32 scratch,
    see _expand_row_lut); then per
    pixel camera channel ``rgb2cam[k] . v`` for the CFA colour ``k = cell[i%2, j%2]``, gray
    = mean of the camera pixel, highlight-protected inverse gain ``gains[k]``, clip [0, 1].
    ``lut``, ``rgb2cam``, ``gains`` are float32; pixels are handled in pairs so that each
    inner iteration has fixed CFA colours (no per-pixel channel branch).
    """
    h, w = out.shape
    flat = img.reshape(h, w * 3)
    s0 = (rgb2cam[0, 0] + rgb2cam[1, 0] + rgb2cam[2, 0]) / np.float32(3.0)
    s1 = (rgb2cam[0, 1] + rgb2cam[1, 1] + rgb2cam[2, 1]) / np.float32(3.0)
    s2 = (rgb2cam[0, 2] + rgb2cam[1, 2] + rgb2cam[2, 2]) / np.float32(3.0)
    for i in range(h):
        _expand_row_lut(flat[i], lut, kbuf, buf)
        ka = cell[i & 1, 0]
        kb = cell[i & 1, 1]
        a0, a1, a2, ga = rgb2cam[ka, 0], rgb2cam[ka, 1], rgb2cam[ka, 2], gains[ka]
        b0, b1, b2, gb = rgb2cam[kb, 0], rgb2cam[kb, 1], rgb2cam[kb, 2], gains[kb]
        for jj in range(w // 2):
            j = 6 * jj
            out[i, 2 * jj] = _unprocess_pixel(buf[j], buf[j + 1], buf[j + 2],
                                              a0, a1, a2, s0, s1, s2, ga)
            out[i, 2 * jj + 1] = _unprocess_pixel(buf[j + 3], buf[j + 4], buf[j + 5],
                                                  b0, b1, b2, s0, s1, s2, gb)
        if w & 1:
            j = 3 * (w - 1)
            out[i, w - 1] = _unprocess_pixel(buf[j], buf[j + 1], buf[j + 2],
                                             a0, a1, a2, s0, s1, s2, ga)
