"""Geometry ops: crop and flips / 90-degree rotations (exact, no resampling)."""
from __future__ import annotations

import numpy as np

from .._errors import ParameterError
from .._registry import RGB_DOMAINS, Range, register_op
from .._validate import as_image, check_finite_values, check_scalar, check_size


@register_op("crop", domain_in=RGB_DOMAINS)
def crop(image: np.ndarray, size: int | tuple[int, int], y: int | None = None,
         x: int | None = None, *, rng=None) -> np.ndarray:
    """Cut a ``size`` window whose top-left corner is (``y``, ``x``); centred when omitted.

    Parameters
    ----------
    image : ndarray, float32, (H, W, 3), values in [0, 1]
    size : int or (int, int)
        Output height and width (an int means a square).
    y, x : int, optional
        Top-left corner; ``None`` centres the window on that axis.

    Returns
    -------
    ndarray, float32, (size_h, size_w, 3): a copy.

    Raises
    ------
    ParameterError
        The window does not fit inside the image.

    Examples
    --------
    >>> crop(np.zeros((8, 8, 3), np.float32), 4).shape
    (4, 4, 3)
    """
    img = as_image(image, op="crop", check_finite=False)   # only the window is checked
    h, w = check_size("size", size, op="crop")
    H, W = img.shape[:2]
    if h > H or w > W:
        raise ParameterError(f"crop: image of {H}x{W} is smaller than the crop size {h}x{w}")
    top = (H - h) // 2 if y is None else check_scalar("y", y, op="crop", integer=True, low=0, high=H - h)
    left = (W - w) // 2 if x is None else check_scalar("x", x, op="crop", integer=True, low=0, high=W - w)
    out = img[top:top + h, left:left + w].copy()
    check_finite_values(out, name="image", op="crop")
    return out


@register_op("flip_rot", domain_in=RGB_DOMAINS, limits={"rot90": Range(0, 3)})
def flip_rot(image: np.ndarray, hflip: bool = False, vflip: bool = False, rot90: int = 0,
             *, rng=None) -> np.ndarray:
    """Flip horizontally and/or vertically, then rotate by ``rot90`` quarter turns (CCW).

    Parameters
    ----------
    image : ndarray, float32, (H, W, 3), values in [0, 1]
    hflip, vflip : bool
        Mirror left-right / top-bottom (applied first, in that order).
    rot90 : int
        Number of counter-clockwise quarter turns, 0..3 (``np.rot90`` convention).

    Returns
    -------
    ndarray, float32, C-contiguous; (W, H, 3) for odd ``rot90``.

    Examples
    --------
    >>> flip_rot(np.zeros((2, 4, 3), np.float32), rot90=1).shape
    (4, 2, 3)
    """
    img = as_image(image, op="flip_rot")
    k = check_scalar("rot90", rot90, op="flip_rot", integer=True, low=0, high=3)
    if hflip:
        img = img[:, ::-1]
    if vflip:
        img = img[::-1]
    return np.ascontiguousarray(np.rot90(img, k))
