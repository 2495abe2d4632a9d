"""Mosaic / pack / unpack / demosaic for all four CFA patterns."""
from __future__ import annotations

import numpy as np
import pytest

from degrade._cfa import PATTERNS
from degrade._errors import ParameterError
from degrade._registry import get_op
from degrade.ops import demosaic, mosaic, pack_raw, unpack_raw
from degrade.ops.bayer import DEMOSAIC_METHODS
from naive import numpy_mosaic


def rgb(shape=(10, 14, 3), seed=0):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_mosaic_matches_slicing_and_colour_demosaicing(pattern):
    cd = pytest.importorskip("colour_demosaicing")
    x = rgb()
    out = mosaic(x, pattern)
    np.testing.assert_array_equal(out, numpy_mosaic(x, pattern))
    np.testing.assert_array_equal(out, cd.mosaicing_CFA_Bayer(x, pattern).astype(np.float32))


def test_mosaic_odd_size_and_lowercase_pattern():
    x = rgb((5, 7, 3))
    np.testing.assert_array_equal(mosaic(x, "gbrg"), numpy_mosaic(x, "GBRG"))


@pytest.mark.parametrize("pattern", PATTERNS)
def test_pack_unpack_layout_and_round_trip(pattern):
    m = mosaic(rgb(), pattern)
    packed = pack_raw(m, pattern)
    assert packed.shape == (5, 7, 4) and packed.flags.c_contiguous
    for k in range(4):  # planes in the cell's reading order (degrade/_cfa.py)
        a, b = divmod(k, 2)
        np.testing.assert_array_equal(packed[..., k], m[a::2, b::2])
    np.testing.assert_array_equal(unpack_raw(packed, pattern), m)


@pytest.mark.parametrize("method", DEMOSAIC_METHODS)
@pytest.mark.parametrize("pattern", PATTERNS)
def test_demosaic_recovers_a_constant_colour(method, pattern):
    colour = np.array([0.2, 0.5, 0.7], np.float32)
    x = np.ascontiguousarray(np.broadcast_to(colour, (12, 16, 3)))
    out = demosaic(mosaic(x, pattern), pattern, method)
    assert out.shape == (12, 16, 3) and out.dtype == np.float32
    # cv2 works on 16-bit codes: rounding error 0.5/65535.
    inner = out[2:-2, 2:-2]
    np.testing.assert_allclose(inner, np.broadcast_to(colour, inner.shape), atol=1e-5)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_bilinear_matches_colour_demosaicing(pattern):
    cd = pytest.importorskip("colour_demosaicing")
    m = mosaic(rgb(seed=3), pattern)
    ref = cd.demosaicing_CFA_Bayer_bilinear(m, pattern)
    np.testing.assert_allclose(demosaic(m, pattern, "bilinear"), ref, atol=1e-6)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_cv2_bilinear_honours_the_pattern(pattern):
    """A smooth image: cv2 bilinear agrees with colour-demosaicing bilinear in the interior
    (a wrong Bayer code would swap R and B and fail by far more)."""
    yy, xx = np.mgrid[0:16, 0:20].astype(np.float32)
    x = np.stack([0.2 + xx / 40, 0.3 + yy / 40, 0.9 - xx / 50], -1).astype(np.float32)
    m = mosaic(x, pattern)
    a = demosaic(m, pattern, "cv2_bilinear")[3:-3, 3:-3]
    b = demosaic(m, pattern, "bilinear")[3:-3, 3:-3]
    np.testing.assert_allclose(a, b, atol=1e-4)


def test_metadata_declarations():
    assert get_op("mosaic").meta_out == ("pattern",)
    for name in ("pack_raw", "unpack_raw", "demosaic"):
        assert get_op(name).meta_in == ("pattern",)


def test_errors():
    with pytest.raises(ParameterError, match=r"mosaic: parameter 'pattern' = 'RGBG': expected "
                                             r"one of 'RGGB', 'BGGR', 'GRBG', 'GBRG'"):
        mosaic(rgb(), "RGBG")
    with pytest.raises(ParameterError, match=r"pack_raw: image has shape \(5, 6\): expected an "
                                             r"even height and width"):
        pack_raw(np.zeros((5, 6), np.float32))
    with pytest.raises(ParameterError, match=r"pack_raw: image has shape \(4, 4, 3\): expected "
                                             r"a Bayer mosaic \(H, W\)"):
        pack_raw(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ParameterError, match=r"unpack_raw: image has 3 channels: expected 4"):
        unpack_raw(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ParameterError, match=r"demosaic: parameter 'method' = 'malvar': "
                                             r"expected one of .*did you mean 'malvar2004'"):
        demosaic(np.zeros((4, 4), np.float32), "RGGB", "malvar")
    with pytest.raises(ParameterError, match=r"demosaic: image has shape \(4, 4, 4\)"):
        demosaic(np.zeros((4, 4, 4), np.float32))
