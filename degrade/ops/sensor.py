"""Sensor noise ops: Poisson-Gaussian (exact and heteroscedastic Gaussian) and ELD 2020.

Parameters are physical and concrete; the joint samplers that draw them (Brooks 2019,
calibrated cameras by ISO, ELD 2020) live in :mod:`degrade.noise_models` and are registered
for recipes. Inputs are linear: a Bayer mosaic ``(H, W)``, packed RAW ``(H/2, W/2, 4)``
or linear / camera RGB ``(H, W, 3)``, normalised to [0, 1].
"""
from __future__ import annotations

from typing import Literal

import numpy as np

from .. import noise_models  # noqa: F401  (registers the noise-parameter samplers)
from .._cfa import check_pattern, rgbg_sites
from .._errors import ParameterError
from .._registry import Range, register_op
from .._validate import as_image, check_choice, check_scalar, require_rng

LINEAR_DOMAINS = ("linear", "camera", "raw")
QUANTIZATION = {"none": 0, "uniform": 1, "round": 2}   # codes of degrade._nb.sensor


def _as_linear_image(image, op: str) -> np.ndarray:
    """(H, W) mosaic, (H, W, 3) RGB or (H, W, 4) packed, as a 3-D float32 view."""
    img = as_image(image, op=op, channels=(3, 4), allow_2d=True)
    return img[:, :, None] if img.ndim == 2 else img


def _check_poisson_means(img: np.ndarray, scale: float, name: str, value, op: str) -> None:
    """Poisson means ``x / scale`` must be finite (a vanishing ``scale`` overflows them)."""
    if scale > 0 and not np.isfinite(float(img.max()) / scale):
        raise ParameterError(f"{op}: parameter '{name}' = {value!r}: too small for the image "
                             f"(the Poisson mean of its maximum {float(img.max())!r} overflows)")


def _shot_read_noise(image, shot, read, approx, clip, rng, op):
    from .._nb.sensor import _heteroscedastic_kernel, _poisson_gaussian_kernel

    shot = check_scalar("shot", shot, op=op, low=0)
    read = check_scalar("read", read, op=op, low=0)
    approx = check_choice("approx", approx, ("exact", "gaussian"), op=op)
    rng = require_rng(rng, op)
    img = as_image(image, op=op, channels=None, allow_2d=True)
    _check_poisson_means(img, shot, "shot", shot, op)
    view = img[:, :, None] if img.ndim == 2 else img
    out = np.empty_like(view)
    kernel = _heteroscedastic_kernel if approx == "gaussian" else _poisson_gaussian_kernel
    kernel(view, shot, read, bool(clip), rng, out)
    return out.reshape(img.shape)


@register_op("poisson_gaussian_noise", domain_in=LINEAR_DOMAINS, random=True,
             limits={"shot": Range(0), "read": Range(0)})
def poisson_gaussian_noise(image: np.ndarray, shot: float, read: float = 0.0,
                           approx: Literal["exact", "gaussian"] = "exact", clip: bool = False,
                           *, rng=None) -> np.ndarray:
    """Signal-dependent sensor noise: exact Poisson shot noise plus Gaussian read noise.

    Parameters
    ----------
    image : ndarray, float32, (H, W) or (H, W, C), linear values in [0, 1]
    shot : float >= 0
        Shot-noise factor in normalised units: ``Var[y | x] = shot * x + read**2``.
        With system gain K (DN/e-) and full scale S DN, ``shot = K / S``
        (:func:`degrade.noise_models.shot_read_from_gain`).
    read : float >= 0
        Read-noise standard deviation in normalised units.
    approx : {'exact', 'gaussian'}
        ``'exact'``: ``y = shot * Poisson(x / shot) + N(0, read^2)``; ``'gaussian'``: the
        heteroscedastic approximation ``y = x + N(0, shot x + read^2)`` (Brooks 2019).
    clip : bool
        Clip to [0, 1]. Off by default: raw noise is zero-mean around black, and the
        papers (Brooks 2019, ELD 2020) leave negative values in.
    rng : numpy.random.Generator
        Required.

    Returns
    -------
    ndarray, float32, same shape.

    Raises
    ------
    ParameterError
        Negative shot/read, unknown ``approx``, bad image, missing ``rng``.

    Notes
    -----
    Exact: ``E[y|x] = x`` and ``Var[y|x] = shot x + read^2`` (photon transfer line), and
    ``(y - N_read) / shot`` is an integer (photo-electron count). Negative inputs give a
    Poisson mean of 0. Poisson counts: inversion for means below 10, Ahrens & Dieter's
    algorithm PD (ACM TOMS 1982) above, both exact, built on ``rng``'s normals and
    uniforms (``degrade/_nb/sensor.py``), row by row (a row's fast-path draws first, then
    its rare PD tails); then ``rng.standard_normal`` per element of the row if read > 0;
    approximation: one ``standard_normal`` per element in C order.
    Foi et al., IEEE TIP 2008; Brooks et al., CVPR 2019.

    Examples
    --------
    >>> x = np.full((4, 4), 0.25, np.float32)
    >>> y = poisson_gaussian_noise(x, shot=0.01, read=0.002, rng=np.random.default_rng(0))
    >>> y.shape, y.dtype
    ((4, 4), dtype('float32'))
    """
    return _shot_read_noise(image, shot, read, approx, clip, rng, "poisson_gaussian_noise")


@register_op("heteroscedastic_gaussian_noise", domain_in=LINEAR_DOMAINS, random=True,
             limits={"shot": Range(0), "read": Range(0)})
def heteroscedastic_gaussian_noise(image: np.ndarray, shot: float, read: float = 0.0,
                                   clip: bool = False, *, rng=None) -> np.ndarray:
    """Heteroscedastic Gaussian noise ``y = x + N(0, shot * x + read^2)``.

    The Gaussian approximation of :func:`poisson_gaussian_noise` (same parameters, same
    kernel with ``approx='gaussian'``); BSRAW's ``sigma1^2 x + sigma2^2`` with
    ``shot = sigma1^2``, ``read = sigma2``.

    Parameters
    ----------
    image : ndarray, float32, (H, W) or (H, W, C), linear values in [0, 1]
    shot, read : float >= 0
        Variance factor and read-noise std (normalised units).
    clip : bool
        Clip to [0, 1] (off by default).
    rng : numpy.random.Generator
        Required; one ``standard_normal`` per element in C order.

    Returns
    -------
    ndarray, float32, same shape.

    Raises
    ------
    ParameterError
        Negative shot/read, bad image, missing ``rng``.

    Examples
    --------
    >>> x = np.full((2, 2, 3), 0.5, np.float32)
    >>> heteroscedastic_gaussian_noise(x, 1e-3, 1e-3, rng=np.random.default_rng(0)).shape
    (2, 2, 3)
    """
    return _shot_read_noise(image, shot, read, "gaussian", clip, rng,
                            "heteroscedastic_gaussian_noise")


def _site_tables(img: np.ndarray, bias: list[float], pattern: str, op: str):
    """``bias_map`` (2, 2, C) in DN and ``plane_map`` (2, 2, C) row-noise plane per site.

    Mosaic: bias per CFA site (RGBG order), one row-noise value per row and CFA column
    phase (ELD draws one per row of each packed plane). Packed: per plane. RGB: per
    channel, G bias = mean of the two G sites.
    """
    c = img.shape[2]
    bias = np.asarray(bias, dtype=np.float64)
    bias_map = np.empty((2, 2, c), np.float64)
    plane_map = np.empty((2, 2, c), np.int64)
    if c == 1:
        sites = rgbg_sites(check_pattern(pattern, op=op))
        bias_map[:, :, 0] = bias[sites]
        plane_map[:, :, 0] = np.array([[0, 1], [0, 1]])
        return bias_map, plane_map, 2
    if c == 4:
        sites = rgbg_sites(check_pattern(pattern, op=op)).ravel()
        per_channel = bias[sites]
    else:
        per_channel = np.array([bias[0], 0.5 * (bias[1] + bias[3]), bias[2]])
    bias_map[:] = per_channel
    plane_map[:] = np.arange(c)
    return bias_map, plane_map, c


@register_op("noise_eld2020", domain_in=LINEAR_DOMAINS, meta_in=("pattern",), random=True,
             limits={"gain": Range(0, low_open=True), "read_sigma": Range(0),
                     "read_lambda": Range(-5, 5), "row_sigma": Range(0),
                     "white_level": Range(1), "black_level": Range(0),
                     "ratio": Range(0, low_open=True)})
def noise_eld2020(image: np.ndarray, gain: float, read_sigma: float,
                  read_lambda: float | None = None, row_sigma: float = 0.0,
                  color_bias: list[float] | None = None, white_level: int = 16383,
                  black_level: int = 512, ratio: float = 1.0, shot_approx: bool = False,
                  quantization: Literal["uniform", "round", "none"] = "uniform",
                  clip: bool = False, pattern: str = "RGGB", *, rng=None) -> np.ndarray:
    """ELD physics-based sensor noise (Wei et al. 2020): shot, read, row, colour bias,
    quantisation, at an exposure ratio.

    Parameters
    ----------
    image : ndarray, float32, (H, W) mosaic, (H, W, 4) packed RAW or (H, W, 3) linear RGB,
        values in [0, 1] (``(dn - black) / (white - black)``)
    gain : float > 0
        System gain K in DN per electron.
    read_sigma : float >= 0
        Read-noise scale in DN: the std of the Gaussian, or the Tukey-lambda scale.
    read_lambda : float or None
        Tukey-lambda shape (ELD's full model 'G'); None: Gaussian read noise ('g').
    row_sigma : float >= 0
        Row (banding) noise std in DN: one draw per row of each CFA plane.
    color_bias : list of 4 float or None
        Per-site offsets in DN, RGBG order (R, G on the R row, B, G on the B row).
    white_level, black_level : int
        Raw levels; ``S = white - black`` DN is full scale.
    ratio : float > 0
        Exposure reduction: the signal is darkened by ``ratio`` before the sensor and
        multiplied back after it (ELD trains with 100-300; RAIM teams' "amplification").
    shot_approx : bool
        Gaussian approximation of the shot noise (ELD's 'p'); default exact Poisson ('P').
    quantization : {'uniform', 'round', 'none'}
        ``'uniform'``: ``+ U(-0.5, 0.5)`` DN (ELD's 'U'); ``'round'``: round to integer DN.
    clip : bool
        Clip the result to [0, 1] (off: ELD keeps values below black).
    pattern : str
        CFA pattern of a mosaic or packed input (from the sample metadata).
    rng : numpy.random.Generator
        Required.

    Returns
    -------
    ndarray, float32, same shape.

    Raises
    ------
    ParameterError
        Non-positive gain/ratio, negative scales, ``color_bias`` not 4 numbers,
        ``white_level <= black_level``, bad pattern or image, missing ``rng``.

    Notes
    -----
    With ``y = x S / ratio`` (DN)::

        z = K Poisson(y / K) + read + bias[site] + row[row, plane] + q
        out = z ratio / S

    ``read = read_sigma * Q(u; lambda)``, ``Q(u) = (u^l - (1-u)^l) / l`` (Tukey-lambda
    quantile of a uniform draw) or ``read_sigma * N(0, 1)``. Draw order: the row noise
    ``rng.standard_normal((H, P))`` (P = 2 planes per mosaic row, 4 packed, 3 RGB), then
    per element in C order: poisson, read (random or normal), quantisation (random).
    ELD's released code adds a single uniform value for the whole image; here each
    pixel gets its own, the quantisation error it models. Parameters are drawn by the
    ``eld2020`` sampler from calibrated camera profiles.

    Examples
    --------
    >>> x = np.full((4, 4), 0.01, np.float32)
    >>> y = noise_eld2020(x, gain=1.0, read_sigma=2.0, read_lambda=0.1, row_sigma=0.5,
    ...                   color_bias=[1, 1, 1, 1], rng=np.random.default_rng(0))
    >>> y.shape
    (4, 4)
    """
    from .._nb.sensor import _eld_noise_kernel

    op = "noise_eld2020"
    gain = check_scalar("gain", gain, op=op, low=0, low_open=True)
    read_sigma = check_scalar("read_sigma", read_sigma, op=op, low=0)
    tukey = read_lambda is not None
    lam = check_scalar("read_lambda", read_lambda, op=op, low=-5, high=5) if tukey else 0.0
    row_sigma = check_scalar("row_sigma", row_sigma, op=op, low=0)
    white = check_scalar("white_level", white_level, op=op, integer=True, low=1)
    black = check_scalar("black_level", black_level, op=op, integer=True, low=0)
    if black >= white:
        raise ParameterError(f"{op}: parameter 'black_level' = {black}: expected "
                             f"black_level < white_level ({white})")
    ratio = check_scalar("ratio", ratio, op=op, low=0, low_open=True)
    quant = QUANTIZATION[check_choice("quantization", quantization, tuple(QUANTIZATION), op=op)]
    bias = [0.0] * 4 if color_bias is None else color_bias
    if (not isinstance(bias, (list, tuple, np.ndarray)) or len(bias) != 4
            or not all(isinstance(b, (int, float, np.floating)) and np.isfinite(b)
                       for b in bias)):
        raise ParameterError(f"{op}: parameter 'color_bias' = {color_bias!r}: expected 4 "
                             "finite numbers (DN, RGBG order) or None")
    rng = require_rng(rng, op)
    view = _as_linear_image(image, op)
    _check_poisson_means(view, gain * ratio / (white - black), "gain", gain, op)
    bias_map, plane_map, planes = _site_tables(view, bias, pattern, op)
    row_noise = row_sigma * rng.standard_normal((view.shape[0], planes))
    out = np.empty_like(view)
    _eld_noise_kernel(view, (white - black) / ratio, gain, read_sigma, lam, tukey,
                      bool(shot_approx), bias_map, row_noise, plane_map, quant, bool(clip),
                      rng, out)
    return out.reshape(np.shape(image)) if np.ndim(image) == 2 else out
