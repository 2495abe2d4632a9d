"""Calibrated camera noise profiles (ELD 2020, PMN 2022) shipped as package data.

A profile says how a camera's noise parameters depend on its system gain K (DN per
electron) and how K depends on ISO. The numbers live in
``degrade/noise_models/profiles/camera_noise_profiles.json`` with their provenance.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from .._errors import ParameterError
from .._validate import check_choice, check_scalar, suggest

PROFILE_FILE = "camera_noise_profiles.json"
#: extrapolation allowed outside the calibrated ISO range (factor below / above it)
ISO_EXTRAPOLATION = (0.5, 4.0)


@dataclass(frozen=True)
class LogLinearFit:
    """``ln(scale) = slope * ln(K) + bias + N(0, sigma^2)``: one ELD noise-scale fit."""
    slope: float
    bias: float
    sigma: float

    def median(self, gain: float) -> float:
        """The fit's line at system gain ``gain`` (no scatter): ``exp(slope ln K + bias)``."""
        return math.exp(self.slope * math.log(gain) + self.bias)

    def sample(self, rng: np.random.Generator, gain: float) -> float:
        """One draw on the line with its Gaussian scatter in log space (one normal draw)."""
        return math.exp(self.slope * math.log(gain) + self.bias
                        + self.sigma * rng.standard_normal())


@dataclass(frozen=True)
class CameraProfile:
    """Noise calibration of one camera.

    Attributes
    ----------
    name, source : str
        Profile name (e.g. ``"SonyA7S2"``) and its origin (``"eld"`` or ``"pmn"``).
    bit_depth, white_level, black_level : int
        Native raw format; ``white_level - black_level`` DN is full scale.
    k_min, k_max : float
        Calibrated range of the system gain K (DN/e-).
    k_per_iso : float
        K = k_per_iso * ISO (K is proportional to analogue gain).
    iso_calibrated : tuple of int
        ISO range the calibration covers.
    gaussian_read, tukey_read, row : LogLinearFit
        Read-noise std (Gaussian model), Tukey-lambda scale and row-noise std, in DN.
    tukey_lambda : tuple of float
        Measured Tukey-lambda shapes (one per calibration frame).
    color_bias : tuple of tuple of float
        Per-site offsets in DN, RGBG order (R, G on the R row, B, G on the B row).
    """
    name: str
    source: str
    bit_depth: int
    white_level: int
    black_level: int
    k_min: float
    k_max: float
    k_per_iso: float
    iso_calibrated: tuple[int, int]
    gaussian_read: LogLinearFit
    tukey_read: LogLinearFit
    row: LogLinearFit
    tukey_lambda: tuple[float, ...]
    color_bias: tuple[tuple[float, ...], ...]

    @property
    def full_scale(self) -> int:
        """``white_level - black_level``: DN that map to 1.0 in normalised units."""
        return self.white_level - self.black_level

    @property
    def iso_limits(self) -> tuple[float, float]:
        """ISO values accepted by :meth:`gain_at_iso` (calibrated range, extrapolated)."""
        return (self.iso_calibrated[0] * ISO_EXTRAPOLATION[0],
                self.iso_calibrated[1] * ISO_EXTRAPOLATION[1])

    def gain_at_iso(self, iso: float) -> float:
        """System gain K (DN/e-) at ``iso``: ``K = k_per_iso * iso``.

        Linear in ISO (K doubles per stop); inside ``iso_calibrated`` this interpolates the
        calibration, outside it extrapolates, up to ``iso_limits``.

        Raises
        ------
        ParameterError
            ``iso`` not a number or outside ``iso_limits``.
        """
        lo, hi = self.iso_limits
        iso = check_scalar("iso", iso, op=f"camera profile {self.name}", low=lo, high=hi)
        return self.k_per_iso * iso


def _fit(raw: dict) -> LogLinearFit:
    return LogLinearFit(float(raw["slope"]), float(raw["bias"]), float(raw["sigma"]))


@lru_cache(maxsize=1)
def _raw_profiles() -> dict:
    text = resources.files(__package__).joinpath("profiles", PROFILE_FILE).read_text()
    return json.loads(text)


@lru_cache(maxsize=None)
def camera_profile(name: str) -> CameraProfile:
    """Load the calibrated profile ``name`` (see :func:`profile_names`).

    Raises
    ------
    ParameterError
        Unknown name (with a did-you-mean suggestion).
    """
    profiles = _raw_profiles()["profiles"]
    if name not in profiles:
        raise ParameterError(f"camera profile {name!r} is unknown{suggest(str(name), profiles)}; "
                             f"known: {', '.join(profiles)}")
    p = profiles[name]
    return CameraProfile(
        name=name, source=p["source"], bit_depth=int(p["bit_depth"]),
        white_level=int(p["white_level"]), black_level=int(p["black_level"]),
        k_min=float(p["k_min"]), k_max=float(p["k_max"]), k_per_iso=float(p["k_per_iso"]),
        iso_calibrated=tuple(p["iso_calibrated"]),
        gaussian_read=_fit(p["gaussian_read"]), tukey_read=_fit(p["tukey_read"]),
        row=_fit(p["row"]), tukey_lambda=tuple(float(v) for v in p["tukey_lambda"]),
        color_bias=tuple(tuple(float(v) for v in row) for row in p["color_bias"]))


def profile_names() -> list[str]:
    """Names of the shipped camera profiles."""
    return list(_raw_profiles()["profiles"])


def check_camera(name, *, op: str | None = None) -> CameraProfile:
    """Validate a profile name as an op/sampler parameter and return the profile."""
    return camera_profile(check_choice("camera", name, profile_names(), op=op))
