"""DiffJPEG-equivalent JPEG simulation with a float quality (Real-ESRGAN's JPEG).

libjpeg through OpenCV (integer quality, 8-bit output) is :func:`degrade.ops.jpeg`.
"""
from __future__ import annotations

import math

import numpy as np

from .._registry import Range, register_op
from .._validate import as_image, check_scalar

#: JPEG Annex K tables as printed (row = vertical frequency).
LUMA_TABLE = np.array([
    [16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55],
    [14, 13, 16, 24, 40, 57, 69, 56], [14, 17, 22, 29, 51, 87, 80, 62],
    [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99]], np.float64)
CHROMA_TABLE = np.full((8, 8), 99.0)
CHROMA_TABLE[:4, :4] = [[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99]]


def dct_matrix() -> np.ndarray:
    """Orthonormal 8x8 DCT-II matrix ``C`` (``coef = C B Cᵀ``)."""
    n = np.arange(8)
    c = np.cos((2 * n[None, :] + 1) * n[:, None] * math.pi / 16) * math.sqrt(2 / 8)
    c[0] /= math.sqrt(2)
    return c


def quality_factor(quality: float) -> float:
    """libjpeg's quality scaling as DiffJPEG applies it, unrounded: ``5000/q`` (q < 50) or
    ``200 - 2q``, divided by 100."""
    return (5000.0 / quality if quality < 50 else 200.0 - 2.0 * quality) / 100.0


def diffjpeg_tables(quality: float) -> tuple[np.ndarray, np.ndarray]:
    """``(luma, chroma)`` quantisation steps indexed [vertical, horizontal] frequency.

    DiffJPEG's luma table is the transpose of the printed Annex K table (basicsr builds
    it with ``.T``), and the steps are ``T·f`` — not floored, not clipped to [1, 255].
    """
    f = quality_factor(quality)
    return LUMA_TABLE.T * f, CHROMA_TABLE * f


@register_op("diffjpeg", domain_in="srgb",
             limits={"quality": Range(0, 100, low_open=True, high_open=True)})
def diffjpeg(image: np.ndarray, quality: float, *, rng=None) -> np.ndarray:
    """JPEG round trip as basicsr's ``DiffJPEG(differentiable=False)`` computes it.

    Parameters
    ----------
    image : ndarray, float32, (H, W, 3) RGB; clipped to [0, 1] first (Real-ESRGAN clamps
        before every JPEG)
    quality : float in (0, 100)
        JPEG quality, not rounded (Real-ESRGAN draws ``U(30, 95)``); at 100 the tables
        are 0 and DiffJPEG divides by them.

    Returns
    -------
    ndarray, float32, (H, W, 3) in [0, 1]; **not** rounded to 8 bit.

    Notes
    -----
    On ``v = 255·x``, zero-padded bottom/right to a multiple of 16:
    ``Y = .299R + .587G + .114B``, ``Cb = -.168736R - .331264G + .5B + 128``,
    ``Cr = .5R - .418688G - .081312B + 128``; Cb, Cr 2x2 average-pooled; 8x8 blocks minus
    128, ``D = C B Cᵀ``, ``D' = round(D / T)·T`` (half to even; ``T`` from
    :func:`diffjpeg_tables`), ``B' = Cᵀ D' C + 128``; chroma upsampled by repetition;
    ``R = Y + 1.402(Cr-128)``, ``G = Y - .344136(Cb-128) - .714136(Cr-128)``,
    ``B = Y + 1.772(Cb-128)``; clamp to [0, 255], divide by 255, crop.
    Differences from libjpeg: average-pool/repeat chroma instead of fancy upsampling, the
    transposed luma table, unclipped steps, no 8-bit rounding. Reference: basicsr 1.4.2
    ``utils/diffjpeg.py`` (after Shin & Song, "JPEG-resistant adversarial images", 2017).

    Examples
    --------
    >>> diffjpeg(np.full((16, 16, 3), 0.5, np.float32), 50.0).shape
    (16, 16, 3)
    """
    from .._nb.diffjpeg import _diffjpeg_kernel

    img = np.clip(as_image(image, op="diffjpeg"), 0.0, 1.0)
    q = check_scalar("quality", quality, op="diffjpeg", low=0, low_open=True, high=100,
                     high_open=True)
    y_table, c_table = diffjpeg_tables(q)
    out = np.empty_like(img)
    _diffjpeg_kernel(img, dct_matrix(), y_table, c_table, out)
    return out
