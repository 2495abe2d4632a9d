"""usm_sharpen against the dense 51x51 formula of basicsr's USMSharp (reference R3)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from degrade import ops
from degrade._errors import ParameterError


def dense_usm(img, weight=0.5, threshold=10, ksize=51):
    """Straight from R3: a dense ksize² kernel, reflect-101, in float64."""
    g = cv2.getGaussianKernel(ksize, 0).astype(np.float64)
    kernel = g @ g.T
    r = ksize // 2
    def filt(x):
        pad = np.pad(x, ((r, r), (r, r), (0, 0)), mode="reflect")
        out = np.zeros(x.shape)
        for i in range(ksize):
            for j in range(ksize):
                out += kernel[i, j] * pad[i:i + x.shape[0], j:j + x.shape[1]]
        return out
    x = img.astype(np.float64)
    blur = filt(x)
    res = x - blur
    mask = (np.abs(res) * 255 > threshold).astype(np.float64)
    soft = filt(mask)
    sharp = np.clip(x + weight * res, 0, 1)
    return soft * sharp + (1 - soft) * x


@pytest.fixture
def textured():
    rng = np.random.default_rng(3)
    img = cv2.GaussianBlur(rng.random((60, 64, 3), dtype=np.float32), (0, 0), 1.5)
    return np.ascontiguousarray(img)


def test_usm_equals_dense_formula(textured):
    got = ops.usm_sharpen(textured)
    want = dense_usm(textured)
    assert got.dtype == np.float32 and got.shape == textured.shape
    assert np.abs(got - want).max() < 1e-6


def test_usm_other_parameters(textured):
    got = ops.usm_sharpen(textured, amount=1.0, threshold=3.0, ksize=21)
    assert np.abs(got - dense_usm(textured, 1.0, 3.0, 21)).max() < 1e-6


def test_usm_sigma_default_is_opencv_rule():
    # σ = 0.3((k-1)/2 - 1) + 0.8 = 8 for k = 51
    from degrade.ops.sharpen import opencv_gaussian_1d
    g = opencv_gaussian_1d(51)
    x = np.arange(51) - 25.0
    want = np.exp(-x * x / (2 * 8.0 ** 2))
    assert np.allclose(g, want / want.sum(), atol=1e-12)


def test_usm_flat_image_unchanged():
    x = np.full((40, 40, 3), 0.3, np.float32)
    assert np.abs(ops.usm_sharpen(x) - 0.3).max() < 1e-6


def test_usm_below_threshold_is_identity():
    # a residual below 10/255 everywhere gives an all-zero mask: output = input
    yy = np.linspace(0, 0.01, 40, dtype=np.float32)
    x = np.ascontiguousarray(np.repeat(np.repeat(yy[:, None, None], 40, 1), 3, 2))
    assert np.array_equal(ops.usm_sharpen(x), x)


@pytest.mark.parametrize("kwargs, message", [
    ({"amount": -1.0}, "parameter 'amount' = -1.0"),
    ({"ksize": 50}, "parameter 'ksize' = 50: expected an odd size"),
    ({"threshold": -2.0}, "parameter 'threshold' = -2.0"),
])
def test_usm_errors(kwargs, message, rgb):
    with pytest.raises(ParameterError, match="usm_sharpen") as err:
        ops.usm_sharpen(rgb, **kwargs)
    assert message in str(err.value)
