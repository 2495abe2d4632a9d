"""Dark-frame statistics for the noise benchmark: read noise, row / column noise, defects,
and (for a series of exposures) hot-pixel growth and temporal noise.

Frames are read in DN: ``.npy`` arrays, 8/16-bit TIFF/PNG mosaics, headerless ``.raw`` files
whose name says ``<W>x<H>`` (uint16 little-endian unless the name says ``u8``/``8bit``), or
camera RAW files (via :func:`degrade.sources.raw.read_raw`).
"""
from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from .._cfa import PATTERNS
from .._errors import InputError

#: A pixel is hot when it exceeds the plane median by this many sigmas (robust sigma =
#: 1.4826 MAD, or the plain std where the MAD is 0, as on coarsely quantised frames; and by
#: at least ``HOT_MIN_DN``); a column / row is defective at ``LINE_SIGMAS`` robust sigmas of the
#: column / row means (and at least 1 DN).
HOT_SIGMAS = 6.0
HOT_MIN_DN = 4.0
LINE_SIGMAS = 10.0
DARK_EXTENSIONS = (".npy", ".raw", ".tif", ".tiff", ".png", ".pgm")
_MAD_TO_SIGMA = 1.4826


def read_dark_frame(path) -> tuple[np.ndarray, dict]:
    """``(frame_dn float64 (H, W), info)`` of one dark frame; ``info`` has ``pattern``
    (or None) and ``exposure_ms`` (or None) parsed from the file name."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    name = path.name
    ext = path.suffix.lower()
    pattern = next((p for p in PATTERNS if p in name.upper()), None)
    exp = re.search(r"(\d+(?:\.\d+)?)\s*ms", name)
    info = {"file": name, "pattern": pattern, "exposure_ms": float(exp[1]) if exp else None}
    if ext == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise InputError(f"{path}: not a readable .npy array ({exc})") from None
    elif ext == ".raw":
        size = re.search(r"(\d+)x(\d+)", name)
        if not size:
            raise InputError(f"{path}: a headerless .raw frame needs its size in the name, "
                             "e.g. frame_1920x1080_u16le.raw")
        w, h = int(size[1]), int(size[2])
        dtype = np.uint8 if re.search(r"u8|8bits?\b", name, re.I) else np.dtype("<u2")
        data = np.fromfile(path, dtype=dtype)
        if data.size != w * h:
            raise InputError(f"{path}: holds {data.size} {np.dtype(dtype).name} values, not "
                             f"{w}x{h} = {w * h}")
        arr = data.reshape(h, w)
    elif ext in DARK_EXTENSIONS:
        import cv2

        arr = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
        if arr is None:
            raise InputError(f"{path}: not a readable image (unknown format or corrupt data)")
    else:
        from ..sources.raw import read_raw

        raw = read_raw(path, clip=False)
        scale = raw.white_level - float(np.mean(raw.black_levels))
        arr, info["pattern"] = raw.mosaic * scale, raw.pattern
    arr = np.asarray(arr)
    if arr.ndim != 2:
        raise InputError(f"{path}: has shape {arr.shape}; a dark frame must be a single-plane "
                         "(H, W) sensor mosaic")
    return arr.astype(np.float64), info


def _robust_sigma(v: np.ndarray) -> float:
    return _MAD_TO_SIGMA * float(np.median(np.abs(v - np.median(v))))


def _defect_lines(means: np.ndarray, pixel_sigma: float, length: int) -> np.ndarray:
    med = np.median(means)
    floor = max(LINE_SIGMAS * _robust_sigma(means), LINE_SIGMAS * pixel_sigma / np.sqrt(length),
                1.0)
    return np.flatnonzero(np.abs(means - med) > floor)


def dark_frame_stats(frame: np.ndarray, pattern: str | None = None) -> dict:
    """Statistics of one dark frame in DN.

    Returns
    -------
    dict
        ``mean_dn`` and ``std_dn`` per 2x2 CFA position (reading order; named by
        ``pattern`` when known) over non-defective pixels, ``zero_fraction`` (a large value
        means the frame is black-clamped and the std is biased low), ``row_noise_dn`` /
        ``col_noise_dn`` (std of row / column means of each CFA plane minus the part
        explained by pixel noise, ``sqrt(max(var(means) - var_pixel / n, 0))``, averaged
        over planes), ``bad_columns`` / ``bad_rows`` (indices whose mean is an outlier),
        ``hot_pixels`` (count), ``hot_fraction``, ``hot_max_dn`` and ``hot_coords``
        (row, col of up to 50).
    """
    h, w = frame.shape
    bad_cols = _defect_lines(frame.mean(axis=0), float(frame.std()), h)
    bad_rows = _defect_lines(frame.mean(axis=1), float(frame.std()), w)
    good = np.ones_like(frame, bool)
    good[:, bad_cols] = False
    good[bad_rows, :] = False
    hot = np.zeros_like(frame, bool)
    sites, means, stds, rows, cols = [], [], [], [], []
    for a in range(2):
        for b in range(2):
            plane, ok = frame[a::2, b::2], good[a::2, b::2]
            vals = plane[ok]
            med = float(np.median(vals))
            sig = _robust_sigma(vals) or float(vals.std())   # MAD is 0 on coarse codes
            hot[a::2, b::2] = ok & (plane > med + max(HOT_SIGMAS * sig, HOT_MIN_DN))
            clean = ok & ~hot[a::2, b::2]
            sites.append((pattern[2 * a + b] + (str(a) if pattern[2 * a + b] == "G" else "")
                          if pattern else f"{a}{b}"))
            v = plane[clean]
            means.append(float(v.mean()))
            stds.append(float(v.std()))
            pix_var = float(v.var())
            masked = np.where(clean, plane, 0.0)
            for axis, store in ((1, rows), (0, cols)):
                n = np.sum(clean, axis=axis)
                line = masked.sum(axis=axis)[n > 1] / n[n > 1]
                n = n[n > 1]
                excess = float(np.var(line) - np.mean(pix_var / n)) if len(line) > 1 else 0.0
                store.append(np.sqrt(max(excess, 0.0)))
    coords = np.argwhere(hot)
    return {"shape": [h, w], "pattern": pattern, "sites": sites, "mean_dn": means,
            "std_dn": stds, "zero_fraction": float(np.mean(frame <= 0)),
            "row_noise_dn": float(np.mean(rows)), "col_noise_dn": float(np.mean(cols)),
            "bad_columns": bad_cols.tolist(), "bad_rows": bad_rows.tolist(),
            "hot_pixels": int(hot.sum()), "hot_fraction": float(hot.mean()),
            "hot_max_dn": float(frame[hot].max()) if hot.any() else None,
            "hot_coords": coords[:50].tolist(), "_hot_mask": hot}


def dark_series_stats(paths) -> dict:
    """Statistics of several dark frames: one entry per frame (:func:`dark_frame_stats`),
    and, grouped by exposure time (from names like ``..._500ms_...``):

    * ``temporal_noise_dn``: ``std(A - B) / sqrt(2)`` of the first two frames of one
      exposure (fixed-pattern noise cancels; EMVA 1288);
    * ``hot_recurrence``: ``|hot_A & hot_B| / |hot_A | hot_B|`` for those two frames;
    * ``hot_rate_dn_per_ms``: least-squares slope of the mean value of the pixels that are
      hot at the longest exposure against exposure time (dark-current growth).

    Raises
    ------
    InputError
        No frames, an unreadable frame, or frames of different sizes in one series.
    """
    files = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(f for f in p.iterdir() if f.suffix.lower() in DARK_EXTENSIONS
                            and not f.name.startswith("."))
        else:
            files.append(p)
    if not files:
        raise InputError(f"no dark frames found in {', '.join(map(str, paths))} (expected "
                         f"{', '.join(DARK_EXTENSIONS)} files)")
    frames, out = {}, []
    for f in files:
        arr, info = read_dark_frame(f)
        stats = dark_frame_stats(arr, info["pattern"])
        hot = stats.pop("_hot_mask")
        out.append({**info, **stats})
        frames[f.name] = (arr, hot, info)
    by_exp = defaultdict(list)
    for name, (arr, hot, info) in frames.items():
        if info["exposure_ms"] is not None:
            by_exp[info["exposure_ms"]].append(name)
    series = {}
    for exp, names in sorted(by_exp.items()):
        entry = {"frames": len(names)}
        if len(names) >= 2:
            (a, ha, _), (b, hb, _) = frames[names[0]], frames[names[1]]
            if a.shape != b.shape:
                raise InputError(f"{names[0]} and {names[1]}: dark frames of one exposure have "
                                 f"different sizes {a.shape} and {b.shape}")
            entry["temporal_noise_dn"] = float(np.std(a - b) / np.sqrt(2))
            union = int((ha | hb).sum())
            entry["hot_recurrence"] = float((ha & hb).sum() / union) if union else None
        series[exp] = entry
    result = {"frames": out, "by_exposure_ms": {str(k): v for k, v in series.items()}}
    if len(series) >= 2:
        longest = frames[by_exp[max(series)][0]]
        mask = longest[1]
        if mask.any():
            t, v = [], []
            for exp, names in by_exp.items():
                arr = frames[names[0]][0]
                if arr.shape == mask.shape:
                    t.append(exp)
                    v.append(float(arr[mask].mean()))
            if len(set(t)) >= 2:
                result["hot_rate_dn_per_ms"] = float(np.polyfit(t, v, 1)[0])
    return result
