"""resize(convention='torch'), MATLAB bicubic and BSRGAN's shifted blur-decimate against
per-pixel transcriptions of their coordinate rules (reference rgb_pipelines.md C2, C3, B4)."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from degrade import ops
from degrade._errors import ParameterError
from degrade._registry import get_sampler
from naive import apply_axis_weights, matlab_reference


def cubic075(x):
    a, x = -0.75, abs(x)
    if x <= 1:
        return ((a + 2) * x - (a + 3)) * x * x + 1
    return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a if x < 2 else 0.0


def torch_axis_weights(n_in, n_out, mode, inv):
    """List over output pixels of {input index: weight}, straight from torch's rules."""
    rows = []
    for d in range(n_out):
        w = {}
        if mode == "area":
            s, e = math.floor(d * n_in / n_out), math.ceil((d + 1) * n_in / n_out)
            w = {i: 1 / (e - s) for i in range(s, e)}
        elif mode == "nearest":
            # torch evaluates d·scale in float32
            src = np.float32(d) * np.float32(1 if n_in == n_out else inv)
            w = {min(math.floor(src), n_in - 1): 1.0}
        elif mode == "bilinear":
            src = max((1 if n_in == n_out else inv) * (d + 0.5) - 0.5, 0.0)
            i0 = min(math.floor(src), n_in - 1)
            lam = src - i0
            i1 = min(i0 + 1, n_in - 1)
            w[i0] = w.get(i0, 0) + 1 - lam
            w[i1] = w.get(i1, 0) + lam
        else:
            src = inv * (d + 0.5) - 0.5
            i0 = math.floor(src)
            for t in range(-1, 3):
                i = min(max(i0 + t, 0), n_in - 1)
                w[i] = w.get(i, 0) + cubic075(src - (i0 + t))
        rows.append(w)
    return rows


@pytest.fixture
def img():
    return np.random.default_rng(2).random((23, 30, 3), dtype=np.float32)


@pytest.mark.parametrize("mode", ["area", "bilinear", "bicubic", "nearest"])
@pytest.mark.parametrize("scale", [0.37, 0.5, 1.003, 1.41])
def test_torch_scale_factor_rule(img, mode, scale):
    h, w = int(23 * scale), int(30 * scale)
    want = apply_axis_weights(img, torch_axis_weights(23, h, mode, 1 / scale),
                              torch_axis_weights(30, w, mode, 1 / scale))
    got = ops.resize(img, scale=scale, mode=mode, convention="torch")
    assert got.shape == (h, w, 3) and np.abs(got - want).max() < 1e-6


@pytest.mark.parametrize("mode", ["area", "bilinear", "bicubic", "nearest"])
def test_torch_size_rule(img, mode):
    want = apply_axis_weights(img, torch_axis_weights(23, 10, mode, 23 / 10),
                              torch_axis_weights(30, 41, mode, 30 / 41))
    got = ops.resize(img, size=(10, 41), mode=mode, convention="torch")
    assert np.abs(got - want).max() < 1e-6


def test_torch_relative_to_target_uses_size_rule(img):
    got = ops.resize(img, scale=0.3, relative_to="target", target_size=[40, 40], mode="bilinear",
                     convention="torch")
    want = ops.resize(img, size=(12, 12), mode="bilinear", convention="torch")
    assert np.array_equal(got, want)


def test_torch_area_equals_cv2_for_integer_factor():
    x = np.random.default_rng(0).random((24, 36, 3), dtype=np.float32)
    got = ops.resize(x, scale=1 / 3, mode="area", convention="torch")
    assert np.abs(got - cv2.resize(x, (12, 8), interpolation=cv2.INTER_AREA)).max() < 1e-6


def test_default_convention_is_cv2(img):
    got = ops.resize(img, scale=0.61, mode="bicubic")
    assert np.array_equal(got, cv2.resize(img, (18, 14), interpolation=cv2.INTER_CUBIC))


def test_against_torch_when_installed(img):
    torch = pytest.importorskip("torch", reason="torch not installed: oracle comparison skipped")
    import torch.nn.functional as F
    t = torch.from_numpy(img).permute(2, 0, 1)[None]
    for mode in ("area", "bilinear", "bicubic", "nearest"):
        for s in (0.37, 1.003, 1.29):
            want = F.interpolate(t, scale_factor=s, mode=mode)[0].permute(1, 2, 0).numpy()
            got = ops.resize(img, scale=s, mode=mode, convention="torch")
            assert np.abs(got - want).max() < 1e-5, (mode, s)
        want = F.interpolate(t, size=(9, 44), mode=mode)[0].permute(1, 2, 0).numpy()
        assert np.abs(ops.resize(img, size=(9, 44), mode=mode, convention="torch") - want).max() < 1e-5


@pytest.mark.parametrize("scale", [0.5, 0.3, 2.0])
def test_matlab_bicubic(img, scale):
    got = ops.resize(img, scale=scale, mode="matlab_bicubic")
    want = matlab_reference(img, scale)
    assert got.shape == want.shape == (math.ceil(23 * scale), math.ceil(30 * scale), 3)
    assert np.abs(got - want).max() < 1e-6


def test_matlab_bicubic_keeps_a_constant():
    x = np.full((16, 20, 3), 0.4, np.float32)
    assert np.abs(ops.resize(x, scale=0.5, mode="matlab_bicubic") - 0.4).max() < 1e-6


def test_clip_option(img):
    sharp = np.zeros((20, 20, 3), np.float32)
    sharp[:, 10:] = 1
    raw = ops.resize(sharp, scale=1.7, mode="bicubic")
    assert raw.max() > 1 and raw.min() < 0                    # bicubic overshoot
    clipped = ops.resize(sharp, scale=1.7, mode="bicubic", clip=True)
    assert np.array_equal(clipped, np.clip(raw, 0, 1))


def bilinear_at(k, y, x):
    y0, x0 = min(int(math.floor(y)), k.shape[0] - 2), min(int(math.floor(x)), k.shape[1] - 2)
    fy, fx = y - y0, x - x0
    return ((1 - fy) * (1 - fx) * k[y0, x0] + (1 - fy) * fx * k[y0, x0 + 1]
            + fy * (1 - fx) * k[y0 + 1, x0] + fy * fx * k[y0 + 1, x0 + 1])


def test_blur_decimate_zhang2021(img):
    from scipy import ndimage
    from degrade.ops.psf import build_psf
    k = build_psf("iso", 25, 1.7)
    shift = 1.5                                                 # (sf - 1) / 2 for sf = 4
    pos = [min(i + shift, 24) for i in range(25)]
    ks = np.array([[bilinear_at(k, y, x) for x in pos] for y in pos])
    ks /= ks.sum()
    want = ndimage.convolve(img.astype(np.float64), ks[..., None], mode="mirror")[::4, ::4]
    got = ops.blur_decimate_zhang2021(img, 1.7, 4)
    assert got.shape == (6, 8, 3) and np.abs(got - want).max() < 1e-6


def test_bsrgan_downsample_sampler():
    fn = get_sampler("bsrgan_downsample").function
    rng = np.random.default_rng(0)
    inv = np.array([1 / fn(rng, sf=4)["scale"] for _ in range(4000)])
    # 1/scale ~ U(1, 8): mean 4.5, sd 7/sqrt(12); 5 standard errors
    assert inv.min() >= 1 and inv.max() <= 8
    assert abs(inv.mean() - 4.5) < 5 * 7 / math.sqrt(12 * 4000)


@pytest.mark.parametrize("kwargs, message", [
    ({"scale": 0.5, "convention": "pytorch"}, "parameter 'convention' = 'pytorch'"),
    ({"scale": 0.5, "mode": "lanczos"}, "parameter 'mode' = 'lanczos'"),
    ({"scale": 0.5, "relative_to": "target"}, "relative_to='target' needs 'target_size'"),
])
def test_resize_errors(img, kwargs, message):
    with pytest.raises(ParameterError, match="resize") as err:
        ops.resize(img, **kwargs)
    assert message in str(err.value)


def test_blur_decimate_errors(img):
    with pytest.raises(ParameterError, match="parameter 'factor' = 0"):
        ops.blur_decimate_zhang2021(img, 1.0, 0)
