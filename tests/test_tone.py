"""Tone curve and gamma ops against plain-numpy formulas and colour-science."""
from __future__ import annotations

import numpy as np
import pytest

from degrade._errors import ParameterError
from degrade.ops import gamma_compress, gamma_expand, inverse_smoothstep, smoothstep

# Values span [0, 1] densely plus out-of-range ones (clipped by the tone curve).
X = np.linspace(-0.1, 1.1, 243, dtype=np.float32).reshape(1, -1, 3)
F32 = 2e-7  # float64 math rounded once to float32: half an ulp at 1 is 6e-8


def test_inverse_smoothstep_formula():
    c = np.clip(X.astype(np.float64), 0, 1)
    ref = 0.5 - np.sin(np.arcsin(1 - 2 * c) / 3)
    np.testing.assert_allclose(inverse_smoothstep(X), ref, atol=F32)


def test_smoothstep_formula_and_inverse():
    c = np.clip(X.astype(np.float64), 0, 1)
    np.testing.assert_allclose(smoothstep(X), 3 * c**2 - 2 * c**3, atol=F32)
    # smoothstep(inverse_smoothstep(x)) = x on [0, 1]; the inverse's slope is unbounded at
    # the ends (sqrt-like), so float32 rounding of the middle value costs up to ~1e-6 there.
    np.testing.assert_allclose(smoothstep(inverse_smoothstep(X)), c, atol=2e-6)


def test_power_gamma_is_brooks_formula():
    ref = np.maximum(X.astype(np.float64), 1e-8) ** 2.2
    np.testing.assert_allclose(gamma_expand(X), ref, rtol=1e-6, atol=F32)
    ref = np.maximum(X.astype(np.float64), 1e-8) ** (1 / 2.4)
    np.testing.assert_allclose(gamma_compress(X, "power", 2.4), ref, rtol=1e-6, atol=F32)


def test_srgb_curves_match_colour_science():
    colour = pytest.importorskip("colour")
    x = X.astype(np.float64)
    np.testing.assert_allclose(gamma_expand(X, "srgb"), colour.models.eotf_sRGB(x),
                               rtol=1e-6, atol=F32)
    np.testing.assert_allclose(gamma_compress(X, "srgb"), colour.models.eotf_inverse_sRGB(x),
                               rtol=1e-6, atol=F32)


@pytest.mark.parametrize("curve", ["power", "srgb"])
def test_gamma_round_trip(curve):
    x = np.linspace(0.01, 1, 300, dtype=np.float32).reshape(10, 10, 3)
    np.testing.assert_allclose(gamma_compress(gamma_expand(x, curve), curve), x, atol=1e-6)


def test_any_layout_keeps_shape():
    mosaic = np.full((6, 8), 0.25, np.float32)
    assert gamma_expand(mosaic).shape == (6, 8)
    assert smoothstep(np.zeros((2, 2, 4), np.float32)).shape == (2, 2, 4)


def test_errors_name_op_parameter_and_value():
    with pytest.raises(ParameterError, match=r"gamma_expand: parameter 'curve' = 'rec709'"):
        gamma_expand(X, "rec709")
    with pytest.raises(ParameterError, match=r"gamma_compress: parameter 'gamma' = 0.0: "
                                             r"expected 0 < gamma"):
        gamma_compress(X, "power", 0.0)
    with pytest.raises(ParameterError, match=r"smoothstep: image contains NaN"):
        smoothstep(np.full((2, 2, 3), np.nan, np.float32))
    with pytest.raises(ParameterError, match=r"inverse_smoothstep: image must be a numpy array"):
        inverse_smoothstep([[0.5]])
