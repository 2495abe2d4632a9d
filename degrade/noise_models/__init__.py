"""Camera noise models: calibrated profiles, unit conversions and parameter samplers.

The noise ops themselves are in :mod:`degrade.ops.sensor` (``poisson_gaussian_noise``,
``heteroscedastic_gaussian_noise``, ``noise_eld2020``); this package holds what they are
parametrised with:

- :func:`camera_profile` / :func:`profile_names`: ELD 2020 and PMN calibrations
  (SonyA7S2, NikonD850, CanonEOS70D, CanonEOS700D, CanonEOS5D4, IMX686), ISO -> K;
- :func:`shot_read_from_gain` / :func:`gain_from_shot_read`: K and read noise in DN <->
  normalised ``shot`` / ``read``;
- samplers ``brooks2019_shot_read``, ``camera_shot_read``, ``eld2020`` (registered for
  recipes; callable as plain functions).

See docs/noise_models.md.
"""
from __future__ import annotations

from .profiles import CameraProfile, LogLinearFit, camera_profile, profile_names
from .samplers import brooks2019_shot_read, camera_shot_read, eld2020
from .units import gain_from_shot_read, shot_read_from_gain, tukey_lambda_quantile

__all__ = ["CameraProfile", "LogLinearFit", "camera_profile", "profile_names",
           "brooks2019_shot_read", "camera_shot_read", "eld2020",
           "gain_from_shot_read", "shot_read_from_gain", "tukey_lambda_quantile"]
