"""Measure defect statistics on the real dark frames in ../shared/data/noise.

Used to choose the default rates of ``degrade.ops.pixel_defects`` (docs/noise_models.md
lists the numbers this prints). Run: ``python tools/analyse_dark_frames.py [DATA_DIR]``.

* Infinite-ISP 12-bit BGGR black frame (1080x1920): per-channel level and noise, hot
  pixels (> HOT_THRESHOLD_DN above black), their amplitudes, how many come in clusters
  (another hot pixel within 2 px), defective columns / rows (line mean far above the rest).
* Flea3 (Sony ICX655 CCD) dark frames, session d1 (native pixel grid, 8-bit): pixels
  >= FLEA_THRESHOLD_DN per exposure, recurrence across the two frames, and the amplitude
  growth with exposure time of the pixels hot in the longest exposure.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import cv2
import numpy as np

HOT_THRESHOLD_DN = 20          # 12-bit frame: noise std ~2.2 DN, so ~8 sigma above black
FLEA_THRESHOLD_DN = 5          # 8-bit frames are black-clamped: 5 DN ~ 2% of full scale
LINE_THRESHOLD_DN = 20         # a line is defective if its mean is this far from the median
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "noise"


def _bad_lines(means: np.ndarray) -> list[int]:
    return [int(i) for i in np.flatnonzero(np.abs(means - np.median(means)) > LINE_THRESHOLD_DN)]


def _largest_line_offsets(means: np.ndarray, n: int = 3) -> list[float]:
    """The ``n`` largest line-mean deviations from the median (DN), after the bad lines."""
    dev = np.sort(np.abs(means - np.median(means)))[::-1]
    return [round(float(v), 2) for v in dev[:n]]


def _clustered_fraction(mask: np.ndarray, radius: int = 2) -> float:
    """Fraction of flagged pixels with another flagged pixel within ``radius`` (Chebyshev)."""
    pts = np.argwhere(mask)
    if len(pts) == 0:
        return 0.0
    padded = np.pad(mask.astype(np.int32), radius)
    window = cv2.boxFilter(padded.astype(np.float32), -1, (2 * radius + 1,) * 2,
                           normalize=False)[radius:-radius, radius:-radius]
    return float(np.mean(window[mask] > 1.5))


def black_frame(path: Path) -> dict:
    raw = np.fromfile(path, "<u2").reshape(1080, 1920).astype(np.float64)
    bad_cols = _bad_lines(raw.mean(0))
    bad_rows = _bad_lines(np.delete(raw, bad_cols, 1).mean(1))
    body = np.delete(np.delete(raw, bad_cols, 1), bad_rows, 0)
    cell = {(0, 0): "B", (0, 1): "Gb", (1, 0): "Gr", (1, 1): "R"}   # BGGR
    channels = {}
    for (r, c), name in cell.items():
        plane = body[r::2, c::2]
        ok = plane[plane < HOT_THRESHOLD_DN]
        channels[name] = {"mean_dn": round(float(ok.mean()), 3), "std_dn": round(float(ok.std()), 3),
                          "hot": int((plane >= HOT_THRESHOLD_DN).sum()), "sites": int(plane.size)}
    hot = body >= HOT_THRESHOLD_DN
    amp = body[hot] - np.median(body)
    column = raw[:, bad_cols[0]] if bad_cols else np.zeros(1)
    return {
        "file": path.name, "shape": list(raw.shape), "white_level": 4095,
        "bad_columns": bad_cols, "bad_rows": bad_rows,
        "bad_column_rate": len(bad_cols) / raw.shape[1],
        "bad_column_mean_dn": round(float(column.mean()), 1),
        "bad_column_values_dn": [int(v) for v in np.unique(column)],
        "bad_column_fraction_zero": round(float(np.mean(column == 0)), 3),
        "hot_threshold_dn": HOT_THRESHOLD_DN, "hot_count": int(hot.sum()),
        "hot_rate": float(hot.mean()),
        "hot_amplitude_dn_percentiles_5_50_95_max": [round(float(v), 1) for v in
                                                    np.percentile(amp, [5, 50, 95, 100])],
        "hot_amplitude_norm_min_max": [round(float(amp.min()) / 4095, 5),
                                       round(float(amp.max()) / 4095, 5)],
        "hot_clustered_fraction": round(_clustered_fraction(hot), 3),
        "per_channel": channels,
        "row_mean_std_dn": round(float(body.mean(1).std()), 3),
        "col_mean_std_dn": round(float(body.mean(0).std()), 3),
        "largest_other_column_offsets_dn": _largest_line_offsets(body.mean(0)),
        "largest_row_offsets_dn": _largest_line_offsets(body.mean(1)),
    }


def flea3(folder: Path) -> dict:
    frames: dict[int, list[np.ndarray]] = {}
    for f in sorted(folder.glob("d1_dark_*ms_*.tif")):
        t_ms = int(re.search(r"_(\d+)ms_", f.name).group(1))
        frames.setdefault(t_ms, []).append(cv2.imread(str(f), cv2.IMREAD_UNCHANGED).astype(np.float64))
    times = sorted(frames)
    longest = frames[times[-1]]
    reference = (longest[0] >= FLEA_THRESHOLD_DN) & (longest[1] >= FLEA_THRESHOLD_DN)
    rows, amp_mean = [], []
    for t in times:
        a, b = frames[t]
        hot_a, hot_b = a >= FLEA_THRESHOLD_DN, b >= FLEA_THRESHOLD_DN
        amp = 0.5 * (a + b)[reference]
        amp_mean.append(float(amp.mean()))
        rows.append({"t_ms": t, "max_dn": int(max(a.max(), b.max())),
                     "hot_per_frame": [int(hot_a.sum()), int(hot_b.sum())],
                     "hot_in_both": int((hot_a & hot_b).sum()),
                     "hot_rate": float(0.5 * (hot_a.mean() + hot_b.mean())),
                     "subset_of_longest": bool(np.all(reference[hot_a & hot_b]))})
    slope, offset = np.polyfit(np.array(times, float), np.array(amp_mean), 1)
    return {"frames": "d1 (native grid)", "shape": list(longest[0].shape),
            "threshold_dn": FLEA_THRESHOLD_DN, "per_exposure": rows,
            "hot_pixels_in_longest": int(reference.sum()),
            "hot_clustered_fraction_longest": round(_clustered_fraction(reference), 3),
            "amplitude_fit_dn": {"slope_dn_per_ms": round(float(slope), 4),
                                 "offset_dn": round(float(offset), 2),
                                 "slope_norm_per_s": round(float(slope) * 1000 / 255, 4)}}


def main(argv: list[str]) -> int:
    data = Path(argv[0]) if argv else DEFAULT_DATA
    if not data.is_dir():
        print(f"error: dark-frame folder not found: {data}", file=sys.stderr)
        return 2
    result = {"infiniteisp_black_frame": black_frame(
                  data / "infiniteisp_black_frame" / "BlackImage_1920x1080_12bits_BGGR_u16le.raw"),
              "flea3_d1": flea3(data / "flea3_dark_frames")}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
