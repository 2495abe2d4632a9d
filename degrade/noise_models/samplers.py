"""Joint samplers of sensor-noise parameters (registered for the recipe layer).

A sampler is ``fn(rng, **config) -> dict`` of op parameters; the recipe records what it
drew, so replay never calls it again. Samplers draw only scalars from ``rng``, in a fixed
order stated in each docstring.
"""
from __future__ import annotations

import math
from typing import Literal

import numpy as np

from .._errors import ParameterError
from .._registry import register_sampler
from .._validate import check_scalar
from .profiles import CameraProfile, check_camera
from .units import shot_read_from_gain

SHOT_READ_OPS = ["poisson_gaussian_noise", "heteroscedastic_gaussian_noise"]


@register_sampler("brooks2019_shot_read", ops=SHOT_READ_OPS)
def brooks2019_shot_read(rng: np.random.Generator, shot_min: float = 1e-4,
                         shot_max: float = 0.012, slope: float = 2.18, intercept: float = 1.20,
                         scatter: float = 0.26) -> dict:
    """Brooks et al. 2019 shot/read noise levels on their log-linear line.

    Parameters
    ----------
    rng : numpy.random.Generator
    shot_min, shot_max : float
        Range of the shot-noise variance factor (log-uniform).
    slope, intercept, scatter : float
        ``ln(read_var) = slope ln(shot) + intercept + N(0, scatter^2)``.

    Returns
    -------
    dict
        ``{"shot": s, "read": r}`` for ``poisson_gaussian_noise``: ``r = sqrt(read_var)``
        (that op's ``read`` is a standard deviation; Brooks' ``read`` is a variance).

    Notes
    -----
    ``ln shot ~ U(ln 1e-4, ln 0.012)``; ``ln read_var = 2.18 ln shot + 1.20 + N(0, 0.26^2)``
    (google-research ``unprocessing/unprocess.py::random_noise_levels``). Draws: one
    uniform, then one normal.

    Examples
    --------
    >>> p = brooks2019_shot_read(np.random.default_rng(0))
    >>> sorted(p)
    ['read', 'shot']
    """
    where = "sampler brooks2019_shot_read"
    lo = check_scalar("shot_min", shot_min, op=where, low=0, low_open=True)
    hi = check_scalar("shot_max", shot_max, op=where, low=lo)
    slope = check_scalar("slope", slope, op=where)
    intercept = check_scalar("intercept", intercept, op=where)
    scatter = check_scalar("scatter", scatter, op=where, low=0)
    log_shot = rng.uniform(math.log(lo), math.log(hi))
    log_read_var = slope * log_shot + intercept + scatter * rng.standard_normal()
    return {"shot": math.exp(log_shot), "read": math.exp(0.5 * log_read_var)}


def _draw_gain(rng, profile: CameraProfile, iso, iso_choices, iso_range, where) -> float:
    """System gain K: fixed ISO, one of ``iso_choices``, uniform in ``iso_range``, or (none
    given) ELD's ``ln K ~ U(ln Kmin, ln Kmax)``. Draws at most one number."""
    given = [name for name, v in (("iso", iso), ("iso_choices", iso_choices),
                                  ("iso_range", iso_range)) if v is not None]
    if len(given) > 1:
        raise ParameterError(f"{where}: give at most one of iso, iso_choices, iso_range "
                             f"(got {', '.join(given)})")
    if iso is not None:
        return profile.gain_at_iso(iso)
    if iso_choices is not None:
        if not isinstance(iso_choices, (list, tuple)) or not iso_choices:
            raise ParameterError(f"{where}: parameter 'iso_choices' = {iso_choices!r}: "
                                 "expected a non-empty list of ISO values")
        gains = [profile.gain_at_iso(v) for v in iso_choices]
        return gains[int(rng.integers(len(gains)))]
    if iso_range is not None:
        if not isinstance(iso_range, (list, tuple)) or len(iso_range) != 2:
            raise ParameterError(f"{where}: parameter 'iso_range' = {iso_range!r}: "
                                 "expected [low, high]")
        lo, hi = (profile.gain_at_iso(v) for v in iso_range)
        if hi < lo:
            raise ParameterError(f"{where}: parameter 'iso_range' = {iso_range!r}: "
                                 "expected low <= high")
        return rng.uniform(lo, hi)
    return math.exp(rng.uniform(math.log(profile.k_min), math.log(profile.k_max)))


@register_sampler("camera_shot_read", ops=SHOT_READ_OPS)
def camera_shot_read(rng: np.random.Generator, camera: str = "SonyA7S2",
                     iso: float | None = None, iso_choices: list[float] | None = None,
                     iso_range: list[float] | None = None, amplification: float = 1.0) -> dict:
    """Normalised shot/read noise of a calibrated camera at an ISO (Poisson + Gaussian read).

    Parameters
    ----------
    rng : numpy.random.Generator
    camera : str
        A shipped profile (``SonyA7S2 NikonD850 CanonEOS70D CanonEOS700D CanonEOS5D4
        IMX686``).
    iso, iso_choices, iso_range : optional
        A fixed ISO, a list to choose from uniformly (IID-AI: ``[1600, 3200, 6400]``) or a
        ``[low, high]`` range drawn uniformly (NJUST-KMG: ``[3200, 9600]``); none of them:
        ``ln K ~ U(ln Kmin, ln Kmax)`` as ELD samples.
    amplification : float >= 1
        Noise amplification / exposure ratio applied on top (the ×20–30 of NJUST-KMG).

    Returns
    -------
    dict
        ``{"shot": K a / S, "read": sigma_g a / S}`` with ``K = k_per_iso ISO``,
        ``ln sigma_g = slope ln K + bias + N(0, sigma^2)`` (the profile's Gaussian read fit),
        ``S = white - black`` and ``a = amplification``.

    Notes
    -----
    Draws: the ISO / K (one integer or uniform, none for a fixed ``iso``), then one normal.
    See :mod:`degrade.noise_models.units` for the unit conversion.

    Examples
    --------
    >>> p = camera_shot_read(np.random.default_rng(0), camera="IMX686", iso=3200)
    >>> round(p["shot"] / (0.1366021 * 32 / 959), 6)
    1.0
    """
    where = "sampler camera_shot_read"
    profile = check_camera(camera, op=where)
    amp = check_scalar("amplification", amplification, op=where, low=1)
    gain = _draw_gain(rng, profile, iso, iso_choices, iso_range, where)
    read_dn = profile.gaussian_read.sample(rng, gain)
    shot, read = shot_read_from_gain(gain, read_dn, profile.full_scale, amp)
    return {"shot": shot, "read": read}


@register_sampler("eld2020", ops=["noise_eld2020"])
def eld2020(rng: np.random.Generator, camera: str = "SonyA7S2", iso: float | None = None,
            iso_choices: list[float] | None = None, iso_range: list[float] | None = None,
            read_model: Literal["tukey", "gaussian"] = "tukey", ratio: float = 1.0,
            ratio_range: list[float] | None = None) -> dict:
    """ELD 2020 noise parameters of a calibrated camera (for op ``noise_eld2020``).

    Parameters
    ----------
    rng : numpy.random.Generator
    camera : str
        A shipped profile (see :func:`camera_shot_read`).
    iso, iso_choices, iso_range : optional
        As in :func:`camera_shot_read`; none: ``ln K ~ U(ln Kmin, ln Kmax)`` (ELD).
    read_model : {"tukey", "gaussian"}
        Tukey-lambda read noise (ELD's full model, 'G') or Gaussian ('g').
    ratio : float >= 1
        Exposure ratio / noise amplification (fixed), or
    ratio_range : [low, high], optional
        drawn uniformly (ELD trains with ``[100, 300]``).

    Returns
    -------
    dict
        ``gain``, ``read_sigma``, ``read_lambda`` (None for Gaussian), ``row_sigma``,
        ``color_bias`` (4 DN values, RGBG), ``white_level``, ``black_level``, ``ratio``.

    Notes
    -----
    ``ln sigma = slope ln K + bias + N(0, sigma_fit^2)`` for the read scale (Gaussian or
    Tukey fit) and the row std; ``lambda`` and ``color_bias`` are drawn uniformly from
    the calibration frames (Wei et al. CVPR 2020, ``NoiseModel._sample_params``).
    Draw order: K / ISO; read scale (normal); row scale (normal); lambda index (Tukey
    only); colour-bias row index; ratio (if ``ratio_range``).

    Examples
    --------
    >>> p = eld2020(np.random.default_rng(0), camera="SonyA7S2", iso=1600)
    >>> round(p["gain"], 3)
    1.503
    """
    where = "sampler eld2020"
    profile = check_camera(camera, op=where)
    if read_model not in ("tukey", "gaussian"):
        raise ParameterError(f"{where}: parameter 'read_model' = {read_model!r}: "
                             "expected one of 'tukey', 'gaussian'")
    gain = _draw_gain(rng, profile, iso, iso_choices, iso_range, where)
    fit = profile.tukey_read if read_model == "tukey" else profile.gaussian_read
    read_sigma = fit.sample(rng, gain)
    row_sigma = profile.row.sample(rng, gain)
    lam = None
    if read_model == "tukey":
        lam = profile.tukey_lambda[int(rng.integers(len(profile.tukey_lambda)))]
    bias = profile.color_bias[int(rng.integers(len(profile.color_bias)))]
    if ratio_range is not None:
        if (not isinstance(ratio_range, (list, tuple)) or len(ratio_range) != 2
                or not 1 <= ratio_range[0] <= ratio_range[1]):
            raise ParameterError(f"{where}: parameter 'ratio_range' = {ratio_range!r}: "
                                 "expected [low, high] with 1 <= low <= high")
        ratio = rng.uniform(ratio_range[0], ratio_range[1])
    ratio = check_scalar("ratio", ratio, op=where, low=1)
    return {"gain": gain, "read_sigma": read_sigma, "read_lambda": lam,
            "row_sigma": row_sigma, "color_bias": list(bias),
            "white_level": profile.white_level, "black_level": profile.black_level,
            "ratio": ratio}
