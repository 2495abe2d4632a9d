"""Single-thread throughput of degrade's ops next to the plain numpy / OpenCV way.

Usage::

    python benchmarks/run.py [--quick] [--only NAME ...] [--size N] [--repeats N] [--json FILE]

Prints one table row per case: megapixels per second (of the input image) for degrade and
for the baseline, both measured in this run, and ``ratio = baseline time / degrade time``
(> 1: degrade is faster). Then the first-call time of numba-backed ops in a fresh process
(cold: empty numba cache; cached: the on-disk cache from the cold run), and the time of
``import degrade`` (best of several fresh processes).

Timing: each call is repeated enough times to fill ``--target`` seconds, giving one
per-call time per repeat; degrade and baseline repeats are interleaved so both see the
same machine load, and the **minimum** over repeats is reported (load on a shared machine
only ever adds time, so the minimum is the least disturbed estimate; the median is in the
JSON output). All thread pools are pinned to one thread (see _common.py).

Cases live in ``benchmarks/cases_*.py`` (discovered automatically); see docs/benchmarks.md.
"""
from __future__ import annotations

import _common  # noqa: F401  (first: pins thread pools before numpy is imported)

import argparse
import fnmatch
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from _report import format_table, section_pattern, write_section

HERE = Path(__file__).resolve().parent
PRESETS = {  # size (square side, px), repeats, target seconds per repeat, import-time runs
    "full": dict(size=2048, repeats=7, target=0.2, import_runs=7),
    "quick": dict(size=256, repeats=3, target=0.01, import_runs=3),
}
IMPORTS = ("degrade", "degrade.ops", "numba")


@dataclass
class Case:
    """One row of the table (built from an entry of a cases module's ``CASES``)."""
    name: str
    setup: Callable[[int], tuple]
    degrade: Callable[..., Any]
    baseline: Callable[..., Any]
    baseline_label: str
    numba: bool = False            # measure the first-call (compile) time too
    module: str = ""


CASE_KEYS = tuple(k for k in Case.__dataclass_fields__ if k != "module")


def make_case(entry, module: str) -> Case:
    """A dict, or an object with the same attributes, -> Case; unknown or missing keys fail."""
    if isinstance(entry, dict):
        spec = dict(entry)
    else:
        spec = {k: getattr(entry, k) for k in CASE_KEYS if hasattr(entry, k)}
    where = f"benchmarks/{module}.py: case {spec.get('name', '?')!r}"
    unknown = sorted(set(spec) - set(CASE_KEYS))
    if unknown:
        raise SystemExit(f"{where}: unknown key(s) {', '.join(unknown)}; "
                         f"expected {', '.join(CASE_KEYS)}")
    missing = [k for k in CASE_KEYS[:5] if k not in spec]
    if missing:
        raise SystemExit(f"{where}: missing key(s) {', '.join(missing)}")
    return Case(**spec, module=module)


def discover_cases() -> list[Case]:
    """Every ``CASES`` entry of every ``benchmarks/cases_*.py``, in file then list order."""
    cases, seen = [], {}
    for path in sorted(HERE.glob("cases_*.py")):
        try:
            module = importlib.import_module(path.stem)
        except Exception as exc:  # one broken module must not stop everyone's benchmarks
            print(f"warning: skipped {path.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        for entry in getattr(module, "CASES", []):
            case = make_case(entry, path.stem)
            if case.name in seen:
                raise SystemExit(f"benchmark case {case.name!r} defined in both "
                                 f"{seen[case.name]} and {path.name}")
            seen[case.name] = path.name
            cases.append(case)
    return cases


def select(cases: list[Case], patterns: list[str] | None) -> list[Case]:
    """Cases matching any pattern: an exact name selects that case alone; otherwise a
    pattern is a shell glob or a plain prefix (``gaussian_blur`` selects every blur case)."""
    if not patterns:
        return cases
    names = {c.name for c in cases}

    def matches(name: str, pattern: str) -> bool:
        if pattern in names:
            return name == pattern
        return fnmatch.fnmatchcase(name, pattern) or name.startswith(pattern)

    chosen = [c for c in cases if any(matches(c.name, p) for p in patterns)]
    if not chosen:
        raise SystemExit(f"--only {' '.join(patterns)}: no such case; known: "
                         + ", ".join(c.name for c in cases))
    return chosen


# ------------------------------------------------------------------ timing

def loops_for(fn: Callable, args: tuple, target: float) -> int:
    """Number of calls that take about ``target`` seconds (at least 1)."""
    n = 1
    while True:
        t = time_calls(fn, args, n)
        if t >= target / 4 or n >= 1 << 20:
            return max(1, round(n * target / max(t, 1e-9)))
        n *= 2


def time_calls(fn: Callable, args: tuple, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn(*args)
    return time.perf_counter() - start


def bench_case(case: Case, size: int, repeats: int, target: float) -> dict:
    args = case.setup(size)
    fns = {"degrade": case.degrade, "baseline": case.baseline}
    for fn in fns.values():               # warm up: numba compile / cache load, allocations
        fn(*args)
    loops = {k: loops_for(fn, args, target) for k, fn in fns.items()}
    per_call: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):              # interleaved: both see the same machine load
        for k, fn in fns.items():
            per_call[k].append(time_calls(fn, args, loops[k]) / loops[k])
    mpix = size * size / 1e6
    row = {"case": case.name, "module": case.module, "size": size, "megapixels": mpix,
           "baseline_label": case.baseline_label, "repeats": repeats, "loops": loops}
    for k, times in per_call.items():
        row[f"{k}_min_s"] = min(times)
        row[f"{k}_median_s"] = statistics.median(times)
        row[f"{k}_mp_per_s"] = mpix / min(times)
    row["ratio"] = row["baseline_min_s"] / row["degrade_min_s"]
    return row


# ------------------------------------------------------------------ subprocess probes

def first_call(name: str) -> None:
    """(child process) Time the first and second call of a case's degrade function."""
    import numba  # noqa: F401  (imported before timing: compile time only, not import)

    case = select(discover_cases(), [name])[0]
    args = case.setup(64)
    times = []
    for _ in range(2):
        start = time.perf_counter()
        case.degrade(*args)
        times.append(time.perf_counter() - start)
    print(json.dumps({"first_s": times[0], "second_s": times[1]}))


def run_child(argv: list[str], env: dict | None = None) -> str:
    result = subprocess.run([sys.executable, *argv], capture_output=True, text=True,
                            env={**os.environ, **(env or {})}, cwd=HERE)
    if result.returncode != 0:
        raise SystemExit(f"benchmark child {' '.join(argv)} failed:\n{result.stderr}")
    return result.stdout.strip().splitlines()[-1]


def compile_times(cases: list[Case]) -> list[dict]:
    """First call in a fresh process: with an empty numba cache, then with that cache."""
    rows = []
    for case in (c for c in cases if c.numba):
        with tempfile.TemporaryDirectory(prefix="degrade-numba-cache-") as cache:
            env = {"NUMBA_CACHE_DIR": cache}
            cold = json.loads(run_child([__file__, "--first-call", case.name], env))
            cached = json.loads(run_child([__file__, "--first-call", case.name], env))
        rows.append({"case": case.name, "cold_first_call_s": cold["first_s"],
                     "cached_first_call_s": cached["first_s"],
                     "warm_call_s": cached["second_s"]})
    return rows


def import_times(runs: int) -> list[dict]:
    """Wall time of ``import <module>`` in a fresh interpreter, best (and median) of runs."""
    rows = []
    for module in IMPORTS:
        code = ("import time; t = time.perf_counter(); import " + module
                + "; print(time.perf_counter() - t)")
        times = [float(run_child(["-c", code])) for _ in range(runs)]
        rows.append({"module": module, "best_s": min(times), "median_s": statistics.median(times),
                     "runs": runs})
    return rows


# ------------------------------------------------------------------ output

def report_cases(results: dict) -> str:
    meta = results["meta"]
    title = (f"degrade benchmarks ({meta['preset']}): {meta['size']}x{meta['size']} RGB float32, "
             f"1 thread, MP/s of the input image, min of {meta['repeats']} repeats; "
             f"ratio = baseline time / degrade time; load average {meta['loadavg']}")
    return title + "\n\n" + format_table(
        ["case", "degrade MP/s", "baseline MP/s", "ratio", "baseline"],
        [[r["case"], f"{r['degrade_mp_per_s']:.1f}", f"{r['baseline_mp_per_s']:.1f}",
          f"{r['ratio']:.2f}", r["baseline_label"]] for r in results["cases"]])


def report_compile(rows: list[dict]) -> str:
    return "numba first call in a fresh process (64x64 input)\n\n" + format_table(
        ["case", "cold compile s", "cached load s", "warm call ms"],
        [[r["case"], f"{r['cold_first_call_s']:.2f}", f"{r['cached_first_call_s']:.3f}",
          f"{r['warm_call_s'] * 1e3:.2f}"] for r in rows])


def report_imports(rows: list[dict]) -> str:
    return "import time in a fresh interpreter\n\n" + format_table(
        ["import", "best ms", "median ms"],
        [[r["module"], f"{r['best_s'] * 1e3:.0f}", f"{r['median_s'] * 1e3:.0f}"] for r in rows])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small image, few repeats")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="case names (prefix or glob)")
    parser.add_argument("--size", type=int, help="square image side in pixels")
    parser.add_argument("--repeats", type=int, help="timed repeats per case")
    parser.add_argument("--target", type=float, help="seconds per repeat")
    parser.add_argument("--import-runs", type=int, help="fresh interpreters per import timing")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write results as JSON")
    parser.add_argument("--no-compile", action="store_true", help="skip numba first-call timing")
    parser.add_argument("--no-import", action="store_true", help="skip import timing")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--write", type=Path, metavar="FILE",
                        help="also put the tables between <!-- ops:begin/end --> in FILE")
    parser.add_argument("--first-call", metavar="NAME", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.first_call:
        return first_call(args.first_call)
    cases = select(discover_cases(), args.only)
    if args.list:
        width = max(len(c.name) for c in cases), max(len(c.module) for c in cases)
        print("\n".join(f"{c.name:{width[0]}s}  {c.module:{width[1]}s}  {c.baseline_label}"
                         for c in cases))
        return
    if args.write:
        section_pattern(args.write, "ops")              # before measuring, not after
    preset = "quick" if args.quick else "full"
    cfg = dict(PRESETS[preset])
    cfg.update({k: v for k, v in (("size", args.size), ("repeats", args.repeats),
                                  ("target", args.target), ("import_runs", args.import_runs)) if v is not None})
    import cv2
    import numba
    import numpy as np

    results = {"meta": {
        "preset": preset, **cfg, "statistic": "min over repeats",
        "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()), "cpu_count": os.cpu_count(),
        "python": platform.python_version(), "numpy": np.__version__, "cv2": cv2.__version__,
        "numba": numba.__version__, "machine": platform.machine(),
        "cv2_threads": cv2.getNumThreads()}}
    results["cases"] = [bench_case(c, cfg["size"], cfg["repeats"], cfg["target"]) for c in cases]
    print(report_cases(results), flush=True)
    results["compile"] = [] if args.no_compile else compile_times(cases)
    if results["compile"]:
        print("\n" + report_compile(results["compile"]), flush=True)
    results["imports"] = [] if args.no_import else import_times(cfg["import_runs"])
    if results["imports"]:
        print("\n" + report_imports(results["imports"]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if args.write:
        parts = [report_cases(results)]
        parts += [report_compile(results["compile"])] if results["compile"] else []
        parts += [report_imports(results["imports"])] if results["imports"] else []
        write_section(args.write, "ops", "\n\n".join(parts))

if __name__ == "__main__":     # run as a script: its folder is on sys.path (for _common, cases_*)
    main()
