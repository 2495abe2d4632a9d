"""Exposure and level ops on any domain: darkening + digital gain, black / white level,
bit-depth quantisation, per-channel scaling.

Values are normalised: a RAW mosaic holds ``(dn - black) / (white - black)``. Per-channel
values work on RGB ``(H, W, 3)``, on a Bayer mosaic ``(H, W)`` and on packed RAW
``(H/2, W/2, 4)``; for the last two the CFA ``pattern`` (sample metadata) says which colour
each photosite / plane is.
"""
from __future__ import annotations

from typing import Literal

import numpy as np

from .._cfa import cell_channels, check_pattern
from .._errors import ParameterError
from .._registry import ANY_DOMAIN, Range, register_op, register_sampler
from .._validate import as_image, check_scalar, check_vector

BIT_DEPTHS = (8, 10, 12, 14, 16)


def check_image_any(image, op: str) -> np.ndarray:
    """RGB (H, W, 3), mosaic (H, W) or packed RAW (H/2, W/2, 4) as float32."""
    return as_image(image, op=op, channels=(3, 4), allow_2d=True)


def per_channel_affine(img: np.ndarray, scale, offset, *, pattern, op: str,
                       lo: float = -np.inf, hi: float = np.inf) -> np.ndarray:
    """``clip(x * scale[c] + offset[c], lo, hi)`` per colour channel or CFA position.

    ``scale`` / ``offset``: float64 vectors of 3 (per R, G, B; mapped through ``pattern`` on
    mosaics and packed RAW) or 4 (per CFA position in reading order; mosaic / packed only),
    placed by :func:`site_values`.
    """
    from .._nb.isp import _cfa_affine_kernel, _channel_affine_kernel

    view = img[:, :, None] if img.ndim == 2 else img
    scale_map = site_values(np.asarray(scale, np.float64), view, pattern, op)
    offset_map = site_values(np.asarray(offset, np.float64), view, pattern, op)
    out = np.empty_like(img)
    if img.ndim == 2:
        _cfa_affine_kernel(img, scale_map[:, :, 0].copy(), offset_map[:, :, 0].copy(), lo, hi,
                           out)
    else:
        c = img.shape[2]
        _channel_affine_kernel(img.reshape(-1, c), scale_map[0, 0].copy(),
                               offset_map[0, 0].copy(), lo, hi, out.reshape(-1, c))
    return out


def site_values(values: np.ndarray, view: np.ndarray, pattern, op: str) -> np.ndarray:
    """Per-element constants of an (H, W, C) view as a (2, 2, C) map indexed by
    ``[i % 2, j % 2, k]``: 1 value for all; 3 per R, G, B (mapped through ``pattern`` on a
    mosaic ``C = 1`` or packed RAW ``C = 4``); 4 per CFA position (mosaic / packed only)."""
    c = view.shape[2]
    if len(values) == 1:
        return np.full((2, 2, c), values[0])
    if c == 3:
        if len(values) == 4:
            raise ParameterError(f"{op}: 4 per-CFA-position values need a mosaic (H, W) or "
                                 f"packed RAW (H, W, 4), got an RGB image {view.shape}")
        return np.broadcast_to(values, (2, 2, 3)).copy()
    if pattern is None:
        shape = view.shape[:2] if c == 1 else view.shape
        raise ParameterError(f"{op}: a mosaic or packed RAW image of shape {shape} needs "
                             "parameter 'pattern' (RGGB, BGGR, GRBG or GBRG)")
    cell = values[cell_channels(check_pattern(pattern, op=op))] if len(values) == 3 \
        else values.reshape(2, 2)
    if c == 1:
        return np.ascontiguousarray(cell[:, :, None])
    return np.broadcast_to(cell.reshape(-1), (2, 2, 4)).copy()


def _scaled(image, factor: float, clip: bool, op: str) -> np.ndarray:
    img = check_image_any(image, op)
    out = np.empty_like(img)
    from .._nb.isp import _channel_affine_kernel

    lo, hi = (0.0, 1.0) if clip else (-np.inf, np.inf)
    _channel_affine_kernel(img.reshape(-1, 1), np.array([factor]), np.zeros(1), lo, hi,
                           out.reshape(-1, 1))
    return out


@register_op("darken", domain_in=ANY_DOMAIN, meta_out=("exposure_ratio",),
             limits={"exposure_ratio": Range(1.0)})
def darken(image: np.ndarray, exposure_ratio: float, *, rng=None) -> np.ndarray:
    """Darken by an exposure ratio: ``y = x / exposure_ratio`` (simulated short exposure).

    Parameters
    ----------
    image : ndarray, float32, (H, W, 3), (H, W) mosaic or (H/2, W/2, 4) packed RAW
    exposure_ratio : float >= 1
        How much less light; stored in the sample metadata so that a later
        :func:`digital_gain` brings the level back.

    Returns
    -------
    ndarray, float32, same shape.

    Notes
    -----
    The ISO augmentation of the NTIRE RAIM MiAlgo team: darken the clean RAW, add noise at
    the darker level, then apply the digital gain ``exposure_ratio`` (``digital_gain``),
    which amplifies the noise as a high ISO does.

    Examples
    --------
    >>> round(float(darken(np.full((2, 2), 0.8, np.float32), 4.0)[0, 0]), 6)
    0.2
    """
    r = check_scalar("exposure_ratio", exposure_ratio, op="darken", low=1.0)
    return _scaled(image, 1.0 / r, False, "darken")


@register_op("digital_gain", domain_in=ANY_DOMAIN, meta_in=("exposure_ratio",),
             limits={"exposure_ratio": Range(0, low_open=True)})
def digital_gain(image: np.ndarray, exposure_ratio: float, clip: bool = False, *,
                 rng=None) -> np.ndarray:
    """Digital gain: ``y = x * exposure_ratio`` (undoes :func:`darken`, amplifying noise).

    Parameters
    ----------
    image : ndarray, float32, any layout of :func:`darken`
    exposure_ratio : float > 0
        Taken from the sample metadata (set by ``darken``) when the recipe omits it.
    clip : bool
        Clip the result to [0, 1] (sensor / pipeline saturation).

    Returns
    -------
    ndarray, float32, same shape.

    Examples
    --------
    >>> float(digital_gain(np.full((2, 2), 0.2, np.float32), 4.0)[0, 0])
    0.800000011920929
    """
    r = check_scalar("exposure_ratio", exposure_ratio, op="digital_gain", low=0, low_open=True)
    return _scaled(image, r, bool(clip), "digital_gain")


@register_op("saturate", domain_in=ANY_DOMAIN)
def saturate(image: np.ndarray, white: float = 1.0, black: float | None = 0.0, *,
             rng=None) -> np.ndarray:
    """White level / saturation clip: ``y = clip(x, black, white)``.

    Parameters
    ----------
    image : ndarray, float32, any layout
    white : float
        Saturation level in normalised units (1.0 = the white level).
    black : float or None
        Lower clip; ``None`` keeps values below black (negative read noise).

    Returns
    -------
    ndarray, float32, same shape.

    Examples
    --------
    >>> saturate(np.array([[-0.1, 1.3]], np.float32)).tolist()
    [[0.0, 1.0]]
    """
    w = check_scalar("white", white, op="saturate")
    b = -np.inf if black is None else check_scalar("black", black, op="saturate", high=w)
    img = check_image_any(image, "saturate")
    return np.clip(img, b, w).astype(np.float32, copy=False)


def _levels(black, white, op: str) -> tuple[np.ndarray, float]:
    w = check_scalar("white", white, op=op, low=0, low_open=True)
    b = check_vector("black", black, (1, 3, 4), op=op, low=0)
    if (b >= w).any():
        raise ParameterError(f"{op}: parameter 'black' = {black!r}: expected black < white "
                             f"({w})")
    return b, w


@register_op("add_black_level", domain_in=ANY_DOMAIN, meta_in=("pattern",))
def add_black_level(image: np.ndarray, black: float | list[float], white: float,
                    pattern: str | None = None, *, rng=None) -> np.ndarray:
    """Put the black level back: normalised ``(dn - black)/(white - black)`` -> ``dn / white``.

    Parameters
    ----------
    image : ndarray, float32, any layout
    black : float or list of 3 (R, G, B) or 4 (CFA positions in reading order) floats, DN
    white : float, DN (the white level; > black)
    pattern : str, optional
        CFA pattern of a mosaic / packed image (from metadata).

    Returns
    -------
    ndarray, float32, same shape: ``(x (white - black) + black) / white``.

    Examples
    --------
    >>> float(add_black_level(np.zeros((1, 1, 3), np.float32), 64, 1023)[0, 0, 0])
    0.06256109476089478
    """
    b, w = _levels(black, white, "add_black_level")
    img = check_image_any(image, "add_black_level")
    b = np.repeat(b, 3) if len(b) == 1 else b
    return per_channel_affine(img, (w - b) / w, b / w, pattern=pattern, op="add_black_level")


@register_op("subtract_black_level", domain_in=ANY_DOMAIN, meta_in=("pattern",))
def subtract_black_level(image: np.ndarray, black: float | list[float], white: float,
                         pattern: str | None = None, *, rng=None) -> np.ndarray:
    """Remove the black level: ``dn / white`` -> ``(dn - black) / (white - black)``.

    Parameters
    ----------
    image : ndarray, float32, any layout, values ``dn / white``
    black, white, pattern
        As in :func:`add_black_level`, of which this is the exact inverse.

    Returns
    -------
    ndarray, float32, same shape: ``(x white - black) / (white - black)``; not clipped.

    Examples
    --------
    >>> y = subtract_black_level(np.full((1, 1, 3), 0.5, np.float32), 23, 1023)
    >>> round(float(y[0, 0, 0]), 6)
    0.4885
    """
    b, w = _levels(black, white, "subtract_black_level")
    img = check_image_any(image, "subtract_black_level")
    b = np.repeat(b, 3) if len(b) == 1 else b
    return per_channel_affine(img, w / (w - b), -b / (w - b), pattern=pattern,
                              op="subtract_black_level")


@register_op("quantize", domain_in=ANY_DOMAIN, meta_in=("pattern",))
def quantize(image: np.ndarray, bit_depth: Literal[8, 10, 12, 14, 16] = 12,
             black: float | list[float] = 0.0, white: float | None = None,
             pattern: str | None = None, *, rng=None) -> np.ndarray:
    """Quantise to a sensor bit depth: round to integer DN and go back to normalised values.

    Parameters
    ----------
    image : ndarray, float32, any layout, normalised ``(dn - black) / (white - black)``
    bit_depth : {8, 10, 12, 14, 16}
        ADC bit depth: codes 0 .. 2**bit_depth - 1 (10-bit phone vs 14/16-bit DSLR).
    black : float >= 0, or a list of 3 (R, G, B) or 4 (CFA positions in reading order)
        Black level in DN (e.g. 64 for a 10-bit phone, 512 / 600 / 2048 for DSLRs); one per
        channel as a RAW file's ``black_level`` metadata gives it (as :func:`add_black_level`).
    white : float, optional
        White level in DN, default ``2**bit_depth - 1``; must be > every black level.
    pattern : str, optional
        CFA pattern of a mosaic / packed image (from metadata); needed for per-channel black
        levels on those layouts.

    Returns
    -------
    ndarray, float32, same shape, on the grid ``(k - black) / (white - black)``; values
    below black stay (down to ``-black / (white - black)``), codes above
    ``2**bit_depth - 1`` clip.

    Notes
    -----
    ``dn = clip(round(x (white - black_c) + black_c), 0, 2^bits - 1)``,
    ``y = (dn - black_c) / (white - black_c)`` with ``black_c`` the black level of the
    element's channel or CFA position; round half to even (``np.rint``).

    Examples
    --------
    >>> round(float(quantize(np.full((1, 1), 0.5004, np.float32), 10)[0, 0]) * 1023, 3)
    512.0
    """
    from .._nb.isp import _adc_kernel

    bits = int(check_scalar("bit_depth", bit_depth, op="quantize", integer=True))
    if bits not in BIT_DEPTHS:
        raise ParameterError(f"quantize: parameter 'bit_depth' = {bit_depth!r}: expected one "
                             f"of {', '.join(map(str, BIT_DEPTHS))}")
    max_code = float(2 ** bits - 1)
    w = max_code if white is None else check_scalar("white", white, op="quantize",
                                                    high=max_code)
    b, w = _levels(black, w, "quantize")
    img = check_image_any(image, "quantize")
    view = img[:, :, None] if img.ndim == 2 else img
    out = np.empty_like(view)
    _adc_kernel(view, site_values(b, view, pattern, "quantize"), w, max_code, out)
    return out.reshape(img.shape)


@register_op("channel_scale", domain_in=ANY_DOMAIN, meta_in=("pattern",))
def channel_scale(image: np.ndarray, scale: list[float], pattern: str | None = None,
                  clip: bool = False, *, rng=None) -> np.ndarray:
    """Scale each colour channel: ``y_c = s_c x_c`` (the [0.8, 1.2] channel perturbation).

    Parameters
    ----------
    image : ndarray, float32, RGB (H, W, 3), mosaic (H, W) or packed RAW (H/2, W/2, 4)
    scale : list of 3 floats >= 0 (R, G, B) or 4 (CFA positions, mosaic / packed only)
        Sample them with the ``channel_scale_uniform`` sampler.
    pattern : str, optional
        CFA pattern of a mosaic / packed image (from metadata).
    clip : bool
        Clip the result to [0, 1].

    Returns
    -------
    ndarray, float32, same shape.

    Examples
    --------
    >>> channel_scale(np.ones((2, 2), np.float32), [2, 1, 0.5], pattern='RGGB').tolist()
    [[2.0, 1.0], [1.0, 0.5]]
    """
    s = check_vector("scale", scale, (3, 4), op="channel_scale", low=0)
    img = check_image_any(image, "channel_scale")
    lo, hi = (0.0, 1.0) if clip else (-np.inf, np.inf)
    return per_channel_affine(img, s, np.zeros(len(s)), pattern=pattern, op="channel_scale",
                              lo=lo, hi=hi)


@register_sampler("channel_scale_uniform", ops=["channel_scale"])
def channel_scale_uniform(rng: np.random.Generator, low: float = 0.8,
                          high: float = 1.2) -> dict:
    """Independent ``U(low, high)`` scale per R, G, B channel (NJUST-KMG: [0.8, 1.2]).

    Parameters
    ----------
    rng : numpy.random.Generator
    low, high : float
        The range of each channel's factor.

    Examples
    --------
    >>> len(channel_scale_uniform(np.random.default_rng(0))['scale'])
    3
    """
    lo = check_scalar("low", low, op="channel_scale_uniform", low=0)
    hi = check_scalar("high", high, op="channel_scale_uniform", low=lo)
    return {"scale": [float(v) for v in rng.uniform(lo, hi, 3)]}
