"""Image sizes from PNG and JPEG headers equal pillow's (degrade/sources/headers.py)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from degrade._errors import InputError
from degrade.sources.folders import probe_shape
from degrade.sources.headers import _jpeg_header_shape, _png_header_shape, header_shape

SHARED_JPEGS = Path(__file__).resolve().parents[2] / "shared" / "data" / "noise" / \
    "polyu_real_noisy_srgb"


def pillow_shape(path) -> tuple[int, int]:
    with Image.open(path) as im:
        return im.size[1], im.size[0]


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


def test_jpeg_sizes_equal_pillows(tmp_path, pixels):
    cv2.imwrite(str(tmp_path / "opencv.jpg"), pixels)
    image = Image.fromarray(pixels)
    image.save(tmp_path / "progressive.jpeg", progressive=True)
    Image.fromarray(pixels[..., 0]).save(tmp_path / "gray.jpg")
    image.convert("CMYK").save(tmp_path / "cmyk.jpg")
    exif = Image.Exif()
    exif[0x0112], exif[0x010F] = 6, "x" * 5000          # rotated, and a long maker field
    image.save(tmp_path / "exif.JPG", exif=exif.tobytes())
    image.save(tmp_path / "icc.jpg", icc_profile=b"\0" * 200_000)   # several APP2 segments
    paths = list(tmp_path.iterdir())
    if SHARED_JPEGS.is_dir():                             # camera JPEGs (EXIF, thumbnails)
        paths += sorted(SHARED_JPEGS.glob("*.JPG"))[:4]
    for path in paths:
        # stored order, as the decoder reads them (IMREAD_UNCHANGED ignores EXIF rotation)
        assert header_shape(path) == pillow_shape(path) == probe_shape(path, "image"), path


def test_damaged_headers_are_left_to_pillow(tmp_path, pixels):
    cv2.imwrite(str(tmp_path / "good.png"), pixels)
    data = bytearray((tmp_path / "good.png").read_bytes())
    data[17] ^= 0xFF                                      # IHDR width: the CRC no longer fits
    (tmp_path / "bad.png").write_bytes(bytes(data))
    assert _png_header_shape(tmp_path / "bad.png") is None
    with pytest.raises(InputError, match="not a readable image"):
        probe_shape(tmp_path / "bad.png", "image")
    (tmp_path / "short.png").write_bytes(data[:20])
    assert _png_header_shape(tmp_path / "short.png") is None
    cv2.imwrite(str(tmp_path / "good.jpg"), pixels)
    jpeg = (tmp_path / "good.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(jpeg[:20])          # ends before the frame header
    assert _jpeg_header_shape(tmp_path / "cut.jpg") is None
    (tmp_path / "noise.jpg").write_bytes(b"\xff\xd8" + b"\x12" * 50)
    assert _jpeg_header_shape(tmp_path / "noise.jpg") is None
    assert _jpeg_header_shape(tmp_path / "good.png") is None       # not a JPEG at all
    assert header_shape(tmp_path / "x.tif") is None                  # other formats: pillow
