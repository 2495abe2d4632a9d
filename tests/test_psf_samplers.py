"""Joint PSF samplers: Real-ESRGAN's mixed kernels and BSRGAN's add_blur kernels.

Frequencies are checked with binomial tolerances: for n draws of an event of probability p
the count has standard deviation sqrt(n p (1-p)); we allow 5 of those.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from degrade import ops
from degrade._errors import ParameterError
from degrade._registry import get_sampler
from degrade.ops.psf_samplers import REALESRGAN_KINDS, REALESRGAN_PROBS

N = 4000


def within_binomial(count, n, p, k=5.0):
    return abs(count - n * p) <= k * math.sqrt(n * p * (1 - p)) + 1e-9


@pytest.fixture(scope="module")
def realesrgan_draws():
    fn = get_sampler("realesrgan_kernel").function
    rng = np.random.default_rng(123)
    return [fn(rng) for _ in range(N)]


def test_realesrgan_kind_frequencies(realesrgan_draws):
    kinds = [d["kind"] for d in realesrgan_draws]
    assert within_binomial(kinds.count("sinc"), N, 0.1)
    for kind, p in zip(REALESRGAN_KINDS, REALESRGAN_PROBS):
        assert within_binomial(kinds.count(kind), N, 0.9 * p), kind


def test_realesrgan_ranges_and_keys(realesrgan_draws):
    for d in realesrgan_draws:
        assert d["ksize"] in range(7, 22, 2)
        if d["kind"] == "sinc":
            lo = math.pi / 3 if d["ksize"] < 13 else math.pi / 5
            assert lo <= d["omega_c"] <= math.pi and set(d) == {"kind", "ksize", "omega_c"}
            continue
        assert 0.2 <= d["sigma_x"] <= 3.0
        assert ("sigma_y" in d) == ("theta" in d) == d["kind"].endswith("aniso")
        if "sigma_y" in d:
            assert 0.2 <= d["sigma_y"] <= 3.0 and -math.pi <= d["theta"] <= math.pi
        if d["kind"].startswith("generalized"):
            assert 0.5 <= d["beta"] <= 4.0
        if d["kind"].startswith("plateau"):
            assert 1.0 <= d["beta"] <= 2.0


def test_realesrgan_plateau_beta_is_exactly_one_half_the_time(realesrgan_draws):
    betas = [d["beta"] for d in realesrgan_draws if d["kind"].startswith("plateau")]
    assert within_binomial(sum(b == 1.0 for b in betas), len(betas), 0.5)


def test_realesrgan_sizes_uniform(realesrgan_draws):
    sizes = [d["ksize"] for d in realesrgan_draws]
    for k in range(7, 22, 2):
        assert within_binomial(sizes.count(k), N, 1 / 8)


def test_realesrgan_sinc_cutoff_depends_on_size(realesrgan_draws):
    # ωc ~ U(π/5, π) only for ksize >= 13: some large-kernel draws fall below π/3.
    small = [d["omega_c"] for d in realesrgan_draws if d["kind"] == "sinc" and d["ksize"] < 13]
    large = [d["omega_c"] for d in realesrgan_draws if d["kind"] == "sinc" and d["ksize"] >= 13]
    assert min(small) >= math.pi / 3 and min(large) < math.pi / 3


def test_realesrgan_draws_build_valid_kernels(realesrgan_draws, rgb):
    for d in realesrgan_draws[:20]:
        assert ops.psf_blur(rgb, **d).shape == rgb.shape


def test_bsrgan_kernel_distribution():
    fn = get_sampler("bsrgan_kernel").function
    rng = np.random.default_rng(7)
    draws = [fn(rng, sf=4) for _ in range(N)]
    kinds = [d["kind"] for d in draws]
    assert within_binomial(kinds.count("aniso"), N, 0.5)
    assert {d["ksize"] for d in draws} == set(range(7, 26, 2))
    for d in draws:
        if d["kind"] == "aniso":     # σ² = l ~ U(0, 4 + sf) = U(0, 8)
            assert d["sigma_x"] ** 2 <= 8 and d["sigma_y"] ** 2 <= 8 and 0 <= d["theta"] <= math.pi
        else:                        # σ ~ (2 + 0.2 sf) U = U(0, 2.8)
            assert d["sigma_x"] <= 2.8
    # l is uniform: the mean of σx² over the anisotropic draws is 4 ± 5 standard errors
    # (variance of U(0, 8) is 64/12).
    l1 = np.array([d["sigma_x"] ** 2 for d in draws if d["kind"] == "aniso"])
    assert abs(l1.mean() - 4.0) < 5 * math.sqrt(64 / 12 / len(l1))


def test_bsrgan_kernel_sf2_narrower():
    fn = get_sampler("bsrgan_kernel").function
    rng = np.random.default_rng(8)
    iso = [d["sigma_x"] for d in (fn(rng, sf=2) for _ in range(500)) if d["kind"] == "iso"]
    assert max(iso) <= 2.4


@pytest.mark.parametrize("config, message", [
    ({"kernel_list": ["iso", "box"], "kernel_prob": [0.5, 0.5]}, "parameter 'kernel_list'"),
    ({"kernel_prob": [1, 2]}, "parameter 'kernel_prob'"),
    ({"sigma_range": [3.0, 0.2]}, "parameter 'sigma_range' = [3.0, 0.2]"),
    ({"ksizes": [7, 8]}, "parameter 'ksizes' = [7, 8]: expected odd sizes"),
])
def test_realesrgan_sampler_errors(config, message):
    with pytest.raises(ParameterError, match="realesrgan_kernel") as err:
        get_sampler("realesrgan_kernel").function(np.random.default_rng(0), **config)
    assert message in str(err.value)


def test_bsrgan_sampler_error():
    with pytest.raises(ParameterError, match="bsrgan_kernel: parameter 'sf' = 0"):
        get_sampler("bsrgan_kernel").function(np.random.default_rng(0), sf=0)


def test_realesrgan_sampler_configured_from_a_recipe():
    import degrade
    recipe = degrade.load_recipe(
        "name: kl\ntarget: {size: 32}\nstages:\n"
        "  - {op: psf_blur, sampler: {realesrgan_kernel: {kernel_list: [iso, plateau_iso], "
        "kernel_prob: [0.5, 0.5], ksizes: [7, 9], sinc_prob: 0.0}}}\n")
    kinds = {recipe.sample(0, i)["steps"][0]["params"]["kind"] for i in range(40)}
    assert kinds == {"iso", "plateau_iso"}
