"""The noise models the benchmark compares: how each is fitted, applied and rescaled.

Every model works on a linear Bayer mosaic in [0, 1] (real RAW data, or an sRGB image
unprocessed with :func:`degrade.ops.unprocess_brooks2019`) through degrade's own noise ops:

- ``gaussian``: ``sigma`` (constant variance); op ``gaussian_noise``;
- ``heteroscedastic_gaussian``: ``shot``, ``read`` with ``var = shot x + read^2``;
  op ``heteroscedastic_gaussian_noise``;
- ``poisson_gaussian``: the same line with exact Poisson shot noise;
  op ``poisson_gaussian_noise``;
- ``brooks2019``: ``shot``, with ``read^2`` on Brooks' log-linear line;
  op ``heteroscedastic_gaussian_noise``;
- ``eld2020``: system gain ``K`` of a camera profile, Tukey-lambda read and row noise from
  the profile's fits; op ``noise_eld2020``.

The ELD model's variance in normalised units, with ``S = white - black`` of the profile, is
``K/S x + (sigma_TL(K)^2 Var[TL(lambda)] + sigma_row(K)^2 + 1/12) / S^2``; ``lambda`` is the
median of the profile's calibrated shapes. The colour bias is left out (zero): a clean
reference averaged from noisy frames contains the same bias as the noisy frame.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .._errors import ParameterError
from .._validate import suggest
from .fitting import fit_constant, fit_line, fit_log_scalar

#: Extrapolation allowed for the ELD gain outside the profile's calibrated [Kmin, Kmax].
ELD_GAIN_MARGIN = 4.0
#: Smallest shot factor passed to the exact Poisson op (see ``_apply_poisson``).
POISSON_MIN_SHOT = 1e-12
#: Range of Brooks' shot factor the 1-D fit may use (Brooks samples 1e-4 .. 0.012).
BROOKS_SHOT_RANGE = (1e-7, 1.0)


@dataclass(frozen=True)
class FitContext:
    """What a model's ``fit`` may use besides the binned variances."""
    clip_aware: bool = True
    eld_profile: str = "auto"
    #: Dark-frame fit (:func:`degrade.noisebench.darkfit.fit_dark_folder`) plus
    #: ``white_level`` (DN): enables the ``eld2020_dark`` and ``dark_frame`` models.
    dark: dict | None = None


@dataclass(frozen=True)
class NoiseModel:
    """One benchmarked model.

    ``fit(binned, ctx) -> (params, info)``; ``apply(mosaic, params, rng, pattern, clip)``
    returns the noisy mosaic; ``rescale(params, c)`` returns parameters whose noise std is
    about ``c`` times larger (used to match the level after the forward ISP).
    """
    name: str
    label: str
    fit: Callable
    apply: Callable
    rescale: Callable


def _info(fit, names):
    return {"stderr": {n: float(s) for n, s in zip(names, fit.stderr)},
            "reduced_chi2": fit.chi2, "bins": fit.bins}


# -- gaussian -------------------------------------------------------------------------------
def _fit_gaussian(binned, ctx):
    f = fit_constant(binned, clip_aware=ctx.clip_aware)
    info = _info(f, ["sigma^2"])
    return {"sigma": math.sqrt(f.params[0])}, info


def _apply_gaussian(img, p, rng, pattern, clip):
    from ..ops import gaussian_noise

    return gaussian_noise(img, p["sigma"], clip=clip, rng=rng)


# -- shot + read line ----------------------------------------------------------------------
def _fit_line(binned, ctx):
    f = fit_line(binned, clip_aware=ctx.clip_aware)
    return {"shot": float(f.params[0]), "read": math.sqrt(f.params[1])}, \
        _info(f, ["shot", "read^2"])


def _rescale_line(p, c):
    return {**p, "shot": p["shot"] * c * c, "read": p["read"] * c}


def _apply_hetero(img, p, rng, pattern, clip):
    from ..ops import heteroscedastic_gaussian_noise

    return heteroscedastic_gaussian_noise(img, p["shot"], p["read"], clip=clip, rng=rng)


def _apply_poisson(img, p, rng, pattern, clip):
    from ..ops import poisson_gaussian_noise

    # A fitted shot factor can be ~0 (a read-noise-only fit); the op's Poisson mean x/shot
    # then overflows int64 (about 1e-19 and below gives garbage). Below POISSON_MIN_SHOT the
    # shot variance (< 1e-12) is negligible: leave it out.
    shot = p["shot"] if p["shot"] >= POISSON_MIN_SHOT else 0.0
    return poisson_gaussian_noise(img, shot, p["read"], "exact", clip, rng=rng)


# -- Brooks 2019 ---------------------------------------------------------------------------
def brooks_line() -> tuple[float, float]:
    """``(slope, intercept)`` of ``ln read_var = slope ln shot + intercept``, taken from the
    defaults of the ``brooks2019_shot_read`` sampler (one source of truth)."""
    from ..noise_models import brooks2019_shot_read

    params = inspect.signature(brooks2019_shot_read).parameters
    return float(params["slope"].default), float(params["intercept"].default)


def _brooks_params(shot):
    slope, icpt = brooks_line()
    return {"shot": float(shot), "read": math.exp(0.5 * (slope * math.log(shot) + icpt))}


def _fit_brooks(binned, ctx):
    slope, icpt = brooks_line()
    f = fit_log_scalar(binned, lambda x, s: s * x + math.exp(slope * math.log(s) + icpt),
                       tuple(math.log(v) for v in BROOKS_SHOT_RANGE), clip_aware=ctx.clip_aware)
    info = _info(f, ["ln_shot"])
    return _brooks_params(math.exp(f.params[0])), info


def _rescale_brooks(p, c):
    return _brooks_params(p["shot"] * c * c)


# -- ELD 2020 ------------------------------------------------------------------------------
def tukey_lambda_variance(lam: float) -> float:
    """Variance of the standard Tukey-lambda distribution (finite for ``lam > -1/2``):
    ``2/lam^2 (1/(1+2 lam) - Gamma(lam+1)^2 / Gamma(2 lam+2))``; ``pi^2/3`` at 0.

    Examples
    --------
    >>> round(tukey_lambda_variance(0.14), 3)   # close to a normal (lambda ~ 0.14)
    2.11
    """
    if lam <= -0.5:
        return math.inf
    if abs(lam) < 1e-6:
        return math.pi ** 2 / 3
    return 2.0 / lam ** 2 * (1.0 / (1.0 + 2.0 * lam)
                             - math.gamma(lam + 1) ** 2 / math.gamma(2 * lam + 2))


def _eld_params(profile, gain: float) -> dict:
    lam = float(np.median(profile.tukey_lambda))
    return {"profile": profile.name, "gain": float(gain),
            "read_sigma": profile.tukey_read.median(gain), "read_lambda": lam,
            "row_sigma": profile.row.median(gain), "white_level": profile.white_level,
            "black_level": profile.black_level}


def eld_variance(profile, x: np.ndarray, gain: float) -> np.ndarray:
    """Variance (normalised units) of ``noise_eld2020`` with ``profile``'s median fits at
    gain ``gain``, ratio 1, uniform quantisation, no colour bias."""
    p = _eld_params(profile, gain)
    s = profile.white_level - profile.black_level
    read_var = p["read_sigma"] ** 2 * tukey_lambda_variance(p["read_lambda"])
    return gain / s * x + (read_var + p["row_sigma"] ** 2 + 1.0 / 12.0) / s ** 2


def _fit_eld_one(binned, profile, ctx):
    rng = (math.log(profile.k_min / ELD_GAIN_MARGIN), math.log(profile.k_max * ELD_GAIN_MARGIN))
    return fit_log_scalar(binned, lambda x, k: eld_variance(profile, x, k), rng,
                          clip_aware=ctx.clip_aware)


def _fit_eld(binned, ctx):
    from ..noise_models import camera_profile, profile_names

    names = profile_names() if ctx.eld_profile == "auto" else [ctx.eld_profile]
    fits = {n: _fit_eld_one(binned, camera_profile(n), ctx) for n in names}
    best = min(fits, key=lambda n: fits[n].chi2)
    f = fits[best]
    info = _info(f, ["ln_gain"])
    if len(fits) > 1:
        info["profile_chi2"] = {n: v.chi2 for n, v in fits.items()}
    return _eld_params(camera_profile(best), math.exp(f.params[0])), info


def _rescale_eld(p, c):
    from ..noise_models import camera_profile

    return _eld_params(camera_profile(p["profile"]), p["gain"] * c * c)


def _apply_eld(img, p, rng, pattern, clip):
    from ..ops import noise_eld2020

    return noise_eld2020(img, p["gain"], p["read_sigma"], p["read_lambda"], p["row_sigma"],
                         None, p["white_level"], p["black_level"], clip=clip,
                         pattern=pattern, rng=rng)


# -- models fed by dark frames --------------------------------------------------------------
def _dark_scale(ctx_or_params) -> float:
    d = ctx_or_params
    return float(d["white_level"]) - float(d["black_dn"])


def _fit_gain(binned, ctx, floor_var_dn2):
    """Fit the system gain K (DN/e-) of ``var = K/S x + floor/S^2`` (S from the dark fit);
    K within [1e-4, 1e4] DN/e-."""
    s = _dark_scale(ctx.dark)
    f = fit_log_scalar(binned, lambda x, k: k / s * x + floor_var_dn2 / s ** 2,
                       (math.log(1e-4), math.log(1e4)), clip_aware=ctx.clip_aware)
    return math.exp(f.params[0]), _info(f, ["ln_gain"])


def _fit_eld_dark(binned, ctx):
    d = ctx.dark
    floor = (d["tukey_scale_dn"] ** 2 * tukey_lambda_variance(d["tukey_lambda"])
             + d["row_dn"] ** 2 + 1.0 / 12.0)
    gain, info = _fit_gain(binned, ctx, floor)
    return {"gain": gain, "read_sigma": d["tukey_scale_dn"], "read_lambda": d["tukey_lambda"],
            "row_sigma": d["row_dn"], "white_level": float(d["white_level"]),
            "black_dn": d["black_dn"]}, info


def _apply_eld_dark(img, p, rng, pattern, clip):
    from ..ops import noise_eld2020

    # noise_eld2020 takes integer levels; its S is what matters: white - black = S
    s = _dark_scale(p)
    return noise_eld2020(img, p["gain"], p["read_sigma"], p["read_lambda"], p["row_sigma"],
                         None, int(round(s)), 0, clip=clip, pattern=pattern, rng=rng)


def _fit_dark_frame(binned, ctx):
    d = ctx.dark
    gain, info = _fit_gain(binned, ctx, d["signal_independent_var_dn2"])
    return {"gain": gain, "bank": d["bank"], "white_level": float(d["white_level"]),
            "black_dn": d["black_dn"]}, info


def _apply_dark_frame(img, p, rng, pattern, clip):
    from ..ops.dark_frame import dark_frame_noise

    return dark_frame_noise(img, p["bank"], p["gain"], p["white_level"], p["black_dn"],
                            clip=clip, pattern=pattern, rng=rng)


def _rescale_gain(p, c):
    return {**p, "gain": p["gain"] * c * c}


MODELS = {m.name: m for m in (
    NoiseModel("gaussian", "Gaussian", _fit_gaussian, _apply_gaussian,
               lambda p, c: {"sigma": p["sigma"] * c}),
    NoiseModel("heteroscedastic_gaussian", "Heteroscedastic Gaussian", _fit_line,
               _apply_hetero, _rescale_line),
    NoiseModel("poisson_gaussian", "Poisson-Gaussian", _fit_line, _apply_poisson,
               _rescale_line),
    NoiseModel("brooks2019", "Brooks 2019", _fit_brooks, _apply_hetero, _rescale_brooks),
    NoiseModel("eld2020", "ELD 2020", _fit_eld, _apply_eld, _rescale_eld),
)}
#: Models that need dark frames (``FitContext.dark``): ELD's noise with read (Tukey-lambda)
#: and row noise fitted on the dark frames; Zhang et al. 2021 (shot + real dark-frame crops).
DARK_MODELS = {m.name: m for m in (
    NoiseModel("eld2020_dark", "ELD 2020, dark-frame fit", _fit_eld_dark, _apply_eld_dark,
               _rescale_gain),
    NoiseModel("dark_frame", "Zhang 2021 dark frames", _fit_dark_frame, _apply_dark_frame,
               _rescale_gain),
)}


def check_models(names, dark: bool = False) -> list[NoiseModel]:
    """Model objects for ``names`` (None: all; with ``dark``, the dark-frame models too), or
    ParameterError naming the unknown one."""
    known = {**MODELS, **DARK_MODELS} if dark else MODELS
    if names is None:
        return list(known.values())
    out = []
    for n in names:
        if n in DARK_MODELS and not dark:
            raise ParameterError(f"noisebench: model {n!r} needs dark frames: give "
                                 "--dark-bank DIR and --dark-white DN")
        if n not in known:
            raise ParameterError(f"noisebench: unknown model {n!r}{suggest(n, known)}; "
                                 f"expected some of {', '.join(known)}")
        out.append(known[n])
    if not out:
        raise ParameterError("noisebench: no model selected")
    return out


def check_eld_profile(name: str) -> str:
    """``'auto'`` or a shipped camera profile name (ParameterError otherwise)."""
    from ..noise_models import profile_names

    names = profile_names()
    if name != "auto" and name not in names:
        raise ParameterError(f"noisebench: unknown ELD profile {name!r}{suggest(name, names)}; "
                             f"expected 'auto' or one of {', '.join(names)}")
    return name

