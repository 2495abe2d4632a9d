"""Rendering a RAW crop the way the camera file's ground truth is made: LibRaw AAHD.

``render_libraw_aahd`` turns a Bayer mosaic crop of a RAW file into the sRGB target of
raw-to-sRGB pairs (the IID-AI RAIM 2024 recipe: AAHD rendering of the clean RAW). It needs
the file itself (LibRaw renders whole frames, with the file's levels, white balance and
colour matrix), so the crop's ``source_path`` and ``crop_origin`` travel in the sample
metadata: ``read_raw(...).meta`` has the path, the recipe adds the crop position.
"""
from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

from .._errors import ParameterError
from .._registry import register_op
from .._validate import as_image

#: Full-frame renders and clean mosaics kept per process (a few small files at a time).
CACHE_FILES = 4


def _file_key(path: str) -> tuple[str, int, int]:
    """(absolute path, mtime_ns, size): a changed file is never served from the cache."""
    stat = os.stat(path)
    return os.path.abspath(path), stat.st_mtime_ns, stat.st_size


@lru_cache(maxsize=CACHE_FILES)
def _clean_mosaic(key: tuple[str, int, int]) -> np.ndarray:
    from ..sources.raw import read_raw

    mosaic = read_raw(key[0]).mosaic
    mosaic.setflags(write=False)
    return mosaic


@lru_cache(maxsize=CACHE_FILES)
def _clean_render(key: tuple[str, int, int]) -> np.ndarray:
    from ..sources.raw import render_srgb

    rgb = render_srgb(key[0])
    rgb.setflags(write=False)
    return rgb


def _origin(crop_origin, shape, frame, path) -> tuple[int, int]:
    try:
        y, x = (int(v) for v in crop_origin)
        if [y, x] != [float(v) for v in crop_origin]:
            raise ValueError
    except (TypeError, ValueError):
        raise ParameterError(f"render_libraw_aahd: parameter 'crop_origin' = {crop_origin!r}: "
                             "expected [y, x], two integers") from None
    h, w = shape
    if y < 0 or x < 0 or y + h > frame[0] or x + w > frame[1]:
        raise ParameterError(f"render_libraw_aahd: a {h}x{w} crop at crop_origin [{y}, {x}] "
                             f"does not fit in the {frame[0]}x{frame[1]} mosaic of {path}")
    if y % 2 or x % 2:
        raise ParameterError(f"render_libraw_aahd: parameter 'crop_origin' = [{y}, {x}]: "
                             "expected even coordinates (the crop must keep the file's CFA "
                             "phase)")
    return y, x


@register_op("render_libraw_aahd", domain_in="raw", domain_out="srgb",
             meta_in=("source_path", "crop_origin"))
def render_libraw_aahd(image: np.ndarray, source_path: str | None = None,
                       crop_origin: list[int] | None = None, *, rng=None) -> np.ndarray:
    """Render a mosaic crop of a RAW file to sRGB with LibRaw AAHD, in full-frame context.

    Parameters
    ----------
    image : ndarray, float32, (h, w), raw mosaic in [0, 1]
        A crop of the normalised mosaic of ``source_path`` (as ``read_raw`` gives it), clean
        or degraded.
    source_path : str
        The RAW file the crop comes from; filled from the sample metadata (``read_raw``'s
        ``meta``, hence ``degrade generate`` on RAW sources and ``degrade preview``).
    crop_origin : [y, x]
        Top-left corner of the crop in the file's visible mosaic (even); filled from the
        sample metadata (the recipe's crop position plus the engine's patch position).

    Returns
    -------
    ndarray, float32, (h, w, 3), sRGB in [0, 1] (multiples of 1/65535)
        Equal to ``render_srgb(source_path)[y:y + h, x:x + w]`` when ``image`` is the file's
        clean mosaic at that window.

    Raises
    ------
    ParameterError
        ``source_path`` or ``crop_origin`` missing (the recipe ran on an in-memory image, not
        on a RAW file), a crop that does not fit in the file's mosaic, an odd origin.
    InputError
        The file is gone or not a Bayer RAW file (as :func:`degrade.sources.read_raw`).

    Notes
    -----
    LibRaw demosaics, white-balances (as-shot), converts to sRGB primaries and applies the
    sRGB curve (gamma 2.4, slope 12.92) to whole frames
    (:func:`degrade.sources.raw.render_srgb`). A crop equal to the clean file at its window
    is served from the per-process cache of the full-frame render (``CACHE_FILES`` files);
    any other crop is written into the file's clean mosaic at ``crop_origin`` and the frame
    is rendered again (each sample pays one full-frame AAHD render), so pixels near the crop
    border see the real neighbours, as in the clean render. For a linear-light target
    follow it with ``gamma_expand`` (``curve: srgb``). AAHD: Y. Gao, "Adaptive homogeneity
    directed demosaicing", in LibRaw (``demosaic_algorithm=AAHD``); the IID-AI team's
    ground truth in NTIRE 2024 RAIM Track 1.

    Examples
    --------
    >>> from degrade.sources import raw_sample_paths, read_raw
    >>> raw = read_raw(raw_sample_paths()[1])
    >>> render_libraw_aahd(raw.mosaic[:64, :32], raw.meta["source_path"], [0, 0]).shape
    (64, 32, 3)
    """
    if not source_path:
        raise ParameterError("render_libraw_aahd: parameter 'source_path' is missing: it needs "
                             "the RAW file the mosaic was read from (sample metadata "
                             "'source_path', set by read_raw(...).meta and degrade generate on "
                             "RAW files); a recipe run on an in-memory mosaic has none")
    if crop_origin is None:
        raise ParameterError("render_libraw_aahd: parameter 'crop_origin' is missing: it needs "
                             "the crop's [y, x] in the RAW file (sample metadata 'crop_origin', "
                             "set by Recipe.run / replay)")
    crop = as_image(image, op="render_libraw_aahd", name="image", channels=None, allow_2d=True)
    if crop.ndim != 2:
        raise ParameterError(f"render_libraw_aahd: image has shape {crop.shape}: expected a "
                             "Bayer mosaic (H, W)")
    try:
        key = _file_key(str(source_path))
    except OSError:
        from .._errors import InputError
        raise InputError(f"{source_path}: no such RAW file (render_libraw_aahd source_path)") \
            from None
    clean = _clean_mosaic(key)
    h, w = crop.shape
    y, x = _origin(crop_origin, (h, w), clean.shape, source_path)
    if np.array_equal(crop, clean[y:y + h, x:x + w]):
        rgb = _clean_render(key)
    else:
        from ..sources.raw import render_srgb

        frame = clean.copy()
        frame[y:y + h, x:x + w] = crop
        rgb = render_srgb(key[0], mosaic=frame)
    return np.array(rgb[y:y + h, x:x + w], dtype=np.float32, order="C", copy=True)
