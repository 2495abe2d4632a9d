"""Patch geometry: where the patch of a sample sits in its source image (whole image, a
random crop drawn from the sample's seed stream, or a cell of a sliding grid)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _rng


@dataclass(frozen=True)
class Patches:
    """Patch extraction before the recipe: ``size`` alone = one random crop per sample,
    ``size`` + ``stride`` = a sliding grid; both None = the whole image."""

    size: int | None = None
    stride: int | None = None

    @property
    def mode(self) -> str:
        if self.size is None:
            return "whole"
        return "random" if self.stride is None else "grid"

    def as_dict(self) -> dict:
        return {"mode": self.mode, "size": self.size, "stride": self.stride}


def grid_starts(length: int, size: int, stride: int) -> list[int]:
    """Patch starts along one axis: 0, stride, ... plus ``length - size`` when not reached."""
    if length < size:
        return []
    starts = list(range(0, length - size + 1, stride))
    if starts[-1] != length - size:
        starts.append(length - size)
    return starts


def grid_cells(shape, size: int, stride: int, even: bool = False) -> int:
    ys, xs = (grid_starts(n - (n % 2 if even else 0), size, stride) for n in shape[:2])
    return len(ys) * len(xs)


def patch_position(shape, patches: Patches, cell: int, seed: int, index: int,
                   even: bool) -> tuple[int, int] | None:
    """Top-left corner of the patch of sample ``index`` in an image of ``shape``."""
    if patches.mode == "whole":
        return None
    size = patches.size
    height, width = (n - (n % 2 if even else 0) for n in shape[:2])
    if patches.mode == "grid":
        ys, xs = grid_starts(height, size, patches.stride), grid_starts(width, size, patches.stride)
        cell = min(cell, len(ys) * len(xs) - 1)  # a substitute file may have fewer cells
        y, x = ys[cell // len(xs)], xs[cell % len(xs)]
    else:
        rng = _rng.stream(seed, index, 0, _rng.SOURCE)
        y = int(rng.integers(0, height - size + 1))
        x = int(rng.integers(0, width - size + 1))
    if even:
        y, x = y - y % 2, x - x % 2
    return int(y), int(x)


def with_source_origin(meta: dict, position) -> dict:
    """A copy of ``meta`` with ``source_origin: [y, x]``, the top-left corner of the patch in
    its source file (absent for whole images); the recipe adds its crop position to it to
    give the ops ``crop_origin`` (``render_libraw_aahd`` needs it)."""
    meta = dict(meta)
    if position is not None:
        meta["source_origin"] = [int(position[0]), int(position[1])]
    return meta


def cut_patch(image: np.ndarray, position, size: int | None) -> np.ndarray:
    if position is None:
        return image
    y, x = position
    return np.ascontiguousarray(image[y:y + size, x:x + size])
