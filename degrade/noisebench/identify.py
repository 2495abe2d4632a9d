"""Identifiability of the noise benchmark: does it pick the model that made the noise?

For every model, pairs are synthesised with known parameters on several clean RAW mosaics
(the built-in DNG samples, cropped) at several light levels; the benchmark runs on them
and the generating model must be the verdict's best or sit in its top group (the models not
distinguishable from the best at 95 %). :func:`confusion` returns the matrix; the test
suite runs a small version, ``tools/noisebench_tables.py identify`` the full one for
docs/noisebench.md.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .._rng import OP, stream
from .models import MODELS, _brooks_params
from .noise import benchmark_noise, raw_pair
from .stats import name_key

#: Light levels: a clean-image scale (exposure) and the normalised shot / read noise of the
#: generating models (``var = shot x + read^2``). "dark": few photons (x / shot <= ~50 e-),
#: "bright": thousands of electrons, read noise 2e-3 (~30 DN of a 14-bit sensor).
LEVELS = {"bright": {"exposure": 1.0, "shot": 2e-4, "read": 2e-3},
          "dark": {"exposure": 0.1, "shot": 2e-3, "read": 1e-3}}
#: Camera profile of the generating ELD model (its gain follows the level's shot factor,
#: at most the profile's calibrated Kmax).
ELD_PROFILE = "SonyA7S2"


def sample_mosaics(crop: int | None = 256) -> list[tuple[str, np.ndarray, str]]:
    """``(name, mosaic, pattern)`` of the built-in DNG samples, clipped to [0, 1], centre
    crop ``crop x crop`` (even)."""
    from ..sources.raw import read_raw

    out = []
    for path in sorted((Path(__file__).resolve().parents[1] / "samples" / "raw").glob("*.dng")):
        raw = read_raw(path, clip=True)
        m = raw.mosaic
        if crop:
            h, w = m.shape
            ch, cw = min(crop, h) // 2 * 2, min(crop, w) // 2 * 2
            y, x = (h - ch) // 4 * 2, (w - cw) // 4 * 2
            m = m[y:y + ch, x:x + cw]
        out.append((path.stem, np.ascontiguousarray(m), raw.pattern))
    return out


def generating_params(model: str, level: dict, clean: np.ndarray) -> dict:
    """Parameters of ``model`` that make noise of the level's strength on ``clean``."""
    shot, read = level["shot"], level["read"]
    if model == "gaussian":
        return {"sigma": math.sqrt(shot * float(np.mean(clean)) + read ** 2)}
    if model in ("heteroscedastic_gaussian", "poisson_gaussian"):
        return {"shot": shot, "read": read}
    if model == "brooks2019":
        return _brooks_params(shot)
    if model == "eld2020":
        from ..noise_models import camera_profile

        prof = camera_profile(ELD_PROFILE)
        # the gain stays inside the profile's calibrated range (the fit allows 4x beyond)
        gain = min(shot * (prof.white_level - prof.black_level), prof.k_max)
        return MODELS["eld2020"].rescale({"profile": ELD_PROFILE, "gain": gain}, 1.0)
    raise KeyError(model)


def synthetic_pairs(model: str, level_name: str, mosaics, seed: int = 0) -> list:
    """Noisy / clean RAW pairs made by ``model`` at ``level_name`` (exact, unclipped)."""
    level = LEVELS[level_name]
    out = []
    for name, mosaic, pattern in mosaics:
        clean = (mosaic * level["exposure"]).astype(np.float32)
        params = generating_params(model, level, clean)
        rng = stream(seed, name_key(f"{model}/{level_name}/{name}"), name_key("identify"), OP)
        noisy = MODELS[model].apply(clean, params, rng, pattern, False)
        out.append(raw_pair(noisy, clean, pattern=pattern, name=f"{name}@{level_name}"))
    return out


def confusion(models=None, levels=None, *, crop: int | None = 256, seed: int = 0,
              replicates: int = 300) -> list[dict]:
    """One row per (generating model, level): the verdict on its synthetic pairs.

    Row: ``generator``, ``level``, ``best``, ``top`` (best + indistinguishable), ``worse``
    (``{model: metric}``), ``ok`` (generator is best or in the top group), ``inseparable``,
    and the point values of every metric per benchmarked model (``metrics``).
    """
    models = list(models or MODELS)
    mosaics = sample_mosaics(crop)
    rows = []
    for level in levels or LEVELS:
        for gen in models:
            pairs = synthetic_pairs(gen, level, mosaics, seed)
            res = benchmark_noise(pairs, models=models, seed=seed, speed=False,
                                  eld_profile=ELD_PROFILE, bootstrap_replicates=replicates)
            v = res.verdict
            top = [v["best"]] + v["indistinguishable"]
            rows.append({"generator": gen, "level": level, "best": v["best"], "top": top,
                         "worse": v["worse"], "ok": gen in top, "decided_by": v["decided_by"],
                         "inseparable": v["inseparable"],
                         "metrics": {r["model"]: {m: r[m] for m in
                                                  ("kl_cond", "nlf_error", "kl", "lag1_error")}
                                     for r in res.summary}})
    return rows


def confusion_markdown(rows: list[dict]) -> str:
    """The matrix as markdown: generating model (rows) x benchmarked model (columns);
    **best**, = (in the top group, not distinguishable at 95 %), or the metric by which
    the model was clearly worse."""
    models = list(rows[0]["metrics"])
    order = [m for m in MODELS if m in models] + [m for m in models if m not in MODELS]
    lines = ["| generator | level | " + " | ".join(f"`{m}`" for m in order) + " | ok |",
             "|---|---|" + "---|" * (len(order) + 1)]
    for r in rows:
        cells = []
        for m in order:
            cells.append("**best**" if m == r["best"] else "=" if m in r["top"]
                         else r["worse"].get(m, "?"))
        lines.append(f"| `{r['generator']}` | {r['level']} | " + " | ".join(cells)
                     + f" | {'yes' if r['ok'] else '**no**'} |")
    return "\n".join(lines)
