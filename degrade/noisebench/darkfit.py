"""Fit the signal-independent noise of a sensor from a folder of dark frames.

Layers, estimated in this order from ``N`` frames ``F_f`` (DN) of one sensor mode; pixels of
hot / defective lines (:func:`degrade.noisebench.dark.dark_frame_stats`) are left out:

1. **black level** ``b``: median of all frames;
2. **fixed pattern** (needs ``N >= 2``): the per-pixel mean ``M = mean_f F_f``; column
   offsets ``c_j`` = mean of column ``j`` of ``M - b`` (per-column FPN, std reported), and
   the per-pixel FPN std ``sqrt(max(var(M - b - c) - (read^2 + row^2) / N, 0))`` (the
   temporal read and row variance left in the mean of N frames taken out);
3. **row noise** (temporal, per frame): residuals ``R_f = (F_f - M) sqrt(N / (N - 1))`` (one
   frame: ``F - b - c``); the std of the row means of each CFA plane minus the part the pixel
   noise explains, ``sqrt(max(var(row means) - var_pixel / n, 0))`` (ELD's row noise);
4. **read noise**: ``R_f`` with its row means removed; Gaussian ``sigma`` (std). The
   Tukey-lambda fit uses single frames ``F_f - b - c`` with row means removed (as ELD
   calibrates it; a residual to the mean of N frames mixes N draws and looks more normal;
   the pixel FPN stays in): the shape ``lambda`` maximising the probability-plot
   correlation (``scipy.stats.ppcc_max``) and the scale from that plot's slope.

Frames that are black-clamped (many values at or below 0) or coarsely quantised give biased
read-noise values: ``warnings`` says so (the Flea3 frames in ../shared are both).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .._errors import InputError
from .dark import dark_frame_stats

#: Values used for the Tukey-lambda probability-plot fit (a random subsample, fixed seed).
TUKEY_SAMPLE = 20000
#: A frame set is reported as clamped when this fraction of values is at or below 0.
CLAMP_FRACTION = 0.05
#: ...and as coarsely quantised when the read noise is below this many DN.
COARSE_DN = 1.0


def _defect_mask(frames: np.ndarray, pattern) -> np.ndarray:
    bad = np.zeros(frames.shape[1:], bool)
    for f in frames[:2]:
        st = dark_frame_stats(f.astype(np.float64), pattern)
        bad |= st["_hot_mask"]
        bad[:, st["bad_columns"]] = True
        bad[st["bad_rows"], :] = True
    return bad


def _row_sigma(res: np.ndarray, good: np.ndarray) -> tuple[float, np.ndarray]:
    """Row-noise std (averaged over CFA planes and frames) and the residuals with the row
    means of each plane removed."""
    out = res.copy()
    sig = []
    for a in (0, 1):
        for b in (0, 1):
            plane, ok = out[:, a::2, b::2], good[a::2, b::2]
            n = ok.sum(axis=1)
            keep = n > 1
            sums = np.where(ok[None], plane, 0.0).sum(axis=2)          # (N, rows)
            means = np.where(keep[None], sums / np.maximum(n, 1)[None], 0.0)
            pix_var = float(plane[:, ok].var())
            for f in range(plane.shape[0]):
                m = means[f, keep]
                sig.append(max(float(m.var()) - float(np.mean(pix_var / n[keep])), 0.0))
            plane -= means[:, :, None]
            out[:, a::2, b::2] = plane
    return float(np.sqrt(np.mean(sig))), out


def tukey_lambda_fit(values: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """``(lambda, scale)`` of a Tukey-lambda fit by probability-plot correlation."""
    from scipy import stats

    v = np.asarray(values, np.float64).ravel()
    if v.size > TUKEY_SAMPLE:
        v = np.random.default_rng(seed).choice(v, TUKEY_SAMPLE, replace=False)
    lam = float(stats.ppcc_max(v, brack=(-0.2, 0.2), dist="tukeylambda"))
    (osm, osr), (slope, _, _) = stats.probplot(v, sparams=(lam,), dist="tukeylambda")
    return lam, float(slope)


def fit_dark_frames(frames: np.ndarray, pattern: str | None = None) -> dict:
    """Fit black level, fixed pattern, row and read noise of ``frames`` (N, H, W) in DN.

    Returns
    -------
    dict
        ``frames``, ``shape``, ``black_dn``, ``column_fpn_dn``, ``pixel_fpn_dn`` (None for
        one frame), ``row_dn``, ``read_gaussian_dn``, ``tukey_lambda``, ``tukey_scale_dn``,
        ``signal_independent_var_dn2`` (variance of ``F - b`` on good pixels: what a dark
        frame adds in total), ``clamped_fraction``, ``defect_fraction``, ``warnings``.
    """
    frames = np.asarray(frames, np.float64)
    if frames.ndim == 2:
        frames = frames[None]
    if frames.ndim != 3 or frames.shape[1] < 8 or frames.shape[2] < 8:
        raise InputError(f"dark frames have shape {frames.shape}: expected (N, H, W), H, W >= 8")
    h, w = frames.shape[1] // 2 * 2, frames.shape[2] // 2 * 2
    frames = frames[:, :h, :w]
    n = frames.shape[0]
    black = float(np.median(frames))
    bad = _defect_mask(frames, pattern)
    good = ~bad
    mean = frames.mean(axis=0)
    col = np.array([np.mean((mean - black)[good[:, j], j]) if good[:, j].any() else 0.0
                    for j in range(w)])
    if n >= 2:
        res = (frames - mean[None]) * np.sqrt(n / (n - 1))
    else:
        res = frames - black - col[None, None, :]
    row, res = _row_sigma(res, good)
    vals = res[:, good]
    read = float(vals.std())
    pixel_fpn = None
    if n >= 2:
        # the frame mean still holds 1/N of the temporal read and row variance
        fpn_var = float(np.var((mean - black - col[None, :])[good])) - (read ** 2 + row ** 2) / n
        pixel_fpn = float(np.sqrt(max(fpn_var, 0.0)))
    # the shape is fitted on single frames (as ELD does): a difference to the mean of N
    # frames mixes N draws and looks more normal than each of them
    single = frames - black - col[None, None, :]
    _, single = _row_sigma(single - single[:, good].mean(), good)
    lam, scale = tukey_lambda_fit(single[:, good]) if read > 0 else (0.0, 0.0)
    clamped = float(np.mean(frames <= 0))
    warnings = []
    if clamped > CLAMP_FRACTION:
        warnings.append(f"{clamped:.0%} of the values are <= 0: the frames are black-clamped, "
                        "read and row noise are biased low")
    if read < COARSE_DN:
        warnings.append(f"read noise {read:.2f} DN is below 1 DN: the frames are too coarsely "
                        "quantised to fit it")
    return {"frames": n, "shape": [h, w], "pattern": pattern, "black_dn": black,
            "column_fpn_dn": float(col.std()), "pixel_fpn_dn": pixel_fpn, "row_dn": row,
            "read_gaussian_dn": read, "tukey_lambda": lam, "tukey_scale_dn": scale,
            "signal_independent_var_dn2": float(np.var((frames - black)[:, good])),
            "clamped_fraction": clamped, "defect_fraction": float(bad.mean()),
            "warnings": warnings}


def fit_dark_folder(path) -> dict:
    """:func:`fit_dark_frames` on a bank (folder or ``.npy`` stack; see
    :func:`degrade.ops.dark_frame.load_dark_bank`); adds ``bank`` (the path)."""
    from ..ops.dark_frame import load_dark_bank

    frames, pattern = load_dark_bank(path)
    return {"bank": str(Path(path)), **fit_dark_frames(frames, pattern)}
