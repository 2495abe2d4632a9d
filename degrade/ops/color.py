"""Colour correction (CCM) and white-balance gains, both directions (Brooks et al. 2019).

The ``ccm`` parameter is always an **XYZ -> camera** 3x3 matrix (what LibRaw calls
``rgb_xyz_matrix`` and Adobe ``ColorMatrix``). From it, linear sRGB -> camera is
``rgb2cam = normalize_rows(ccm @ RGB2XYZ)`` (each row divided by its sum, so gray stays
gray) and camera -> linear sRGB is ``inv(rgb2cam)``. Records store the XYZ -> camera matrix,
so a sample's forward ISP (``apply_ccm``, ``process_brooks2019``) reads the same value.
"""
from __future__ import annotations

import numpy as np

from .._color import RGB2XYZ
from .._errors import ParameterError
from .._registry import Range, register_op, register_sampler
from .._validate import as_image, check_scalar, check_vector
from .exposure import per_channel_affine

#: The four XYZ -> camera matrices Brooks 2019 mixes (google-research unprocessing).
BROOKS2019_XYZ2CAMS = np.array([
    [[1.0234, -0.2969, -0.2266], [-0.5625, 1.6328, -0.0469], [-0.0703, 0.2188, 0.6406]],
    [[0.4913, -0.0541, -0.0202], [-0.613, 1.3513, 0.2906], [-0.1564, 0.2151, 0.7183]],
    [[0.838, -0.263, -0.0639], [-0.2887, 1.0725, 0.2496], [-0.0627, 0.1427, 0.5438]],
    [[0.6596, -0.2079, -0.0562], [-0.4782, 1.3016, 0.1933], [-0.097, 0.1581, 0.5181]]])


def check_ccm(ccm, *, op: str) -> np.ndarray:
    """A 3x3 finite XYZ -> camera matrix (nested list or array) as float64."""
    try:
        m = np.array(ccm, dtype=np.float64)
    except (TypeError, ValueError):
        m = None
    if m is None or m.shape != (3, 3) or not np.isfinite(m).all():
        raise ParameterError(f"{op}: parameter 'ccm' = {ccm!r}: expected a 3x3 XYZ -> camera "
                             "matrix (nested list of finite numbers)")
    return m


def rgb_to_camera_matrix(ccm, *, op: str = "rgb_to_camera_matrix") -> np.ndarray:
    """``normalize_rows(ccm @ RGB2XYZ)``: linear sRGB -> camera RGB, rows summing to 1.

    Raises
    ------
    ParameterError
        A row of ``ccm @ RGB2XYZ`` sums to ~0 or the result is singular.
    """
    xyz2cam = check_ccm(ccm, op=op)
    m = xyz2cam @ RGB2XYZ
    sums = m.sum(axis=1, keepdims=True)
    if (np.abs(sums) < 1e-8).any():
        raise ParameterError(f"{op}: parameter 'ccm' = {xyz2cam.tolist()}: a row of "
                             "ccm @ RGB2XYZ sums to 0, cannot normalise (is it an XYZ -> "
                             "camera matrix?)")
    m = m / sums
    if abs(np.linalg.det(m)) < 1e-10:
        raise ParameterError(f"{op}: parameter 'ccm' = {xyz2cam.tolist()}: the sRGB -> camera "
                             "matrix is singular")
    return m


def camera_to_rgb_matrix(ccm, *, op: str = "camera_to_rgb_matrix") -> np.ndarray:
    """``inv(rgb_to_camera_matrix(ccm))``: camera RGB -> linear sRGB."""
    return np.linalg.inv(rgb_to_camera_matrix(ccm, op=op))


def _apply_matrix(img: np.ndarray, m: np.ndarray, clip: bool) -> np.ndarray:
    """``img @ m.T`` per pixel with ``cv2.transform`` (float32; 2x numpy's matmul here)."""
    import cv2

    out = cv2.transform(img, np.asarray(m, dtype=np.float32))
    return np.clip(out, 0.0, 1.0, out=out) if clip else out


@register_op("remove_ccm", domain_in="linear", domain_out="camera", meta_out=("ccm",))
def remove_ccm(image: np.ndarray, ccm: list[list[float]], *, rng=None) -> np.ndarray:
    """Inverse colour correction: linear sRGB -> XYZ -> camera RGB (Brooks 2019).

    Parameters
    ----------
    image : ndarray, float32, (H, W, 3), linear sRGB
    ccm : 3x3 nested list
        XYZ -> camera matrix: from the ``brooks2019_ccm`` sampler (random mix of four
        cameras) or a real camera's (``raw_file_color`` sampler / ``RawImage.xyz_to_cam``).

    Returns
    -------
    ndarray, float32, (H, W, 3), camera RGB; not clipped.

    Raises
    ------
    ParameterError
        Not a 3x3 finite matrix, a row summing to 0, singular.

    Notes
    -----
    ``y = x @ rgb2cam.T`` with ``rgb2cam = normalize_rows(ccm @ RGB2XYZ)``.
    T. Brooks et al., "Unprocessing Images for Learned Raw Denoising", CVPR 2019.

    Examples
    --------
    >>> x = np.full((1, 1, 3), 0.5, np.float32)
    >>> np.allclose(remove_ccm(x, BROOKS2019_XYZ2CAMS[0].tolist()), 0.5)  # gray stays gray
    True
    """
    m = rgb_to_camera_matrix(ccm, op="remove_ccm")
    return _apply_matrix(as_image(image, op="remove_ccm"), m, False)


@register_op("apply_ccm", domain_in="camera", domain_out="linear", meta_in=("ccm",))
def apply_ccm(image: np.ndarray, ccm: list[list[float]], clip: bool = False, *,
              rng=None) -> np.ndarray:
    """Colour correction: camera RGB -> linear sRGB, the inverse of :func:`remove_ccm`.

    Parameters
    ----------
    image : ndarray, float32, (H, W, 3), camera RGB (white-balanced)
    ccm : 3x3 nested list
        XYZ -> camera matrix (from the sample metadata when the recipe omits it).
    clip : bool
        Clip to [0, 1] afterwards (Brooks' ``process`` does).

    Returns
    -------
    ndarray, float32, (H, W, 3), linear sRGB.

    Notes
    -----
    ``y = x @ inv(rgb2cam).T``, ``rgb2cam`` as in :func:`remove_ccm`.

    Examples
    --------
    >>> x = np.full((1, 1, 3), 0.25, np.float32)
    >>> np.allclose(apply_ccm(x, BROOKS2019_XYZ2CAMS[1].tolist()), 0.25)
    True
    """
    m = camera_to_rgb_matrix(ccm, op="apply_ccm")
    return _apply_matrix(as_image(image, op="apply_ccm"), m, bool(clip))


WB_GAIN_LIMITS = {name: Range(0, low_open=True) for name in ("red_gain", "blue_gain", "rgb_gain")}


def gain_vector(red_gain, blue_gain, rgb_gain, op: str) -> np.ndarray:
    """The per-channel gains ``[red_gain, 1, blue_gain] * rgb_gain``, each checked > 0."""
    r = check_scalar("red_gain", red_gain, op=op, low=0, low_open=True)
    b = check_scalar("blue_gain", blue_gain, op=op, low=0, low_open=True)
    g = check_scalar("rgb_gain", rgb_gain, op=op, low=0, low_open=True)
    return np.array([r * g, g, b * g])


@register_op("remove_wb_gains", domain_in="camera", domain_out="camera",
             meta_out=("red_gain", "blue_gain", "rgb_gain"), limits=WB_GAIN_LIMITS)
def remove_wb_gains(image: np.ndarray, red_gain: float, blue_gain: float,
                    rgb_gain: float = 1.0, protect_highlights: bool = True,
                    clip: bool = True, *, rng=None) -> np.ndarray:
    """Undo white balance and brightening gains, protecting highlights (Brooks 2019).

    Parameters
    ----------
    image : ndarray, float32, (H, W, 3), camera RGB
    red_gain, blue_gain : float > 0
        White-balance gains to remove (Brooks: U(1.9, 2.4) and U(1.5, 1.9)).
    rgb_gain : float > 0
        Global brightening gain to remove (Brooks: 1 / N(0.8, 0.1)).
    protect_highlights : bool
        Brooks' ``safe_invert_gains``; False divides plainly.
    clip : bool
        Clip to [0, 1] afterwards (Brooks' unprocess does).

    Returns
    -------
    ndarray, float32, (H, W, 3).

    Notes
    -----
    ``g = [1/red_gain, 1, 1/blue_gain] / rgb_gain``; with protection, per pixel
    ``gray = mean_c(x)``, ``mask = (max(gray - 0.9, 0) / 0.1)^2``,
    ``g_safe = max(mask + (1 - mask) g, g)``, ``y = x g_safe``: bright pixels are scaled less,
    so saturated whites do not turn coloured. Exactly invertible by :func:`apply_wb_gains`
    where ``gray <= 0.9``.

    Examples
    --------
    >>> x = np.full((1, 1, 3), 0.5, np.float32)
    >>> remove_wb_gains(x, 2.0, 1.6).round(4).tolist()
    [[[0.25, 0.5, 0.3125]]]
    """
    from .._nb.isp import _safe_gains_kernel

    inverse = 1.0 / gain_vector(red_gain, blue_gain, rgb_gain, "remove_wb_gains")
    img = as_image(image, op="remove_wb_gains")
    if not protect_highlights:
        lo, hi = (0.0, 1.0) if clip else (-np.inf, np.inf)
        return per_channel_affine(img, inverse, np.zeros(3), pattern=None,
                                  op="remove_wb_gains", lo=lo, hi=hi)
    out = np.empty_like(img)
    _safe_gains_kernel(img.reshape(-1, 3), inverse, bool(clip), out.reshape(-1, 3))
    return out


@register_op("apply_wb_gains", domain_in=("camera", "raw"),
             meta_in=("red_gain", "blue_gain", "rgb_gain", "pattern"), limits=WB_GAIN_LIMITS)
def apply_wb_gains(image: np.ndarray, red_gain: float, blue_gain: float,
                   rgb_gain: float = 1.0, pattern: str | None = None, clip: bool = False, *,
                   rng=None) -> np.ndarray:
    """Apply white balance and brightening gains: ``y_c = x_c g_c``.

    Parameters
    ----------
    image : ndarray, float32, camera RGB (H, W, 3), mosaic (H, W) or packed (H/2, W/2, 4)
    red_gain, blue_gain, rgb_gain : float > 0
        ``g = [red_gain, 1, blue_gain] * rgb_gain`` (from the sample metadata when omitted).
    pattern : str, optional
        CFA pattern, needed for mosaics / packed RAW (from metadata).
    clip : bool
        Clip to [0, 1] (Brooks' ``process`` clips after the gains).

    Returns
    -------
    ndarray, float32, same shape.

    Examples
    --------
    >>> apply_wb_gains(np.full((2, 2), 0.25, np.float32), 2.0, 1.5, pattern='RGGB').tolist()
    [[0.5, 0.25], [0.25, 0.375]]
    """
    g = gain_vector(red_gain, blue_gain, rgb_gain, "apply_wb_gains")
    img = as_image(image, op="apply_wb_gains", channels=(3, 4), allow_2d=True)
    lo, hi = (0.0, 1.0) if clip else (-np.inf, np.inf)
    return per_channel_affine(img, g, np.zeros(3), pattern=pattern, op="apply_wb_gains",
                              lo=lo, hi=hi)


@register_sampler("brooks2019_ccm",
                  ops=["remove_ccm", "apply_ccm", "unprocess_brooks2019", "process_brooks2019"])
def brooks2019_ccm(rng: np.random.Generator) -> dict:
    """Random XYZ -> camera matrix: convex mix of Brooks' four cameras.

    Weights ``w_i ~ U(1e-8, 1e8)`` (four draws), ``ccm = sum_i w_i M_i / sum_i w_i``
    (Brooks 2019 ``random_ccm``; rows are normalised by the ops, not here).

    Examples
    --------
    >>> np.array(brooks2019_ccm(np.random.default_rng(0))['ccm']).shape
    (3, 3)
    """
    w = rng.uniform(1e-8, 1e8, size=len(BROOKS2019_XYZ2CAMS))
    m = np.tensordot(w, BROOKS2019_XYZ2CAMS, axes=1) / w.sum()
    return {"ccm": m.tolist()}


@register_sampler("brooks2019_wb_gains",
                  ops=["remove_wb_gains", "apply_wb_gains", "unprocess_brooks2019",
                       "process_brooks2019"])
def brooks2019_wb_gains(rng: np.random.Generator, rgb_mean: float = 0.8, rgb_std: float = 0.1,
                        red_range: list[float] = (1.9, 2.4),
                        blue_range: list[float] = (1.5, 1.9)) -> dict:
    """Random gains as Brooks 2019 ``random_gains``: ``rgb_gain = 1 / N(0.8, 0.1)``,
    ``red_gain ~ U(1.9, 2.4)``, ``blue_gain ~ U(1.5, 1.9)`` (drawn in that order).

    A normal draw <= 0.05 (about 7.5 sigma) is redrawn so ``rgb_gain`` stays finite.

    Parameters
    ----------
    rng : numpy.random.Generator
    rgb_mean, rgb_std : float
        Mean and std of the normal draw whose inverse is ``rgb_gain`` (Brooks: 0.8, 0.1).
    red_range, blue_range : [low, high]
        Uniform ranges of ``red_gain`` and ``blue_gain`` (Brooks: [1.9, 2.4], [1.5, 1.9]).

    Examples
    --------
    >>> sorted(brooks2019_wb_gains(np.random.default_rng(0)))
    ['blue_gain', 'red_gain', 'rgb_gain']
    """
    op = "brooks2019_wb_gains"
    mean = check_scalar("rgb_mean", rgb_mean, op=op, low=0, low_open=True)
    std = check_scalar("rgb_std", rgb_std, op=op, low=0)
    red = check_vector("red_range", red_range, (2,), op=op, low=0, low_open=True)
    blue = check_vector("blue_range", blue_range, (2,), op=op, low=0, low_open=True)
    brightness = rng.normal(mean, std)
    while brightness <= 0.05:
        brightness = rng.normal(mean, std)
    return {"rgb_gain": float(1.0 / brightness),
            "red_gain": float(rng.uniform(red[0], red[1])),
            "blue_gain": float(rng.uniform(blue[0], blue[1]))}


@register_sampler("raw_file_color",
                  ops=["remove_ccm", "apply_ccm", "remove_wb_gains", "apply_wb_gains",
                       "unprocess_brooks2019", "process_brooks2019"])
def raw_file_color(rng: np.random.Generator, path: str) -> dict:
    """A real camera's colour from a RAW file: its XYZ -> camera matrix and as-shot WB.

    Returns ``{"ccm", "red_gain", "blue_gain"}`` read by :func:`degrade.sources.raw.read_raw`
    (``rng`` is not used; the result is deterministic).

    Parameters
    ----------
    rng : numpy.random.Generator
    path : str
        The RAW file (any format rawpy reads) whose colour matrix and as-shot WB are used.

    Raises
    ------
    InputError
        The file cannot be read (see ``read_raw``).
    """
    from ..sources.raw import read_raw

    raw = read_raw(path)
    return {"ccm": raw.xyz_to_cam.tolist(), "red_gain": float(raw.wb_gains[0]),
            "blue_gain": float(raw.wb_gains[2])}
