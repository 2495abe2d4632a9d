"""Bayer CFA pattern conventions shared by every RAW op.

A mosaic is a float32 ``(H, W)`` array; its pattern names the colours of the top-left 2x2
cell in reading order (row 0 left, row 0 right, row 1 left, row 1 right). Channel indices
are R=0, G=1, B=2. Packed RAW is ``(H/2, W/2, 4)`` with planes in the pattern's reading order.
"""
from __future__ import annotations

import numpy as np

from ._validate import check_choice

PATTERNS = ("RGGB", "BGGR", "GRBG", "GBRG")
_CHANNEL = {"R": 0, "G": 1, "B": 2}


def check_pattern(pattern, *, op: str | None = None) -> str:
    """Validate a CFA pattern name (upper-case)."""
    return check_choice("pattern", pattern.upper() if isinstance(pattern, str) else pattern,
                        PATTERNS, op=op)


def cell_channels(pattern: str) -> np.ndarray:
    """``(2, 2)`` int array: RGB channel index of each position of the 2x2 cell."""
    return np.array([_CHANNEL[c] for c in check_pattern(pattern)], dtype=np.int64).reshape(2, 2)


def channel_map(pattern: str, height: int, width: int) -> np.ndarray:
    """``(H, W)`` int array: RGB channel index (0, 1, 2) of every photosite."""
    cell = cell_channels(pattern)
    return np.tile(cell, ((height + 1) // 2, (width + 1) // 2))[:height, :width]


def pack_planes(mosaic: np.ndarray) -> np.ndarray:
    """``(H, W)`` mosaic (even sides) -> ``(H/2, W/2, 4)`` planes in cell reading order:
    ``y[i, j, 2a + b] = x[2i + a, 2j + b]``. No validation (callers check)."""
    h, w = mosaic.shape
    return np.ascontiguousarray(mosaic.reshape(h // 2, 2, w // 2, 2).transpose(0, 2, 1, 3)
                                .reshape(h // 2, w // 2, 4))


def unpack_planes(planes: np.ndarray) -> np.ndarray:
    """Inverse of :func:`pack_planes`: ``(H/2, W/2, 4)`` -> ``(H, W)``."""
    h, w, _ = planes.shape
    return np.ascontiguousarray(planes.reshape(h, w, 2, 2).transpose(0, 2, 1, 3)
                                .reshape(2 * h, 2 * w))


def as_mosaic(image, *, op: str | None = None, name: str = "image") -> np.ndarray:
    """Check a Bayer mosaic: a 2-D ``(H, W)`` array, returned as C-contiguous float32."""
    from ._errors import ParameterError
    from ._validate import as_image

    if isinstance(image, np.ndarray) and image.ndim != 2:
        where = f"{op}: " if op else ""
        raise ParameterError(f"{where}{name} has shape {image.shape}: expected a Bayer "
                             "mosaic (H, W)")
    return as_image(image, name=name, op=op, allow_2d=True)


def rgbg_sites(pattern: str) -> np.ndarray:
    """``(2, 2)`` int array: RGBG index of each cell position, the order ELD/LibRaw packing
    uses for per-site tables: 0 = R, 1 = G on the R row, 2 = B, 3 = G on the B row."""
    cell = cell_channels(pattern)
    red_row = int(np.argwhere(cell == 0)[0][0])
    sites = np.where(cell == 0, 0, np.where(cell == 2, 2, 0))
    for r in range(2):
        for c in range(2):
            if cell[r, c] == 1:
                sites[r, c] = 1 if r == red_row else 3
    return sites.astype(np.int64)
