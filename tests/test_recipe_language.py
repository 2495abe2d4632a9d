"""The recipe language: distributions, control nodes, blocks, targets, record and replay."""
from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest
import yaml

from degrade import load_recipe
from degrade.recipe.distributions import parse_value
from tool_scripts import load_tool

N = 4000      # draws for frequency tests


def binomial_tol(p: float, n: int = N, k: float = 5.0) -> float:
    """k standard deviations of a frequency estimated from n Bernoulli(p) draws."""
    return k * math.sqrt(p * (1 - p) / n)


def draws(spec, n=N, seed=0):
    value = parse_value(spec, "x")
    rng = np.random.default_rng(seed)
    return [value.sample(rng) for _ in range(n)]


def test_uniform_and_loguniform_ranges_and_means():
    u = np.array(draws({"uniform": [2.0, 5.0]}))
    assert u.min() >= 2 and u.max() < 5
    assert abs(u.mean() - 3.5) < 5 * 3 / math.sqrt(12 * N)          # std of U(2,5) = 3/sqrt(12)
    lu = np.log(draws({"loguniform": [1e-4, 1e-1]}))
    assert lu.min() >= math.log(1e-4) and lu.max() < math.log(1e-1)
    width = math.log(1e-1) - math.log(1e-4)
    assert abs(lu.mean() - (math.log(1e-4) + width / 2)) < 5 * width / math.sqrt(12 * N)


def test_int_uniform_includes_both_ends():
    values = Counter(draws({"int_uniform": [3, 6]}))
    assert set(values) == {3, 4, 5, 6}
    assert all(isinstance(v, int) for v in values)
    for v in range(3, 7):
        assert abs(values[v] / N - 0.25) < binomial_tol(0.25)


def test_normal_with_bounds_stays_inside():
    x = np.array(draws({"normal": {"mean": 0.0, "std": 1.0, "low": -0.5, "high": 2.0}}))
    assert x.min() >= -0.5 and x.max() <= 2.0
    free = np.array(draws({"normal": [1.0, 2.0]}))
    assert abs(free.mean() - 1.0) < 5 * 2 / math.sqrt(N)


def test_weighted_choice_and_mixture_frequencies():
    c = Counter(draws({"choice": {"values": ["a", "b"], "weights": [0.3, 0.7]}}))
    assert abs(c["a"] / N - 0.3) < binomial_tol(0.3)
    m = np.array(draws({"mixture": [{"weight": 1, "uniform": [0, 1]}, {"weight": 3, "uniform": [10, 11]}]}))
    assert abs((m < 1).mean() - 0.25) < binomial_tol(0.25)


TEXT = """
seed: 7
target: {size: 32, scale: 2, flips: true}
blocks:
  deg:
    - {op: gaussian_blur, id: blur, sigma_x: {uniform: [0.2, 3.0]}}
    - {op: gaussian_noise, sigma: {uniform: [0.01, 0.05]}, p: 0.5}
stages:
  - {block: deg}
  - {block: deg, with: {blur.sigma_x: {uniform: [5.0, 6.0]}, gaussian_noise.p: 1.0}}
  - one_of:
      - {weight: 0.25, op: resize, relative_to: target, scale: 0.5, mode: area}
      - {weight: 0.75, stages: [{op: resize, relative_to: target, scale: 0.5, mode: bicubic}]}
  - shuffle: [[{op: gaussian_noise, sigma: 0.01}], [{op: jpeg, quality: 90}], {op: jpeg, quality: 80}]
    keep_order: [[2, 1]]
"""


@pytest.fixture
def recipe():
    return load_recipe(TEXT)


def test_block_overrides_apply_to_the_second_use_only(recipe):
    firsts, seconds = [], []
    for i in range(200):
        blurs = [s for s in recipe.sample(index=i)["steps"] if s["op"] == "gaussian_blur"]
        firsts.append(blurs[0]["params"]["sigma_x"])
        seconds.append(blurs[1]["params"]["sigma_x"])
    assert 0.2 <= min(firsts) and max(firsts) < 3.0
    assert 5.0 <= min(seconds) and max(seconds) < 6.0


def test_p_gates_and_one_of_weights(recipe):
    counts = Counter()
    n = 2000
    for i in range(n):
        steps = recipe.sample(index=i)["steps"]
        counts["area"] += any(s["op"] == "resize" and s["params"]["mode"] == "area" for s in steps)
        counts["noise_first_block"] += steps[1]["op"] == "gaussian_noise"
    assert abs(counts["area"] / n - 0.25) < binomial_tol(0.25, n)
    assert abs(counts["noise_first_block"] / n - 0.5) < binomial_tol(0.5, n)


def test_shuffle_draws_every_order_and_keeps_the_forced_pair(recipe):
    orders = Counter()
    for i in range(600):
        tail = recipe.sample(index=i)["steps"][-3:]
        key = tuple((s["op"], s["params"].get("quality")) for s in tail)
        orders[key] += 1
        q = [s["params"].get("quality") for s in tail if s["op"] == "jpeg"]
        assert q.index(80) < q.index(90), "keep_order [2, 1] violated"
    assert len(orders) == 3          # 3! orders, halved by the constraint -> 3 distinct


def test_sampling_is_a_function_of_seed_and_index_only(recipe):
    forward = [recipe.sample(index=i) for i in range(20)]
    backward = [recipe.sample(index=i) for i in reversed(range(20))][::-1]
    assert forward == backward
    assert recipe.sample(seed=8, index=0) != recipe.sample(seed=7, index=0)
    assert recipe.sample(index=0)["seed"] == 7        # the recipe seed is the default


def test_run_replay_bit_identical_and_json(recipe, rgb):
    big = np.tile(rgb, (2, 2, 1))
    for index in range(5):
        s = recipe.run(big, index=index)
        assert s.hq.shape == (32, 32, 3) and s.lq.shape == (16, 16, 3)
        record = json.loads(json.dumps(s.record))
        again = recipe.replay(big, record)
        assert np.array_equal(s.hq, again.hq) and np.array_equal(s.lq, again.lq)
        t = record["target"]
        assert 0 <= t["y"] <= big.shape[0] - 32 and 0 <= t["x"] <= big.shape[1] - 32


def test_flips_are_applied_identically_to_hq_and_lq(rgb):
    r = load_recipe("target: {size: 32, flips: true}\nstages: [{op: crop, size: 32}]")
    seen = set()
    for i in range(40):
        s = r.run(rgb, index=i)
        t = s.record["target"]
        seen.add((t["hflip"], t["vflip"], t["rot90"]))
        ref = rgb[t["y"]:t["y"] + 32, t["x"]:t["x"] + 32]
        ref = ref[:, ::-1] if t["hflip"] else ref
        ref = ref[::-1] if t["vflip"] else ref
        assert np.array_equal(s.hq, np.rot90(ref, t["rot90"]))
        assert np.array_equal(s.lq, s.hq)
    assert len(seen) > 6


def test_target_stages_and_lq_from(rgb):
    r = load_recipe("target: {size: 16, stages: [{op: gaussian_blur, sigma_x: 1.0}], lq_from: input}\n"
                    "stages: [{op: crop, size: 16}]")
    s = r.run(rgb, index=0)
    t = s.record["target"]
    crop = rgb[t["y"]:t["y"] + 16, t["x"]:t["x"] + 16]
    assert np.array_equal(s.lq, crop) and not np.array_equal(s.hq, crop)


def test_wide_integer_ranges_are_accepted_for_integer_parameters():
    r = load_recipe("stages: [{op: jpeg, quality: {int_uniform: [0, 100]}}]")     # 101 outcomes
    qualities = {r.sample(index=i)["steps"][0]["params"]["quality"] for i in range(300)}
    assert all(isinstance(q, int) and 0 <= q <= 100 for q in qualities) and len(qualities) > 50


def test_samplers_are_reported_in_the_record_when_registered():
    # a stage without a sampler records exactly its drawn parameters, nothing else
    r = load_recipe("stages: [{op: jpeg, quality: {int_uniform: [10, 20]}}]")
    step = r.sample(index=1)["steps"][0]
    assert set(step) == {"node", "op", "params"} and set(step["params"]) == {"quality"}


def test_scale_mismatch_is_reported_with_a_fix(rgb):
    r = load_recipe("target: {size: 16, scale: 2}\nstages: [{op: gaussian_blur, sigma_x: 1.0}]")
    with pytest.raises(Exception, match=r"the chain made an LQ of 16x16, but a 16x16 target at scale 2 "
                                        r"needs 8x8; end the chain with \{op: resize"):
        r.run(rgb)


def test_whole_image_target_is_mod_cropped_to_the_scale(rgb):
    r = load_recipe("target: {scale: 3}\nstages: [{op: resize, relative_to: target, scale: 0.33333333334}]")
    s = r.run(rgb)
    assert s.hq.shape == (48, 39, 3) and s.lq.shape == (16, 13, 3)


def test_builtin_recipe_by_name_and_yaml_round_trip():
    r = load_recipe("simple_x2")
    assert r.name == "simple_x2" and r.target_size == (128, 128) and r.scale == 2
    assert yaml.safe_load(r.text)["name"] == "simple_x2"
    assert len(r.hash) == 64


def test_replay_rejects_what_is_not_a_record(rgb):
    from degrade import DegradeError

    r = load_recipe("stages: [{op: jpeg, quality: 50}]")
    record = r.sample(index=0)
    for broken in ({k: v for k, v in record.items() if k != "target"}, {**record, "target": 3},
                   {**record, "seed": "x"}):
        with pytest.raises(DegradeError, match="not a degrade record"):
            r.replay(rgb, broken)


SOME_OF = """
stages:
  - some_of:
      - {op: gaussian_noise, sigma: 0.01}
      - {op: gaussian_blur, sigma_x: 1.0, weight: 2}
      - {op: gaussian_noise, sigma: 0.02}
    n: %s
    order: %s
"""


def _ops(record):
    return tuple((s["op"], s["params"].get("sigma")) for s in record["steps"])


def test_some_of_draws_k_of_n_by_weight_without_replacement():
    r = load_recipe(SOME_OF % ("{int_uniform: [1, 2]}", "listed"))
    plans = [_ops(r.sample(0, i)) for i in range(N)]
    sizes = Counter(len(p) for p in plans)
    assert set(sizes) == {1, 2} and abs(sizes[1] / N - 0.5) < binomial_tol(0.5)
    assert all(len(set(p)) == len(p) for p in plans)                 # no stage twice
    # k = 1: the blur (weight 2 of 4) half of the time
    singles = [p for p in plans if len(p) == 1]
    blur = sum(p[0][0] == "gaussian_blur" for p in singles)
    assert abs(blur / len(singles) - 0.5) < binomial_tol(0.5, len(singles))
    # k = 2, sequential weighted draws: P(blur not chosen) = 2 * (1/4 * 1/3) = 1/6
    pairs = [p for p in plans if len(p) == 2]
    no_blur = sum(all(op != "gaussian_blur" for op, _ in p) for p in pairs)
    assert abs(no_blur / len(pairs) - 1 / 6) < binomial_tol(1 / 6, len(pairs))
    # listed order: the chosen stages keep the recipe's order
    rank = {("gaussian_noise", 0.01): 0, ("gaussian_blur", None): 1, ("gaussian_noise", 0.02): 2}
    assert all([rank[s] for s in p] == sorted(rank[s] for s in p) for p in pairs)


def test_some_of_random_order_and_fixed_n():
    r = load_recipe(SOME_OF % ("3", "random"))
    orders = Counter(_ops(r.sample(0, i)) for i in range(600))
    assert len(orders) == 6 and all(len(o) == 3 for o in orders)     # every permutation


def test_some_of_replays_from_the_record(rgb):
    r = load_recipe(SOME_OF % ("{choice: [0, 2]}", "random"))
    for index in range(6):
        pair = r.run(rgb, seed=3, index=index)
        again = r.replay(rgb, json.loads(json.dumps(pair.record)))
        assert np.array_equal(again.lq, pair.lq)
        assert r.sample(3, index) == r.sample(3, index)


def test_docs_list_every_sampler_argument_as_the_registry_has_it():
    from degrade._registry import all_samplers
    tool = load_tool("gen_recipe_docs")
    page = tool.DOC.read_text(encoding="utf-8")
    assert tool.updated(page) == page, "docs/recipes.md is stale: python tools/gen_recipe_docs.py"
    section = page.split(tool.BEGIN)[1].split(tool.END)[0]
    for spec in all_samplers():
        assert f"#### `{spec.name}`" in section
        documented = {n for names, _, text in tool.parameter_docs(spec.function) if text
                      for n in names}
        assert set(spec.params) <= documented, (spec.name, set(spec.params) - documented)
        for name in spec.params:
            assert f"`{name}`" in section.split(f"#### `{spec.name}`")[1].split("####")[0]


def test_a_changed_scale_points_to_every_relative_resize():
    """Porting realesrgan_x4plus to x2 by editing target.scale: the error names the other
    target-relative resizes too (Real-ESRGAN's second resize is s / scale)."""
    from pathlib import Path
    from degrade import RecipeError
    from degrade.sources import load_sample
    text = (Path(__file__).resolve().parents[1] / "recipes" / "realesrgan_x4plus.yaml").read_text()
    recipe = load_recipe(text.replace("  scale: 4\n", "  scale: 2\n", 1))
    with pytest.raises(RecipeError, match=r"400x400 region at scale 2 needs 200x200; end the chain "
                       r"with \{op: resize, relative_to: target, scale: 0\.5\}; the chain has 5 "
                       r"resizes relative to the target \(stages\[6\]\.one_of\[0\], \.\.\.\)"):
        recipe.run(load_sample("chart"), 0, 0)
