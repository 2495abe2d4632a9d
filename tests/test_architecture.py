"""The package's import rules, checked by parsing every module (docs/architecture.md).

A private name (``_x``) belongs to its *home*: the subpackage it lives in (``degrade.run``,
``degrade.ops``, ...) or, for a top-level module, that module (``degrade._rng``,
``degrade.torch``). No module imports another home's private names, nor reaches them as an
attribute of an imported module (``_rng._check``). Private *modules* (``degrade._validate``,
``degrade._rng``) are shared on purpose and may be imported anywhere; their public names are
the API between homes.

One exception, by design: the numba kernels of ``degrade._nb`` carry a leading underscore
because they take no validation (only the op that wraps a kernel may call it); the ops are
their only callers.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "degrade"
KERNEL_HOME = "degrade._nb"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _home(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def violations() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        home = _home(module)
        tree = ast.parse(path.read_text(), str(path))
        aliases = {}                    # local name -> degrade module it is bound to
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                source = _resolve(module, path.name == "__init__.py", node)
                if not source.startswith("degrade"):
                    continue
                for alias in node.names:
                    target = f"{source}.{alias.name}"
                    if _is_module(target):
                        aliases[alias.asname or alias.name] = target
                        continue
                    if (_private(alias.name) and _home(source) != home
                            and _home(source) != KERNEL_HOME):
                        found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: "
                                     f"imports {alias.name} from {source}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("degrade") and alias.asname:
                        aliases[alias.asname] = alias.name
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and _private(node.attr)):
                target = aliases[node.value.id]
                if _home(target) != home and _home(target) != KERNEL_HOME \
                        and not _is_module(f"{target}.{node.attr}"):
                    found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: "
                                 f"uses {node.value.id}.{node.attr} of {target}")
    return found


def test_no_module_imports_another_homes_private_names():
    assert violations() == []


def test_the_check_finds_a_private_import(tmp_path, monkeypatch):
    """The checker itself: a module importing another home's private name is reported."""
    package = tmp_path / "degrade"
    (package / "run").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "run" / "__init__.py").write_text("")
    (package / "run" / "job.py").write_text("def _helper():\n    pass\n")
    (package / "_rng.py").write_text("def _check(v):\n    return v\n")
    (package / "torch.py").write_text("from .run.job import _helper\nfrom . import _rng\n"
                                      "x = _rng._check(1)\n")
    (package / "run" / "tasks.py").write_text("from .job import _helper\n")   # same home
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", package)
    assert violations() == ["degrade/torch.py:1: imports _helper from degrade.run.job",
                            "degrade/torch.py:3: uses _rng._check of degrade._rng"]


def test_every_module_is_well_under_600_lines():
    long = {str(p.relative_to(PACKAGE.parent)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 560}
    assert long == {}


# --------------------------------------------------------------------------- degrade.ops
def _ops_imported_modules() -> set[str]:
    """The family modules degrade/ops/__init__.py imports (parsed, not run)."""
    tree = ast.parse((PACKAGE / "ops" / "__init__.py").read_text())
    found = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found


def test_every_ops_module_is_imported_by_the_namespace():
    modules = {p.stem for p in (PACKAGE / "ops").glob("*.py")
               if not p.stem.startswith("_")}
    missing = sorted(modules - _ops_imported_modules())
    assert not missing, (f"degrade/ops/__init__.py does not import {missing}: add one line "
                         "'from .MODULE import op_a, op_b' per module and the names to __all__")


def test_the_ops_namespace_and_the_registry_agree():
    import importlib

    import degrade.ops as ops
    from degrade._registry import all_ops

    for path in sorted((PACKAGE / "ops").glob("*.py")):   # every family registered, imported
        if not path.stem.startswith("_"):                  # by __init__ or not
            importlib.import_module(f"degrade.ops.{path.stem}")
    ours = {spec.name: spec for spec in all_ops() if spec.function.__module__.startswith("degrade.")}
    missing = {name: spec.function.__module__ for name, spec in ours.items()
               if name not in ops.__all__}
    assert not missing, ("registered ops missing from degrade.ops.__all__ (and its imports): "
                         + ", ".join(f"{n} (from {m})" for n, m in sorted(missing.items())))
    extra = sorted(set(ops.__all__) - set(ours))
    assert not extra, f"degrade.ops.__all__ names ops that are not registered: {extra}"
    assert len(ops.__all__) == len(set(ops.__all__))
    wrong = [name for name in ops.__all__ if getattr(ops, name) is not ours[name].function]
    assert not wrong, f"degrade.ops.<name> is not the registered function for {wrong}"
    collide = sorted(p.stem for p in (PACKAGE / "ops").glob("*.py") if p.stem in ours)
    assert not collide, f"ops modules named after an op (the op hides the module): {collide}"
