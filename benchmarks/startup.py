"""Time to first sample: a one-sample ``degrade generate`` as a user runs it, in fresh processes.

    python benchmarks/startup.py [--repeats 7] [--write docs/benchmarks.md]
    python benchmarks/startup.py --smoke          # 1 repeat: seconds (the test suite's run)

Each round runs, one after the other (interleaved, so a change of machine load hits all alike):

* ``python -c pass`` (the interpreter's own start, the floor);
* ``python -c "import degrade.ops"``;
* ``python -m degrade generate RECIPE --out STORE --num 1 --quiet`` **warm**: numba's on-disk
  cache filled by an earlier run (every run after a machine's first);
* the same **cold**: an empty numba cache (``NUMBA_CACHE_DIR``), so every kernel the recipe
  uses is compiled (a machine's first run, or after an upgrade).

The one sample is made, written and the store closed, so the command's wall time is the time
to the first sample as a user waits for it. Reported: the median wall time and CPU time (user
+ system of the child, from ``wait4``: less sensitive to other jobs than wall time) over the
rounds. Then one run under ``-X importtime`` (import time by top-level package, the modules'
own times summed, so the rows add up) and one under cProfile (cumulative times of the phases;
the profiler inflates them, compare them with each other).
"""
from __future__ import annotations

import argparse
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _report import add_run_options, begin, format_table, timed_process, write_section

GOAL_S = 0.8
#: (label, file suffix, function name) of the phases read from the cProfile run
PHASES = (
    ("command line parser (every subcommand)", "degrade/cli.py", "build_parser"),
    ("recipe load + planning (plan_job)", "degrade/run/job.py", "plan_job"),
    ("first sample (probe, in _open_or_create)", "degrade/run/job.py", "make_sample"),
    ("  numba: compile or load cached kernels", "numba/core/dispatcher.py", "_compile_for_args"),
    ("  numba: typing/lowering registries", "numba/core/base.py", "refresh"),
    ("zarr import (the store's codecs)", "degrade/run/store.py", "compressors"),
    ("store creation (metadata)", "degrade/run/store.py", "create_store"),
    ("running the shard", "degrade/run/dispatch.py", "run_shards"),
)


def command(recipe: str, out: Path) -> list[str]:
    return [sys.executable, "-m", "degrade", "generate", recipe, "--out", str(out), "--num", "1",
            "--quiet", "--overwrite"]


def timed(argv: list[str], env: dict | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of one run."""
    wall, cpu, _ = timed_process(argv, env)
    return wall, cpu


def rounds(recipe: str, tmp: Path, repeats: int, trees: list[str]) -> dict:
    """Wall and CPU times of every case, the cases run in turn each round. ``trees``: source
    trees to compare (each run with ``PYTHONPATH=TREE``), or [""] for this environment's."""
    warm_cache = tmp / "numba-warm"
    store = tmp / "first.zarr"
    cases = {"python -c pass": lambda: timed([sys.executable, "-c", "pass"])}
    cold = iter(range(repeats * len(trees)))
    for tree in trees:
        env = {"NUMBA_CACHE_DIR": str(warm_cache), **({"PYTHONPATH": tree} if tree else {})}
        tag = f" ({tree})" if len(trees) > 1 else ""
        timed(command(recipe, store), env)                       # fills the warm cache
        cases[f"import degrade.ops{tag}"] = (
            lambda env=env: timed([sys.executable, "-c", "import degrade.ops"], env))
        cases[f"generate --num 1, warm{tag}"] = lambda env=env: timed(command(recipe, store), env)
        cases[f"generate --num 1, cold{tag}"] = lambda env=env: timed(
            command(recipe, store), {**env, "NUMBA_CACHE_DIR": str(tmp / f"numba-cold-{next(cold)}")})
    times = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            times[name].append(fn())
    return times


def import_breakdown(recipe: str, tmp: Path, cache: Path, top: int = 12) -> list[tuple[str, float]]:
    """Seconds of import by top-level package (each module's own time, summed: the rows add
    up to the whole import time) in one warm run under ``-X importtime``."""
    argv = [sys.executable, "-X", "importtime", *command(recipe, tmp / "imports.zarr")[1:]]
    result = subprocess.run(argv, capture_output=True, text=True,
                            env={**os.environ, "NUMBA_CACHE_DIR": str(cache)})
    if result.returncode:
        raise SystemExit(f"{' '.join(argv)} failed:\n{result.stderr}")
    totals: dict[str, float] = {}
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        head, _, name = line.split("|")
        self_us = int(head.split(":")[1])
        package = name.strip().split(".")[0]
        totals[package] = totals.get(package, 0.0) + self_us / 1e6
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])
    rest = sum(s for _, s in ranked[top:])
    return ranked[:top] + [(f"({len(ranked) - top} others)", rest), ("total", sum(totals.values()))]


def phase_breakdown(recipe: str, tmp: Path, cache: Path) -> list[tuple[str, float]]:
    """Cumulative seconds of :data:`PHASES` and of the whole command in one warm cProfile run."""
    prof = tmp / "generate.prof"
    argv = [sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "degrade",
            *command(recipe, tmp / "profile.zarr")[3:]]
    result = subprocess.run(argv, capture_output=True, text=True,
                            env={**os.environ, "NUMBA_CACHE_DIR": str(cache)})
    if result.returncode:
        raise SystemExit(f"{' '.join(argv)} failed:\n{result.stderr}")
    stats = pstats.Stats(str(prof)).stats       # (file, line, name) -> (cc, nc, tt, ct, callers)
    total = max(ct for (_, _, _, ct, _) in stats.values())
    rows = []
    for label, suffix, func in PHASES:
        ct = sum(v[3] for (file, _, name), v in stats.items()
                 if name == func and file.replace(os.sep, "/").endswith(suffix))
        rows.append((label, ct))
    return rows + [("whole command under the profiler", total)]


def report(times: dict, imports, phases, recipe: str, repeats: int) -> str:
    med = {name: (statistics.median(w for w, _ in t), statistics.median(c for _, c in t))
           for name, t in times.items()}
    floor = med["python -c pass"][0]
    warm = [w for name, (w, _) in med.items() if "warm" in name][-1]     # the last tree's
    out = [f"`{recipe}`, one sample, median of {repeats} interleaved rounds "
           f"({'met' if warm <= GOAL_S else 'not met'}: goal <= {GOAL_S} s warm)", "",
           format_table(["command (fresh process)", "wall s", "CPU s", "wall / python -c pass"],
                        [[name, f"{w:.2f}", f"{c:.2f}", f"{w / floor:.1f}"]
                         for name, (w, c) in med.items()])]
    if imports:
        out += ["", "Imports of the warm command (`-X importtime`, own time by top-level package):",
                "", format_table(["package", "import s"], [[p, f"{s:.3f}"] for p, s in imports])]
    if phases:
        out += ["", "Phases of the warm command (cProfile, cumulative; the profiler inflates them):",
                "", format_table(["phase", "s"], [[p, f"{s:.3f}"] for p, s in phases])]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="simple_x2", help="a built-in recipe name or a file")
    add_run_options(parser, "startup", "1 round (the test suite's run)", repeats=7)
    parser.add_argument("--no-breakdown", action="store_true", help="skip importtime/cProfile")
    parser.add_argument("--trees", nargs="+", default=[""], metavar="DIR",
                        help="source trees to compare in the same rounds (PYTHONPATH=DIR each), "
                             "e.g. an old checkout and this one")
    args = parser.parse_args(argv)
    repeats = 1 if args.smoke else args.repeats
    begin(args, "startup")
    with tempfile.TemporaryDirectory(prefix="degrade-startup-") as name:
        tmp = Path(name)
        times = rounds(args.recipe, tmp, repeats, args.trees)
        imports = phases = None
        if not args.no_breakdown:
            imports = import_breakdown(args.recipe, tmp, tmp / "numba-warm")
            phases = phase_breakdown(args.recipe, tmp, tmp / "numba-warm")
    text = report(times, imports, phases, args.recipe, repeats)
    print(text)
    if args.write:
        write_section(args.write, "startup", text)


if __name__ == "__main__":
    main()
