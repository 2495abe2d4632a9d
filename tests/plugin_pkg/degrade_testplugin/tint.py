"""A per-channel random gain ("tint"): the op of the plugin example in docs/extending.md."""
import numba
import numpy as np

from degrade import ParameterError, register_op


@numba.njit(cache=True, nogil=True)
def _tint_kernel(image, gains, out):
    # one pass over the pixels: no temporaries, and nogil lets dask threads run in parallel
    h, w, c = image.shape
    for y in range(h):
        for x in range(w):
            for k in range(c):
                v = image[y, x, k] * gains[k]
                out[y, x, k] = min(max(v, np.float32(0.0)), np.float32(1.0))


@register_op("plugin_tint", domain_in=("srgb", "linear"), random=True)
def plugin_tint(image: np.ndarray, strength: float = 0.1, *, rng=None) -> np.ndarray:
    """Multiply each channel by a gain drawn from U(1 - strength, 1 + strength), clip to [0, 1].

    Parameters
    ----------
    image : ndarray, float32, (H, W, 3), values in [0, 1]
    strength : float in [0, 1]
    rng : numpy.random.Generator
        Required; three draws (``rng.uniform``), in channel order.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ParameterError(f"plugin_tint: expected an (H, W, 3) image, got shape {image.shape}")
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) \
            or not 0 <= strength <= 1:
        raise ParameterError(f"plugin_tint: strength = {strength!r}: expected a number in [0, 1]")
    if not isinstance(rng, np.random.Generator):
        raise ParameterError("plugin_tint: needs rng=numpy.random.Generator")
    gains = rng.uniform(1 - strength, 1 + strength, size=3).astype(np.float32)
    image = np.ascontiguousarray(image, dtype=np.float32)
    out = np.empty_like(image)
    _tint_kernel(image, gains, out)
    return out
