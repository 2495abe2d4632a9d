"""Bayer sensor defects: hot, dead and stuck pixels, same-colour couplets, bad columns/rows.

Defects belong in the mosaic, before demosaicking (Chapman et al. 2022: demosaicking and
JPEG spread one defect over up to ~16x16 px). The default rates were measured on the real
dark frames in ../shared/data/noise with tools/analyse_dark_frames.py; see
docs/noise_models.md. Positions and values are drawn inside the op from its ``rng`` (they
are noise, like the shot noise); the rates are the recorded parameters.
"""
from __future__ import annotations

from typing import Literal

import numpy as np

from .._cfa import as_mosaic, cell_channels, check_pattern
from .._errors import ParameterError
from .._registry import Range, register_op
from .._validate import check_choice, check_scalar, require_rng

CHANNEL_SETS = ("RGB", "RG", "RB", "GB", "R", "G", "B")
LINE_MODES = {"stuck": 0, "offset": 1, "random": 2}     # codes of degrade._nb.defects
_DIAGONALS = [(-1, -1), (-1, 1), (1, -1), (1, 1)]       # nearest G of a G site
_AXIAL_2 = [(-2, 0), (2, 0), (0, -2), (0, 2)]           # nearest R (B) of an R (B) site


def _cfa_tables(pattern: str, channels: str, op: str) -> tuple[np.ndarray, np.ndarray]:
    """``eligible`` (2, 2) bool and ``partners`` (2, 2, 4, 2) same-colour neighbour offsets."""
    cell = cell_channels(check_pattern(pattern, op=op))
    allowed = ["RGB".index(c) for c in check_choice("channels", channels, CHANNEL_SETS, op=op)]
    eligible = np.isin(cell, allowed)
    partners = np.array([[_DIAGONALS if cell[r, c] == 1 else _AXIAL_2 for c in range(2)]
                         for r in range(2)], dtype=np.int64)
    return eligible, partners


@register_op("bayer_defects", domain_in="raw", meta_in=("pattern",), random=True, limits={
    **{name: Range(0, 1) for name in ("hot_rate", "dead_rate", "stuck_rate", "cluster_fraction",
                                      "column_rate", "row_rate", "line_max")},
    "hot_min": Range(0, 1, low_open=True), "hot_max": Range(0, 1, low_open=True)})
def bayer_defects(image: np.ndarray, hot_rate: float = 1.5e-4, dead_rate: float = 1.5e-5,
                  stuck_rate: float = 1.5e-5, hot_min: float = 0.004, hot_max: float = 0.05,
                  cluster_fraction: float = 0.04, column_rate: float = 5e-4,
                  row_rate: float = 0.0,
                  line_mode: Literal["stuck", "offset", "random"] = "stuck",
                  line_min: float = 0.0, line_max: float = 1.0,
                  channels: Literal["RGB", "RG", "RB", "GB", "R", "G", "B"] = "RGB",
                  pattern: str = "RGGB", *, rng=None) -> np.ndarray:
    """Add sensor defects to a Bayer mosaic.

    Parameters
    ----------
    image : ndarray, float32, (H, W) Bayer mosaic in [0, 1]
    hot_rate, dead_rate, stuck_rate : float in [0, 1]
        Probability per eligible photosite of a hot pixel (``x + amp``, capped at 1), a
        dead pixel (0) and a stuck-high pixel (1). Their sum must be <= 1.
    hot_min, hot_max : float, 0 < hot_min <= hot_max <= 1
        Hot-pixel amplitude range (normalised), drawn log-uniformly per defect. Dark
        current grows linearly with exposure (Flea3: ~0.036 of full scale per second).
    cluster_fraction : float in [0, 1]
        Fraction of point defects that come as a couplet: the nearest same-colour
        neighbour (diagonal for G, 2 px away for R/B) gets the same defect; such pairs
        defeat single-defect median correction.
    column_rate, row_rate : float in [0, 1]
        Probability per column / row of a defective line.
    line_mode : {'stuck', 'offset', 'random'}
        A defective line is set to one level ``L ~ U(line_min, line_max)`` (stuck), gets
        ``+L`` (offset, clipped to [0, 1]) or a fresh ``U(line_min, line_max)`` per site
        (random: the garbage column of the real 12-bit black frame).
    line_min, line_max : float
        Level range; in [0, 1] for stuck / random, in [-1, 1] for offset.
    channels : {'RGB', 'RG', 'RB', 'GB', 'R', 'G', 'B'}
        CFA channels whose sites may be defective (lines too affect only those sites).
    pattern : str
        CFA pattern (from the sample metadata).
    rng : numpy.random.Generator
        Required.

    Returns
    -------
    ndarray, float32, (H, W), in [0, 1] when the input is.

    Raises
    ------
    ParameterError
        Rates outside [0, 1] or summing above 1, bad amplitude or level range, unknown
        mode / channels / pattern, a non-mosaic image, missing ``rng``.

    Notes
    -----
    Each eligible site is a point defect with probability ``p = hot + dead + stuck``
    (a Bernoulli process walked with geometric gaps), of type hot / dead / stuck with
    probabilities proportional to the rates; couplets add ``cluster_fraction`` partners.
    Then columns, then rows (lines override point defects). Defect models: Chapman et al.,
    DFT 2011 / 2022 (hot, partially stuck, stuck, couplets, column defects).

    Examples
    --------
    >>> x = np.full((64, 64), 0.5, np.float32)
    >>> y = bayer_defects(x, hot_rate=0.01, rng=np.random.default_rng(0))
    >>> bool((y != x).any())
    True
    """
    from .._nb.defects import _line_defects_kernel, _point_defects_kernel

    op = "bayer_defects"
    rates = np.array([check_scalar(n, v, op=op, low=0, high=1) for n, v in
                      (("hot_rate", hot_rate), ("dead_rate", dead_rate),
                       ("stuck_rate", stuck_rate))])
    if rates.sum() > 1:
        raise ParameterError(f"{op}: parameters 'hot_rate' + 'dead_rate' + 'stuck_rate' = "
                             f"{float(rates.sum())!r}: expected a sum <= 1")
    lo_hot = check_scalar("hot_min", hot_min, op=op, low=0, low_open=True, high=1)
    hi_hot = check_scalar("hot_max", hot_max, op=op, low=lo_hot, high=1)
    cluster = check_scalar("cluster_fraction", cluster_fraction, op=op, low=0, high=1)
    col = check_scalar("column_rate", column_rate, op=op, low=0, high=1)
    row = check_scalar("row_rate", row_rate, op=op, low=0, high=1)
    mode = LINE_MODES[check_choice("line_mode", line_mode, tuple(LINE_MODES), op=op)]
    floor = -1.0 if line_mode == "offset" else 0.0
    lo_line = check_scalar("line_min", line_min, op=op, low=floor, high=1)
    hi_line = check_scalar("line_max", line_max, op=op, low=lo_line, high=1)
    eligible, partners = _cfa_tables(pattern, channels, op)
    rng = require_rng(rng, op)
    out = as_mosaic(image, op=op).copy()
    _point_defects_kernel(out, rates, lo_hot, hi_hot, cluster, eligible, partners, rng)
    _line_defects_kernel(out, col, True, mode, lo_line, hi_line, eligible, rng)
    _line_defects_kernel(out, row, False, mode, lo_line, hi_line, eligible, rng)
    return out
