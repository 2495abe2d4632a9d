"""Helpers shared by benchmarks/run.py and the benchmarks/cases_*.py modules.

Importing this module pins every thread pool to one thread (environment variables are set
before numpy is imported; cv2 is told directly), so throughput is per core.
"""
from __future__ import annotations

import os

THREAD_ENV = {name: "1" for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                     "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                                     "NUMBA_NUM_THREADS")}
os.environ.update(THREAD_ENV)

import cv2  # noqa: E402  (after the environment is set)
import numpy as np  # noqa: E402

cv2.setNumThreads(1)

_IMAGES: dict[int, np.ndarray] = {}


def bench_image(size: int) -> np.ndarray:
    """A ``size`` x ``size`` float32 RGB test image with real content (cached per size).

    The built-in ``rose`` sample, mirrored into a 2x2 tile (no seams) and resized to
    ``size`` with area/bicubic interpolation: realistic for JPEG and blur, deterministic.
    """
    if size not in _IMAGES:
        from degrade.sources import load_sample

        rose = load_sample("rose")
        tile = np.concatenate([rose, rose[:, ::-1]], axis=1)
        tile = np.concatenate([tile, tile[::-1]], axis=0)
        mode = cv2.INTER_AREA if size < min(tile.shape[:2]) else cv2.INTER_CUBIC
        img = cv2.resize(tile, (size, size), interpolation=mode)
        _IMAGES[size] = np.ascontiguousarray(np.clip(img, 0.0, 1.0), dtype=np.float32)
    return _IMAGES[size].copy()
