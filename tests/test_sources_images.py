"""read_image / write_image / list_images: the conversion policy, round trips, every error."""
from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest

from degrade._errors import DegradeError, InputError, ParameterError
from degrade.sources import IMAGE_EXTENSIONS, list_images, read_image, write_image


def png_bytes(arr: np.ndarray, colour_type: int, bit_depth: int = 8) -> bytes:
    """A minimal PNG encoder (cv2 cannot write gray+alpha, colour type 4)."""
    h = arr.shape[0]
    sample = np.dtype(f">u{bit_depth // 8}")
    raw = b"".join(b"\x00" + arr[i].astype(sample).tobytes() for i in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", arr.shape[1], h, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


@pytest.fixture
def rgb():
    return np.random.default_rng(0).random((13, 17, 3), dtype=np.float32)


def check_contract(img: np.ndarray, shape) -> None:
    assert img.dtype == np.float32 and img.flags.c_contiguous and img.shape == shape
    assert img.min() >= 0.0 and img.max() <= 1.0


# ------------------------------------------------------------------ round trips

@pytest.mark.parametrize("ext", [".png", ".tif", ".bmp"])
def test_roundtrip_8bit_within_half_step(tmp_path, rgb, ext):
    back = read_image(write_image(tmp_path / f"x{ext}", rgb))
    check_contract(back, rgb.shape)
    # rounding to 8 bit moves a value by at most half a step (plus float32 rounding)
    assert np.abs(back - rgb).max() <= 0.5 / 255 + 1e-6


@pytest.mark.parametrize("ext", [".png", ".tif", ".tiff"])
def test_roundtrip_16bit_within_half_step(tmp_path, rgb, ext):
    back = read_image(write_image(tmp_path / f"x{ext}", rgb, bits=16))
    check_contract(back, rgb.shape)
    assert np.abs(back - rgb).max() <= 0.5 / 65535 + 1e-6
    assert cv2.imread(str(tmp_path / f"x{ext}"), cv2.IMREAD_UNCHANGED).dtype == np.uint16


def test_roundtrip_exact_on_quantised_values(tmp_path):
    levels = np.arange(256, dtype=np.float32).reshape(16, 16)[..., None].repeat(3, 2) / 255
    assert np.array_equal(read_image(write_image(tmp_path / "q.png", levels)), levels)


@pytest.mark.parametrize("name", ["x.JPG", "x.jpeg", "x.webp"])
def test_lossy_roundtrip_close(tmp_path, name):
    smooth = np.broadcast_to(np.linspace(0.2, 0.8, 32, dtype=np.float32), (32, 32))
    img = np.stack([smooth, smooth.T, np.full_like(smooth, 0.5)], axis=2)
    back = read_image(write_image(tmp_path / name, img, quality=98))
    check_contract(back, img.shape)
    assert np.abs(back - img).mean() < 2 / 255


def test_channel_order_is_rgb_in_memory_and_bgr_on_disk(tmp_path):
    red = np.zeros((4, 4, 3), np.float32)
    red[..., 0] = 1.0
    path = write_image(tmp_path / "red.png", red)
    assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED)[0, 0].tolist() == [0, 0, 255]
    assert read_image(path)[0, 0].tolist() == [1.0, 0.0, 0.0]


def test_write_clips_and_rounds(tmp_path):
    img = np.array([[[-0.2, 0.5, 1.7]]], np.float32)
    stored = cv2.imread(str(write_image(tmp_path / "c.png", img)), cv2.IMREAD_UNCHANGED)
    assert stored[0, 0].tolist() == [255, 128, 0]         # BGR of round([0, 127.5, 255])


def test_write_gray_2d_reads_back_replicated(tmp_path):
    gray = np.linspace(0, 1, 20, dtype=np.float32).reshape(4, 5)
    back = read_image(write_image(tmp_path / "g.png", gray))
    assert cv2.imread(str(tmp_path / "g.png"), cv2.IMREAD_UNCHANGED).ndim == 2
    assert np.abs(back - gray[..., None]).max() <= 0.5 / 255 + 1e-6


# ------------------------------------------------------------------ read policy

@pytest.mark.parametrize("dtype,peak", [(np.uint8, 255), (np.uint16, 65535)])
def test_gray_is_replicated_and_scaled(tmp_path, dtype, peak):
    gray = np.array([[0, peak // 3], [peak // 2, peak]], dtype)
    cv2.imwrite(str(tmp_path / "g.png"), gray)
    img = read_image(tmp_path / "g.png")
    check_contract(img, (2, 2, 3))
    expected = gray.astype(np.float32) / np.float32(peak)
    for c in range(3):
        np.testing.assert_allclose(img[..., c], expected, rtol=0, atol=1e-7)


@pytest.mark.parametrize("dtype,peak", [(np.uint8, 255), (np.uint16, 65535)])
def test_rgba_alpha_is_dropped_not_composited(tmp_path, dtype, peak):
    bgra = np.zeros((3, 3, 4), dtype)
    bgra[..., 0], bgra[..., 1], bgra[..., 2] = peak, peak // 5, 0   # B, G, R
    bgra[..., 3] = np.array([0, peak // 2, peak], dtype)[:, None]   # alpha per row
    cv2.imwrite(str(tmp_path / "a.png"), bgra)
    img = read_image(tmp_path / "a.png")
    check_contract(img, (3, 3, 3))
    expected = np.array([0, (peak // 5) / peak, 1.0], np.float32)
    np.testing.assert_allclose(img, np.broadcast_to(expected, img.shape), atol=1e-7)


def test_gray_alpha_png_gives_replicated_gray(tmp_path):
    ga = np.zeros((2, 3, 2), np.uint16)
    ga[..., 0], ga[..., 1] = 1000, np.array([0, 30000, 65535])       # gray, alpha per column
    (tmp_path / "ga.png").write_bytes(png_bytes(ga, colour_type=4, bit_depth=16))
    img = read_image(tmp_path / "ga.png")
    check_contract(img, (2, 3, 3))
    np.testing.assert_allclose(img, 1000 / 65535, atol=1e-7)


def test_float_tiff_passed_through_and_clipped(tmp_path):
    values = np.array([[[-0.5, 0.25, 0.75], [0.125, 1.0, 3.0]]], np.float32)   # RGB
    cv2.imwrite(str(tmp_path / "f.tif"), values[..., ::-1].copy())
    img = read_image(tmp_path / "f.tif")
    check_contract(img, (1, 2, 3))
    np.testing.assert_array_equal(img, np.clip(values, 0, 1))


def test_float64_gray_tiff(tmp_path):
    cv2.imwrite(str(tmp_path / "d.tif"), np.array([[0.1, 0.9]], np.float64))
    img = read_image(tmp_path / "d.tif")
    check_contract(img, (1, 2, 3))
    np.testing.assert_allclose(img[0, :, 1], [0.1, 0.9], rtol=1e-7)


def test_float_tiff_with_nan_is_rejected(tmp_path):
    cv2.imwrite(str(tmp_path / "n.tif"), np.array([[0.1, np.nan]], np.float32))
    with pytest.raises(InputError, match=r"n\.tif: floating-point image contains NaN"):
        read_image(tmp_path / "n.tif")


def test_signed_integer_tiff_is_rejected(tmp_path):
    cv2.imwrite(str(tmp_path / "s.tif"), np.zeros((2, 2, 3), np.int16))
    with pytest.raises(InputError, match=r"s\.tif: unsupported sample type int16"):
        read_image(tmp_path / "s.tif")


def test_accepts_str_paths_and_unicode_names(tmp_path, rgb):
    path = tmp_path / "ünïcode é.png"
    write_image(str(path), rgb)
    assert read_image(str(path)).shape == rgb.shape


# ------------------------------------------------------------------ read errors

def test_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"nope\.png: no such file$"):
        read_image(tmp_path / "nope.png")


def test_directory_is_not_an_image(tmp_path):
    with pytest.raises(InputError, match="is a directory, not an image file"):
        read_image(tmp_path)


def test_empty_file(tmp_path):
    (tmp_path / "e.png").write_bytes(b"")
    with pytest.raises(InputError, match=r"e\.png: empty file"):
        read_image(tmp_path / "e.png")


@pytest.mark.parametrize("content", [b"this is plain text, not pixels\n", b"\x89PNG\r\n\x1a\n" + b"\0" * 40])
def test_non_image_or_corrupt_data(tmp_path, content):
    (tmp_path / "bad.png").write_bytes(content)
    with pytest.raises(InputError, match=r"bad\.png: not a readable image"):
        read_image(tmp_path / "bad.png")


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_truncated_file(tmp_path, rgb, ext):
    data = write_image(tmp_path / f"full{ext}", rgb).read_bytes()
    (tmp_path / f"cut{ext}").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="not a readable image"):
        read_image(tmp_path / f"cut{ext}")


def test_input_error_is_a_degrade_error():
    assert issubclass(InputError, DegradeError)


# ------------------------------------------------------------------ write errors

def test_write_unknown_extension(tmp_path, rgb):
    with pytest.raises(ParameterError, match=r"x\.gif: unknown image extension '\.gif'"):
        write_image(tmp_path / "x.gif", rgb)


def test_write_16bit_needs_png_or_tiff(tmp_path, rgb):
    with pytest.raises(ParameterError, match="bits=16 needs a PNG or TIFF file, not '.jpg'"):
        write_image(tmp_path / "x.jpg", rgb, bits=16)


def test_write_bad_bits(tmp_path, rgb):
    with pytest.raises(ParameterError, match="parameter 'bits' = 12: expected one of 8, 16"):
        write_image(tmp_path / "x.png", rgb, bits=12)


def test_write_bad_quality(tmp_path, rgb):
    with pytest.raises(ParameterError, match="parameter 'quality' = 101"):
        write_image(tmp_path / "x.jpg", rgb, quality=101)


def test_write_bad_array(tmp_path):
    with pytest.raises(ParameterError, match="write_image: image has 2 channels"):
        write_image(tmp_path / "x.png", np.zeros((4, 4, 2), np.float32))


def test_write_into_missing_folder(tmp_path, rgb):
    with pytest.raises(DegradeError, match=r"missing/x\.png: cannot write"):
        write_image(tmp_path / "missing" / "x.png", rgb)


# ------------------------------------------------------------------ list_images

def make_tree(root):
    files = ["b.PNG", "a.jpg", "A.tif", "sub/z.jpeg", "sub/deeper/c.WebP", "sub/a.bmp",
             "notes.txt", "x.png.bak", ".hidden.png", "._a.jpg", ".git/y.png", "c.TIFF"]
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    return files


def test_list_images_recursive_sorted_by_relative_posix_path(tmp_path):
    make_tree(tmp_path)
    rel = [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path)]
    # code-point order: upper case before lower case, '/' (0x2F) before letters
    assert rel == ["A.tif", "a.jpg", "b.PNG", "c.TIFF", "sub/a.bmp", "sub/deeper/c.WebP",
                   "sub/z.jpeg"]
    assert all(p.is_file() for p in list_images(tmp_path))


def test_list_images_flat(tmp_path):
    make_tree(tmp_path)
    assert [p.name for p in list_images(tmp_path, recursive=False)] == \
        ["A.tif", "a.jpg", "b.PNG", "c.TIFF"]


def test_list_images_order_does_not_depend_on_creation_order(tmp_path):
    for name in ["c.png", "a.png", "b/x.png", "b.png"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    assert [p.relative_to(tmp_path).as_posix() for p in list_images(str(tmp_path))] == \
        ["a.png", "b.png", "b/x.png", "c.png"]


def test_list_images_empty_folder(tmp_path):
    assert list_images(tmp_path) == []


def test_list_images_missing_folder(tmp_path):
    with pytest.raises(InputError, match=r"nowhere: no such folder"):
        list_images(tmp_path / "nowhere")


def test_list_images_on_a_file(tmp_path):
    (tmp_path / "f.png").write_bytes(b"")
    with pytest.raises(InputError, match=r"f\.png: is a file, not a folder"):
        list_images(tmp_path / "f.png")


def test_extensions_are_lower_case_with_dot():
    assert all(e.startswith(".") and e == e.lower() for e in IMAGE_EXTENSIONS)


def test_package_exports_resolve_and_import_stays_light(fresh_python):
    import degrade.sources as sources

    assert all(hasattr(sources, name) for name in sources.__all__)
    code = ("import sys, degrade.sources; "
            "print(sorted(m for m in ('cv2', 'rawpy', 'numba', 'colour') if m in sys.modules))")
    assert fresh_python(code, timeout=60).strip() == "[]"


# --------------------------------------------------------------------------- EXIF orientation
def _exif_jpeg(path, pixels, orientation):
    """A JPEG with an EXIF block carrying ``orientation``, written by pillow."""
    from PIL import Image
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(pixels).save(path, exif=exif.tobytes(), quality=95)


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("ext", [".jpg", ".png", ".webp", ".tif"])
def test_exif_orientation_is_applied_as_cv2_imread_does(tmp_path, orientation, ext):
    pytest.importorskip("PIL")
    from PIL import Image

    from degrade.sources.folders import probe_shape
    pixels = np.random.default_rng(orientation).integers(0, 255, (30, 20, 3), np.uint8)
    path = tmp_path / f"o{orientation}{ext}"
    if ext == ".jpg":
        _exif_jpeg(path, pixels, orientation)
    elif ext == ".tif":
        Image.fromarray(pixels).save(path, tiffinfo={0x0112: orientation})
    else:
        exif = Image.Exif()
        exif[0x0112] = orientation
        Image.fromarray(pixels).save(path, exif=exif.tobytes(),
                                     **({"lossless": True} if ext == ".webp" else {}))
    # what BasicSR reads: cv2.imdecode(..., IMREAD_COLOR), BGR; we return RGB / 255
    decoded = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR)
    expected = decoded[..., ::-1].astype(np.float32) / 255
    image = read_image(path)
    assert image.shape == expected.shape
    assert image.shape[:2] == ((20, 30) if orientation >= 5 else (30, 20))
    assert probe_shape(path, "image") == image.shape[:2]
    np.testing.assert_array_equal(image, expected)


def test_orientation_6_jpeg_is_transposed_and_rotated_clockwise(tmp_path):
    pytest.importorskip("PIL")
    pixels = np.zeros((30, 20, 3), np.uint8)
    pixels[:10, :10] = 255                     # white block at the top left as stored
    _exif_jpeg(tmp_path / "phone.jpg", pixels, 6)
    image = read_image(tmp_path / "phone.jpg")
    # orientation 6: the stored image is shown turned 90 degrees clockwise, so the block
    # is at the top right of a 20 x 30 picture
    assert image.shape == (20, 30, 3)
    assert image[:10, -10:].mean() > 0.9 and image[:, :-10].mean() < 0.1
