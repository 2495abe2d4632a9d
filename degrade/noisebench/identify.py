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
from .fitting import BinnedVariance
from .models import DARK_MODELS, MODELS, _brooks_params
from .noise import benchmark_noise, raw_pair
from .stats import METRICS, name_key

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


def synthetic_dark_bank(folder, size: int = 300, seed: int = 0) -> dict:
    """Write a dark-frame bank (4 frames, integer DN: black 64, white 1023, Gaussian read
    3 DN, row 1 DN, column FPN 0.5 DN, pixel FPN 0.8 DN) to ``folder/bank.npy`` and return
    its fit (:func:`degrade.noisebench.darkfit.fit_dark_folder`) with ``white_level``: the
    ``dark_fit`` that enables the dark-frame models."""
    from .darkfit import fit_dark_folder

    rng = np.random.default_rng(seed)
    col, pix = rng.normal(0, 0.5, size), rng.normal(0, 0.8, (size, size))
    frames = [64 + col[None] + pix + rng.normal(0, 1.0, (size, 1)) + rng.normal(0, 3.0, (size, size))
              for _ in range(4)]
    path = Path(folder) / "bank.npy"
    np.save(path, np.round(frames).astype(np.uint16))
    return {**fit_dark_folder(path), "white_level": 1023.0}


def generating_params(model: str, level: dict, clean: np.ndarray,
                      dark_fit: dict | None = None) -> dict:
    """Parameters of ``model`` that make noise of the level's strength on ``clean``
    (the dark-frame models take their signal-independent part from ``dark_fit``)."""
    shot, read = level["shot"], level["read"]
    if model in DARK_MODELS:
        from .models import FitContext

        s = dark_fit["white_level"] - dark_fit["black_dn"]
        # the model's own fit on a noise-free variance line gives every other parameter
        x = np.linspace(0.01, 0.9, 32)
        binned = BinnedVariance(x, shot * x + 1e-12, np.full(32, 1e6))
        params, _ = DARK_MODELS[model].fit(binned, FitContext(clip_aware=False, dark=dark_fit))
        return {**params, "gain": shot * s}
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


def synthetic_pairs(model: str, level_name: str, mosaics, seed: int = 0,
                    dark_fit: dict | None = None) -> list:
    """Noisy / clean RAW pairs made by ``model`` at ``level_name`` (exact, unclipped)."""
    level = LEVELS[level_name]
    out = []
    for name, mosaic, pattern in mosaics:
        clean = (mosaic * level["exposure"]).astype(np.float32)
        params = generating_params(model, level, clean, dark_fit)
        rng = stream(seed, name_key(f"{model}/{level_name}/{name}"), name_key("identify"), OP)
        noisy = {**MODELS, **DARK_MODELS}[model].apply(clean, params, rng, pattern, False)
        out.append(raw_pair(noisy, clean, pattern=pattern, name=f"{name}@{level_name}"))
    return out


def confusion(models=None, levels=None, *, crop: int | None = 256, seed: int = 0,
              replicates: int = 300, dark: bool = True) -> list[dict]:
    """One row per (generating model, level): the verdict on its synthetic pairs. With
    ``dark``, a synthetic dark-frame bank (:func:`synthetic_dark_bank`, in a temporary
    folder) adds the models ``eld2020_dark`` and ``dark_frame``.

    Row: ``generator``, ``level``, ``best``, ``top`` (best + indistinguishable), ``worse``
    (``{model: metric}``), ``ok`` (generator is best or in the top group), ``inseparable``,
    and the point values of every metric per benchmarked model (``metrics``).
    """
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        mosaics = sample_mosaics(crop)
        dark_fit = synthetic_dark_bank(tmp, size=max(max(m.shape) for _, m, _ in mosaics) + 4,
                                       seed=seed) if dark else None
        models = list(models or (list(MODELS) + (list(DARK_MODELS) if dark else [])))
        return _confusion_rows(models, levels or LEVELS, mosaics, seed, replicates, dark_fit)


def _confusion_rows(models, levels, mosaics, seed, replicates, dark_fit) -> list[dict]:
    rows = []
    for level in levels:
        for gen in models:
            pairs = synthetic_pairs(gen, level, mosaics, seed, dark_fit)
            res = benchmark_noise(pairs, models=models, seed=seed, speed=False,
                                  eld_profile=ELD_PROFILE, bootstrap_replicates=replicates,
                                  dark_fit=dark_fit)
            rows.append(_row(gen, level, res))
    return rows


def _row(gen: str, level: str, res) -> dict:
    """One confusion row from a benchmark result on ``gen``'s pairs."""
    v = res.verdict
    top = [v["best"]] + v["indistinguishable"]
    return {"generator": gen, "level": level, "best": v["best"], "top": top,
            "worse": v["worse"], "ok": gen in top, "decided_by": v["decided_by"],
            "inseparable": v["inseparable"],
            "metrics": {r["model"]: {m: r[m] for m in METRICS} for r in res.summary}}


def confusion_markdown(rows: list[dict]) -> str:
    """The matrix as markdown: generating model (rows) x benchmarked model (columns);
    **best**, = (in the top group, not distinguishable at 95 %), or the metric by which
    the model was clearly worse."""
    models = list(rows[0]["metrics"])
    known = list(MODELS) + list(DARK_MODELS)
    order = [m for m in known if m in models] + [m for m in models if m not in known]
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


#: sRGB identifiability: linear-domain noise of the route models and the sRGB AWGN level.
SRGB_LEVEL = {"shot": 4e-3, "read": 4e-3, "sigma": 4 / 255}


def srgb_confusion(models=("gaussian", "heteroscedastic_gaussian", "poisson_gaussian"), *,
                   crop: int = 128, seed: int = 0, replicates: int = 300) -> list[dict]:
    """The sRGB route's version of :func:`confusion`: pairs made by each model through
    unprocess -> noise -> process -> 8 bit (and by ``gaussian_srgb``, AWGN in sRGB) on the
    built-in sample images; rows as in :func:`confusion` (level ``srgb``)."""
    from .denoiser import training_cleans
    from .noise import SRGB_BASELINE, srgb_pair, synthesize_noisy

    cleans = [(np.round(c[:crop, :crop] * 255) / 255).astype(np.float32)
              for c in training_cleans(None, "srgb")[:3]]
    rows = []
    for gen in list(models) + [SRGB_BASELINE]:
        params = ({"sigma": SRGB_LEVEL["sigma"]} if gen == SRGB_BASELINE else
                  generating_params(gen, SRGB_LEVEL, cleans[0]))
        pairs = [srgb_pair(synthesize_noisy(c, "srgb", gen, params, stream(
            seed, name_key(f"{gen}/srgb/{i}"), name_key("identify"), OP)), c, f"img{i}")
            for i, c in enumerate(cleans)]
        res = benchmark_noise(pairs, models=list(models), seed=seed, speed=False,
                              bootstrap_replicates=replicates)
        rows.append(_row(gen, "srgb", res))
    return rows
