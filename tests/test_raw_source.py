"""RAW reader and AAHD rendering on the real files in ../shared/data/raw, plus error paths."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from degrade._errors import InputError, ParameterError
from degrade.sources.raw import _white_balance, _xyz_to_cam, bayer_pattern, read_raw, render_srgb

RAW = Path(__file__).resolve().parents[2] / "shared" / "data" / "raw"

# The README table of ../shared/data/raw: file, pattern, black, white, bits, matrix source.
FILES = [
    ("dng/nikon_d750_rose_768x512_rggb.dng", "RGGB", 600, 15520, 14, "rgb_xyz_matrix"),
    ("dng/infiniteisp_colorchecker_1920x1080_bggr_12bit.dng", "BGGR", 0, 4095, 12,
     "color_matrix"),
    ("dng/nokia_n900_halide_bayer_small_344x256_grbg.dng", "GRBG", 25, 1023, 10,
     "color_matrix"),
    ("kodak_dc50/RAW_KODAK_DC50.KDC", "GRBG", 0, 16383, 14, "default"),
]


def data_file(rel):
    path = RAW / rel
    if not path.is_file():
        pytest.skip(f"shared RAW test file not found: {path}")
    return path


@pytest.mark.parametrize("rel, pattern, black, white, bits, source", FILES,
                         ids=[f[0].split("/")[-1] for f in FILES])
def test_read_raw_metadata_matches_the_readme(rel, pattern, black, white, bits, source):
    raw = read_raw(data_file(rel))
    assert raw.pattern == pattern
    assert raw.black_levels == (black,) * 4 and raw.white_level == white
    assert raw.bit_depth == bits and raw.color_matrix_source == source
    assert raw.mosaic.dtype == np.float32 and raw.mosaic.ndim == 2
    assert 0 <= raw.mosaic.min() and raw.mosaic.max() <= 1
    assert raw.wb_gains[1] == 1.0 and raw.xyz_to_cam.shape == (3, 3)
    json.dumps(raw.meta)  # sample metadata must be JSON-serialisable


def test_d750_dng_equals_the_plain_mosaic_normalised():
    """The DNG wraps the unmodified headerless mosaic: (dn - 600) / (15520 - 600)."""
    raw = read_raw(data_file("dng/nikon_d750_rose_768x512_rggb.dng"), clip=False)
    dn = np.fromfile(data_file("plain_mosaics/nikon_d750_DSC_1339_768x512_rggb_u16le.raw"),
                     "<u2").reshape(512, 768)
    np.testing.assert_allclose(raw.mosaic, (dn - 600.0) / (15520 - 600), rtol=1e-6, atol=1e-7)
    assert raw.mosaic.max() > 1  # saturated photosites above the white level are kept
    assert read_raw(raw.path).mosaic.max() == 1.0


def test_d750_colour_and_wb():
    raw = read_raw(data_file("dng/nikon_d750_rose_768x512_rggb.dng"))
    np.testing.assert_allclose(raw.xyz_to_cam, np.reshape(
        [9020, -2890, -715, -4535, 12436, 2348, -934, 1919, 7086], (3, 3)) / 10000, atol=1e-3)
    np.testing.assert_allclose(raw.wb_gains, [1.949219, 1.0, 1.34375], rtol=1e-5)
    assert raw.wb_source == "camera"


def test_render_srgb_aahd():
    path = data_file("dng/nokia_n900_halide_bayer_small_344x256_grbg.dng")
    raw = read_raw(path)
    srgb = render_srgb(path)
    assert srgb.shape == raw.mosaic.shape + (3,) and srgb.dtype == np.float32
    assert 0 <= srgb.min() and srgb.max() <= 1
    np.testing.assert_array_equal(srgb, render_srgb(path))  # AAHD is deterministic
    linear = render_srgb(path, output="linear")
    assert linear.mean() < srgb.mean()  # the sRGB curve brightens mid-tones
    np.testing.assert_allclose(render_srgb(path, mosaic=raw.mosaic), srgb, atol=1 / 65535)
    darker = render_srgb(path, mosaic=raw.mosaic * np.float32(0.25))
    assert darker.mean() < 0.8 * srgb.mean()


def test_file_errors(tmp_path):
    with pytest.raises(InputError, match=r"nope.dng: no such RAW file"):
        read_raw(tmp_path / "nope.dng")
    junk = tmp_path / "junk.nef"
    junk.write_bytes(b"not a raw file" * 100)
    with pytest.raises(InputError, match=r"junk.nef: rawpy cannot read it"):
        read_raw(junk)
    with pytest.raises(InputError, match=r"junk.nef: rawpy cannot read it"):
        render_srgb(junk)


def test_render_errors():
    path = data_file("dng/nokia_n900_halide_bayer_small_344x256_grbg.dng")
    with pytest.raises(ParameterError, match=r"render_srgb: parameter 'output' = 'xyz'"):
        render_srgb(path, output="xyz")
    with pytest.raises(ParameterError, match=r"render_srgb: mosaic has shape \(4, 4\): "
                                             r"expected the visible size \(344, 256\)"):
        render_srgb(path, mosaic=np.zeros((4, 4), np.float32))


def fake_raw(**over):
    base = dict(raw_type=SimpleNamespace(name="Flat"), raw_pattern=np.array([[0, 1], [3, 2]]),
                color_desc=b"RGBG", raw_colors_visible=np.array([[0, 1], [3, 2]]))
    base.update(over)
    return SimpleNamespace(**base)


def test_non_bayer_files_are_refused():
    assert bayer_pattern(fake_raw(), "f") == "RGGB"
    with pytest.raises(InputError, match=r"linear.dng: not a Bayer mosaic \(rawpy raw_type "
                                         r"Stack"):
        bayer_pattern(fake_raw(raw_type=SimpleNamespace(name="Stack"), raw_pattern=None),
                      "linear.dng")
    with pytest.raises(InputError, match=r"x.raf: CFA pattern \(6, 6\) is not a 2x2 Bayer"):
        bayer_pattern(fake_raw(raw_pattern=np.zeros((6, 6), int)), "x.raf")
    with pytest.raises(InputError, match=r"c.crw: CFA colours 'CYGM' \(color_desc 'CYGM'\)"):
        bayer_pattern(fake_raw(color_desc=b"CYGM", raw_colors_visible=np.array([[0, 1], [2, 3]])),
                      "c.crw")


def test_colour_fallbacks():
    from degrade.ops.color import RGB2XYZ

    zeros = SimpleNamespace(rgb_xyz_matrix=np.zeros((4, 3)), color_matrix=np.zeros((3, 4)))
    m, source = _xyz_to_cam(zeros)
    assert source == "default" and np.allclose(m @ RGB2XYZ, np.eye(3))  # camera = sRGB
    cam_to_srgb = np.array([[1.5, -0.4, -0.1], [-0.2, 1.4, -0.2], [0.0, -0.5, 1.5]])
    from_cm = SimpleNamespace(rgb_xyz_matrix=np.zeros((4, 3)),
                              color_matrix=np.hstack([cam_to_srgb, np.zeros((3, 1))]))
    m, source = _xyz_to_cam(from_cm)
    assert source == "color_matrix"
    np.testing.assert_allclose(cam_to_srgb @ (m @ RGB2XYZ), np.eye(3), atol=1e-12)
    wb, source = _white_balance(SimpleNamespace(camera_whitebalance=[0, 0, 0, 0],
                                                daylight_whitebalance=[2.0, 1.0, 1.5, 0]))
    assert (wb, source) == ((2.0, 1.0, 1.5), "daylight")
    wb, source = _white_balance(SimpleNamespace(camera_whitebalance=[0, 0, 0, 0],
                                                daylight_whitebalance=[0, 0, 0, 0]))
    assert (wb, source) == ((1.0, 1.0, 1.0), "default")


def test_raw_file_color_sampler_gives_the_camera_matrix():
    """For a DNG whose matrix comes from color_matrix (camera -> sRGB, rows summing to 1),
    apply_ccm's camera -> sRGB matrix is that same matrix."""
    import rawpy

    from degrade._registry import get_sampler
    from degrade.ops.color import camera_to_rgb_matrix

    path = data_file("dng/infiniteisp_colorchecker_1920x1080_bggr_12bit.dng")
    p = get_sampler("raw_file_color").function(np.random.default_rng(0), str(path))
    assert set(p) == {"ccm", "red_gain", "blue_gain"} and p["red_gain"] == pytest.approx(1.48633)
    with rawpy.imread(str(path)) as raw:
        cm = np.asarray(raw.color_matrix, np.float64)[:, :3]
    np.testing.assert_allclose(camera_to_rgb_matrix(p["ccm"]), cm, atol=1e-5)


@pytest.mark.parametrize("rel", ["dng/nikon_d750_rose_768x512_rggb.dng",
                                 "dng/nokia_n900_halide_bayer_small_344x256_grbg.dng"])
def test_forward_ops_with_the_files_metadata_match_libraw(rel):
    """The ccm / gains conventions agree with LibRaw: as-shot gains -> bilinear demosaic ->
    apply_ccm(xyz_to_cam) reproduces LibRaw's linear sRGB AAHD rendering up to the
    demosaicking (measured: per-channel means within 0.002, mean abs difference 0.003 and
    0.018)."""
    from degrade.ops import apply_ccm, apply_wb_gains, demosaic

    path = data_file(rel)
    raw = read_raw(path)
    cam = demosaic(apply_wb_gains(raw.mosaic, raw.wb_gains[0], raw.wb_gains[2],
                                  pattern=raw.pattern, clip=True), raw.pattern, "bilinear")
    ours = apply_ccm(cam, raw.xyz_to_cam.tolist(), clip=True)[4:-4, 4:-4]
    libraw = render_srgb(path, output="linear")[4:-4, 4:-4]
    np.testing.assert_allclose(ours.mean((0, 1)), libraw.mean((0, 1)), atol=0.005)
    assert np.abs(ours - libraw).mean() < 0.03
