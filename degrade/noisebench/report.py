"""Reports of the noise benchmark: terminal table, JSON, CSV (and the PNG via ``figure``)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from .._errors import DegradeError


def _f(v, fmt: str, width: int) -> str:
    return (format(v, fmt) if v is not None and np.isfinite(v) else "-").rjust(width)


def _ci(v, ci, fmt: str, width: int, scale: float = 1.0) -> str:
    if v is None or not np.isfinite(v):
        return "-".rjust(width)
    lo, hi = (scale * x if x is not None else np.nan for x in ci)
    return f"{format(scale * v, fmt)} [{format(lo, fmt)}, {format(hi, fmt)}]".rjust(width)


def _param_text(params: dict) -> str:
    skip = ("white_level", "black_level", "read_lambda")
    parts = []
    for k, v in params.items():
        if k in skip:
            continue
        parts.append(f"{k}={v}" if isinstance(v, str) else f"{k}={v:.3g}")
    return " ".join(parts)


def format_table(result) -> str:
    """The benchmark as text: settings, the ranked summary, per-pair KL, per-intensity KL,
    fitted parameters of every pair, and the dark-frame statistics if any."""
    s = result.settings
    lines = [f"noisebench: {s['pairs']} {s['domain']} pair(s), seed {s['seed']}, "
             f"clip-aware fit: {s['clip_aware']}, ELD profile: {s['eld_profile']}",
             f"marginal KL (Noise Flow): bins of {s['kl_bin_width']:.6g} on "
             f"[{s['kl_range'][0]}, {s['kl_range'][1]}] + 2 overflow bins, "
             "KL(real || model), mean over pairs"]
    if s["domain"] == "srgb":
        lines.append("sRGB route: unprocess_brooks2019 -> raw noise -> process_brooks2019 -> "
                     "8-bit; gaussian_srgb = AWGN added in sRGB")
    boot = s.get("bootstrap", {})
    lines.append(f"intervals: {100 * boot.get('level', 0.95):.0f}% bootstrap, "
                 f"{boot.get('replicates', '?')} replicates over pairs and patches within "
                 "pairs; kl_cond: KL of the noise given the clean intensity (noise-scaled bins)")
    head = (f"{'rank':>4}  {'model':<25}{'kl_cond [95% CI]':>26}{'NLF err % [95% CI]':>22}"
            f"{'KL (Noise Flow) [95% CI]':>28}{'lag1 err [95% CI]':>24}  status")
    lines += ["", head, "-" * len(head)]
    for r in result.summary:
        status = r["status"] + (f" ({r['worse_by']})" if r.get("worse_by") else "")
        lines.append(f"{r['rank']:>4}  {r['model']:<25}"
                     f"{_ci(r['kl_cond'], r['kl_cond_ci'], '.4f', 26)}"
                     f"{_ci(r['nlf_error'], r['nlf_error_ci'], '.1f', 22, 100)}"
                     f"{_ci(r['kl'], r['kl_ci'], '.4f', 28)}"
                     f"{_ci(r['lag1_error'], r['lag1_error_ci'], '.3f', 24)}  {status}")
    if result.verdict:
        from .stats import verdict_text

        lines += ["", verdict_text(result.verdict)]
        for metric, group in result.verdict["inseparable"]:
            lines.append(f"  {metric} cannot separate: {', '.join(group)}")
    real_lag = np.mean([np.mean(p["real"]["lag1"], axis=0) for p in result.pairs], axis=0)
    head = (f"{'rank':>4}  {'model':<25}{'KL':>8}{'KL min':>8}{'KL max':>8}{'floor':>8}"
            f"{'wins':>5}"
            f"{'lag1 h':>8}{'lag1 v':>8}{'MP/s':>8}{'route':>8}")
    lines += ["", head, "-" * len(head)]
    lines.append(f"{'':>4}  {'real noise':<25}{'':>8}{'':>8}{'':>8}{'':>8}{'':>5}"
                 f"{real_lag[0]:>8.3f}{real_lag[1]:>8.3f}")
    for r in result.summary:
        sp = result.speed.get(r["model"], {})
        lines.append(f"{r['rank']:>4}  {r['model']:<25}{_f(r['kl_mean'], '.4f', 8)}"
                     f"{_f(r['kl_min'], '.4f', 8)}{_f(r['kl_max'], '.4f', 8)}"
                     f"{_f(r['kl_floor_mean'], '.1e', 8)}{r['wins']:>5}"
                     f"{_f(r['lag1_h'], '.3f', 8)}{_f(r['lag1_v'], '.3f', 8)}"
                     f"{_f(sp.get('noise_mp_s'), '.1f', 8)}{_f(sp.get('route_mp_s'), '.1f', 8)}")
    lines += ["floor: KL between two independent draws of the model (what a perfect model "
              "would score at this size); wins: pairs on which the model has the lowest kl_cond",
              "NLF err: relative RMS error of noise std per intensity bin; lag1: lag-1 "
              "autocorrelation (mean of channels" + (", CFA planes)" if s["domain"] == "raw"
                                                       else ")"),
              "MP/s: noise op alone, one thread; route: unprocess + noise + process (sRGB)"]
    names = [r["model"] for r in result.summary]
    short = [n[:12] for n in names]
    for metric in ("kl_cond", "kl"):
        lines += ["", f"{metric} per pair", f"{'pair':<36}" + "".join(f"{n:>13}" for n in short)]
        for p in result.pairs:
            lines.append(f"{p['name'][:35]:<36}" + "".join(
                _f(p["models"][n][metric], ".4f", 13) for n in names))
    edges = s["intensity_edges"]
    lines += ["", "KL per clean-intensity bin (mean over pairs)",
              f"{'intensity':<36}" + "".join(f"{n:>13}" for n in short)]
    for b in range(len(edges) - 1):
        vals = [r["kl_bins_mean"][b] for r in result.summary]
        if all(v is None for v in vals):
            continue
        lines.append(f"{f'[{edges[b]:.3f}, {edges[b + 1]:.3f})':<36}"
                     + "".join(_f(v, ".4f", 13) for v in vals))
    lines += ["", "fitted parameters (normalised units; eld2020: gain K in DN/e-, "
              "read/row sigma in DN of the profile)"]
    for p in result.pairs:
        lines.append(f"  {p['name']}")
        for n in names:
            lines.append(f"    {n:<25}{_param_text(p['models'][n]['params'])}")
    if result.denoiser:
        from .denoiser import format_denoiser

        lines += ["", format_denoiser(result.denoiser)]
    if result.dark:
        lines += ["", format_dark(result.dark)]
    if s.get("dark_fit"):
        lines += ["", format_dark_fit(s["dark_fit"])]
    return "\n".join(lines)


def format_dark(dark: dict) -> str:
    """Dark-frame statistics as text (one line per frame, then the exposure series)."""
    head = (f"{'dark frame':<44}{'mean DN':>9}{'read DN':>9}{'row DN':>8}{'col DN':>8}"
            f"{'zeros':>7}{'hot':>6}{'hot max':>9}  bad columns")
    lines = ["dark frames (DN; read = std of non-defective pixels, row/col = excess std of "
             "line means)", head, "-" * len(head)]
    for f in dark["frames"]:
        cols = f["bad_columns"]
        lines.append(f"{f['file'][:43]:<44}{np.mean(f['mean_dn']):>9.2f}"
                     f"{np.mean(f['std_dn']):>9.3f}{f['row_noise_dn']:>8.3f}"
                     f"{f['col_noise_dn']:>8.3f}{f['zero_fraction']:>7.0%}{f['hot_pixels']:>6}"
                     f"{_f(f['hot_max_dn'], '.0f', 9)}  "
                     + (", ".join(map(str, cols[:5])) + (" ..." if len(cols) > 5 else "")
                        if cols else "-"))
    series = dark.get("by_exposure_ms") or {}
    if series:
        lines.append("by exposure: " + "; ".join(
            f"{float(k):g} ms: temporal {v.get('temporal_noise_dn', float('nan')):.3f} DN, "
            f"hot recurrence {_f(v.get('hot_recurrence'), '.2f', 0)}"
            for k, v in series.items()))
    if "hot_rate_dn_per_ms" in dark:
        lines.append(f"hot-pixel growth: {dark['hot_rate_dn_per_ms']:.4f} DN/ms (mean of the "
                     "pixels hot at the longest exposure)")
    return "\n".join(lines)


def format_dark_fit(fit: dict) -> str:
    """The dark-frame fit (:func:`degrade.noisebench.darkfit.fit_dark_frames`) as text."""
    fpn = fit["pixel_fpn_dn"]
    lines = [f"dark-frame fit: {fit['frames']} frame(s) {fit['shape'][1]}x{fit['shape'][0]} "
             f"from {fit.get('bank', '?')} (DN)",
             f"  black {fit['black_dn']:.2f}; read: Gaussian sigma {fit['read_gaussian_dn']:.3f}, "
             f"Tukey-lambda shape {fit['tukey_lambda']:.3f} scale {fit['tukey_scale_dn']:.3f}; "
             f"row {fit['row_dn']:.3f}; column FPN {fit['column_fpn_dn']:.3f}; pixel FPN "
             + ("-" if fpn is None else f"{fpn:.3f}")
             + f"; defects {100 * fit['defect_fraction']:.3f} %"]
    lines += [f"  warning: {w}" for w in fit["warnings"]]
    return "\n".join(lines)


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def csv_rows(result) -> list[dict]:
    """One row per (pair, model): KL, NLF error, lag-1 autocorrelation, speed, parameters."""
    rows = []
    for p in result.pairs:
        real_lag = np.mean(p["real"]["lag1"], axis=0)
        for name, m in p["models"].items():
            lag = np.mean(m["lag1"], axis=0)
            sp = result.speed.get(name, {})
            rows.append({"pair": p["name"], "model": name, "kl_cond": m["kl_cond"],
                         "kl": m["kl"], "lag1_error": m["lag1_error"],
                         "kl_floor": m["kl_floor"],
                         "nlf_error": m["nlf_error"], "lag1_h": lag[0], "lag1_v": lag[1],
                         "real_lag1_h": real_lag[0], "real_lag1_v": real_lag[1],
                         "std": m["std"], "real_std": p["real"]["std"],
                         "noise_mp_s": sp.get("noise_mp_s"), "route_mp_s": sp.get("route_mp_s"),
                         "params": json.dumps(_jsonable(m["params"]), sort_keys=True)})
    return rows


def write_json(result, path) -> Path:
    """The full result (:meth:`NoiseBenchResult.to_dict`) as JSON at ``path``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(_jsonable(result.to_dict()), indent=1))
    except OSError as exc:
        raise DegradeError(f"noisebench: cannot write {path}: {exc.strerror or exc}") from None
    return path


def write_outputs(result, out_dir, *, figure: bool = True) -> dict:
    """Write noisebench.json / .csv / .png into ``out_dir`` (created if needed)."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        paths = {"json": out / "noisebench.json", "csv": out / "noisebench.csv"}
        rows = csv_rows(result)
        with paths["csv"].open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(_jsonable(rows))
    except OSError as exc:
        raise DegradeError(f"noisebench: cannot write to {out}: {exc.strerror or exc}") from None
    write_json(result, paths["json"])
    if figure:
        from .figure import write_figure

        paths["png"] = write_figure(result, out / "noisebench.png")
    return paths
