"""Calibrated camera profiles, unit conversions and the noise-parameter samplers."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from degrade import ParameterError
from degrade._registry import get_sampler
from degrade.noise_models import (brooks2019_shot_read, camera_profile, camera_shot_read,
                                  eld2020, gain_from_shot_read, profile_names,
                                  shot_read_from_gain, tukey_lambda_quantile)

CAMERAS = ["SonyA7S2", "NikonD850", "CanonEOS70D", "CanonEOS700D", "CanonEOS5D4", "IMX686"]


def _regress(x, y):
    """Least squares y = a x + b: slope, intercept, residual std, slope standard error."""
    x, y = np.asarray(x), np.asarray(y)
    a, b = np.polyfit(x, y, 1)
    resid = y - (a * x + b)
    s = resid.std(ddof=2)
    return a, b, s, s / (x.std() * math.sqrt(len(x)))


# -- profiles ------------------------------------------------------------------------------
def test_all_profiles_load_with_consistent_fields():
    assert profile_names() == CAMERAS
    for name in CAMERAS:
        p = camera_profile(name)
        assert p.white_level > p.black_level >= 0 and p.bit_depth in (10, 14)
        assert 0 < p.k_min < p.k_max
        assert len(p.tukey_lambda) == len(p.color_bias) or p.source == "pmn"
        assert all(len(row) == 4 for row in p.color_bias)
        # calibrated range 100..6400 is 6 stops: K at the ends equals Kmin (ELD) exactly
        if p.source == "eld":
            assert p.gain_at_iso(100) == pytest.approx(p.k_min, rel=1e-12)
            assert p.gain_at_iso(6400) == pytest.approx(p.k_max, rel=1e-9)


def test_profile_numbers_match_the_sources():
    sony = camera_profile("SonyA7S2")
    # reference sanity check at K = 1 DN/e-: sigma_g ~ e^1.218 = 3.4, sigma_TL ~ 1.8, sigma_r ~ 0.55
    assert sony.gaussian_read.median(1.0) == pytest.approx(3.38, abs=0.01)
    assert sony.tukey_read.median(1.0) == pytest.approx(1.76, abs=0.01)
    assert sony.row.median(1.0) == pytest.approx(0.553, abs=0.01)
    # PMN's per-ISO Sony table (K = 0.0956 at ISO 100, 6.12 at ISO 6400) agrees within 2%
    assert sony.gain_at_iso(100) == pytest.approx(0.09563, rel=0.02)
    imx = camera_profile("IMX686")
    assert (imx.bit_depth, imx.black_level, imx.white_level) == (10, 64, 1023)
    assert imx.k_per_iso * 100 == pytest.approx(0.1366021)        # PMN's ISO 100 anchor
    assert imx.gain_at_iso(6400) == pytest.approx(8.7425333, rel=1e-5)
    assert imx.iso_calibrated == (605, 6400)                        # ln K in [-0.191, 2.168]
    # PMN ISO 6400 spot value sigma_Gs = 14.3 DN lies on the fitted line within 15%, and so
    # do the fits on PMN's 240 real ISO 6400 dark frames: read 13.1 DN, row 0.83 DN
    k6400 = imx.gain_at_iso(6400)
    assert imx.gaussian_read.median(k6400) == pytest.approx(14.3, rel=0.15)
    assert imx.gaussian_read.median(k6400) == pytest.approx(13.1, rel=0.10)
    assert imx.row.median(k6400) == pytest.approx(0.83, rel=0.10)


def test_iso_interpolation_is_linear_in_iso():
    p = camera_profile("NikonD850")
    assert p.gain_at_iso(3200) == pytest.approx(0.5 * p.gain_at_iso(6400))
    assert p.gain_at_iso(9600) == pytest.approx(1.5 * p.gain_at_iso(6400))   # extrapolated


def test_profile_errors():
    with pytest.raises(ParameterError, match=r"camera profile 'SonyA7S' is unknown "
                                             r"\(did you mean 'SonyA7S2'\?\); known: SonyA7S2"):
        camera_profile("SonyA7S")
    with pytest.raises(ParameterError, match=r"camera profile SonyA7S2: parameter 'iso' = "
                                             r"100000.0: expected 50.0 <= iso <= 25600.0"):
        camera_profile("SonyA7S2").gain_at_iso(100000)


# -- units ---------------------------------------------------------------------------------
def test_gain_conversion_round_trip():
    shot, read = shot_read_from_gain(2.0, 5.0, 959, ratio=20)
    assert (shot, read) == pytest.approx((2.0 * 20 / 959, 5.0 * 20 / 959))
    assert gain_from_shot_read(shot, read, 959, ratio=20) == pytest.approx((2.0, 5.0))


def test_gain_conversion_errors():
    with pytest.raises(ParameterError, match=r"shot_read_from_gain: parameter 'gain' = 0.0: "
                                             r"expected 0 < gain"):
        shot_read_from_gain(0.0, 1.0, 100)
    with pytest.raises(ParameterError, match=r"gain_from_shot_read: parameter 'ratio' = -1.0"):
        gain_from_shot_read(1e-3, 1e-3, 100, ratio=-1.0)


@pytest.mark.parametrize("lam", [-0.2, 0.0, 0.102, 0.5])
def test_tukey_lambda_quantile_matches_scipy(lam):
    u = np.linspace(0.001, 0.999, 101)
    np.testing.assert_allclose(tukey_lambda_quantile(u, lam), stats.tukeylambda.ppf(u, lam),
                               rtol=1e-9, atol=1e-12)


# -- samplers ------------------------------------------------------------------------------
def test_samplers_are_registered_for_their_ops():
    assert "poisson_gaussian_noise" in get_sampler("brooks2019_shot_read").ops
    assert "poisson_gaussian_noise" in get_sampler("camera_shot_read").ops
    assert get_sampler("eld2020").ops == ("noise_eld2020",)


def test_brooks2019_log_linear_relation_is_recovered():
    rng = np.random.default_rng(1)
    draws = [brooks2019_shot_read(rng) for _ in range(2000)]
    log_shot = np.log([d["shot"] for d in draws])
    log_read_var = np.log([d["read"] ** 2 for d in draws])
    assert log_shot.min() >= math.log(1e-4) and log_shot.max() <= math.log(0.012)
    # ln shot ~ U(a, b): its mean has std (b - a) / sqrt(12 n); allow 5 of those
    a, b = math.log(1e-4), math.log(0.012)
    assert abs(log_shot.mean() - (a + b) / 2) < 5 * (b - a) / math.sqrt(12 * len(draws))
    slope, intercept, scatter, se = _regress(log_shot, log_read_var)
    assert abs(slope - 2.18) < 5 * se                       # se ~ 0.0042 here
    # intercept error: se * sqrt(mean(x^2)) (standard OLS result)
    assert abs(intercept - 1.20) < 5 * se * math.sqrt(np.mean(log_shot ** 2))
    # residual std: sample std of n normals has std ~ sigma / sqrt(2n)
    assert abs(scatter - 0.26) < 5 * 0.26 / math.sqrt(2 * len(draws))


def test_eld2020_sampler_follows_the_profile_fits():
    rng = np.random.default_rng(2)
    prof = camera_profile("CanonEOS70D")
    draws = [eld2020(rng, camera="CanonEOS70D") for _ in range(1500)]
    log_k = np.log([d["gain"] for d in draws])
    assert log_k.min() >= math.log(prof.k_min) and log_k.max() <= math.log(prof.k_max)
    for key, fit in (("read_sigma", prof.tukey_read), ("row_sigma", prof.row)):
        slope, intercept, scatter, se = _regress(log_k, np.log([d[key] for d in draws]))
        assert abs(slope - fit.slope) < 5 * se
        assert abs(scatter - fit.sigma) < 5 * fit.sigma / math.sqrt(2 * len(draws))
    assert {d["read_lambda"] for d in draws} <= set(prof.tukey_lambda)
    assert all(tuple(d["color_bias"]) in prof.color_bias for d in draws)
    assert all(d["white_level"] == 16383 and d["ratio"] == 1.0 for d in draws)


def test_eld2020_sampler_iso_choices_gaussian_and_ratio_range():
    rng = np.random.default_rng(3)
    prof = camera_profile("IMX686")
    draws = [eld2020(rng, camera="IMX686", iso_choices=[1600, 3200, 6400],
                     read_model="gaussian", ratio_range=[20, 30]) for _ in range(200)]
    gains = {round(d["gain"], 9) for d in draws}
    assert gains == {round(prof.gain_at_iso(i), 9) for i in (1600, 3200, 6400)}
    assert all(d["read_lambda"] is None for d in draws)
    assert all(20 <= d["ratio"] <= 30 for d in draws)
    assert all(d["black_level"] == 64 and d["white_level"] == 1023 for d in draws)


def test_camera_shot_read_units_and_iso_range():
    rng = np.random.default_rng(4)
    prof = camera_profile("SonyA7S2")
    fixed = camera_shot_read(rng, camera="SonyA7S2", iso=1600, amplification=25)
    assert fixed["shot"] == pytest.approx(prof.gain_at_iso(1600) * 25 / prof.full_scale)
    shots = [camera_shot_read(rng, camera="SonyA7S2", iso_range=[3200, 9600])["shot"]
             for _ in range(300)]
    k = np.array(shots) * prof.full_scale
    assert k.min() >= prof.gain_at_iso(3200) and k.max() <= prof.gain_at_iso(9600)


@pytest.mark.parametrize("kwargs, message", [
    ({"iso": 1600, "iso_range": [100, 200]},
     r"sampler eld2020: give at most one of iso, iso_choices, iso_range \(got iso, iso_range\)"),
    ({"iso_choices": []}, r"parameter 'iso_choices' = \[\]: expected a non-empty list"),
    ({"iso_range": [6400, 100]}, r"parameter 'iso_range' = \[6400, 100\]: expected low <= high"),
    ({"iso_range": [100]}, r"parameter 'iso_range' = \[100\]: expected \[low, high\]"),
    ({"ratio_range": [0.5, 3]}, r"parameter 'ratio_range' = \[0.5, 3\]: expected \[low, high\] "
                                r"with 1 <= low <= high"),
    ({"read_model": "laplace"}, r"parameter 'read_model' = 'laplace': expected one of"),
    ({"camera": "Pixel"}, r"sampler eld2020: parameter 'camera' = 'Pixel': expected one of"),
])
def test_eld2020_sampler_errors(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        eld2020(np.random.default_rng(0), **kwargs)


def test_brooks_and_camera_sampler_errors():
    with pytest.raises(ParameterError, match=r"sampler brooks2019_shot_read: parameter "
                                             r"'shot_max' = 1e-05: expected 0.0001 <= shot_max"):
        brooks2019_shot_read(np.random.default_rng(0), shot_max=1e-5)
    with pytest.raises(ParameterError, match=r"sampler camera_shot_read: parameter "
                                             r"'amplification' = 0.5: expected 1 <= amplification"):
        camera_shot_read(np.random.default_rng(0), amplification=0.5)
