"""Decoding a source file for a sample: an image (sRGB float32 in [0, 1]) or a RAW mosaic
with its metadata (CFA pattern, levels, white balance, colour matrix)."""
from __future__ import annotations

import numpy as np

from .images import read_image
from .raw import read_raw


def read_file(path, kind: str) -> tuple[np.ndarray, dict]:
    """Decode one source file to ``(float32 array in [0, 1], metadata dict)``."""
    if kind == "raw":
        raw = read_raw(path)
        return np.ascontiguousarray(raw.mosaic, dtype=np.float32), dict(raw.meta)
    return read_image(path), {}
