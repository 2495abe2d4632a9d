"""Image headers without decoding: format, size, EXIF orientation, and the pixel limit.

Planning probes every source file (:func:`degrade.sources.folders.probe_shape`) and
:func:`degrade.sources.images.read_image` checks a file before decoding it. Both read the
header here: a few hundred bytes (PNG, JPEG, BMP, WebP; a TIFF's first directory), 9-14 us
a PNG or plain JPEG against pillow's 36-46 (a camera JPEG's EXIF block adds a 4 kB read).
The format is recognised by its signature, not by the file's name, as the decoder (OpenCV)
does. Anything unusual gives None and the caller
decides (pillow's lazy ``open`` or the decoder).

**Pixel limit.** A small file can describe an enormous image (a 389 kB PNG of 20000 x 20000
decodes to 1.2 GB, 4.8 GB as float32), so every image is checked from its header before it
is decoded: more than :func:`max_image_pixels` pixels (default Pillow's ``MAX_IMAGE_PIXELS``,
89 478 485, about 9459 x 9459) is an :class:`InputError`. The environment variable
``DEGRADE_MAX_IMAGE_PIXELS`` changes the default (``0`` or ``none``: no limit); the functions
take ``max_pixels=`` for one call.

**Orientation.** The shape is the *displayed* one, as ``cv2.imread`` (and BasicSR, which
decodes with ``IMREAD_COLOR``) gives it: EXIF orientations 5-8 swap height and width. OpenCV
applies the EXIF tag of JPEG (APP1), PNG (``eXIf``) and WebP (``EXIF``) files and the
Orientation tag of TIFF files; BMP has none.
"""
from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass

from .._errors import InputError

#: Pillow's ``Image.MAX_IMAGE_PIXELS``: 1024**3 // 4 // 3 (a 1 GiB RGB 24-bit image)
DEFAULT_MAX_IMAGE_PIXELS = 89_478_485
MAX_PIXELS_ENV = "DEGRADE_MAX_IMAGE_PIXELS"


def max_image_pixels(max_pixels: int | None = None) -> int | None:
    """The pixel limit in force: ``max_pixels`` when given (``0``: none), else the
    ``DEGRADE_MAX_IMAGE_PIXELS`` environment variable, else 89 478 485. None means no limit.

    Raises InputError for a limit that is not a non-negative integer."""
    where = "max_pixels"
    if max_pixels is None:
        text = os.environ.get(MAX_PIXELS_ENV, "").strip()
        if not text:
            return DEFAULT_MAX_IMAGE_PIXELS
        if text.lower() == "none":
            return None
        where = f"environment variable {MAX_PIXELS_ENV}"
        try:
            max_pixels = int(text.replace("_", ""))
        except ValueError:
            raise InputError(f"{where} = {text!r}: expected a whole number of pixels "
                             "(0 or 'none': no limit)") from None
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 0:
        raise InputError(f"{where} = {max_pixels!r}: expected a whole number of pixels >= 0 "
                         "(0: no limit)")
    return max_pixels or None


def check_image_pixels(path, height: int, width: int, max_pixels: int | None = None) -> None:
    """Raise InputError when an image of ``height x width`` exceeds the pixel limit (see
    :func:`max_image_pixels`); for every reader (also RAW files: rawpy's ``sizes``)."""
    limit = max_image_pixels(max_pixels)
    if limit is not None and height * width > limit:
        raise InputError(
            f"{path}: {width}x{height} = {height * width} pixels is more than the limit of "
            f"{limit} (a decompression bomb, or a very large image: raise the limit with "
            f"{MAX_PIXELS_ENV}=N or max_pixels=N)")


@dataclass(frozen=True)
class ImageHeader:
    """What a header says. ``height``/``width`` are as stored; :attr:`shape` is as displayed
    after the orientation. ``data_end``: where the image data ends (WebP: the RIFF size),
    None when the header does not say."""
    format: str                  # png, jpeg, tiff, webp, bmp
    height: int
    width: int
    orientation: int = 1         # EXIF 1-8; 1 = as stored
    bytes_per_pixel: int = 4     # an upper bound on one pixel's stored size, uncompressed
    data_end: int | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) as displayed: orientations 5-8 transpose the image."""
        return (self.width, self.height) if self.orientation >= 5 else (self.height, self.width)


def header_shape(path, *, max_pixels: int | None = None) -> tuple[int, int] | None:
    """(height, width) as displayed (EXIF orientation applied, as ``cv2.imread`` does) of a
    PNG, JPEG, TIFF, WebP or BMP file, from its header; None when the header is unknown or
    does not check out (the caller then asks pillow).

    Raises
    ------
    InputError
        The image has more pixels than the limit (see :func:`max_image_pixels`).
    """
    header = read_header(path)
    if header is None:
        return None
    check_image_pixels(path, header.height, header.width, max_pixels)
    return header.shape


def read_header(path) -> ImageHeader | None:
    """The :class:`ImageHeader` of an image file, or None (unknown format, bad header,
    unreadable file)."""
    try:
        with open(path, "rb") as handle:
            return parse_header(handle)
    except OSError:
        return None


def parse_header(handle) -> ImageHeader | None:
    """:func:`read_header` of an open binary file (anything with read/seek), from its start."""
    try:
        magic = handle.read(16)
        handle.seek(0)
        for signature, parse in _PARSERS:
            if magic.startswith(signature):
                header = parse(handle)
                return header if header is None or (header.height > 0 and header.width > 0) \
                    else None
    except (OSError, struct.error, ValueError, OverflowError):
        return None
    return None


# --------------------------------------------------------------------------- EXIF / TIFF
_TIFF_TYPES = {1: ("B", 1), 3: ("H", 2), 4: ("I", 4), 16: ("Q", 8)}   # BYTE SHORT LONG LONG8


def _tiff_ifd(handle, tags: set[int]) -> dict[int, tuple]:
    """Values of ``tags`` in the first image directory of a TIFF structure that starts at
    the handle's offset 0 (a TIFF file, or an EXIF block in a BytesIO). Classic (``*`` = 42)
    and BigTIFF (43). Only the directory and the values asked for are read, wherever they
    lie (writers often put the directory after gigabytes of pixel data)."""
    head = handle.read(16)
    order = {b"II": "<", b"MM": ">"}.get(head[:2])
    if order is None or len(head) < 8:
        return {}
    version = struct.unpack_from(order + "H", head, 2)[0]
    if version == 42:
        offset, count_fmt, entry_size, inline, word = \
            struct.unpack_from(order + "I", head, 4)[0], "H", 12, 4, "I"
    elif version == 43 and len(head) == 16:
        offset, count_fmt, entry_size, inline, word = \
            struct.unpack_from(order + "Q", head, 8)[0], "Q", 20, 8, "Q"
    else:
        return {}
    handle.seek(offset)
    count_bytes = handle.read(struct.calcsize(count_fmt))
    if len(count_bytes) < struct.calcsize(count_fmt):
        return {}
    count = min(struct.unpack(order + count_fmt, count_bytes)[0], 4096)
    entries = handle.read(count * entry_size)
    found = {}
    for k in range(len(entries) // entry_size):
        entry = k * entry_size
        tag, kind = struct.unpack_from(order + "HH", entries, entry)
        if tag not in tags or kind not in _TIFF_TYPES:
            continue
        n = min(struct.unpack_from(order + word, entries, entry + 4)[0], 16)
        code, size = _TIFF_TYPES[kind]
        value = entries[entry + 4 + inline:entry + 4 + 2 * inline]
        if n * size > inline:
            handle.seek(struct.unpack(order + word, value)[0])
            value = handle.read(n * size)
            if len(value) < n * size:
                continue
        found[tag] = struct.unpack_from(order + code * n, value)
    return found


def _exif_orientation(exif: bytes) -> int | None:
    """EXIF Orientation (tag 274) of a TIFF-structured EXIF block; None when absent or bad
    (callers take 1, "as stored")."""
    try:
        value = _tiff_ifd(io.BytesIO(exif), {274}).get(274, (0,))[0]
    except struct.error:
        return None
    return value if 1 <= value <= 8 else None


def _parse_tiff(handle) -> ImageHeader | None:
    values = _tiff_ifd(handle, {256, 257, 258, 274, 277})
    if 256 not in values or 257 not in values:
        return None
    bits = max(values.get(258, (8,)))
    channels = values.get(277, (1,))[0]
    orientation = values.get(274, (1,))[0]
    return ImageHeader("tiff", values[257][0], values[256][0],
                       orientation if 1 <= orientation <= 8 else 1,
                       max(1, channels * -(-bits // 8)))


# --------------------------------------------------------------------------- PNG
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _parse_png(handle) -> ImageHeader | None:
    """IHDR (which the PNG specification puts first: width, height, bit depth, colour type;
    CRC-checked), then the chunks before the image data (lengths only) for ``eXIf``, which
    the specification places before ``IDAT``. 9 us a file against pillow's 36."""
    head = handle.read(33)
    if (len(head) < 33 or head[8:16] != b"\x00\x00\x00\rIHDR"
            or zlib.crc32(head[12:29]) != int.from_bytes(head[29:33], "big")):
        return None
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    depth, colour = head[24], head[25]
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(colour, 4)
    orientation, position = 1, 33
    for _ in range(64):                      # ancillary chunks before IDAT are few
        chunk = handle.read(8)
        length, kind = int.from_bytes(chunk[:4], "big"), chunk[4:]
        if len(chunk) < 8 or kind in (b"IDAT", b"IEND"):
            break
        if kind == b"eXIf" and length < (1 << 20):
            orientation = _exif_orientation(handle.read(length)) or 1
        position += 12 + length
        handle.seek(position)
    return ImageHeader("png", height, width, orientation, channels * max(1, depth // 8) + 1)


# --------------------------------------------------------------------------- JPEG
#: start-of-frame markers (baseline, extended, progressive, lossless; Huffman or arithmetic)
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE,
                       0xCF})
#: markers without a length field (TEM, RSTn, SOI)
_JPEG_STANDALONE = frozenset({0x01, 0xD0, 0xD1, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8})


def _parse_jpeg(handle) -> ImageHeader | None:
    """The start-of-frame segment (precision, height, width, components), found by walking
    the marker segments after SOI (ITU-T T.81, B.1.1: ``FF`` + code, then a big-endian length
    that counts itself), and the orientation from an ``Exif`` APP1 segment before it. None
    when anything is unusual (no SOF before the scan, a height defined later by DNL)."""
    handle.seek(2)
    orientation = 1
    for _ in range(4096):                       # a bound on the segments walked
        if handle.read(1) != b"\xff":
            return None
        marker = handle.read(1)
        while marker == b"\xff":                # fill bytes before a marker code
            marker = handle.read(1)
        if not marker or marker[0] in (0xD9, 0xDA):   # end of image, start of scan
            return None
        if marker[0] in _JPEG_STANDALONE:
            continue
        head = handle.read(2)
        if len(head) < 2 or struct.unpack(">H", head)[0] < 2:
            return None
        length = struct.unpack(">H", head)[0] - 2
        if marker[0] in _JPEG_SOF:
            frame = handle.read(6)
            if len(frame) < 6:
                return None
            height, width = struct.unpack(">HH", frame[1:5])
            bytes_per_sample = 2 if frame[0] > 8 else 1
            return ImageHeader("jpeg", height, width, orientation,
                               max(3, frame[5]) * bytes_per_sample)
        if marker[0] == 0xE1 and orientation == 1:
            # the first directory sits near the start of the block: read 4 kB (a camera's
            # APP1 is up to 64 kB, mostly the thumbnail), the rest only when the tag is not there
            data = handle.read(min(length, 4096))
            if data.startswith(b"Exif\x00\x00"):
                found = _exif_orientation(data[6:])
                if found is None and length > len(data):
                    data += handle.read(length - len(data))
                    found = _exif_orientation(data[6:])
                orientation = found or 1
            handle.seek(length - len(data), 1)
            continue
        handle.seek(length, 1)
    return None


# --------------------------------------------------------------------------- WebP
def _parse_webp(handle) -> ImageHeader | None:
    """RIFF chunks (WebP container specification): ``VP8X`` (canvas size, 24-bit minus one),
    ``VP8`` (lossy key frame: 14-bit sizes after the start code) or ``VP8L`` (lossless:
    14-bit sizes minus one after the 0x2F signature); ``EXIF`` anywhere."""
    head = handle.read(12)
    if head[8:12] != b"WEBP":
        return None
    end = 8 + int.from_bytes(head[4:8], "little")
    size, orientation, position = None, 1, 12
    for _ in range(4096):
        chunk = handle.read(8)
        if len(chunk) < 8:
            break
        kind, length = chunk[:4], int.from_bytes(chunk[4:], "little")
        if kind == b"VP8X" and size is None:
            data = handle.read(10)
            size = (1 + int.from_bytes(data[7:10], "little"), 1 + int.from_bytes(data[4:7], "little"))
        elif kind == b"VP8 " and size is None:
            data = handle.read(10)
            if data[3:6] != b"\x9d\x01\x2a":
                return None
            w, h = struct.unpack("<HH", data[6:10])
            size = (h & 0x3FFF, w & 0x3FFF)
        elif kind == b"VP8L" and size is None:
            data = handle.read(5)
            if data[0] != 0x2F:
                return None
            bits = int.from_bytes(data[1:5], "little")
            size = (((bits >> 14) & 0x3FFF) + 1, (bits & 0x3FFF) + 1)
        elif kind == b"EXIF" and length < (1 << 20):
            exif = handle.read(length)
            orientation = _exif_orientation(
                exif[6:] if exif.startswith(b"Exif\x00\x00") else exif) or 1
        position += 8 + length + (length & 1)
        handle.seek(position)
    return None if size is None else ImageHeader("webp", size[0], size[1], orientation, 4, end)


# --------------------------------------------------------------------------- BMP
def _parse_bmp(handle) -> ImageHeader | None:
    """BITMAPFILEHEADER + the info header: OS/2 core (12 bytes: 16-bit sizes) or Windows
    (40+: 32-bit signed sizes; a negative height is a top-down image)."""
    head = handle.read(26)
    if len(head) < 26:
        return None
    info = int.from_bytes(head[14:18], "little")
    if info == 12:
        width, height = struct.unpack("<HH", head[18:22])
    elif info >= 40:
        width, height = struct.unpack("<ii", head[18:26])
    else:
        return None
    return ImageHeader("bmp", abs(height), width, 1, 4)


_PARSERS = ((_PNG_SIGNATURE, _parse_png), (b"\xff\xd8", _parse_jpeg),
            (b"II*\x00", _parse_tiff), (b"MM\x00*", _parse_tiff),
            (b"II+\x00", _parse_tiff), (b"MM\x00+", _parse_tiff),
            (b"RIFF", _parse_webp), (b"BM", _parse_bmp))

__all__ = ["DEFAULT_MAX_IMAGE_PIXELS", "ImageHeader", "MAX_PIXELS_ENV", "check_image_pixels",
           "header_shape", "max_image_pixels", "parse_header", "read_header"]
