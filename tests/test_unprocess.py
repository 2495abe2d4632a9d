"""Fused Brooks 2019 unprocessing against the op-by-op chain; the forward process."""
from __future__ import annotations

import numpy as np
import pytest

from degrade._cfa import PATTERNS
from degrade._errors import ParameterError
from degrade._registry import get_op
from degrade.ops import (gamma_expand, inverse_smoothstep, mosaic, process_brooks2019,
                         remove_ccm, remove_wb_gains, unprocess_brooks2019)
from degrade.ops.unprocess import FUSED_TOLERANCE, brooks2019_unprocess


def op_by_op(x, p):
    cam = remove_ccm(gamma_expand(inverse_smoothstep(x)), p["ccm"])
    return mosaic(remove_wb_gains(cam, p["red_gain"], p["blue_gain"], p["rgb_gain"]),
                  p["pattern"])


def test_lut_interpolation_error_is_inside_the_stated_tolerance():
    """Dense sweep of the tone+gamma step (a gray image, camera = sRGB): [0, 1] at 1e-5
    steps plus geometric sweeps into both ends, where the curve is singular in x."""
    x = np.concatenate([np.linspace(0, 1, 100_002), np.geomspace(1e-12, 1e-2, 3000),
                        1 - np.geomspace(1e-8, 1e-2, 3000)]).astype(np.float32)
    img = np.ascontiguousarray(np.repeat(x, 3).reshape(1, -1, 3))
    p = {"ccm": np.linalg.inv(np.array([[0.4124564, 0.3575761, 0.1804375],
                                        [0.2126729, 0.7151522, 0.0721750],
                                        [0.0193339, 0.1191920, 0.9503041]])).tolist(),
         "rgb_gain": 1.0, "red_gain": 1.0, "blue_gain": 1.0, "pattern": "RGGB"}
    err = np.abs(unprocess_brooks2019(img, **p).astype(np.float64) - op_by_op(img, p))
    assert err.max() < FUSED_TOLERANCE


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("shape", [(24, 32, 3), (7, 9, 3)])
def test_fused_equals_op_by_op(pattern, shape):
    rng = np.random.default_rng(PATTERNS.index(pattern))
    x = rng.random(shape, dtype=np.float32)
    x[0, :4] = [1.0, 0.99, 0.995]   # highlights (protection active, exact top end)
    x[1, :3] = 0.0                  # black (exact bottom end)
    p = dict(brooks2019_unprocess(rng), pattern=pattern)
    fused = unprocess_brooks2019(x, **p)
    assert fused.shape == shape[:2] and fused.dtype == np.float32
    np.testing.assert_allclose(fused, op_by_op(x, p), atol=FUSED_TOLERANCE, rtol=0)


def test_process_inverts_unprocess_on_smooth_content():
    """Bilinear demosaicking is exact on a constant colour, so the whole chain round-trips
    (interior pixels, away from clipping)."""
    rng = np.random.default_rng(2)
    p = dict(brooks2019_unprocess(rng), pattern="GRBG")
    colour = np.array([0.35, 0.55, 0.45], np.float32)
    x = np.ascontiguousarray(np.broadcast_to(colour, (10, 12, 3)))
    back = process_brooks2019(unprocess_brooks2019(x, **p), **p)
    np.testing.assert_allclose(back[2:-2, 2:-2], np.broadcast_to(colour, (6, 8, 3)), atol=1e-5)
    no_tone = process_brooks2019(unprocess_brooks2019(x, **p), **p, tone=False)
    assert not np.allclose(no_tone, back, atol=1e-3)


def test_sampler_and_metadata():
    p = brooks2019_unprocess(np.random.default_rng(0))
    assert set(p) == {"ccm", "rgb_gain", "red_gain", "blue_gain", "pattern"}
    spec = get_op("unprocess_brooks2019")
    assert set(spec.meta_out) == set(p) and spec.domain_in == ("srgb",)
    assert spec.domain_out == "raw"
    assert set(get_op("process_brooks2019").meta_in) == set(p)


def test_errors():
    p = brooks2019_unprocess(np.random.default_rng(0))
    x = np.zeros((4, 4, 3), np.float32)
    with pytest.raises(ParameterError, match=r"unprocess_brooks2019: parameter 'rgb_gain' = "
                                             r"-1.0: expected 0 < rgb_gain"):
        unprocess_brooks2019(x, **{**p, "rgb_gain": -1.0})
    with pytest.raises(ParameterError, match=r"unprocess_brooks2019: parameter 'pattern' = "
                                             r"'XYZW'"):
        unprocess_brooks2019(x, **{**p, "pattern": "XYZW"})
    with pytest.raises(ParameterError, match=r"unprocess_brooks2019: image has shape \(4, 4\)"):
        unprocess_brooks2019(np.zeros((4, 4), np.float32), **p)
    with pytest.raises(ParameterError, match=r"process_brooks2019: image has shape "
                                             r"\(4, 4, 3\): expected a Bayer mosaic"):
        process_brooks2019(x, **p)
