"""CCM and white-balance ops, their Brooks 2019 samplers and the unprocess/process round trip."""
from __future__ import annotations

import numpy as np
import pytest

from degrade._errors import ParameterError
from degrade._registry import get_op, get_sampler
from degrade.ops import (apply_ccm, apply_wb_gains, gamma_compress, gamma_expand,
                         inverse_smoothstep, remove_ccm, remove_wb_gains, smoothstep)
from degrade.ops.color import (BROOKS2019_XYZ2CAMS, RGB2XYZ, brooks2019_ccm,
                               brooks2019_wb_gains, camera_to_rgb_matrix, rgb_to_camera_matrix)
from naive import numpy_safe_gains

CCM = BROOKS2019_XYZ2CAMS[2].tolist()


def image(seed=0, shape=(16, 12, 3), high=1.0):
    return np.random.default_rng(seed).uniform(0, high, shape).astype(np.float32)


def numpy_rgb2cam(xyz2cam):
    m = np.asarray(xyz2cam) @ RGB2XYZ
    return m / m.sum(axis=1, keepdims=True)


def test_remove_and_apply_ccm_match_numpy():
    x = image()
    m = numpy_rgb2cam(CCM)
    np.testing.assert_allclose(remove_ccm(x, CCM), x @ m.T, atol=1e-6)
    np.testing.assert_allclose(apply_ccm(x, CCM), x @ np.linalg.inv(m).T, atol=1e-6)
    assert np.allclose(rgb_to_camera_matrix(CCM).sum(axis=1), 1)  # gray stays gray
    np.testing.assert_allclose(camera_to_rgb_matrix(CCM) @ rgb_to_camera_matrix(CCM),
                               np.eye(3), atol=1e-12)


def test_apply_ccm_clip():
    x = image(high=1.0)
    out = apply_ccm(x, CCM, clip=True)
    assert out.min() >= 0 and out.max() <= 1
    assert apply_ccm(x, CCM).min() < 0  # the same matrix without clip leaves [0, 1]


def test_remove_wb_gains_matches_safe_invert_gains():
    x = image(1, high=1.0)
    x[0, :4] = [0.97, 0.95, 0.99]  # highlights, where protection acts
    g = 1 / np.array([2.2, 1, 1.6]) / 1.3
    ref = np.clip(numpy_safe_gains(x, g), 0, 1)
    np.testing.assert_allclose(remove_wb_gains(x, 2.2, 1.6, 1.3), ref, atol=2e-7)
    plain = np.clip(x.astype(np.float64) * g, 0, 1)
    np.testing.assert_allclose(remove_wb_gains(x, 2.2, 1.6, 1.3, protect_highlights=False),
                               plain, atol=2e-7)
    # Protected highlights are scaled less than plain division.
    assert (remove_wb_gains(x, 2.2, 1.6, 1.3)[0, :4] > plain[0, :4] + 1e-3).any()


def test_apply_wb_gains_rgb_mosaic_and_packed():
    x = image(2)
    np.testing.assert_allclose(apply_wb_gains(x, 2.0, 1.5, 1.2),
                               x * np.array([2.4, 1.2, 1.8], np.float32), rtol=1e-6)
    mosaic = image(3, (4, 6))
    out = apply_wb_gains(mosaic, 2.0, 1.5, pattern="GBRG")
    expect = mosaic.copy()
    expect[0::2, 1::2] *= 1.5   # GBRG: B at (0, 1)
    expect[1::2, 0::2] *= 2.0   # R at (1, 0)
    np.testing.assert_allclose(out, expect, rtol=1e-6)
    packed = np.ascontiguousarray(np.stack([mosaic[0::2, 0::2], mosaic[0::2, 1::2],
                                            mosaic[1::2, 0::2], mosaic[1::2, 1::2]], -1))
    out4 = apply_wb_gains(packed, 2.0, 1.5, pattern="GBRG")
    np.testing.assert_allclose(out4[..., 1], expect[0::2, 1::2], rtol=1e-6)
    np.testing.assert_allclose(out4[..., 2], expect[1::2, 0::2], rtol=1e-6)


def test_unprocess_then_process_round_trips_away_from_highlights():
    """Issue 3: unprocess -> process recovers the input to < 1e-5 where nothing clipped."""
    rng = np.random.default_rng(4)
    x = rng.uniform(0.02, 0.98, (32, 32, 3)).astype(np.float32)
    p = get_sampler("brooks2019_unprocess").function(rng)
    cam = remove_ccm(gamma_expand(inverse_smoothstep(x)), p["ccm"])
    raw = remove_wb_gains(cam, p["red_gain"], p["blue_gain"], p["rgb_gain"])
    back = smoothstep(gamma_compress(apply_ccm(
        apply_wb_gains(raw, p["red_gain"], p["blue_gain"], p["rgb_gain"]), p["ccm"])))
    unclipped = ((cam > 0) & (cam < 1)).all(-1) & (cam.mean(-1) <= 0.9)
    unclipped &= ((raw > 0) & (raw < 1)).all(-1)
    assert unclipped.mean() > 0.5
    assert np.abs(back - x)[unclipped].max() < 1e-5


def test_brooks2019_ccm_is_the_weighted_mix():
    p = brooks2019_ccm(np.random.default_rng(7))
    w = np.random.default_rng(7).uniform(1e-8, 1e8, 4)
    np.testing.assert_allclose(p["ccm"], np.einsum("i,ijk->jk", w, BROOKS2019_XYZ2CAMS) / w.sum())
    lo, hi = BROOKS2019_XYZ2CAMS.min(0), BROOKS2019_XYZ2CAMS.max(0)
    assert ((np.array(p["ccm"]) >= lo - 1e-12) & (np.array(p["ccm"]) <= hi + 1e-12)).all()
    assert "remove_ccm" in get_sampler("brooks2019_ccm").ops


def test_brooks2019_wb_gains_ranges_and_order():
    draws = [brooks2019_wb_gains(np.random.default_rng(s)) for s in range(200)]
    red = np.array([d["red_gain"] for d in draws])
    blue = np.array([d["blue_gain"] for d in draws])
    inv_rgb = 1 / np.array([d["rgb_gain"] for d in draws])
    assert red.min() >= 1.9 and red.max() <= 2.4 and blue.min() >= 1.5 and blue.max() <= 1.9
    # 1/rgb_gain ~ N(0.8, 0.1): the mean of 200 is within 5 standard errors (0.1/sqrt(200)).
    assert abs(inv_rgb.mean() - 0.8) < 5 * 0.1 / np.sqrt(200)
    r = np.random.default_rng(3)
    expect = (1 / r.normal(0.8, 0.1), r.uniform(1.9, 2.4), r.uniform(1.5, 1.9))
    d = brooks2019_wb_gains(np.random.default_rng(3))
    assert (d["rgb_gain"], d["red_gain"], d["blue_gain"]) == expect


def test_metadata_declarations():
    assert get_op("remove_ccm").meta_out == ("ccm",)
    assert get_op("apply_ccm").meta_in == ("ccm",)
    assert set(get_op("apply_wb_gains").meta_in) == {"red_gain", "blue_gain", "rgb_gain",
                                                     "pattern"}


def test_errors():
    x = image()
    with pytest.raises(ParameterError, match=r"remove_ccm: parameter 'ccm' = \[\[1, 0\]\]: "
                                             r"expected a 3x3 XYZ -> camera matrix"):
        remove_ccm(x, [[1, 0]])
    with pytest.raises(ParameterError, match=r"apply_ccm: parameter 'ccm' .* sums to 0"):
        apply_ccm(x, np.linalg.inv(RGB2XYZ) * [[1], [0], [1]])
    with pytest.raises(ParameterError, match=r"remove_wb_gains: parameter 'red_gain' = 0.0: "
                                             r"expected 0 < red_gain"):
        remove_wb_gains(x, 0.0, 1.5)
    with pytest.raises(ParameterError, match=r"apply_wb_gains: a mosaic or packed RAW image "
                                             r"of shape \(4, 4\) needs parameter 'pattern'"):
        apply_wb_gains(np.zeros((4, 4), np.float32), 2.0, 1.5)
    with pytest.raises(ParameterError, match=r"remove_wb_gains: image has shape \(4, 4\)"):
        remove_wb_gains(np.zeros((4, 4), np.float32), 2.0, 1.5)
    with pytest.raises(ParameterError, match=r"brooks2019_wb_gains: parameter 'red_range'"):
        brooks2019_wb_gains(np.random.default_rng(0), red_range=[1.0])
