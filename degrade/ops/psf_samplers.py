"""Joint samplers of PSF parameters for ``psf_blur`` (Real-ESRGAN's and BSRGAN's kernels).

A sampler draws the op's parameters from a numpy Generator and returns them as a dict, so
the record holds a handful of numbers (kind, size, widths, angle, shape), never a kernel.
Draw order is documented per sampler; it is degrade's own (one Generator per recipe node),
so the *distribution* matches the reference, not the random stream (which mixes Python's
``random``, legacy ``np.random`` and torch in the originals).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .._errors import ParameterError
from .._registry import register_sampler
from .._validate import check_scalar
from .psf import PSF_KINDS

REALESRGAN_KINDS = ["iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso",
                    "plateau_aniso"]
REALESRGAN_PROBS = [0.45, 0.25, 0.12, 0.03, 0.12, 0.03]
REALESRGAN_SIZES = [7, 9, 11, 13, 15, 17, 19, 21]


def _check_range(name: str, value, sampler: str, *, low: float = 0.0) -> tuple[float, float]:
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
            or value[0] > value[1] or value[0] < low):
        raise ParameterError(f"{sampler}: parameter '{name}' = {value!r}: expected [lo, hi] "
                             f"with {low} <= lo <= hi")
    return float(value[0]), float(value[1])


def _check_probs(kinds, probs, sampler: str) -> np.ndarray:
    bad = [k for k in kinds if k not in PSF_KINDS or k == "sinc"]
    if not kinds or bad:
        raise ParameterError(f"{sampler}: parameter 'kernel_list' = {kinds!r}: expected names "
                             f"from {', '.join(PSF_KINDS[:-1])}")
    p = np.asarray(probs, dtype=np.float64)
    if p.shape != (len(kinds),) or (p < 0).any() or p.sum() <= 0:
        raise ParameterError(f"{sampler}: parameter 'kernel_prob' = {probs!r}: expected "
                             f"{len(kinds)} non-negative weights, not all zero")
    return p / p.sum()


@register_sampler("realesrgan_kernel", ops=["psf_blur"])
def realesrgan_kernel(rng: np.random.Generator, kernel_list: Sequence[str] = REALESRGAN_KINDS,
                      kernel_prob: list[float] = REALESRGAN_PROBS,
                      sigma_range: list[float] = (0.2, 3.0),
                      betag_range: list[float] = (0.5, 4.0), betap_range: list[float] = (1.0, 2.0),
                      rotation_range: list[float] = (-math.pi, math.pi),
                      sinc_prob: float = 0.1, ksizes: list[int] = REALESRGAN_SIZES,
                      sinc_cutoff_small: list[float] = (math.pi / 3, math.pi),
                      sinc_cutoff_large: list[float] = (math.pi / 5, math.pi),
                      sinc_large_from: int = 13) -> dict:
    """Real-ESRGAN's first/second-order blur kernel (``RealESRGANDataset`` kernel1/kernel2).

    Parameters
    ----------
    rng : numpy.random.Generator
    kernel_list, kernel_prob : list
        Gaussian-family kinds and their probabilities (x4plus: iso .45, aniso .25,
        generalized_iso .12, generalized_aniso .03, plateau_iso .12, plateau_aniso .03).
    sigma_range : [lo, hi]
        σx and (anisotropic kinds) σy are each ``U(lo, hi)`` (x4plus: [0.2, 3] first order,
        [0.2, 1.5] second order).
    betag_range, betap_range : [lo, hi]
        β of generalized / plateau kinds: ``U(lo, 1)`` or ``U(1, hi)`` with probability ½
        each (so plateau β with [1, 2] is exactly 1 half of the time, as in basicsr).
    rotation_range : [lo, hi]
        θ of the anisotropic kinds.
    sinc_prob : float
        Probability of a ``sinc`` kernel instead (x4plus 0.1).
    ksizes : list of odd int
        Sizes drawn uniformly (x4plus 7, 9, ..., 21).
    sinc_cutoff_small, sinc_cutoff_large, sinc_large_from :
        ωc ~ U(small) when ksize < ``sinc_large_from`` else U(large) (π/3..π, π/5..π, 13).

    Returns
    -------
    dict
        ``psf_blur`` parameters: ``kind``, ``ksize`` and only the ones the kind uses.

    Notes
    -----
    Draws, in order: ksize (``rng.choice``), the sinc gate (``rng.random()``), then either ωc,
    or the kind (``rng.choice`` with p), σx, [σy, θ], [β gate, β] — basicsr's order, on one
    Generator. Reference: basicsr 1.4.2 ``random_mixed_kernels`` and
    ``RealESRGANDataset.__getitem__``.

    Examples
    --------
    >>> sorted(realesrgan_kernel(np.random.default_rng(1)))  # doctest: +ELLIPSIS
    ['kind', 'ksize', ...]
    """
    name = "realesrgan_kernel"
    probs = _check_probs(list(kernel_list), kernel_prob, name)
    sig = _check_range("sigma_range", sigma_range, name, low=1e-12)
    bg = _check_range("betag_range", betag_range, name, low=1e-12)
    bp = _check_range("betap_range", betap_range, name, low=1e-12)
    rot = _check_range("rotation_range", rotation_range, name, low=-math.inf)
    cut_s = _check_range("sinc_cutoff_small", sinc_cutoff_small, name, low=1e-12)
    cut_l = _check_range("sinc_cutoff_large", sinc_cutoff_large, name, low=1e-12)
    if any(int(k) != k or k < 1 or k % 2 == 0 for k in ksizes) or not len(ksizes):
        raise ParameterError(f"{name}: parameter 'ksizes' = {ksizes!r}: expected odd sizes")
    ksize = int(ksizes[rng.integers(len(ksizes))])
    if rng.random() < sinc_prob:
        lo, hi = cut_s if ksize < sinc_large_from else cut_l
        return {"kind": "sinc", "ksize": ksize, "omega_c": float(rng.uniform(lo, hi))}
    kind = str(kernel_list[rng.choice(len(kernel_list), p=probs)])
    params = {"kind": kind, "ksize": ksize, "sigma_x": float(rng.uniform(*sig))}
    if kind.endswith("aniso"):
        params["sigma_y"] = float(rng.uniform(*sig))
        params["theta"] = float(rng.uniform(*rot))
    if kind.startswith(("generalized", "plateau")):
        lo, hi = bg if kind.startswith("generalized") else bp
        params["beta"] = float(rng.uniform(lo, 1.0) if rng.random() < 0.5 else rng.uniform(1.0, hi))
    return params


@register_sampler("bsrgan_kernel", ops=["psf_blur"])
def bsrgan_kernel(rng: np.random.Generator, sf: int = 4, min_sigma: float = 1e-3) -> dict:
    """BSRGAN's ``add_blur`` kernel: anisotropic or isotropic Gaussian with probability ½.

    Parameters
    ----------
    rng : numpy.random.Generator
    sf : int
        The current scale factor (4, or 2 after BSRGAN's optional pre-downsampling).
    min_sigma : float
        Floor on a drawn width (BSRGAN can draw 0, a singular kernel; degrade returns a
        delta-like kernel instead).

    Returns
    -------
    dict
        ``{"kind": "aniso", "ksize", "sigma_x", "sigma_y", "theta"}`` or
        ``{"kind": "iso", "ksize", "sigma_x"}``.

    Notes
    -----
    Anisotropic (probability ½): eigenvalues ``l1, l2 = (4+sf)·U(0,1)`` are variances, so
    ``σ = √l``; ``ksize = 2·randint(2, 11) + 3`` (7..25); ``θ = π·U``. BSRGAN's
    ``Σ = V diag(l1, l2) V⁻¹`` with the reflection ``V = [[c, s], [s, -c]]`` equals
    ``R(θ) diag(l1, l2) R(θ)ᵀ``. Isotropic: MATLAB ``fspecial('gaussian', ksize,
    (2+0.2sf)·U)``; its ``h < eps·max(h)`` zeroing changes weights below 1e-16.
    Reference: Zhang et al., "Designing a Practical Degradation Model for Deep Blind Image
    Super-Resolution", ICCV 2021; cszn/BSRGAN ``utils_blindsr.add_blur``.

    Examples
    --------
    >>> bsrgan_kernel(np.random.default_rng(0))["kind"] in ("iso", "aniso")
    True
    """
    sf = check_scalar("sf", sf, op="bsrgan_kernel", integer=True, low=1)
    if rng.random() < 0.5:
        wd2 = 4.0 + sf
        l1, l2 = wd2 * rng.random(), wd2 * rng.random()
        ksize = 2 * int(rng.integers(2, 12)) + 3
        theta = math.pi * rng.random()
        return {"kind": "aniso", "ksize": ksize, "sigma_x": max(math.sqrt(l1), min_sigma),
                "sigma_y": max(math.sqrt(l2), min_sigma), "theta": theta}
    ksize = 2 * int(rng.integers(2, 12)) + 3
    sigma = (2.0 + 0.2 * sf) * rng.random()
    return {"kind": "iso", "ksize": ksize, "sigma_x": max(sigma, min_sigma)}
