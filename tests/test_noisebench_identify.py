"""Identifiability: on pairs synthesised by a known model, the benchmark's verdict puts the
generating model first or in the top group (not distinguishable at 95 %)."""
from __future__ import annotations

import numpy as np

from degrade.noisebench.identify import confusion, confusion_markdown, srgb_confusion
from degrade.noisebench.models import DARK_MODELS, MODELS
from degrade.noisebench.noise import benchmark_noise, raw_pair
from degrade.sources.raw import read_raw


def test_every_generating_model_is_in_the_top_group():
    rows = confusion(crop=128, replicates=200)
    assert {(r["generator"], r["level"]) for r in rows} == \
        {(m, lv) for m in list(MODELS) + list(DARK_MODELS) for lv in ("bright", "dark")}
    bad = [(r["generator"], r["level"], r["top"]) for r in rows if not r["ok"]]
    assert not bad, bad
    # the matrix is not trivially "everything indistinguishable": the constant-variance
    # model is clearly worse on signal-dependent data, and with few photons (dark) the exact
    # Poisson model is told apart from its Gaussian approximation
    by = {(r["generator"], r["level"]): r for r in rows}
    for gen in ("heteroscedastic_gaussian", "poisson_gaussian", "eld2020", "dark_frame"):
        assert "gaussian" in by[gen, "dark"]["worse"]
    # models without the dark frames' row noise / fixed pattern are told apart from them
    assert "brooks2019" in by["dark_frame", "dark"]["worse"]
    assert "heteroscedastic_gaussian" in by["poisson_gaussian", "dark"]["worse"]
    table = confusion_markdown(rows)
    assert table.count("\n") == 1 + len(rows) and "**no**" not in table


def test_issue_case_poisson_gaussian_on_a_14_bit_dng():
    """The case of the issue: exact Poisson-Gaussian (K = 2 DN/e-, read 5 DN) on the built-in
    Nikon DNG. The Noise Flow bins (47 DN wide here) cannot see this noise; the conditional
    KL can, and the generating model is in the verdict's top group."""
    from pathlib import Path

    import degrade

    path = Path(degrade.__file__).parent / "samples" / "raw" / "nikon_d750_rose_768x512_rggb.dng"
    raw = read_raw(path, clip=True)
    s = raw.white_level - float(np.mean(raw.black_levels))
    clean = raw.mosaic[128:384, 256:512]
    pairs = [raw_pair(MODELS["poisson_gaussian"].apply(clean, {"shot": 2 / s, "read": 5 / s},
                                                       np.random.default_rng(i), raw.pattern,
                                                       False), clean, pattern=raw.pattern,
                      name=f"d750_{i}") for i in range(2)]
    res = benchmark_noise(pairs, speed=False, bootstrap_replicates=200)
    v = res.verdict
    assert "poisson_gaussian" in [v["best"]] + v["indistinguishable"]
    assert v["worse"].get("gaussian") == "kl_cond"
    for p in res.pairs:                       # the fit recovers what made the noise
        pg, se = p["models"]["poisson_gaussian"]["params"], \
            p["models"]["poisson_gaussian"]["fit"]["stderr"]
        assert abs(pg["shot"] - 2 / s) < 5 * se["shot"]
        assert abs(pg["read"] ** 2 - (5 / s) ** 2) < 5 * se["read^2"]


def test_srgb_route_generators_are_in_the_top_group():
    rows = srgb_confusion(crop=96, replicates=150)
    assert [r["generator"] for r in rows] == ["gaussian", "heteroscedastic_gaussian",
                                               "poisson_gaussian", "gaussian_srgb"]
    assert all(r["ok"] for r in rows), [(r["generator"], r["top"]) for r in rows]
    by = {r["generator"]: r for r in rows}
    # AWGN added in sRGB (no demosaicking correlation) and route noise are told apart
    assert "gaussian_srgb" in by["heteroscedastic_gaussian"]["worse"]
    assert by["gaussian_srgb"]["top"] == ["gaussian_srgb"]
