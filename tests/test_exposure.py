"""Exposure, levels, quantisation and channel scaling on RGB, mosaics and packed RAW."""
from __future__ import annotations

import numpy as np
import pytest

from degrade._errors import ParameterError
from degrade._registry import get_op
from degrade.ops import (add_black_level, channel_scale, darken, digital_gain, pack_raw,
                         quantize, saturate, subtract_black_level, unpack_raw)
from degrade.ops.exposure import channel_scale_uniform


def mosaic(shape=(8, 10), seed=0):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def test_darken_then_digital_gain():
    x = mosaic()
    d = darken(x, 8.0)
    np.testing.assert_allclose(d, x / 8, rtol=1e-6)
    np.testing.assert_allclose(digital_gain(d, 8.0), x, rtol=1e-6)
    assert digital_gain(x, 3.0, clip=True).max() == 1.0
    assert get_op("darken").meta_out == ("exposure_ratio",)
    assert get_op("digital_gain").meta_in == ("exposure_ratio",)


def test_saturate():
    x = np.array([[-0.2, 0.5, 1.4]], np.float32)
    assert saturate(x).tolist() == [[0.0, 0.5, 1.0]]
    np.testing.assert_allclose(saturate(x, 0.9, None), [[-0.2, 0.5, 0.9]])


@pytest.mark.parametrize("black", [64, [64, 60, 62], [60, 61, 62, 63]])
def test_black_level_add_and_subtract_are_inverse(black):
    x = mosaic()
    b = np.broadcast_to(np.asarray(black, np.float64), (3,)) if np.ndim(black) == 0 or len(
        np.atleast_1d(black)) == 3 else None
    y = add_black_level(x, black, 1023, pattern="BGGR")
    if b is not None:  # per R, G, B: BGGR has B at (0, 0), R at (1, 1)
        np.testing.assert_allclose(y[0::2, 0::2], (x[0::2, 0::2] * (1023 - b[2]) + b[2]) / 1023,
                                   rtol=1e-6)
        np.testing.assert_allclose(y[1::2, 1::2], (x[1::2, 1::2] * (1023 - b[0]) + b[0]) / 1023,
                                   rtol=1e-6)
    else:  # per CFA position in reading order
        np.testing.assert_allclose(y[0::2, 1::2], (x[0::2, 1::2] * (1023 - 61) + 61) / 1023,
                                   rtol=1e-6)
    np.testing.assert_allclose(subtract_black_level(y, black, 1023, pattern="BGGR"), x,
                               atol=1e-6)


def test_black_level_on_packed_matches_mosaic():
    x = mosaic()
    a = pack_raw(add_black_level(x, [10, 20, 30, 40], 4095, pattern="GRBG"), "GRBG")
    b = add_black_level(pack_raw(x, "GRBG"), [10, 20, 30, 40], 4095, pattern="GRBG")
    np.testing.assert_allclose(a, b, rtol=1e-6)


@pytest.mark.parametrize("bits", [10, 12, 14, 16])
def test_quantize_lands_on_the_code_grid(bits):
    black, white = 64.0, 2.0 ** bits - 1 - 100
    x = np.linspace(-0.05, 1.05, 500, dtype=np.float32).reshape(20, 25)
    y = quantize(x, bits, black, white).astype(np.float64)
    codes = y * (white - black) + black
    np.testing.assert_allclose(codes, np.round(codes), atol=1e-3 * 2 ** (bits - 10))
    ref = np.clip(np.rint(x.astype(np.float64) * (white - black) + black), 0, 2 ** bits - 1)
    np.testing.assert_allclose(y, (ref - black) / (white - black), atol=1e-7)
    # the step is one code; the error at most half a code
    inside = (ref > 0) & (ref < 2 ** bits - 1)
    assert np.abs(y - x)[inside].max() <= 0.5 / (white - black) + 1e-7


def test_quantize_per_channel_black_levels_on_every_layout():
    """Per-CFA-position (4) and per-colour (3) black levels: each site or channel is
    quantised exactly as the scalar op does with its own black level; mosaic, packed and RGB
    agree."""
    rng = np.random.default_rng(4)
    x = rng.uniform(-0.02, 1.02, (8, 10)).astype(np.float32)
    black, white = [60.0, 64.0, 62.0, 66.0], 1000.0
    got = quantize(x, 10, black, white, pattern="GRBG")
    for k, (dy, dx) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        np.testing.assert_array_equal(got[dy::2, dx::2],
                                      quantize(x[dy::2, dx::2], 10, black[k], white))
    packed = quantize(pack_raw(x, "GRBG"), 10, black, white, pattern="GRBG")
    np.testing.assert_array_equal(unpack_raw(packed, "GRBG"), got)
    rgb_black = [60.0, 64.0, 66.0]                         # GRBG: G R / B G
    by_colour = quantize(x, 10, rgb_black, white, pattern="GRBG")
    np.testing.assert_array_equal(by_colour, quantize(x, 10, [64, 60, 66, 64], white,
                                                      pattern="GRBG"))
    rgb = rng.random((4, 5, 3), dtype=np.float32)
    per_channel = quantize(rgb, 12, [10, 20, 30])
    for c, b in enumerate([10, 20, 30]):
        np.testing.assert_array_equal(per_channel[..., c], quantize(rgb[..., c], 12, b))
    with pytest.raises(ParameterError, match=r"quantize: a mosaic or packed RAW image of shape "
                                             r"\(8, 10\) needs parameter 'pattern'"):
        quantize(x, 10, black, white)


def test_quantize_default_white_is_full_scale():
    y = quantize(np.full((2, 2), 0.5, np.float32), 10)
    assert y[0, 0] * 1023 == pytest.approx(512, abs=1e-3)


def test_channel_scale_rgb_mosaic_packed_agree():
    rng = np.random.default_rng(1)
    rgb = rng.random((6, 8, 3), dtype=np.float32)
    s = [0.8, 1.0, 1.2]
    np.testing.assert_allclose(channel_scale(rgb, s), rgb * np.float32(s), rtol=1e-6)
    x = mosaic()
    a = pack_raw(channel_scale(x, s, pattern="RGGB"), "RGGB")
    b = channel_scale(pack_raw(x, "RGGB"), s, pattern="RGGB")
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(b[..., 0], x[0::2, 0::2] * 0.8, rtol=1e-6)
    np.testing.assert_allclose(b[..., 3], x[1::2, 1::2] * 1.2, rtol=1e-6)


def test_channel_scale_uniform_sampler():
    draws = np.array([channel_scale_uniform(np.random.default_rng(s))["scale"]
                      for s in range(300)])
    assert draws.shape == (300, 3) and draws.min() >= 0.8 and draws.max() <= 1.2
    # U(0.8, 1.2) has std 0.4/sqrt(12); the mean of 900 draws is within 5 standard errors.
    assert abs(draws.mean() - 1.0) < 5 * 0.4 / np.sqrt(12) / np.sqrt(900)


def test_errors():
    x = mosaic()
    with pytest.raises(ParameterError, match=r"darken: parameter 'exposure_ratio' = 0.5: "
                                             r"expected 1.0 <= exposure_ratio"):
        darken(x, 0.5)
    with pytest.raises(ParameterError, match=r"quantize: parameter 'bit_depth' = 11: expected "
                                             r"one of 8, 10, 12, 14, 16"):
        quantize(x, 11)
    with pytest.raises(ParameterError, match=r"quantize: parameter 'black' = 2000: expected "
                                             r"black < white"):
        quantize(x, 12, 2000, 1000)
    with pytest.raises(ParameterError, match=r"add_black_level: parameter 'black' = \[1, 2\]: "
                                             r"expected a number or a list of 1 or 3 or 4"):
        add_black_level(x, [1, 2], 1023, pattern="RGGB")
    with pytest.raises(ParameterError, match=r"subtract_black_level: 4 per-CFA-position values "
                                             r"need a mosaic"):
        subtract_black_level(np.zeros((2, 2, 3), np.float32), [1, 2, 3, 4], 1023)
    with pytest.raises(ParameterError, match=r"channel_scale: a mosaic or packed RAW image of "
                                             r"shape \(8, 10\) needs parameter 'pattern'"):
        channel_scale(x, [1, 1, 1])
    with pytest.raises(ParameterError, match=r"channel_scale: parameter 'scale' = -1.0: "
                                             r"expected 0 <= scale"):
        channel_scale(x, [1, -1.0, 1], pattern="RGGB")
    with pytest.raises(ParameterError, match=r"saturate: parameter 'black' = 2.0: expected "
                                             r"black <= 1.0"):
        saturate(x, 1.0, 2.0)
