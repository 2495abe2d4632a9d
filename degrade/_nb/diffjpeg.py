"""DiffJPEG-equivalent codec kernel (basicsr ``DiffJPEG(differentiable=False)``).

One pass over 16x16 macroblocks: colour transform, 4:2:0 average pooling, 8x8 DCT-II,
quantise (round half to even) and dequantise, inverse DCT, nearest chroma upsampling,
inverse colour transform, clamp. Float64 arithmetic, float32 output in [0, 1].
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, inline="always")
def _mul(a, b, out):
    """``out = a @ b`` for 8x8 arrays; the inner loop runs along rows (vectorisable)."""
    for i in range(8):
        for j in range(8):
            out[i, j] = 0.0
        for k in range(8):
            aik = a[i, k]
            for j in range(8):
                out[i, j] += aik * b[k, j]


@numba.njit(cache=True, nogil=True)
def _block_roundtrip(block, dct, dct_t, table, tmp, coef):
    """In place: ``B <- Cᵀ (round((C B Cᵀ) / T) · T) C`` for one level-shifted 8x8 block.

    ``dct_t`` is ``Cᵀ``; ``tmp``/``coef`` are 8x8 scratch arrays.
    """
    _mul(dct, block, tmp)                   # C B
    _mul(tmp, dct_t, coef)                  # (C B) Cᵀ
    for u in range(8):
        for v in range(8):
            coef[u, v] = np.rint(coef[u, v] / table[u, v]) * table[u, v]
    _mul(dct_t, coef, tmp)                  # Cᵀ D'
    _mul(tmp, dct, block)                   # (Cᵀ D') C


@numba.njit(cache=True, nogil=True)
def _diffjpeg_kernel(img, dct, y_table, c_table, out):
    """``out`` (H, W, 3) float32 <- DiffJPEG round trip of ``img`` (H, W, 3) in [0, 1].

    ``dct`` is the orthonormal 8x8 DCT-II matrix, ``y_table``/``c_table`` the scaled
    quantisation tables indexed [vertical freq, horizontal freq]. Pixels beyond the image
    (padding to a multiple of 16) are black, as DiffJPEG's zero padding.
    """
    h, w, _ = img.shape
    ycc = np.empty((3, 16, 16))
    pooled = np.empty((2, 8, 8))
    block = np.empty((8, 8))
    tmp = np.empty((8, 8))
    coef = np.empty((8, 8))
    dct_t = np.ascontiguousarray(dct.T)
    for by in range(0, h, 16):
        for bx in range(0, w, 16):
            for i in range(16):
                for j in range(16):
                    r = g = b = 0.0
                    if by + i < h and bx + j < w:
                        r = img[by + i, bx + j, 0] * 255.0
                        g = img[by + i, bx + j, 1] * 255.0
                        b = img[by + i, bx + j, 2] * 255.0
                    ycc[0, i, j] = 0.299 * r + 0.587 * g + 0.114 * b
                    ycc[1, i, j] = -0.168736 * r - 0.331264 * g + 0.5 * b + 128.0
                    ycc[2, i, j] = 0.5 * r - 0.418688 * g - 0.081312 * b + 128.0
            for c in range(2):
                for i in range(8):
                    for j in range(8):
                        pooled[c, i, j] = (ycc[c + 1, 2 * i, 2 * j] + ycc[c + 1, 2 * i, 2 * j + 1]
                                           + ycc[c + 1, 2 * i + 1, 2 * j]
                                           + ycc[c + 1, 2 * i + 1, 2 * j + 1]) * 0.25
            for q in range(4):
                oi, oj = 8 * (q // 2), 8 * (q % 2)
                for i in range(8):
                    for j in range(8):
                        block[i, j] = ycc[0, oi + i, oj + j] - 128.0
                _block_roundtrip(block, dct, dct_t, y_table, tmp, coef)
                for i in range(8):
                    for j in range(8):
                        ycc[0, oi + i, oj + j] = block[i, j] + 128.0
            for c in range(2):
                for i in range(8):
                    for j in range(8):
                        block[i, j] = pooled[c, i, j] - 128.0
                _block_roundtrip(block, dct, dct_t, c_table, tmp, coef)
                for i in range(8):
                    for j in range(8):
                        pooled[c, i, j] = block[i, j] + 128.0
            for i in range(min(16, h - by)):
                for j in range(min(16, w - bx)):
                    yv = ycc[0, i, j]
                    cb = pooled[0, i // 2, j // 2] - 128.0
                    cr = pooled[1, i // 2, j // 2] - 128.0
                    rgb = (yv + 1.402 * cr, yv - 0.344136 * cb - 0.714136 * cr, yv + 1.772 * cb)
                    for k in range(3):
                        out[by + i, bx + j, k] = min(max(rgb[k], 0.0), 255.0) / 255.0
