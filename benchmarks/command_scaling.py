"""Scaling as users time it: the whole ``degrade generate`` command, 1 worker against 2.

    python benchmarks/command_scaling.py [--repeats 3] [--write docs/benchmarks.md]
    python benchmarks/command_scaling.py --smoke      # tiny runs: seconds (the test suite's)

For each recipe (a light one, ``simple_x2``, and a heavy one, ``realesrgan_x4plus``) and each
sample count (480 and 4096), the command runs in a fresh process with ``--workers 1`` and
``--workers 2`` (the command's default scheduler, ``auto``), the two in turn each round so that
a change of machine load hits both alike. Everything a user waits for is inside: start-up
(imports, numba cache loads), planning, the run, the store. Reported per case: the median
wall time of each, the median over rounds of the within-round ratio (1 worker / 2 workers,
the speed-up; each ratio compares two runs seconds apart), the CPU time of the command
(user + system of the process and the worker processes it waited for) and the scheduler
``auto`` chose. The sources are 16 PNGs of 512^2 made from the built-in samples
(:func:`engine.make_sources`); the numba cache is warmed first, so no run compiles. Each run
replaces the store of the run before (``--overwrite``), as a user's rerun does: the new store
is staged until each worker's first shard is made (docs/dataset_engine.md).

The speed-up needs two free cores: on a loaded machine it reads low (the table says the load).
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
from pathlib import Path

from _report import add_run_options, begin, format_table, timed_process, write_section

RECIPES = ("simple_x2", "realesrgan_x4plus")
NUMS = (480, 4096)
GOAL = 1.7          # realesrgan_x4plus at 480 samples, 2 workers vs 1 (issue 20)


def run_command(recipe: str, src: Path, out: Path, num: int, workers: int) -> dict:
    """One ``degrade generate`` in a fresh process: wall, CPU (children included) and the
    scheduler it used."""
    argv = [sys.executable, "-m", "degrade", "generate", recipe, "--input", str(src), "--out",
            str(out), "--num", str(num), "--workers", str(workers), "--overwrite"]
    wall, cpu, text = timed_process(argv)
    found = re.search(r"^scheduler: (\w+)", text, re.M)
    return {"wall": wall, "cpu": cpu, "scheduler": found.group(1) if found else "?"}


def measure(recipes, nums, repeats: int, tmp: Path) -> list[dict]:
    from engine import make_sources
    src = make_sources(tmp / "src")
    for recipe in recipes:                         # numba cache loads/compiles outside the timings
        run_command(recipe, src, tmp / "warm.zarr", 2, 1)
    rows = []
    for recipe in recipes:
        for num in nums:
            runs = {1: [], 2: []}
            for _ in range(repeats):
                for workers in (1, 2):
                    runs[workers].append(run_command(recipe, src, tmp / "out.zarr", num, workers))
            ratios = [a["wall"] / b["wall"] for a, b in zip(runs[1], runs[2])]
            rows.append({"recipe": recipe, "num": num, "repeats": repeats,
                         **{f"wall_{w}": statistics.median(r["wall"] for r in runs[w]) for w in runs},
                         **{f"cpu_{w}": statistics.median(r["cpu"] for r in runs[w]) for w in runs},
                         "speedup": statistics.median(ratios), "ratios": ratios,
                         "scheduler_2": "/".join(sorted({r["scheduler"] for r in runs[2]}))})
    return rows


def report(rows: list[dict]) -> str:
    table = format_table(
        ["recipe", "samples", "1 worker s", "2 workers s", "speed-up (median of rounds)",
         "rounds", "CPU s 1 / 2", "auto chose (2)"],
        [[r["recipe"], str(r["num"]), f"{r['wall_1']:.2f}", f"{r['wall_2']:.2f}",
          f"{r['speedup']:.2f}x", " ".join(f"{x:.2f}" for x in r["ratios"]),
          f"{r['cpu_1']:.2f} / {r['cpu_2']:.2f}", r["scheduler_2"]] for r in rows])
    goal = [r for r in rows if r["recipe"] == "realesrgan_x4plus" and r["num"] == 480]
    verdict = (f"\n\nGoal (realesrgan_x4plus, 480 samples, >= {GOAL}x): "
               f"{'met' if goal[0]['speedup'] >= GOAL else 'not met'} "
               f"({goal[0]['speedup']:.2f}x)." if goal else "")
    return ("Whole `degrade generate` command, `--workers 1` against `--workers 2`, wall "
            "times medians over interleaved rounds:\n\n" + table + verdict)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES))
    parser.add_argument("--nums", nargs="+", type=int, default=list(NUMS))
    add_run_options(parser, "scaling", "8 and 16 samples, 1 round")
    args = parser.parse_args(argv)
    begin(args, "scaling")
    nums, repeats = ([8, 16], 1) if args.smoke else (args.nums, args.repeats)
    with tempfile.TemporaryDirectory(prefix="degrade-scaling-") as name:
        text = report(measure(args.recipes, nums, repeats, Path(name)))
    print(text)
    if args.write:
        write_section(args.write, "scaling", text)


if __name__ == "__main__":
    main()
