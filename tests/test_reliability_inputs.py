"""Hostile inputs are refused with one ``error:`` line, quickly and in bounded memory.

Each check runs where the memory can be measured: in a fresh interpreter that reports the
growth of its peak resident size (``ru_maxrss``) across the call under test. No check asserts
a time; the subprocess timeouts only keep a regression from hanging the suite.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from degrade import RecipeError, load_recipe
from degrade.recipe import yaml_limits

#: peak-memory growth allowed for refusing a bomb (decoding one would take GBs)
BOUNDED_MB = 200


def run_measured(code: str, timeout: float = 120) -> dict:
    """Run ``code`` in a new interpreter after importing degrade; it sets ``result``. Returns
    ``{"result": ..., "error": message or None, "grew_mb": peak RSS growth during code}``."""
    wrapper = textwrap.dedent("""
        import json, resource, sys
        import degrade, degrade.recipe, degrade.sources, degrade.sources.headers
        import cv2, numpy
        from degrade import DegradeError
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result, error = None, None
        try:
        {body}
        except DegradeError as e:
            error = str(e)
        grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        print(json.dumps({{"result": result, "error": error, "grew_mb": grew}}))
    """).format(body=textwrap.indent(textwrap.dedent(code).strip(), "    "))
    out = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True,
                         timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_cli(*args, timeout: float = 120):
    return subprocess.run([sys.executable, "-m", "degrade.cli", *args], capture_output=True,
                          text=True, timeout=timeout)


def assert_one_error_line(proc, *fragments):
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-2000:]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


# --------------------------------------------------------------------------- YAML
def alias_bomb(levels: int = 9) -> str:
    """The "billion laughs": each level lists the previous one 9 times (9**levels nodes)."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    lines.append(f"stages: [*a{levels}]")
    return "\n".join(lines) + "\n"


def nested_groups(depth: int) -> str:
    stage = "{op: gaussian_noise, sigma: 0.01}"
    for _ in range(depth):
        stage = "{stages: [" + stage + "]}"
    return f"stages: [{stage}]\n"


def block_chain(length: int, uses: int) -> str:
    """Blocks b0..b{length-1}, each using the next ``uses`` times (``uses**length`` stages)."""
    lines = ["blocks:"]
    for i in range(length - 1):
        lines.append(f"  b{i}: [" + ", ".join([f"{{block: b{i + 1}}}"] * uses) + "]")
    lines.append(f"  b{length - 1}: [{{op: gaussian_noise, sigma: 0.01}}]")
    lines.append("stages: [{block: b0}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("text,fragment", [
    (alias_bomb(), f"expands to more than {yaml_limits.MAX_NODES} nodes"),
    (nested_groups(245), f"nested more than {yaml_limits.MAX_DEPTH} deep"),
    (block_chain(400, 1), "stages nested more than"),
    (block_chain(25, 2), "stages once blocks are expanded"),
    ("x: &x [1]\nstages: [" + ", ".join(["*x"] * (yaml_limits.MAX_ALIASES + 1)) + "]\n",
     f"more than {yaml_limits.MAX_ALIASES} aliases"),
], ids=["alias-bomb", "245-nested-groups", "400-chained-blocks", "block-bomb", "many-aliases"])
def test_yaml_bombs_are_refused_by_validate_in_bounded_memory(tmp_path, text, fragment):
    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    proc = run_cli("validate", str(path), timeout=60)
    assert_one_error_line(proc, str(path), fragment)
    measured = run_measured(f"degrade.load_recipe({str(path)!r})", timeout=60)
    assert fragment in measured["error"]
    assert measured["grew_mb"] < BOUNDED_MB


def test_yaml_within_the_limits_still_loads():
    # nesting just inside the limits, and aliases that stay small, are accepted as before
    recipe = load_recipe(nested_groups(yaml_limits.MAX_DEPTH // 2 - 2))
    assert recipe.sample(seed=0)["steps"][0]["op"] == "gaussian_noise"
    text = ("blocks: {b: &s [{op: gaussian_noise, sigma: 0.01}]}\n"
            "stages: [{block: b}, {stages: *s}]\n")
    assert [s["op"] for s in load_recipe(text).sample(seed=0)["steps"]] == ["gaussian_noise"] * 2


def test_yaml_errors_keep_their_line_and_column():
    with pytest.raises(RecipeError, match=r"line 1, column \d+: invalid YAML"):
        load_recipe("stages: [{op: jpeg, quality: 50]")
    with pytest.raises(RecipeError, match="could not determine a constructor"):
        load_recipe("stages: !!python/object/apply:os.system ['true']")
