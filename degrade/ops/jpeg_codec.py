"""JPEG compression artefacts (libjpeg through OpenCV)."""
from __future__ import annotations

import cv2
import numpy as np

from .._errors import DegradeError
from .._quantise import quantise
from .._registry import Range, register_op
from .._validate import as_image, check_scalar


@register_op("jpeg", domain_in="srgb", limits={"quality": Range(0, 100)})
def jpeg(image: np.ndarray, quality: int, *, rng=None) -> np.ndarray:
    """Encode and decode as baseline JPEG at integer ``quality`` (libjpeg via cv2).

    Parameters
    ----------
    image : ndarray, float32, (H, W, 3) RGB, values in [0, 1] (clipped, rounded to 8 bit)
    quality : int in [0, 100]
        libjpeg quality (4:2:0 chroma subsampling, the libjpeg default).

    Returns
    -------
    ndarray, float32, (H, W, 3), multiples of 1/255.

    Notes
    -----
    ``u8 = round(clip(x) * 255)``; RGB -> BGR; ``cv2.imencode('.jpg', IMWRITE_JPEG_QUALITY=q)``;
    ``cv2.imdecode``; BGR -> RGB; ``/ 255`` — exactly BSRGAN's ``add_JPEG_noise`` and
    Real-ESRGAN's numpy path.

    Examples
    --------
    >>> jpeg(np.full((16, 16, 3), 0.5, np.float32), 75).dtype
    dtype('float32')
    """
    img = as_image(image, op="jpeg")
    q = check_scalar("quality", quality, op="jpeg", integer=True, low=0, high=100)
    bgr = cv2.cvtColor(quantise(img, "uint8", "half_even"), cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, q])
    if not ok:
        raise DegradeError("jpeg: OpenCV failed to encode the image")
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB).astype(np.float32) / np.float32(255.0)
