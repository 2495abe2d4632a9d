"""Every kind of recipe error gives one precise message: file, path inside it, value, expectation."""
from __future__ import annotations

import pytest

from degrade import InputError, RecipeError, load_recipe
from degrade.recipe import dry_run

CASES = [
    ("stages: [{op: gausian_blur, sigma_x: 1}]",
     r"stages\[0\]\.op: unknown op 'gausian_blur' \(did you mean 'gaussian_blur'\?\)"),
    ("stages: [{op: gaussian_blur, sigma: 1}]",
     r"stages\[0\]\.sigma: op 'gaussian_blur' has no parameter 'sigma' \(did you mean 'sigma_[xy]'\?\)"),
    ("stages: [{op: gaussian_blur, sigma_x: fast}]",
     r"stages\[0\]\.sigma_x: 'fast' is not valid for parameter 'sigma_x' of op 'gaussian_blur': "
     r"expected a value of type float"),
    ("stages: [{op: jpeg, quality: {uniform: [30, 95]}}]",
     r"stages\[0\]\.quality: parameter 'quality' of op 'jpeg' takes an integer: use a constant, int_uniform"),
    ("stages: [{op: gaussian_noise, sigma: 0.1, gray: {uniform: [0, 1]}}]",
     r"stages\[0\]\.gray: parameter 'gray' of op 'gaussian_noise' takes bool: use a constant or choice"),
    ("stages: [{op: resize, scale: 0.5, mode: {uniform: [0, 1]}}]",
     r"stages\[0\]\.mode: parameter 'mode' of op 'resize' takes area\|bilinear"),
    ("stages: [{op: gaussian_blur, sigma_x: {uniform: [3, 1]}}]",
     r"stages\[0\]\.sigma_x: \{uniform: \[3, 1\]\}: low 3 > high 1; expected low <= high"),
    ("stages: [{op: gaussian_blur, sigma_x: 1, p: 1.5}]",
     r"stages\[0\]\.p: p = 1.5: expected a probability in \[0, 1\]"),
    ("stages: [{op: resize, scale: 0.5, mode: cubic}]",
     r"stages\[0\]\.mode: 'cubic' is not valid for parameter 'mode' of op 'resize': expected one of "
     r"'area', 'bilinear', 'bicubic', 'nearest'.* \(did you mean 'bicubic'\?\)"),
    ("stages: [{op: gaussian_blur, sigma_x: {gauss: [1, 2]}}]",
     r"stages\[0\]\.sigma_x: unknown distribution 'gauss'"),
    ("stages: [{op: gaussian_blur}]",
     r"stages\[0\]: op 'gaussian_blur' needs parameter\(s\) sigma_x"),
    ("stages: [{block: deg}]",
     r"stages\[0\]\.block: unknown block 'deg'; defined blocks: none"),
    ("blocks: {deg: [{op: jpeg, quality: 50}]}\nstages: [{block: deg, with: {jpg.quality: 10}}]",
     r"stages\[0\]\.with\.jpg\.quality: override 'jpg\.quality': no stage labelled 'jpg' in the block "
     r"\(did you mean 'jpeg'\?\)"),
    ("stages: [{one_of: [{weight: -1, op: jpeg, quality: 5}]}]",
     r"stages\[0\]\.one_of: weights \[-1\]: expected non-negative numbers"),
    ("stages: [{shuffle: [{op: jpeg, quality: 5}, {op: jpeg, quality: 6}], keep_order: [[0, 5]]}]",
     r"stages\[0\]\.keep_order: keep_order pair \[0, 5\]: expected \[i, j\]"),
    ("input: camera\nstages: [{op: jpeg, quality: 50}]",
     r"stages\[0\]: op 'jpeg' takes srgb data, but the chain is in the 'camera' domain here"),
    ("stages: [{op: gaussian_blur, sigma_x: 1}]\nstagse: []",
     r"stagse: unknown key 'stagse' in the recipe \(did you mean 'stages'\?\)"),
    ("target: {size: 30, scale: 4}\nstages: []",
     r"target\.size: size \[30, 30\] is not divisible by scale 4"),
    ("stages: [{op: jpeg, quality: 50]",
     r"line 1, column \d+: invalid YAML"),
    ("seed: -3\nstages: []", r"seed: seed = -3: expected a non-negative integer"),
    # habits from BasicSR / Albumentations get pointed to degrade's spelling
    ("stages: [{op: gaussian_noise, sigma: 0.1, prob: 0.5}]",
     r"stages\[0\]\.prob: op 'gaussian_noise' has no parameter 'prob' \(did you mean 'p'\?\)"),
    ("stages: [{one_of: [{op: jpeg, quality: 5}], prob: 0.5}]",
     r"stages\[0\]\.prob: unknown key 'prob' in one_of \(did you mean 'p'\?\)"),
    ("blocks: {n: [{op: gaussian_noise, id: g, sigma: 0.1}]}\nstages: [{block: n, with: {g.prob: 0.3}}]",
     r"stages\[0\]\(block n\)\[0\]\.prob: op 'gaussian_noise' has no parameter 'prob' "
     r"\(did you mean 'p'\?\)"),
    ("stages: [{op: gaussian_noise, sigma: [1, 15], sigma_units: 8bit}]",
     r"stages\[0\]\.sigma: \[1, 15\] is not valid for parameter 'sigma' of op 'gaussian_noise': "
     r"expected a value of type float; a random value in a range is written \{uniform: \[1, 15\]\}"),
    ("stages: [{op: jpeg, quality: [30, 95]}]",
     r"stages\[0\]\.quality: .*a random value in a range is written \{int_uniform: \[30, 95\]\}"),
    # some_of
    ("stages: [{some_of: [{op: jpeg, quality: 5}]}]",
     r"stages\[0\]: some_of needs 'n', how many of its 1 stages run"),
    ("stages: [{some_of: [{op: jpeg, quality: 5}], n: 2}]",
     r"stages\[0\]\.n: n = 2: expected an integer in 0\.\.1"),
    ("stages: [{some_of: [{op: jpeg, quality: 5}], n: {uniform: [0, 1]}}]",
     r"stages\[0\]\.n: n = \{'uniform': \[0, 1\]\}: expected an integer in 0\.\.1"),
    ("stages: [{some_of: [{op: jpeg, quality: 5}, {weight: 0, op: jpeg, quality: 6}], n: 2}]",
     r"stages\[0\]\.n: n can be 2 but only 1 stages have a positive weight"),
    ("stages: [{some_of: [{op: jpeg, quality: 5}], n: 1, order: shuffled}]",
     r"stages\[0\]\.order: order = 'shuffled': expected one of listed, random"),
    ("input: camera\nstages: [{some_of: [{op: mosaic}], n: 1}]",
     r"stages\[0\]\.some_of\[0\]: a some_of stage must keep the domain"),
]


@pytest.mark.parametrize("text,pattern", CASES, ids=[c[1][:40] for c in CASES])
def test_inline_recipe_errors(text, pattern):
    with pytest.raises(RecipeError, match=pattern):
        load_recipe(text)


def test_errors_name_the_file(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("stages:\n  - {op: gaussian_blur, sigma_x: 1}\n  - {op: resize, scale: 0.5, mode: linear}\n")
    with pytest.raises(RecipeError) as info:
        load_recipe(f)
    assert str(info.value).startswith(f"{f}: stages[1].mode: 'linear' is not valid")
    assert info.value.file == str(f) and info.value.path == "stages[1].mode"


def test_error_inside_a_block_says_where_it_is_used():
    with pytest.raises(RecipeError, match=r"stages\[1\]\(block deg\)\[0\]\.sigma_x"):
        load_recipe("blocks: {deg: [{op: gaussian_blur, sigma_x: x}]}\n"
                    "stages: [{op: jpeg, quality: 5}, {block: deg}]")


def test_missing_recipe_file_and_unknown_builtin():
    with pytest.raises(InputError, match="nope.yaml: recipe file not found"):
        load_recipe("nope.yaml")
    with pytest.raises(InputError, match=r"simple_x3: no such recipe file or built-in recipe "
                                          r"\(did you mean 'simple_x2'\?\)"):
        load_recipe("simple_x3")


def test_dry_run_catches_values_only_the_op_can_judge():
    # (a parameter's own declared range is checked at load: test_reliability_inputs; a
    # bound that depends on another parameter only when the op runs)
    r = load_recipe("stages: [{op: saturate, white: 0.5, black: {uniform: [0.6, 0.9]}}]")
    with pytest.raises(RecipeError, match=r"stages\[0\]: sample 0: saturate: parameter 'black' = "
                                          r"0\.\d+: expected black <= 0.5"):
        dry_run(r)


def test_domain_changes_need_p_one_and_one_of_branches_must_agree():
    with pytest.raises(RecipeError, match=r"stages\[0\]: this stage changes the domain from camera to raw "
                                          r"but runs only with p = 0.5"):
        load_recipe("input: camera\nstages: [{op: mosaic, pattern: RGGB, p: 0.5}]")
    with pytest.raises(RecipeError, match=r"stages\[0\]: the branches of one_of end in different domains "
                                          r"\(camera, raw\)"):
        load_recipe("input: camera\nstages: [{one_of: [{op: mosaic, pattern: RGGB}, "
                    "{op: gaussian_noise, sigma: 0.1}]}]")
    with pytest.raises(RecipeError, match=r"stages\[0\]\.shuffle\[1\]: a shuffled group must keep the "
                                          r"domain \(camera\), but this one ends in raw"):
        load_recipe("input: camera\nstages: [{shuffle: [{op: gaussian_noise, sigma: 0.1}, "
                    "{op: mosaic, pattern: RGGB}]}]")
    with pytest.raises(RecipeError, match=r"stages\[1\]: op 'jpeg' takes srgb data, but the chain is in "
                                          r"the 'raw' domain"):
        load_recipe("input: raw\nstages: [{op: gaussian_noise, sigma: 0.1}, {op: jpeg, quality: 5}]")
