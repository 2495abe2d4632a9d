"""diffjpeg against a plain-numpy transcription of reference R6 (basicsr DiffJPEG)."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from degrade import ops
from degrade._errors import ParameterError

ANNEX_K_LUMA = [[16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55],
                [14, 13, 16, 24, 40, 57, 69, 56], [14, 17, 22, 29, 51, 87, 80, 62],
                [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
                [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99]]
ANNEX_K_CHROMA = [[17, 18, 24, 47, 99, 99, 99, 99], [18, 21, 26, 66, 99, 99, 99, 99],
                  [24, 26, 56, 99, 99, 99, 99, 99], [47, 66, 99, 99, 99, 99, 99, 99]] + \
                 [[99] * 8] * 4


def blocks(plane):
    h, w = plane.shape
    return plane.reshape(h // 8, 8, w // 8, 8).transpose(0, 2, 1, 3)


def unblocks(b):
    n, m = b.shape[:2]
    return b.transpose(0, 2, 1, 3).reshape(n * 8, m * 8)


def reference_diffjpeg(img, q):
    """R6 step by step, vectorised numpy, float64."""
    f = (5000 / q if q < 50 else 200 - 2 * q) / 100
    # R6.6: coefficient [u, v] is quantised with Tstd[v][u]·f for luma
    tables = {"y": np.array(ANNEX_K_LUMA, float).T * f, "c": np.array(ANNEX_K_CHROMA, float) * f}
    h, w, _ = img.shape
    ph, pw = (16 - h % 16) % 16, (16 - w % 16) % 16
    x = np.pad(img.astype(np.float64) * 255, ((0, ph), (0, pw), (0, 0)))
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = .299 * r + .587 * g + .114 * b
    cb = -.168736 * r - .331264 * g + .5 * b + 128
    cr = .5 * r - .418688 * g - .081312 * b + 128
    pool = lambda p: p.reshape(p.shape[0] // 2, 2, p.shape[1] // 2, 2).mean(axis=(1, 3))
    n = np.arange(8)
    alpha = np.where(n == 0, 1 / math.sqrt(2), 1.0)
    # D[u, x] = α(u)/2 · cos((2x+1)uπ/16): orthonormal DCT-II
    dct = alpha[:, None] / 2 * np.cos((2 * n[None, :] + 1) * n[:, None] * np.pi / 16)

    def roundtrip(plane, table):
        bl = blocks(plane) - 128
        coef = np.einsum("ux,nmxy,vy->nmuv", dct, bl, dct)
        coef = np.round(coef / table) * table
        return unblocks(np.einsum("ux,nmuv,vy->nmxy", dct, coef, dct)) + 128

    y = roundtrip(y, tables["y"])
    up = lambda p: np.repeat(np.repeat(p, 2, 0), 2, 1)
    cb = up(roundtrip(pool(cb), tables["c"])) - 128
    cr = up(roundtrip(pool(cr), tables["c"])) - 128
    rgb = np.stack([y + 1.402 * cr, y - .344136 * cb - .714136 * cr, y + 1.772 * cb], -1)
    return (np.clip(rgb, 0, 255) / 255)[:h, :w]


@pytest.fixture
def photo():
    rng = np.random.default_rng(11)
    img = cv2.GaussianBlur(rng.random((45, 70, 3), dtype=np.float32), (0, 0), 1.2)
    return np.ascontiguousarray(np.clip((img - 0.5) * 3 + 0.5, 0, 1))


@pytest.mark.parametrize("q", [30.0, 49.9, 50.0, 73.31, 95.0])
def test_diffjpeg_equals_reference(photo, q):
    got = ops.diffjpeg(photo, q)
    assert got.dtype == np.float32 and got.shape == photo.shape
    assert np.abs(got - reference_diffjpeg(photo, q)).max() < 1e-6


def test_diffjpeg_clamps_input_and_output(photo):
    wild = photo * 1.6 - 0.3
    got = ops.diffjpeg(wild, 60.0)
    assert got.min() >= 0 and got.max() <= 1
    assert np.abs(got - reference_diffjpeg(np.clip(wild, 0, 1), 60.0)).max() < 1e-6


def test_diffjpeg_float_quality_changes_output(photo):
    assert not np.array_equal(ops.diffjpeg(photo, 40.0), ops.diffjpeg(photo, 40.5))


def test_diffjpeg_quality_monotone_in_error(photo):
    err = [np.abs(ops.diffjpeg(photo, q) - photo).mean() for q in (30.0, 60.0, 95.0)]
    assert err[0] > err[1] > err[2]


def test_diffjpeg_is_close_to_libjpeg_in_kind(photo):
    # Same artefact family: PSNR(DiffJPEG, cv2) well above either's PSNR to the input.
    a, b = ops.diffjpeg(photo, 75.0), ops.jpeg(photo, 75)
    psnr = lambda u, v: 10 * np.log10(1 / np.mean((u - v) ** 2))
    assert psnr(a, b) > psnr(a, photo) - 3


def test_luma_table_is_transposed():
    from degrade.ops.diffjpeg_codec import diffjpeg_tables
    y, c = diffjpeg_tables(50.0)
    assert y[0, 1] == 12 and y[1, 0] == 11 and np.array_equal(c, c.T)


@pytest.mark.parametrize("q, message", [(0.0, "parameter 'quality' = 0.0"),
                                        (101.0, "parameter 'quality' = 101.0"),
                                        ("high", "parameter 'quality' = 'high'")])
def test_diffjpeg_errors(photo, q, message):
    with pytest.raises(ParameterError, match="diffjpeg") as err:
        ops.diffjpeg(photo, q)
    assert message in str(err.value)
