"""Foundation ops against plain numpy/scipy references, plus their error messages."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from scipy import ndimage

from degrade import ParameterError
from degrade.ops import crop, flip_rot, gaussian_blur, gaussian_noise, jpeg, resize
from degrade.ops.psf import gaussian_psf
from naive import reference_gaussian_psf


# -- crop / flip_rot ----------------------------------------------------------------------------
def test_crop_matches_slicing(rgb):
    assert np.array_equal(crop(rgb, [10, 7], y=4, x=9), rgb[4:14, 9:16])
    assert np.array_equal(crop(rgb, 20), rgb[14:34, 10:30])        # centred


def test_crop_checks_only_the_window_for_nan(rgb):
    bad = rgb.copy()
    bad[0, 0, 0] = np.nan
    assert np.array_equal(crop(bad, 10, y=20, x=20), rgb[20:30, 20:30])
    with pytest.raises(ParameterError, match="crop: image contains NaN or infinite values"):
        crop(bad, 10, y=0, x=0)


def test_crop_errors(rgb):
    with pytest.raises(ParameterError, match=r"crop: image of 48x40 is smaller than the crop size 64x64"):
        crop(rgb, 64)
    with pytest.raises(ParameterError, match=r"crop: parameter 'y' = 40: expected 0 <= y <= 38"):
        crop(rgb, 10, y=40)
    with pytest.raises(ParameterError, match=r"crop: parameter 'size' = 'big': expected an integer"):
        crop(rgb, "big")


@pytest.mark.parametrize("hflip,vflip,k", [(True, False, 0), (False, True, 1), (True, True, 3)])
def test_flip_rot_matches_numpy(rgb, hflip, vflip, k):
    ref = rgb[:, ::-1] if hflip else rgb
    ref = ref[::-1] if vflip else ref
    assert np.array_equal(flip_rot(rgb, hflip, vflip, k), np.rot90(ref, k))


def test_flip_rot_rejects_bad_rotation(rgb):
    with pytest.raises(ParameterError, match=r"flip_rot: parameter 'rot90' = 4: expected 0 <= rot90 <= 3"):
        flip_rot(rgb, rot90=4)


@pytest.mark.parametrize("sx,sy,theta,k", [(1.0, 1.0, 0.0, 7), (2.5, 0.8, 0.6, 21), (0.3, 3.0, -2.0, 15)])
def test_gaussian_psf_equals_formula(sx, sy, theta, k):
    np.testing.assert_allclose(gaussian_psf(sx, sy, theta, k), reference_gaussian_psf(sx, sy, theta, k),
                               rtol=0, atol=1e-12)


def test_gaussian_psf_second_moments_are_the_covariance():
    sx, sy, theta = 2.0, 1.0, 0.4
    k = gaussian_psf(sx, sy, theta, 41)        # ±10σ: truncation is negligible
    grid = np.arange(41) - 20.0
    xx, yy = np.meshgrid(grid, grid)
    cov = np.array([[np.sum(k * xx * xx), np.sum(k * xx * yy)], [np.sum(k * xx * yy), np.sum(k * yy * yy)]])
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    np.testing.assert_allclose(cov, rot @ np.diag([sx**2, sy**2]) @ rot.T, atol=1e-9)


@pytest.mark.parametrize("sx,sy,theta", [(1.5, None, 0.0), (2.0, 0.7, 0.0), (2.0, 0.7, math.pi / 2),
                                         (2.0, 0.7, 0.9)])
def test_gaussian_blur_equals_scipy_convolution(rgb, sx, sy, theta):
    k = gaussian_psf(sx, sy, theta, 13)
    ref = np.stack([ndimage.convolve(rgb[..., c].astype(np.float64), k, mode="mirror")
                    for c in range(3)], -1)          # scipy 'mirror' == reflect-101
    out = gaussian_blur(rgb, sx, sy, theta, ksize=13)
    np.testing.assert_allclose(out, ref, atol=2e-6)


def test_gaussian_blur_errors(rgb):
    with pytest.raises(ParameterError, match=r"gaussian_blur: parameter 'sigma_x' = -1.0: expected 0 < sigma_x"):
        gaussian_blur(rgb, -1.0)
    with pytest.raises(ParameterError, match=r"gaussian_blur: parameter 'ksize' = 4: expected an odd size"):
        gaussian_blur(rgb, 1.0, ksize=4)
    with pytest.raises(ParameterError, match=r"gaussian_blur: mosaic has shape \(47, 40\): expected an even "
                                             r"height and width"):
        gaussian_blur(rgb[:47, :, 0], 1.0)
    with pytest.raises(ParameterError, match=r"gaussian_blur: image has 2 channels: expected 3 or 4"):
        gaussian_blur(rgb[..., :2], 1.0)


# -- blur on RAW: per CFA plane with the same-colour taps ----------------------------------------
def test_mosaic_blur_equals_per_plane_reference(rgb):
    from degrade.ops import psf_blur

    mosaic = rgb[..., 1].copy()
    k = gaussian_psf(1.6, 0.8, 0.7, 9)                 # centre 4: same-colour taps at even offsets
    sub = k[0::2, 0::2] / k[0::2, 0::2].sum()
    out = gaussian_blur(mosaic, 1.6, 0.8, 0.7, ksize=9)
    for a in (0, 1):
        for b in (0, 1):
            plane = mosaic[a::2, b::2].astype(np.float64)
            ref = ndimage.convolve(plane, sub, mode="mirror")
            np.testing.assert_allclose(out[a::2, b::2], ref, atol=2e-6)
    packed = np.stack([mosaic[a::2, b::2] for a in (0, 1) for b in (0, 1)], -1)
    np.testing.assert_allclose(psf_blur(packed, "aniso", 9, 1.6, 0.8, 0.7),
                               np.stack([out[a::2, b::2] for a in (0, 1) for b in (0, 1)], -1),
                               atol=1e-6)


def test_mosaic_blur_never_mixes_colours():
    from degrade.ops import mosaic as make_mosaic, psf_blur

    flat = np.empty((32, 32, 3), np.float32)
    flat[...] = (0.8, 0.3, 0.1)
    m = make_mosaic(flat, "GRBG")
    np.testing.assert_allclose(gaussian_blur(m, 2.0), m, atol=1e-6)
    np.testing.assert_allclose(psf_blur(m, "sinc", 13, omega_c=1.2), m, atol=1e-5)
    # the same kernel applied across colours would smear red into green:
    assert np.abs(ndimage.convolve(m, gaussian_psf(2.0, None, 0, 13), mode="mirror") - m).max() > 0.1


# -- resize ---------------------------------------------------------------------------------------
def test_resize_area_half_is_the_2x2_mean(rgb):
    ref = rgb.reshape(24, 2, 20, 2, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(resize(rgb, scale=0.5, mode="area"), ref, atol=1e-6)


def test_resize_sizes_follow_floor_and_target(rgb):
    assert resize(rgb, scale=0.3, mode="bilinear").shape == (14, 12, 3)      # floor(48*.3), floor(40*.3)
    assert resize(rgb, size=[10, 20]).shape == (10, 20, 3)
    out = resize(rgb, scale=0.25, relative_to="target", target_size=[96, 80], mode="bicubic")
    assert out.shape == (24, 20, 3)


def test_resize_bicubic_matches_cv2(rgb):
    ref = cv2.resize(rgb, (33, 29), interpolation=cv2.INTER_CUBIC)
    assert np.array_equal(resize(rgb, size=[29, 33], mode="bicubic"), ref)


def test_resize_errors(rgb):
    with pytest.raises(ParameterError, match="give exactly one of 'scale' and 'size'"):
        resize(rgb)
    with pytest.raises(ParameterError, match=r"parameter 'mode' = 'cubic': expected one of .*did you mean 'bicubic'"):
        resize(rgb, scale=0.5, mode="cubic")
    with pytest.raises(ParameterError, match="makes a 48x40 image empty"):
        resize(rgb, scale=0.01)
    with pytest.raises(ParameterError, match="relative_to='target' needs 'target_size'"):
        resize(rgb, scale=0.5, relative_to="target")


# -- Gaussian noise -------------------------------------------------------------------------------
@pytest.mark.parametrize("gray", [False, True])
def test_gaussian_noise_equals_numpy_reference_bit_for_bit(rgb, gray):
    sigma = 0.07
    out = gaussian_noise(rgb, sigma, gray=gray, rng=np.random.default_rng(11))
    rng = np.random.default_rng(11)
    n = rng.standard_normal(rgb.shape[:2])[..., None] if gray else rng.standard_normal(rgb.shape)
    ref = np.clip(rgb.astype(np.float64) + sigma * n, 0, 1).astype(np.float32)
    assert np.array_equal(out, ref)


def test_gaussian_noise_statistics():
    n = 256 * 256 * 3
    flat = np.full((256, 256, 3), 0.5, np.float32)
    sigma = 20 / 255
    noise = gaussian_noise(flat, 20, sigma_units="8bit", clip=False, rng=np.random.default_rng(3)) - 0.5
    # std of the sample mean = sigma/sqrt(n); std of the sample variance = sigma^2 sqrt(2/(n-1)).
    assert abs(noise.mean()) < 5 * sigma / math.sqrt(n)
    assert abs(noise.var() - sigma**2) < 5 * sigma**2 * math.sqrt(2 / (n - 1))
    gray = gaussian_noise(flat, sigma, gray=True, clip=False, rng=np.random.default_rng(3)) - 0.5
    assert np.array_equal(gray[..., 0], gray[..., 2])


def test_gaussian_noise_works_on_mosaics_and_errors():
    mosaic = np.full((8, 8), 0.5, np.float32)
    assert gaussian_noise(mosaic, 0.1, rng=np.random.default_rng(0)).shape == (8, 8)
    with pytest.raises(ParameterError, match=r"gaussian_noise: needs rng=numpy.random.Generator \(got NoneType\)"):
        gaussian_noise(mosaic, 0.1)
    with pytest.raises(ParameterError, match=r"gaussian_noise: parameter 'sigma' = -0.1: expected 0 <= sigma"):
        gaussian_noise(mosaic, -0.1, rng=np.random.default_rng(0))
    with pytest.raises(ParameterError, match=r"parameter 'sigma_units' = '255': expected one of 'unit', '8bit'"):
        gaussian_noise(mosaic, 1, sigma_units="255", rng=np.random.default_rng(0))


# -- JPEG -------------------------------------------------------------------------------------------
def test_jpeg_equals_direct_cv2_round_trip(rgb):
    u8 = np.rint(np.clip(rgb, 0, 1) * 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", u8[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 35])
    ref = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255
    assert np.array_equal(jpeg(rgb, 35), ref)


def test_jpeg_error_grows_as_quality_drops(rgb):
    err = [np.abs(jpeg(rgb, q) - rgb).mean() for q in (95, 50, 10)]
    assert err[0] < err[1] < err[2]


def test_jpeg_errors(rgb):
    with pytest.raises(ParameterError, match=r"jpeg: parameter 'quality' = 101: expected 0 <= quality <= 100"):
        jpeg(rgb, 101)
    with pytest.raises(ParameterError, match=r"jpeg: parameter 'quality' = 50.5: expected an integer"):
        jpeg(rgb, 50.5)
    with pytest.raises(ParameterError, match="jpeg: image contains NaN"):
        jpeg(np.full((4, 4, 3), np.nan, np.float32), 50)


def test_resize_rejects_non_finite_values_that_reach_the_output(rgb):
    bad = rgb.copy()
    bad[10, 10, 1] = np.inf
    for kwargs in ({"scale": 0.5, "mode": "area"}, {"scale": 2.0, "mode": "bilinear"}):
        with pytest.raises(ParameterError, match="resize: image contains NaN or infinite values"):
            resize(bad, **kwargs)
