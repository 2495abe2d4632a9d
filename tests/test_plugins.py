"""Plugins: ops and samplers from another installed package (entry points ``degrade.ops`` /
``degrade.samplers``), the public ``register_op`` / ``register_sampler``, and the plugin
provenance a store keeps.

The plugin is tests/plugin_pkg, installed with pip into a temporary folder that this module
puts on sys.path (and on PYTHONPATH for the CLI subprocesses), so degrade finds it through
importlib.metadata exactly as it finds a plugin installed into the environment.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zarr

import degrade
from degrade import _registry
from degrade.recipe import load_recipe
from test_run import write_png

PLUGIN_SRC = Path(__file__).parent / "plugin_pkg"
PACKAGE, VERSION = "degrade-testplugin", "0.3.1"
RECIPE = """\
name: tinted
seed: 3
target: {size: 32}
stages:
  - {op: plugin_tint, sampler: {plugin_strength: {high: 0.3}}}
  - {op: gaussian_noise, sigma: 0.02}
"""


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory):
    """The plugin installed (pip, no build isolation) into a folder of its own."""
    root = tmp_path_factory.mktemp("plugin")
    src, site = root / "src", root / "site"
    shutil.copytree(PLUGIN_SRC, src)          # pip builds in place: keep tests/ clean
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--no-build-isolation", "--target", str(site), str(src)],
                   check=True, capture_output=True, timeout=300)
    return site


@pytest.fixture
def plugin(plugin_site):
    """The plugin visible to this process; the registry restored afterwards (the other test
    modules see only the built-ins)."""
    _registry._load_all()                    # the built-ins, before the snapshot
    saved = dict(_registry._OPS), dict(_registry._SAMPLERS), dict(_registry._PLUGINS)
    sys.path.insert(0, str(plugin_site))
    _registry._PLUGINS["loaded"] = False
    try:
        yield plugin_site
    finally:
        sys.path.remove(str(plugin_site))
        for name in [m for m in sys.modules if m.startswith("degrade_testplugin")]:
            del sys.modules[name]
        for table, old in zip((_registry._OPS, _registry._SAMPLERS, _registry._PLUGINS), saved):
            table.clear()
            table.update(old)


def cli(*args, site=None, env=None, cwd=None):
    """``degrade ARGS`` in a subprocess, the plugin on its path when ``site`` is given."""
    paths = [str(Path(__file__).resolve().parents[1])] + ([str(site)] if site else [])
    full_env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths), **(env or {})}
    for name in ("DEGRADE_TESTPLUGIN_FAIL", "DEGRADE_TESTPLUGIN_CLASH"):
        if name not in (env or {}):
            full_env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "degrade.cli", *args], capture_output=True,
                          text=True, env=full_env, cwd=cwd, timeout=600)


def test_plugin_found_through_entry_points(plugin):
    assert "plugin_tint" not in _registry._OPS
    recipe = load_recipe(RECIPE)                       # an unknown op: plugins load now
    spec = _registry.get_op("plugin_tint")
    assert (spec.package, spec.version) == (PACKAGE, VERSION)
    sampler = _registry.get_sampler("plugin_strength")
    assert (sampler.package, sampler.version) == (PACKAGE, VERSION)
    assert _registry.store_provenance(recipe) == {"plugins": {PACKAGE: VERSION}}
    assert _registry.store_provenance(load_recipe("simple_x2")) == {}
    image = np.full((40, 40, 3), 0.5, np.float32)
    a = recipe.run(image, index=2)
    assert np.array_equal(a.lq, recipe.replay(image, a.record).lq)
    strength = a.record["steps"][0]["params"]["strength"]
    assert 0 <= strength < 0.3
    # the tint moved the channels apart by up to the drawn strength
    means = a.lq.reshape(-1, 3).mean(0)
    assert means.max() - means.min() > 0


def test_plugin_parameters_are_checked_like_builtins(plugin):
    with pytest.raises(degrade.RecipeError, match=r"stages\[0\]\.strenght: op 'plugin_tint' has "
                       r"no parameter 'strenght' \(did you mean 'strength'\?\)"):
        load_recipe("stages: [{op: plugin_tint, strenght: 0.1}]")
    with pytest.raises(degrade.RecipeError, match="'x' is not valid for parameter 'strength'"):
        load_recipe("stages: [{op: plugin_tint, strength: x}]")
    with pytest.raises(degrade.RecipeError, match="did you mean 'plugin_tint'"):
        load_recipe("stages: [{op: plugin_tnt}]")


def test_register_op_validates_like_builtins():
    _registry._load_all()
    saved = dict(_registry._OPS), dict(_registry._SAMPLERS)
    try:
        @degrade.register_op("user_gain", domain_in="linear")
        def user_gain(image: np.ndarray, gain: float = 2.0, *, rng=None) -> np.ndarray:
            """Multiply by ``gain``."""
            return (image * gain).astype(np.float32)

        spec = _registry.get_op("user_gain")
        assert spec.params["gain"].kind == "float" and spec.domain_in == ("linear",)
        assert spec.package == f"module {__name__}" and spec.summary == "Multiply by ``gain``."
        with pytest.raises(degrade.RecipeError, match="takes linear data, but the chain is in "
                           "the 'srgb' domain"):
            load_recipe("stages: [{op: user_gain}]")

        def image_only(image, *, rng=None):
            return image
        cases = [
            (dict(name="gaussian_blur"), image_only,
             "op name 'gaussian_blur' is claimed twice: by degrade "
             "(degrade.ops.blur.gaussian_blur) and by module test_plugins"),
            (dict(name="bad name"), image_only, "expected an identifier"),
            (dict(name="x1", domain_out="rgb"), image_only, "unknown domain 'rgb'"),
            (dict(name="x2"), lambda image, sigma=1.0: image, "must accept a keyword 'rng'"),
            (dict(name="x3"), lambda *, rng=None: 0, "the first parameter must be the image"),
            (dict(name="x4", meta_in=("pattern",)), image_only,
             "metadata parameter 'pattern' is not a parameter"),
        ]
        for kwargs, fn, message in cases:
            with pytest.raises(_registry.RegistrationError, match=message.replace("(", r"\(")
                               .replace(")", r"\)")):
                degrade.register_op(**kwargs)(fn)
        # the same definition again (a module imported twice) is not a clash
        degrade.register_op("user_gain", domain_in="linear")(user_gain)

        @degrade.register_sampler("user_gain_draw", ops="user_gain")
        def user_gain_draw(rng, low: float = 1.0) -> dict:
            return {"gain": float(rng.uniform(low, 2 * low))}
        with pytest.raises(_registry.RegistrationError, match="sampler name 'user_gain_draw' is "
                           "claimed twice"):
            degrade.register_sampler("user_gain_draw", ops="user_gain")(lambda rng: {})
        record = load_recipe("input: linear\nstages: [{op: user_gain, sampler: "
                             "{user_gain_draw: {low: 1.5}}}]").sample(index=1)
        assert 1.5 <= record["steps"][0]["params"]["gain"] < 3.0
    finally:
        for table, old in zip((_registry._OPS, _registry._SAMPLERS), saved):
            table.clear()
            table.update(old)


def test_ops_command_names_the_package(plugin_site):
    result = cli("ops", "--json", site=plugin_site)
    assert result.returncode == 0, result.stderr
    table = {e["name"]: e for e in json.loads(result.stdout)}
    assert table["plugin_tint"]["package"] == f"{PACKAGE} {VERSION}"
    assert table["gaussian_blur"]["package"] == "degrade"
    text = cli("ops", site=plugin_site).stdout
    line = next(li for li in text.splitlines() if li.startswith("plugin_tint "))
    assert "srgb|linear -> same" in line and f"[{PACKAGE} {VERSION}]" in line


def test_generate_with_process_workers_records_the_plugin(plugin_site, tmp_path):
    images = tmp_path / "images"
    for k in range(3):
        write_png(images / f"{k}.png", 40, 44, k)
    recipe = tmp_path / "tinted.yaml"
    recipe.write_text(RECIPE)
    log = tmp_path / "pids.txt"
    common = [str(recipe), "--input", str(images), "--num", "8", "--shard-size", "2", "--quiet"]
    env = {"DEGRADE_TESTPLUGIN_LOG": str(log)}
    out = tmp_path / "processes.zarr"
    result = cli("generate", *common, "--out", str(out), "--workers", "2", "--scheduler",
                 "processes", site=plugin_site, env=env)
    assert result.returncode == 0, result.stderr
    pids = set(log.read_text().split())
    assert len(pids) >= 2, "the plugin was imported by the CLI process only, not by a worker"
    group = zarr.open_group(str(out), mode="r")
    assert group.attrs["plugins"] == {PACKAGE: VERSION}
    assert json.loads(str(group["records"][5]))["steps"][0]["op"] == "plugin_tint"
    # the same store on threads: the plugin's draws depend on (seed, index, node) only
    threads = tmp_path / "threads.zarr"
    assert cli("generate", *common, "--out", str(threads), "--workers", "2", "--scheduler",
               "threads", site=plugin_site).returncode == 0
    other = zarr.open_group(str(threads), mode="r")
    assert np.array_equal(group["lq"][:], other["lq"][:])
    assert np.array_equal(group["hq"][:], other["hq"][:])

    # resuming without the plugin: the recipe no longer loads
    result = cli("generate", *common, "--out", str(out), "--scheduler", "threads")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {recipe}: stages[0].op: unknown op 'plugin_tint'; run 'degrade ops' for the "
        "list"]
    # resuming with another version of the plugin: refused, the difference named
    meta = json.loads((out / "zarr.json").read_text())
    meta["attributes"]["plugins"] = {PACKAGE: "0.2.0"}
    (out / "zarr.json").write_text(json.dumps(meta))
    result = cli("generate", *common, "--out", str(out), "--scheduler", "threads",
                 site=plugin_site)
    assert result.returncode == 2
    assert f"plugins: store has {{'{PACKAGE}': '0.2.0'}}, this run wants " \
           f"{{'{PACKAGE}': '{VERSION}'}}" in result.stderr


@pytest.mark.parametrize("switch, message", [
    ("DEGRADE_TESTPLUGIN_FAIL",
     f"plugin 'testplugin' (degrade_testplugin.ops, package {PACKAGE} {VERSION}) failed "
     "to load: ImportError: libtint.so: cannot open shared object file"),
    ("DEGRADE_TESTPLUGIN_CLASH",
     f"plugin 'testplugin' (degrade_testplugin.ops, package {PACKAGE} {VERSION}) failed "
     "to load: RegistrationError: op name 'gaussian_blur' is claimed twice: by degrade "
     f"(degrade.ops.blur.gaussian_blur) and by {PACKAGE} {VERSION} "
     "(degrade_testplugin.ops.not_a_blur)"),
])
def test_broken_plugin_is_one_error_line(plugin_site, tmp_path, switch, message):
    recipe = tmp_path / "tinted.yaml"
    recipe.write_text(RECIPE)
    for args, where in ((("validate", str(recipe)), f"{recipe}: stages[0].op: "), (("ops",), "")):
        result = cli(*args, site=plugin_site, env={switch: "1"})
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [f"error: {where}{message}"]
    # a recipe of built-in ops never loads the plugins
    assert cli("validate", "simple_x2", site=plugin_site, env={switch: "1"}).returncode == 0


def test_docs_show_the_plugin_op_as_it_is():
    """docs/extending.md shows tint.py in an illustrative block (numba's cache needs a file):
    it must stay the file's text."""
    docs = (Path(__file__).resolve().parents[1] / "docs" / "extending.md").read_text()
    source = (PLUGIN_SRC / "degrade_testplugin" / "tint.py").read_text()
    assert f"```python illustrative\n{source}```" in docs
