"""Decoding a source file for a sample: an image (sRGB float32 in [0, 1]) or a RAW mosaic
with its metadata (CFA pattern, levels, white balance, colour matrix)."""
from __future__ import annotations

import numpy as np

from .images import read_image
from .raw import read_raw


def read_file(path, kind: str, storage_options: dict | None = None) -> tuple[np.ndarray, dict]:
    """Decode one source file (a path, or a URL read with ``storage_options``) to
    ``(float32 array in [0, 1], metadata dict)``."""
    from .remote import is_url
    if is_url(path):
        from .remote import read_remote
        return read_remote(path, kind, storage_options)
    if kind == "raw":
        raw = read_raw(path)
        return np.ascontiguousarray(raw.mosaic, dtype=np.float32), dict(raw.meta)
    return read_image(path), {}
