"""Resampling ops (OpenCV)."""
from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

from .._errors import ParameterError
from .._registry import RGB_DOMAINS, register_op
from .._validate import as_image, check_choice, check_scalar, check_size

INTERPOLATION = {
    "nearest": cv2.INTER_NEAREST,
    "area": cv2.INTER_AREA,
    "bilinear": cv2.INTER_LINEAR,
    "bicubic": cv2.INTER_CUBIC,
}


def output_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """``(floor(H*s), floor(W*s))``, the size torch and Real-ESRGAN use for a scale factor."""
    return int(height * scale), int(width * scale)


@register_op("resize", domain_in=RGB_DOMAINS, meta_in=("target_size",))
def resize(image: np.ndarray, scale: float | None = None, size: int | tuple[int, int] | None = None,
           mode: Literal["area", "bilinear", "bicubic", "nearest"] = "bicubic",
           relative_to: Literal["image", "target"] = "image",
           target_size: int | tuple[int, int] | None = None, *, rng=None) -> np.ndarray:
    """Resample to a scale factor or an explicit size (cv2.resize).

    Parameters
    ----------
    image : ndarray, float32, (H, W, 3)
    scale : float > 0, optional
        Output size ``floor(H*scale) x floor(W*scale)``, where H, W are the current image
        (``relative_to='image'``) or the recipe's target (``relative_to='target'``, e.g.
        Real-ESRGAN's "resize to the LR grid times s").
    size : int or (int, int), optional
        Explicit output (height, width). Exactly one of ``scale`` and ``size``.
    mode : {'area', 'bilinear', 'bicubic', 'nearest'}
        OpenCV interpolation (bicubic uses a = -0.75, like torch).
    target_size : (int, int), optional
        The target's (height, width); filled in by the recipe engine.

    Returns
    -------
    ndarray, float32, not clipped (bicubic may overshoot [0, 1], as in Real-ESRGAN).

    Examples
    --------
    >>> resize(np.zeros((10, 10, 3), np.float32), scale=0.5).shape
    (5, 5, 3)
    """
    img = as_image(image, op="resize")
    if (scale is None) == (size is None):
        raise ParameterError("resize: give exactly one of 'scale' and 'size'")
    if size is not None:
        out_h, out_w = check_size("size", size, op="resize")
    else:
        s = check_scalar("scale", scale, op="resize", low=0, low_open=True)
        if relative_to == "target":
            if target_size is None:
                raise ParameterError("resize: relative_to='target' needs 'target_size' "
                                     "(set by the recipe engine)")
            base_h, base_w = check_size("target_size", target_size, op="resize")
        else:
            base_h, base_w = img.shape[:2]
        out_h, out_w = output_size(base_h, base_w, s)
        if out_h < 1 or out_w < 1:
            raise ParameterError(f"resize: scale {s} makes a {base_h}x{base_w} image empty")
    check_choice("mode", mode, tuple(INTERPOLATION), op="resize")
    check_choice("relative_to", relative_to, ("image", "target"), op="resize")
    if (out_h, out_w) == img.shape[:2]:
        return img.copy()
    out = cv2.resize(img, (out_w, out_h), interpolation=INTERPOLATION[mode])
    return out.reshape(out_h, out_w, *img.shape[2:])
