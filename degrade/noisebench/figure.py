"""PNG figure of the noise benchmark, drawn with OpenCV (no matplotlib dependency).

One row per pair (at most ``MAX_ROWS``): the noise level function (noise std against clean
intensity) and the noise histogram (log scale, Noise Flow bins), real noise in thick black
and every model in its colour; a legend with each model's mean KL on top.
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


def render_figure(result) -> np.ndarray:
    """The figure as a BGR uint8 image."""
    names = [r["model"] for r in result.summary]
    colours = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}
    srgb = result.settings["domain"] == "srgb"
    scale = 255.0 if srgb else 1.0
    unit = "8-bit levels" if srgb else "normalised"
    pairs = result.pairs[:MAX_ROWS]
    legend_h = 48 + 22 * ((len(names) + 3) // 3)   # + the 'real noise' key
    img = np.full((legend_h + PANEL_H * len(pairs), 2 * PANEL_W, 3), 255, np.uint8)
    _text(img, f"noisebench: real noise (black) vs models, {result.settings['domain']} pairs; "
               "legend: mean marginal KL (lower = closer)", (12, 22), 0.5)
    for i, r in enumerate(result.summary):
        x, y = 12 + (i % 3) * 370, 46 + 22 * (i // 3)
        _draw_key(img, x, y, colours[r["model"]], 2)
        _text(img, f"{r['rank']}. {r['model']}  KL {r['kl_mean']:.4f}", (x + 34, y + 5), 0.45)
    i = len(names)
    x, y = 12 + (i % 3) * 370, 46 + 22 * (i // 3)
    _draw_key(img, x, y, REAL, 3)
    _text(img, "real noise", (x + 34, y + 5), 0.45)
    edges = np.asarray(result.settings["kl_edges"])
    centres = 0.5 * (edges[1:-2] + edges[2:-1])
    for row, p in enumerate(pairs):
        y0 = legend_h + row * PANEL_H
        series, top = [], 0.0
        for n in names:
            xs, ys = _nlf_series(p["models"][n]["nlf"], scale)
            series.append((xs, ys, colours[n], 2))
        xs, ys = _nlf_series(p["real"]["nlf"], scale)
        series.append((xs, ys, REAL, 3))
        top = max([v for _, s, _, _ in series for v in s if v is not None] + [1e-9])
        ie = result.settings["intensity_edges"]
        _panel(img, 0, y0, series, (ie[0], ie[-1]), (0.0, top * 1.1),
               f"{p['name'][:48]}: noise level function", "clean intensity",
               f"noise std ({unit})", ("{:g}", "{:.3g}"))
        half = min(0.1, max(4.0 * p["real"]["std"], 0.01))
        keep = np.abs(centres) <= half
        hseries = []
        for n in names:
            h = np.asarray(p["models"][n]["hist"])[1:-1]
            hseries.append(_hist_series(centres[keep] * scale, h[keep], colours[n], 2))
        h = np.asarray(p["real"]["hist"])[1:-1]
        hseries.append(_hist_series(centres[keep] * scale, h[keep], REAL, 3))
        _panel(img, PANEL_W, y0, hseries, (-half * scale, half * scale), (-5.0, 0.0),
               "noise histogram (Noise Flow bins)", f"noise ({unit})", "log10 probability")
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
