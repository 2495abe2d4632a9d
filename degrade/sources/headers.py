"""Image sizes read from file headers, without pillow: PNG and JPEG.

Planning probes every source file (:func:`degrade.sources.folders.probe_shape`); for the two
formats of most training sets the size sits in the first bytes, and reading it there takes
9-14 us a file against pillow's 36-46 (50 000 files: ~1.5 s less planning). Anything
unusual gives None, and pillow decides.
"""
from __future__ import annotations

import struct
import zlib


def header_shape(path) -> tuple[int, int] | None:
    """(height, width) of a PNG or JPEG file (by its extension) from its header; None for
    other files and whenever the header does not check out."""
    suffix = str(path).lower().rsplit(".", 1)[-1]
    if suffix == "png":
        return _png_header_shape(path)
    if suffix in ("jpg", "jpeg"):
        return _jpeg_header_shape(path)
    return None


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_header_shape(path) -> tuple[int, int] | None:
    """(height, width) from a PNG's IHDR chunk, which the PNG specification puts first:
    signature (8 bytes), chunk length (4), ``IHDR``, width and height (big-endian uint32),
    5 more bytes, CRC-32 over type and data. None when anything does not check out (pillow
    then decides). 9 us a file against pillow's 36 (50 000 files: 1.4 s less planning)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(33)
    except OSError:
        return None
    if (len(head) < 33 or head[:8] != _PNG_SIGNATURE or head[8:16] != b"\x00\x00\x00\rIHDR"
            or zlib.crc32(head[12:29]) != int.from_bytes(head[29:33], "big")):
        return None
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    return (height, width) if width > 0 and height > 0 else None


#: start-of-frame markers (baseline, extended, progressive, lossless; Huffman or arithmetic)
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE,
                       0xCF})
#: markers without a length field (TEM, RSTn, SOI)
_JPEG_STANDALONE = frozenset({0x01, 0xD0, 0xD1, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8})


def _jpeg_header_shape(path) -> tuple[int, int] | None:
    """(height, width) from a JPEG's start-of-frame segment, found by walking the marker
    segments after the SOI marker (ITU-T T.81, B.1.1: ``FF`` + code, then a big-endian
    length that counts itself; SOF data: precision, height, width). None when anything is
    unusual (no SOF before the scan, a height defined later by DNL, a truncated file)."""
    try:
        with open(path, "rb") as handle:
            if handle.read(2) != b"\xff\xd8":
                return None
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
                if marker[0] in _JPEG_SOF:
                    frame = handle.read(5)
                    if len(frame) < 5:
                        return None
                    height, width = struct.unpack(">HH", frame[1:5])
                    return (height, width) if height > 0 and width > 0 else None
                handle.seek(struct.unpack(">H", head)[0] - 2, 1)
    except OSError:
        return None
    return None
