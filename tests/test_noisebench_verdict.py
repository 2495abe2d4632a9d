"""Noise benchmark: random streams keyed by names, bootstrap intervals and the verdict."""
from __future__ import annotations

import numpy as np

from degrade.noisebench.models import MODELS
from degrade.noisebench.noise import benchmark_noise, raw_pair
from degrade.noisebench.stats import interval, verdict, verdict_text


def _ramp(h=96, w=96, lo=0.01, hi=0.6):
    yy, xx = np.mgrid[0:h, 0:w]
    return (lo + (hi - lo) * (xx + yy) / (h + w - 2)).astype(np.float32)


def _pg_pairs(n=2, shot=2e-3, read=2e-3):
    clean = _ramp()
    gen = MODELS["poisson_gaussian"]
    return [raw_pair(gen.apply(clean, {"shot": shot, "read": read},
                               np.random.default_rng(50 + i), "RGGB", False), clean,
                     pattern="RGGB", name=f"pg{i}") for i in range(n)]


def test_model_score_does_not_depend_on_the_other_models():
    pairs = _pg_pairs()
    alone = benchmark_noise(pairs, models=["poisson_gaussian"], speed=False,
                            bootstrap_replicates=50)
    both = benchmark_noise(pairs, models=["gaussian", "brooks2019", "poisson_gaussian"],
                           speed=False, bootstrap_replicates=50)
    for a, b in zip(alone.pairs, both.pairs):
        ma, mb = a["models"]["poisson_gaussian"], b["models"]["poisson_gaussian"]
        assert ma["params"] == mb["params"]
        for k in ("kl", "kl_cond", "kl_floor", "nlf_error", "std", "hist"):
            assert ma[k] == mb[k], k


def test_pair_stream_is_keyed_by_pair_name():
    pairs = _pg_pairs(3)
    full = benchmark_noise(pairs, models=["poisson_gaussian"], speed=False,
                           bootstrap_replicates=20)
    last = benchmark_noise(pairs[2:], models=["poisson_gaussian"], speed=False,
                           bootstrap_replicates=20)
    # the histogram on the fixed Noise Flow bins depends only on the pair and its draw
    assert full.pairs[2]["models"]["poisson_gaussian"]["hist"] == \
        last.pairs[0]["models"]["poisson_gaussian"]["hist"]


def test_intervals_and_verdict_on_data_of_a_known_model():
    result = benchmark_noise(_pg_pairs(), models=["gaussian", "poisson_gaussian"],
                             speed=False, bootstrap_replicates=200)
    v = result.verdict
    assert v["best"] == "poisson_gaussian" and v["worse"] == {"gaussian": "kl_cond"}
    for r in result.summary:
        for m in ("kl_cond", "nlf_error", "kl", "lag1_error"):
            lo, hi = r[m + "_ci"]
            assert lo <= r[m] <= hi
    gauss = next(r for r in result.summary if r["model"] == "gaussian")
    best = result.summary[0]
    assert gauss["kl_cond_ci"][0] > best["kl_cond_ci"][1]       # clearly apart
    text = result.table()
    assert "verdict: best poisson_gaussian" in text and "gaussian (by kl_cond)" in text


def test_verdict_rules_on_constructed_replicates():
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.01, 2000)

    def metric(center, spread=1.0):
        return {m: center + spread * noise for m in ("kl_cond", "nlf_error", "kl",
                                                      "lag1_error")}
    samples = {"a": metric(1.0), "b": metric(1.001), "c": metric(1.5)}
    # b and a differ by 0.001 with identical noise (paired): the difference is exact
    boot = {"samples": samples, "point": {n: {m: float(np.median(v[m])) for m in v}
                                          for n, v in samples.items()}}
    v = verdict(boot, ["c", "b", "a"])
    assert v["best"] == "a" and v["worse"] == {"b": "kl_cond", "c": "kl_cond"}
    # independent noise of the same size: a and b cannot be told apart
    samples["b"] = {m: 1.001 + rng.normal(0, 0.01, 2000) for m in samples["a"]}
    boot["point"]["b"] = {m: float(np.median(samples["b"][m])) for m in samples["b"]}
    v = verdict(boot, ["c", "b", "a"])
    assert set([v["best"]] + v["indistinguishable"]) == {"a", "b"}
    assert "No metric separates" in verdict_text(v)
    lo, hi = interval(samples["c"]["kl"], 1.5)
    assert lo < 1.5 < hi and hi - lo < 0.05


def test_residual_curves_and_figure(tmp_path):
    result = benchmark_noise(_pg_pairs(), models=["gaussian", "poisson_gaussian"],
                             speed=False, bootstrap_replicates=100)
    for p in result.pairs:
        for name in ("gaussian", "poisson_gaussian"):
            res = p["models"][name]["residual"]
            for curve in (res["nlf"], res["hist"]):
                for v, lo, hi in zip(curve["point"], curve["lo"], curve["hi"]):
                    assert v is None or lo <= v <= hi
        # constant variance overshoots the dark end and undershoots the bright end, clearly;
        # the generating model's intervals cover 0 in most bins
        g = p["models"]["gaussian"]["residual"]["nlf"]
        first = next(i for i, v in enumerate(g["point"]) if v is not None)
        last = max(i for i, v in enumerate(g["point"]) if v is not None)
        assert g["lo"][first] > 0 and g["hi"][last] < 0
        pg = p["models"]["poisson_gaussian"]["residual"]["nlf"]
        cover = [lo <= 0 <= hi for lo, hi in zip(pg["lo"], pg["hi"]) if lo is not None]
        assert sum(cover) >= 0.6 * len(cover)
    import cv2

    png = cv2.imread(str(result.write(tmp_path)["png"]))
    assert png.shape[1] == 1120 and png.shape[0] > 2 * 330


def test_tables_script_renders_the_json(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    result = benchmark_noise(_pg_pairs(), models=["gaussian", "poisson_gaussian"],
                             speed=False, bootstrap_replicates=50)
    paths = result.write(tmp_path, figure=False)
    doc = tmp_path / "doc.md"
    doc.write_text("intro\n<!-- summary:begin -->\nold\n<!-- summary:end -->\nend\n")
    script = Path(__file__).resolve().parents[1] / "tools" / "noisebench_tables.py"
    proc = subprocess.run([sys.executable, str(script), "summary", str(paths["json"]),
                           "--write", str(doc)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    text = doc.read_text()
    assert "old" not in text and text.startswith("intro\n") and text.endswith("end\n")
    assert "**verdict: best poisson_gaussian" in text
    assert "| 2 | `gaussian` | worse (kl_cond) |" in text
