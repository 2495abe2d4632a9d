"""Packaging matches the code: declared dependencies = imports, one version, license, typing
marker, ``python -m degrade``, built-in recipes by name, and (slow) the real wheel in a fresh
virtual environment (tools/check_wheel.sh)."""
from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

import degrade
from degrade import InputError, RecipeError
from degrade.recipe import Recipe, builtin_recipes, load_recipe

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(requirements) -> set[str]:
    """Distribution names a list of requirement strings installs (``dask[distributed]`` also
    declares ``distributed``)."""
    names = set()
    for req in requirements:
        m = re.match(r"\s*([A-Za-z0-9_.-]+)\s*(?:\[([^\]]*)\])?", req)
        names.add(norm(m.group(1)))
        names.update(norm(e) for e in (m.group(2) or "").split(",") if e.strip())
    return names


def third_party_imports(folder: Path) -> dict[str, str]:
    """Top-level absolute imports of every .py under ``folder`` that are neither the standard
    library nor local modules: {module: first file importing it}."""
    scripts = ("tests", "benchmarks", "examples", "tools")      # folders put on sys.path
    local = {"degrade", *scripts} | {p.stem for d in scripts for p in (REPO / d).glob("*.py")}
    found = {}
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in local:
                    found.setdefault(top, str(path.relative_to(REPO)))
    return found


def distributions(module: str) -> set[str]:
    return {norm(d) for d in packages_distributions().get(module, [module])}


RUNTIME = declared(PYPROJECT["project"]["dependencies"])
EXTRAS = {name: declared(reqs) for name, reqs in PYPROJECT["project"]["optional-dependencies"].items()}


def test_every_import_of_the_package_is_declared():
    imports = third_party_imports(REPO / "degrade")
    assert {"numpy", "zarr", "numcodecs", "google_crc32c", "torch"} <= set(imports)  # the scan sees
    anywhere = RUNTIME.union(*EXTRAS.values())                                # lazy imports too
    missing = {m: f for m, f in imports.items() if not distributions(m) & anywhere}
    assert missing == {}


def test_every_runtime_dependency_is_imported_by_the_package():
    imported = set().union(*(distributions(m) for m in third_party_imports(REPO / "degrade")))
    assert RUNTIME - imported == set()


@pytest.mark.parametrize("folder", ["tests", "benchmarks", "examples", "tools"])
def test_every_import_of_the_tests_and_scripts_is_declared(folder):
    anywhere = RUNTIME.union(*EXTRAS.values())
    missing = {m: f for m, f in third_party_imports(REPO / folder).items()
               if not distributions(m) & anywhere}
    assert missing == {}


def test_one_version_source():
    assert "version" not in PYPROJECT["project"] and "version" in PYPROJECT["project"]["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "degrade.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", degrade.__version__)


def test_license_and_typing_marker_ship():
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Copyright (c) 2026 the degrade developers" in text
    assert PYPROJECT["project"]["license"] == "MIT" and "LICENSE" in PYPROJECT["project"]["license-files"]
    assert (REPO / "degrade" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["degrade"]


def test_python_dash_m_degrade(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-m", "degrade", "--version"], capture_output=True,
                         text=True, env=env, cwd=tmp_path, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == f"degrade {degrade.__version__}"
    out = subprocess.run([sys.executable, "-m", "degrade"], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=120)
    assert out.returncode == 2 and "generate" in out.stdout


def test_builtin_recipes_are_the_repository_folder():
    assert list(builtin_recipes()) == sorted(p.stem for p in (REPO / "recipes").glob("*.yaml"))


def test_load_recipe_by_name_path_and_text_agree(tmp_path):
    by_name = load_recipe("simple_x2")
    by_path = load_recipe(REPO / "recipes" / "simple_x2.yaml")
    by_str = load_recipe(str(REPO / "recipes" / "simple_x2.yaml"))
    from_text = Recipe.from_yaml((REPO / "recipes" / "simple_x2.yaml").read_text(), "x.yaml")
    assert by_name.hash == by_path.hash == by_str.hash == from_text.hash
    assert by_name.name == from_text.name == "simple_x2" and from_text.file == "x.yaml"
    assert by_name.sample(seed=1, index=2) == from_text.sample(seed=1, index=2)
    # YAML text handed to load_recipe (stores carry their recipe as text) is still accepted
    assert load_recipe(by_name.text).hash == by_name.hash
    inline = load_recipe("stages: [{op: gaussian_noise, sigma: 0.01}]")
    assert inline.name == "inline" and inline.file is None


def test_unknown_builtin_name_suggests_and_lists():
    with pytest.raises(InputError, match=r"simple_x3: no such recipe file or built-in recipe "
                                         r"\(did you mean 'simple_x2'\?\); built-in: .*realesrgan_x4plus"):
        load_recipe("simple_x3")
    with pytest.raises(InputError, match="nope.yaml: recipe file not found"):
        load_recipe("nope.yaml")


def test_invalid_yaml_names_the_place():
    with pytest.raises(RecipeError, match=r"x.yaml.*line 1, column \d+.*invalid YAML"):
        Recipe.from_yaml("stages: [", "x.yaml")


@pytest.mark.slow
def test_wheel_installs_and_runs_outside_the_checkout():
    """Build sdist + wheel, install the wheel in a fresh venv, run the CLI (tools/check_wheel.sh)."""
    if shutil.which("bash") is None:
        pytest.skip("tools/check_wheel.sh needs bash")
    out = subprocess.run(["bash", str(REPO / "tools" / "check_wheel.sh")], capture_output=True,
                         text=True, timeout=1200)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-6000:]
    assert "check_wheel: ok" in out.stderr
