"""Canny edge-masked blur (NJUST-KMG) and the bilateral filter (NulltoZero)."""
from __future__ import annotations


import cv2
import numpy as np
import pytest

from degrade import ops
from degrade._errors import ParameterError
from degrade.ops.edges import canny_mask
from naive import bilateral_reference


@pytest.fixture
def shapes():
    """A dark background with a bright disc and a mid-gray square: clear edges, flat areas."""
    yy, xx = np.mgrid[0:64, 0:64]
    img = np.full((64, 64, 3), 0.1, np.float32)
    img[(yy - 20) ** 2 + (xx - 20) ** 2 < 100] = 0.9
    img[38:56, 34:58] = [0.5, 0.3, 0.7]
    return img


def test_blend_formula(shapes):
    out = ops.edge_masked_blur(shapes, 1.5, low_threshold=50, high_threshold=150, dilate=1,
                               feather=0.8)
    m = canny_mask(shapes, 50, 150, 1, 0.8)[..., None]
    want = ops.gaussian_blur(shapes, 1.5) * m + shapes * (1 - m)
    assert np.abs(out - want).max() < 1e-6


def test_hard_mask_regions(shapes):
    out = ops.edge_masked_blur(shapes, 2.0)
    m = canny_mask(shapes, 100, 200)
    assert set(np.unique(m)) == {0.0, 1.0}
    assert np.array_equal(out[m == 0], shapes[m == 0])           # flat areas untouched
    blurred = ops.gaussian_blur(shapes, 2.0)
    assert np.abs(out[m == 1] - blurred[m == 1]).max() < 1e-6    # edges fully blurred


def test_mask_is_canny_of_the_8bit_luma(shapes):
    gray = cv2.cvtColor(np.rint(shapes * 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(gray, 100, 200)
    assert np.array_equal(canny_mask(shapes, 100, 200), (edges > 0).astype(np.float32))


def test_dilation_grows_and_feather_softens(shapes):
    hard = canny_mask(shapes, 100, 200)
    grown = canny_mask(shapes, 100, 200, dilate=2)
    assert grown.sum() > hard.sum() and (grown >= hard).all()
    soft = canny_mask(shapes, 100, 200, feather=1.0)
    assert ((soft > 0) & (soft < 1)).any() and soft.min() >= 0 and soft.max() <= 1


def test_no_edges_no_change():
    x = np.full((32, 32, 3), 0.4, np.float32)
    assert np.array_equal(ops.edge_masked_blur(x, 2.0), x)


@pytest.mark.parametrize("kwargs, message", [
    ({"sigma": 1.0, "low_threshold": 200, "high_threshold": 100}, "'low_threshold' = 200.0"),
    ({"sigma": 1.0, "dilate": -1}, "'dilate' = -1"),
    ({"sigma": 1.0, "feather": -0.5}, "'feather' = -0.5"),
    ({"sigma": 0.0}, "'sigma_x' = 0.0"),
])
def test_edge_masked_blur_errors(shapes, kwargs, message):
    with pytest.raises(ParameterError) as err:
        ops.edge_masked_blur(shapes, **kwargs)
    assert message in str(err.value)


def test_bilateral_equals_reference(shapes):
    rng = np.random.default_rng(0)
    x = np.clip(shapes + rng.normal(0, 0.03, shapes.shape), 0, 1).astype(np.float32)
    got = ops.bilateral_filter(x, 7, 40, 3.0)
    want = bilateral_reference(x, 7, 40 / 255, 3.0)
    # OpenCV reads the range weight from a linearly interpolated exp table
    assert np.abs(got - want).max() < 2e-3
    assert np.abs(got - want).mean() < 1e-4


def test_bilateral_preserves_edges_better_than_gaussian(shapes):
    bil = ops.bilateral_filter(shapes, 9, 20, 4.0)
    gau = ops.gaussian_blur(shapes, 4.0, ksize=9)
    assert np.abs(bil - shapes).mean() < 0.2 * np.abs(gau - shapes).mean()


def test_bilateral_errors(shapes):
    with pytest.raises(ParameterError, match="bilateral_filter: parameter 'sigma_color' = 0"):
        ops.bilateral_filter(shapes, 5, 0, 3.0)
    with pytest.raises(ParameterError, match="bilateral_filter: parameter 'sigma_space' = -1"):
        ops.bilateral_filter(shapes, 5, 10, -1.0)
