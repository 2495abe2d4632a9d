"""Docs that run: every fenced ``python`` and ``bash`` block of README.md and docs/*.md, and
the doctests of every module of the package.

Conventions (what a doc author needs to know):

- A block runs unless its fence line has the word ``illustrative`` after the language
  (```` ```python illustrative ````). Output and console transcripts are ```` ```text ````;
  ``yaml``, ``json`` and other languages are data and never run.
- The blocks of one file run in order, in one fresh temporary working directory per file,
  which holds symlinks ``recipes``, ``examples``, ``benchmarks`` and ``tools`` to the
  repository's folders; ``../shared`` is the repository's sibling ``shared`` folder (a block
  that mentions ``../shared`` is skipped where it does not exist). So write paths as from
  the repository root, and give every example its own output names: a later block that
  reuses a store of another job fails, as it would for a reader.
- The python blocks of one file share one namespace, the way a reader pastes them into one
  session; each file starts with an empty one. ``benchmarks/`` is on ``sys.path`` (as for a
  benchmark case module that ``benchmarks/run.py`` imports). Bash blocks run with ``bash -e -o pipefail``
  and this checkout first on ``PYTHONPATH``.
- A block that imports torch (``import torch``, ``degrade.torch``) is skipped, and the file's
  test reported as skipped, where torch is not installed.
- README's two set-up commands are ``illustrative`` (one installs, the other runs this test
  suite); ``test_readme_setup_commands_are_what_ci_runs`` checks them against ``.ci/run``
  and ``tools/check_wheel.sh`` instead.
"""
from __future__ import annotations

import doctest
import importlib
import os
import pkgutil
import re
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest

import degrade

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DOC_FILES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
RUNNABLE = {"python", "bash"}
LINKED = ["recipes", "examples", "benchmarks", "tools"]
FENCE = re.compile(r"^( *)```(.*)$")
NEEDS_TORCH = re.compile(r"^\s*(import torch|from torch\b|from degrade\.torch\b|import degrade\.torch)"
                         r"|degrade\.torch\.", re.M)


@dataclass
class Block:
    file: Path
    line: int           # 1-based line of the opening fence
    lang: str
    words: list[str]    # the fence line's words after the language
    text: str

    @property
    def where(self) -> str:
        name = self.file.relative_to(REPO) if self.file.is_relative_to(REPO) else self.file
        return f"{name}:{self.line}"

    @property
    def runs(self) -> bool:
        return self.lang in RUNNABLE and "illustrative" not in self.words


def blocks(path: Path) -> list[Block]:
    """Every fenced block of a Markdown file (indented fences too, e.g. inside lists)."""
    found, lines, i = [], path.read_text(encoding="utf-8").splitlines(), 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, info = len(m.group(1)), m.group(2).split()
        body, j = [], i + 1
        while j < len(lines) and not re.match(r"^ *```\s*$", lines[j]):
            body.append(lines[j][indent:] if lines[j][:indent].strip() == "" else lines[j])
            j += 1
        if j == len(lines):
            raise AssertionError(f"{path}:{i + 1}: unclosed code fence")
        found.append(Block(path, i + 1, info[0] if info else "", info[1:], "\n".join(body) + "\n"))
        i = j + 1
    return found


def workdir(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    for name in LINKED:
        (work / name).symlink_to(REPO / name, target_is_directory=True)
    if SHARED.is_dir():
        (tmp_path / "shared").symlink_to(SHARED, target_is_directory=True)
    return work


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def run_bash(block: Block, cwd: Path) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    out = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block.text], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        pytest.fail(f"{block.where}: bash block exited {out.returncode}\n{block.text}\n"
                    f"--- stdout\n{out.stdout[-3000:]}\n--- stderr\n{out.stderr[-3000:]}",
                    pytrace=False)


def run_python(block: Block, namespace: dict) -> None:
    try:
        exec(compile(block.text, block.where, "exec"), namespace)
    except Exception:
        pytest.fail(f"{block.where}: python block failed\n{block.text}\n{traceback.format_exc()}",
                    pytrace=False)


#: Pages whose examples are known not to run yet, with the fix their owner is making (strict:
#: the entry must go once the page runs).
KNOWN_BROKEN_DOCS: dict[str, str] = {}


@pytest.mark.slow
@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_doc_blocks_run(path, tmp_path, monkeypatch, request):
    name = path.relative_to(REPO).as_posix()
    if name in KNOWN_BROKEN_DOCS:
        request.node.add_marker(pytest.mark.xfail(reason=KNOWN_BROKEN_DOCS[name], strict=True))
    work = workdir(tmp_path)
    monkeypatch.chdir(work)
    monkeypatch.syspath_prepend(str(work))
    monkeypatch.syspath_prepend(str(work / "benchmarks"))
    # ops and samplers a page registers (docs/extending.md) leave with the page
    from degrade import _registry
    monkeypatch.setattr(_registry, "_OPS", dict(_registry._OPS))
    monkeypatch.setattr(_registry, "_SAMPLERS", dict(_registry._SAMPLERS))
    namespace = {"__name__": "__doc_example__"}
    skipped = []
    for block in (b for b in blocks(path) if b.runs):
        if NEEDS_TORCH.search(block.text) and not torch_available():
            skipped.append(f"{block.where} (needs torch)")
            continue
        if "../shared" in block.text and not SHARED.is_dir():
            skipped.append(f"{block.where} (needs {SHARED})")
            continue
        if block.lang == "bash":
            run_bash(block, work)
        else:
            run_python(block, namespace)
    if skipped:
        pytest.skip("the other blocks ran; skipped: " + ", ".join(skipped))


def test_collector_finds_blocks_and_honours_illustrative(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text("text\n```python\nx = 1\n```\n\n  ```bash illustrative\n  rm -rf /\n  ```\n"
                   "```text\nout\n```\n")
    assert [(b.line, b.lang, b.words, b.text, b.runs) for b in blocks(doc)] == [
        (2, "python", [], "x = 1\n", True),
        (6, "bash", ["illustrative"], "rm -rf /\n", False),
        (9, "text", [], "out\n", False)]


def test_the_collector_finds_the_docs_blocks():
    # a guard against a collector that silently finds nothing
    assert sum(b.runs for p in DOC_FILES for b in blocks(p)) >= 10


def ci_command() -> str:
    lines = [ln for ln in (REPO / ".ci" / "run").read_text().splitlines()
             if ln.strip() and not ln.startswith(("#", "set ", "cd "))]
    assert len(lines) == 1, lines
    return lines[0].strip()


def test_readme_setup_commands_are_what_ci_runs():
    setup = [b for b in blocks(REPO / "README.md") if b.lang == "bash" and not b.runs]
    texts = [b.text.strip() for b in setup]
    assert ci_command() in texts, "README's test command must be the command of .ci/run"
    install = [t for t in texts if t.startswith("pip install . && ")]
    assert len(install) == 1, texts
    command = install[0][len("pip install . && "):]
    assert command in (REPO / "tools" / "check_wheel.sh").read_text(), \
        "tools/check_wheel.sh must run README's first command after installing the wheel"


# --------------------------------------------------------------------------------- doctests

def package_modules() -> list[str]:
    names = [degrade.__name__]
    for info in pkgutil.walk_packages(degrade.__path__, prefix="degrade."):
        if info.name != "degrade.__main__":        # importing it runs the command line
            names.append(info.name)
    return sorted(names)


#: Modules whose examples are known not to run yet, with the owner's fix (strict: remove the
#: entry once fixed).
KNOWN_BROKEN = {}


@pytest.mark.parametrize("name", package_modules())
def test_doctests(name, tmp_path, monkeypatch, request):
    monkeypatch.chdir(tmp_path)                  # examples may write files
    if name in KNOWN_BROKEN:
        request.node.add_marker(pytest.mark.xfail(reason=KNOWN_BROKEN[name], strict=True))
    if name in ("degrade.torch", "degrade._torch_io") and not torch_available():
        pytest.skip("needs torch")
    module = importlib.import_module(name)
    tests = doctest.DocTestFinder(exclude_empty=True).find(module, name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = []
    for test in tests:
        runner.run(test, out=report.append)
    failed, attempted = runner.summarize(verbose=False)
    assert failed == 0, "".join(report)


def test_readme_stays_a_short_introduction():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 165            # details belong in docs/
    for heading in ("## Set up", "## 30-second example", "## Command line", "## Recipes",
                    "## Performance", "## Documentation"):
        assert heading in text
    # every recipe is in the recipe table, every linked page exists
    from degrade.recipe import builtin_recipes
    assert all(f"`{name}`" in text for name in builtin_recipes())
    links = re.findall(r"\]\(([^)#:]+)\)", text)
    assert links and [p for p in links if not (REPO / p).exists()] == []
