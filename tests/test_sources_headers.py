"""Image headers (degrade/sources/headers.py): sizes equal pillow's for every format read,
the EXIF orientation is the one OpenCV applies, and the pixel limit is checked from them."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from degrade._errors import InputError
from degrade.sources.folders import probe_shape
from degrade.sources.headers import (DEFAULT_MAX_IMAGE_PIXELS, MAX_PIXELS_ENV, header_shape,
                                     max_image_pixels, read_header)

SHARED_JPEGS = Path(__file__).resolve().parents[2] / "shared" / "data" / "noise" / \
    "polyu_real_noisy_srgb"


def pillow_shape(path) -> tuple[int, int]:
    with Image.open(path) as im:
        return im.size[1], im.size[0]


def opencv_shape(path) -> tuple[int, int]:
    """The displayed shape: cv2.imread applies the EXIF orientation (what BasicSR reads)."""
    return cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR).shape[:2]


@pytest.fixture()
def pixels():
    return np.random.default_rng(0).integers(0, 255, (123, 77, 3), dtype=np.uint8)


def test_png_sizes_equal_pillows(tmp_path, pixels):
    rng = np.random.default_rng(1)
    cv2.imwrite(str(tmp_path / "rgb8.png"), pixels)
    cv2.imwrite(str(tmp_path / "gray16.png"), rng.integers(0, 65535, (20, 11), dtype=np.uint16))
    cv2.imwrite(str(tmp_path / "rgba8.png"), rng.integers(0, 255, (5, 300, 4), dtype=np.uint8))
    Image.new("P", (9, 4)).save(tmp_path / "palette.PNG")
    for path in tmp_path.iterdir():
        assert header_shape(path) == pillow_shape(path) == probe_shape(path, "image")
        assert read_header(path).format == "png"


def test_jpeg_sizes_equal_pillows(tmp_path, pixels):
    cv2.imwrite(str(tmp_path / "opencv.jpg"), pixels)
    image = Image.fromarray(pixels)
    image.save(tmp_path / "progressive.jpeg", progressive=True)
    Image.fromarray(pixels[..., 0]).save(tmp_path / "gray.jpg")
    image.convert("CMYK").save(tmp_path / "cmyk.jpg")
    exif = Image.Exif()
    exif[0x010F] = "x" * 5000                             # a long maker field
    image.save(tmp_path / "exif.JPG", exif=exif.tobytes())
    image.save(tmp_path / "icc.jpg", icc_profile=b"\0" * 200_000)   # several APP2 segments
    paths = list(tmp_path.iterdir())
    if SHARED_JPEGS.is_dir():                             # camera JPEGs (EXIF, thumbnails)
        paths += sorted(SHARED_JPEGS.glob("*.JPG"))[:4]
    for path in paths:
        assert header_shape(path) == opencv_shape(path) == probe_shape(path, "image"), path
        if read_header(path).orientation == 1:
            assert header_shape(path) == pillow_shape(path), path


def test_tiff_webp_bmp_sizes_equal_pillows(tmp_path, pixels):
    rng = np.random.default_rng(2)
    cv2.imwrite(str(tmp_path / "rgb8.tif"), pixels)
    cv2.imwrite(str(tmp_path / "gray16.tiff"), rng.integers(0, 65535, (20, 11), dtype=np.uint16))
    image = Image.fromarray(pixels)
    image.save(tmp_path / "big_endian.tif", tiffinfo={}, big_endian=True)
    image.save(tmp_path / "lzw.tif", compression="tiff_lzw")
    cv2.imwrite(str(tmp_path / "lossy.webp"), pixels, [cv2.IMWRITE_WEBP_QUALITY, 80])
    cv2.imwrite(str(tmp_path / "lossless.webp"), pixels, [cv2.IMWRITE_WEBP_QUALITY, 101])
    image.convert("RGBA").save(tmp_path / "alpha.webp")   # VP8X + ALPH chunks
    cv2.imwrite(str(tmp_path / "rgb.bmp"), pixels)
    image.convert("P").save(tmp_path / "palette.bmp")
    cv2.imwrite(str(tmp_path / "name.png.jpg"), pixels[:50])   # the content decides, not the name
    for path in tmp_path.iterdir():
        assert header_shape(path) == pillow_shape(path) == opencv_shape(path), path
    assert read_header(tmp_path / "name.png.jpg").format == "jpeg"
    cv2.imwrite(str(tmp_path / "float.tif"), rng.random((7, 13, 3)).astype(np.float32))
    assert header_shape(tmp_path / "float.tif") == (7, 13)


@pytest.mark.parametrize("ext", [".jpg", ".png", ".webp", ".tif"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_gives_the_shape_opencv_displays(tmp_path, pixels, ext, orientation):
    path = tmp_path / f"o{orientation}{ext}"
    exif = Image.Exif()
    exif[0x0112] = orientation
    if ext == ".tif":
        Image.fromarray(pixels).save(path, tiffinfo={0x0112: orientation})
    else:
        Image.fromarray(pixels).save(path, exif=exif.tobytes(), **(
            {"lossless": True} if ext == ".webp" else {}))
    header = read_header(path)
    assert header.orientation == orientation
    assert header_shape(path) == opencv_shape(path) == probe_shape(path, "image")
    assert header_shape(path) == ((77, 123) if orientation >= 5 else (123, 77))


def test_damaged_headers_are_left_to_pillow(tmp_path, pixels):
    cv2.imwrite(str(tmp_path / "good.png"), pixels)
    data = bytearray((tmp_path / "good.png").read_bytes())
    data[17] ^= 0xFF                                      # IHDR width: the CRC no longer fits
    (tmp_path / "bad.png").write_bytes(bytes(data))
    assert header_shape(tmp_path / "bad.png") is None
    with pytest.raises(InputError, match="not a readable image"):
        probe_shape(tmp_path / "bad.png", "image")
    (tmp_path / "short.png").write_bytes(data[:20])
    assert header_shape(tmp_path / "short.png") is None
    cv2.imwrite(str(tmp_path / "good.jpg"), pixels)
    jpeg = (tmp_path / "good.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(jpeg[:20])          # ends before the frame header
    assert header_shape(tmp_path / "cut.jpg") is None
    (tmp_path / "noise.jpg").write_bytes(b"\xff\xd8" + b"\x12" * 50)
    assert header_shape(tmp_path / "noise.jpg") is None
    (tmp_path / "x.tif").write_bytes(b"II*\x00" + b"\xff" * 8)   # directory offset out of the file
    assert header_shape(tmp_path / "x.tif") is None
    (tmp_path / "x.webp").write_bytes(b"RIFF\x10\x00\x00\x00WEBPVP8 \x00")
    assert header_shape(tmp_path / "x.webp") is None
    assert header_shape(tmp_path / "missing.png") is None


def png_header_only(path, height: int, width: int) -> None:
    """A PNG whose IHDR says ``height x width`` (8-bit RGB) and whose data is one empty
    IDAT: enough for every header reader, nothing to decode."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + \
            struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
                     chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


def test_pixel_limit_from_headers(tmp_path, monkeypatch):
    monkeypatch.delenv(MAX_PIXELS_ENV, raising=False)
    assert max_image_pixels() == DEFAULT_MAX_IMAGE_PIXELS == Image.MAX_IMAGE_PIXELS
    png_header_only(tmp_path / "big.png", 20000, 20000)
    with pytest.raises(InputError, match=r"big\.png: 20000x20000 = 400000000 pixels is more "
                                         r"than the limit of 89478485"):
        header_shape(tmp_path / "big.png")
    with pytest.raises(InputError, match="more than the limit"):
        probe_shape(tmp_path / "big.png", "image")
    assert header_shape(tmp_path / "big.png", max_pixels=0) == (20000, 20000)
    assert header_shape(tmp_path / "big.png", max_pixels=400_000_000) == (20000, 20000)
    monkeypatch.setenv(MAX_PIXELS_ENV, "400_000_000")
    assert header_shape(tmp_path / "big.png") == (20000, 20000)
    monkeypatch.setenv(MAX_PIXELS_ENV, "none")
    assert max_image_pixels() is None
    monkeypatch.setenv(MAX_PIXELS_ENV, "1000")
    with pytest.raises(InputError, match="limit of 1000"):
        header_shape(tmp_path / "big.png")
    monkeypatch.setenv(MAX_PIXELS_ENV, "lots")
    with pytest.raises(InputError, match=f"environment variable {MAX_PIXELS_ENV} = 'lots': "
                                         "expected a whole number"):
        max_image_pixels()
    with pytest.raises(InputError, match="max_pixels = -1"):
        max_image_pixels(-1)
