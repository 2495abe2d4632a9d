"""PNG figure of the noise benchmark, drawn with OpenCV (no matplotlib dependency).

One row per pair (at most ``MAX_ROWS``): each model *minus* the real noise, with 95 %
bootstrap intervals over patches as vertical bars: the relative error of the noise std per
clean-intensity bin, and the conditional histogram (noise in units of the real std of its
intensity bin) as a probability difference. Overlapping models separate here even where
their noise level functions coincide. The verdict is the title; the legend gives each
model's rank and status.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .._errors import DegradeError

MAX_ROWS = 8
PANEL_W, PANEL_H = 560, 330
MARGIN_L, MARGIN_B, MARGIN_T, MARGIN_R = 78, 52, 34, 16
#: BGR colours of the models, in summary (rank) order.
PALETTE = [(200, 110, 0), (40, 160, 40), (30, 30, 220), (180, 0, 180), (0, 140, 230),
           (160, 160, 0), (90, 90, 160), (0, 200, 200)]
REAL = (0, 0, 0)
FONT = 0   # cv2.FONT_HERSHEY_SIMPLEX


def _nice_ticks(lo: float, hi: float, n: int = 5) -> np.ndarray:
    span = hi - lo
    if span <= 0:
        return np.array([lo])
    raw = span / n
    mag = 10 ** np.floor(np.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=raw)
    return np.arange(np.ceil(lo / step) * step, hi + step * 1e-9, step)


def _text(img, s, org, scale=0.45, color=(0, 0, 0), thick=1):
    import cv2

    cv2.putText(img, s, (int(org[0]), int(org[1])), FONT, scale, color, thick, cv2.LINE_AA)


def _panel(img, x0, y0, series, xlim, ylim, title, xlabel, ylabel, tick_fmt=("{:g}", "{:g}")):
    """Axes with ticks and labels in the box at (x0, y0); ``series`` = [(xs, ys, bgr, width)]
    (None values are gaps)."""
    import cv2

    left, top = x0 + MARGIN_L, y0 + MARGIN_T
    w, h = PANEL_W - MARGIN_L - MARGIN_R, PANEL_H - MARGIN_T - MARGIN_B
    (xa, xb), (ya, yb) = xlim, ylim

    def to_px(x, y):
        return (left + (x - xa) / (xb - xa) * w, top + h - (y - ya) / (yb - ya) * h)

    for t in _nice_ticks(xa, xb):
        px, _ = to_px(t, ya)
        cv2.line(img, (int(px), top), (int(px), top + h), (225, 225, 225), 1)
        cv2.line(img, (int(px), top + h), (int(px), top + h + 5), (0, 0, 0), 1)
        _text(img, tick_fmt[0].format(t), (px - 14, top + h + 19), 0.4)
    for t in _nice_ticks(ya, yb):
        _, py = to_px(xa, t)
        cv2.line(img, (left, int(py)), (left + w, int(py)), (225, 225, 225), 1)
        cv2.line(img, (left - 5, int(py)), (left, int(py)), (0, 0, 0), 1)
        _text(img, tick_fmt[1].format(t), (x0 + 8, py + 4), 0.4)
    cv2.rectangle(img, (left, top), (left + w, top + h), (0, 0, 0), 1)
    _text(img, title, (x0 + 8, y0 + 20), 0.5, thick=1)
    _text(img, xlabel, (left + w / 2 - 4 * len(xlabel), top + h + 42), 0.45)
    _text(img, ylabel, (left + 6, top + 16), 0.42, (80, 80, 80))
    for xs, ys, color, width in series:
        pts = []
        for x, y in zip(xs, ys):
            if x is None or y is None or not np.isfinite(y):
                if len(pts) > 1:
                    cv2.polylines(img, [np.array(pts, np.int32)], False, color, width, cv2.LINE_AA)
                pts = []
                continue
            px, py = to_px(x, np.clip(y, ya, yb))
            pts.append((int(round(px)), int(round(py))))
        if len(pts) > 1:
            cv2.polylines(img, [np.array(pts, np.int32)], False, color, width, cv2.LINE_AA)
        elif len(pts) == 1:
            cv2.circle(img, pts[0], 3, color, -1, cv2.LINE_AA)


def _nlf_series(nlf, scale):
    return nlf["intensity"], [None if v is None else v * scale for v in nlf["std"]]


def _residual_series(xs, res, color, scale=1.0):
    """Line of the point values plus the interval as thin vertical bars (drawn by _panel
    as 2-point series)."""
    pts = [None if v is None else scale * v for v in res["point"]]
    out = [(xs, pts, color, 2)]
    for x, lo, hi in zip(xs, res["lo"], res["hi"]):
        if x is not None and lo is not None and hi is not None:
            out.append(([x, x], [scale * lo, scale * hi], color, 1))
    return out


def _limits(series, pad=1.15):
    vals = [abs(v) for _, ys, _, _ in series for v in ys if v is not None and np.isfinite(v)]
    top = max(vals + [1e-9]) * pad
    return (-top, top)


def render_figure(result) -> np.ndarray:
    """The figure as a BGR uint8 image: per pair, model minus real noise with 95 % intervals
    (left: relative noise-std error per clean-intensity bin; right: conditional histogram,
    noise in units of the real std, model minus real probability); the verdict on top."""
    from .stats import verdict_text

    names = [r["model"] for r in result.summary]
    colours = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}
    pairs = result.pairs[:MAX_ROWS]
    legend_h = 70 + 22 * ((len(names) + 2) // 3)
    img = np.full((legend_h + PANEL_H * len(pairs), 2 * PANEL_W, 3), 255, np.uint8)
    text = verdict_text(result.verdict) if result.verdict else "no verdict"
    words, line, y = text.split(" "), "", 20
    for w in words:                                   # wrap the verdict into the title
        if len(line) + len(w) > 150:
            _text(img, line, (12, y), 0.45)
            line, y = "", y + 18
        line += w + " "
    _text(img, line, (12, y), 0.45)
    for i, r in enumerate(result.summary):
        x, y = 12 + (i % 3) * 370, legend_h - 16 - 22 * ((len(names) - 1) // 3 - i // 3)
        _draw_key(img, x, y, colours[r["model"]], 2)
        _text(img, f"{r['rank']}. {r['model']} ({r['status']})", (x + 34, y + 5), 0.42)
    s = result.settings
    ie = s["intensity_edges"]
    centres = [0.5 * (a + b) for a, b in zip(ie[:-1], ie[1:])]
    k = s.get("cond_bins", 40)
    u = [(j - k // 2 - 0.5) * s.get("cond_width", 0.25) for j in range(k + 2)]
    u[0], u[-1] = u[1] - s.get("cond_width", 0.25), u[-2] + s.get("cond_width", 0.25)
    for row, p in enumerate(pairs):
        y0 = legend_h + row * PANEL_H
        nlf, hist = [], []
        for n in names:
            res = p["models"][n].get("residual")
            if not res:
                continue
            nlf += _residual_series(centres, res["nlf"], colours[n], 100.0)
            hist += _residual_series(u, res["hist"], colours[n])
        zero_n = ([ie[0], ie[-1]], [0.0, 0.0], REAL, 1)
        zero_h = ([u[0], u[-1]], [0.0, 0.0], REAL, 1)
        _panel(img, 0, y0, nlf + [zero_n], (ie[0], ie[-1]), _limits(nlf),
               f"{p['name'][:40]}: noise std, model - real", "clean intensity",
               "relative error %", ("{:g}", "{:.3g}"))
        _panel(img, PANEL_W, y0, hist + [zero_h], (u[0], u[-1]), _limits(hist),
               "histogram given intensity, model - real", "noise / real std",
               "probability difference", ("{:g}", "{:.2g}"))
    return img


def _hist_series(x: np.ndarray, h: np.ndarray, color, width) -> tuple:
    """log10 of the non-empty bins only (8-bit noise leaves every 4th-5th bin empty)."""
    nz = h > 0
    return x[nz], np.log10(h[nz]), color, width


def _draw_key(img, x, y, color, width):
    import cv2

    cv2.line(img, (x, y), (x + 28, y), color, width, cv2.LINE_AA)


def write_figure(result, path) -> Path:
    """Render the figure and write it as PNG; returns the path."""
    import cv2

    path = Path(path)
    ok, buf = cv2.imencode(".png", render_figure(result))
    try:
        path.write_bytes(buf.tobytes())
    except OSError as exc:
        raise DegradeError(f"noisebench: cannot write {path}: {exc.strerror or exc}") from None
    return path
