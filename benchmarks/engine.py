"""Dataset-engine benchmark: store overhead, worker scaling, schedulers, codecs, compile time.

    python benchmarks/engine.py [--samples 512] [--repeats 3] [--write docs/benchmarks.md]
    python benchmarks/engine.py --smoke      # tiny runs: the test suite's

Everything is measured in the same run and printed as ratios (best of ``--repeats``):

* overhead: ``degrade.generate`` with 1 worker (decode sources, recipe, quantise, zarr
  writes, dask) against the same recipe on the same samples in memory (each source decoded
  once, no store), on 4 x ``--samples`` samples; the fixed cost of a run apart; the store's
  own work (quantise, records, writes) timed apart;
* scaling: 2 threads against 1 thread; the dask processes scheduler and a distributed
  LocalCluster with 2 workers (as dask starts it, and without its ``MALLOC_TRIM_THRESHOLD_``);
  and, as the ceiling of the moment, the bare recipe on 2 plain
  Python threads against 1 (no dask, no store: what the free cores and the GIL allow); the
  local ones run in turn, then each cluster, best of ``--repeats`` each; as whole-run times
  and as steady-state rates
  (``generate``'s ``steady_samples_per_s``: process start-up left out, which a long run
  amortises);
* codecs: lz4 / zstd against no compression (time and compression ratio);
* samples/s and MB/s (uncompressed bytes of hq + lq) for an RGB recipe (simple_x2), a RAW
  synthesis recipe (eld2020: sRGB -> unprocess -> raw noise) and real RAW files (DNG);
* first-run compile time: the first sample in a fresh process with an empty numba cache,
  and with a warm cache, minus the steady-state time of one sample.

Run it on a quiet machine (``uptime``): the scaling ratio needs two free cores.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import cv2
import numpy as np
from _report import add_run_options, begin, write_section

REPO = Path(__file__).resolve().parents[1]
SHARED_RAW = REPO.parent / "shared" / "data" / "raw"


def make_sources(folder: Path, n_files: int = 16, size: int = 512) -> Path:
    """``n_files`` 8-bit PNGs of ``size``^2 made from the built-in samples (flips, crops)."""
    from degrade.sources import read_image, sample_paths, write_image
    folder.mkdir(parents=True, exist_ok=True)
    base = [read_image(p) for p in sample_paths()]
    for k in range(n_files):
        img = base[k % len(base)]
        img = img[:, ::-1] if (k // len(base)) % 2 else img
        img = img[::-1] if (k // len(base)) % 3 == 2 else img
        img = cv2.resize(np.ascontiguousarray(img), (size, size), interpolation=cv2.INTER_CUBIC)
        write_image(folder / f"src{k:02d}.png", np.clip(img, 0, 1))
    return folder


def best_time(fn, repeats: int, clock=time.perf_counter) -> float:
    """Best of ``repeats`` runs, wall clock or (``clock=time.process_time``) CPU time of the
    whole process: robust to other jobs on a shared machine for 1-worker comparisons."""
    return min(_call_timed(fn, clock) for _ in range(repeats))


def interleaved_times(cases: dict, repeats: int, clock=time.perf_counter) -> dict:
    """Every time of every case, the cases run in turn (A B C A B C ...) so that a change of
    machine load hits them alike."""
    times = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            times[name].append(_call_timed(fn, clock))
    return times


def interleaved_best(cases: dict, repeats: int, clock=time.perf_counter) -> dict:
    """Best time of every case over :func:`interleaved_times`."""
    return {name: min(t) for name, t in interleaved_times(cases, repeats, clock).items()}


def paired_median(times: dict, name: str, base: str) -> float:
    """Median over the repeats of ``name``'s time / ``base``'s time in the same round: each
    ratio compares two runs a second apart, so slow drift cancels."""
    return float(np.median(np.array(times[name]) / np.array(times[base])))


def planned(recipe, sources, num: int, decode: bool = True):
    """(plan, kind, decoded): the engine's plan of ``num`` samples of ``recipe`` over
    ``sources``, and its files decoded (``decode``; else None)."""
    from degrade.sources.folders import as_sources, plan_samples, read_file
    kind = "raw" if recipe.input_domain == "raw" else "image"
    plan = plan_samples(as_sources(sources), kind=kind, num=num, min_size=recipe.target_size)
    return plan, kind, [read_file(f, kind) for f in plan.files] if decode else None


def in_memory(recipe, sources, num: int, seed: int, decode: bool = True):
    """The same samples without the engine, 1 thread, no store: each source file decoded once
    (``decode``; else decoded before the clock starts) and the recipe run on every sample."""
    from degrade.sources.folders import read_file
    plan, kind, ready = planned(recipe, sources, num, decode=not decode)

    def run():
        decoded = list(ready) if ready else [None] * len(plan.files)
        for i, f in enumerate(plan.sample_file):
            if decoded[f] is None:
                decoded[f] = read_file(plan.files[f], kind)
            image, meta = decoded[f]
            recipe.run(image, seed=seed, index=i, meta=dict(meta))
    return run


def store_work(recipe, sources, tmp: Path, num: int, repeats: int) -> dict:
    """CPU seconds a sample of the store's own work, each part timed apart on 64 real samples
    of ``recipe`` (best of ``repeats``): ``quantise`` (hq and lq to uint8 into a shard
    buffer), ``records`` (the JSON encoding of each record) and ``write`` (``write_shard`` of
    the same bytes, file pattern and sizes, the last folder deleted first as for the timed
    ``generate`` runs), with ``write_system``, its
    kernel share (page cache), from ``os.times``. Their sum is what the store cannot avoid."""
    import shutil
    from degrade.run.store import quantise, write_shard
    from degrade.run.job import record_json
    plan, _, decoded = planned(recipe, sources, 64)
    samples = [recipe.run(decoded[f][0], seed=0, index=i, meta=dict(decoded[f][1]))
               for i, f in enumerate(plan.sample_file)]
    hq = np.empty((64,) + samples[0].hq.shape, np.uint8)
    lq = np.empty((64,) + samples[0].lq.shape, np.uint8)
    records = [record_json(s.record) for s in samples]
    rounds = max(num // 64, 1)

    def quantise_all():
        for _ in range(rounds):
            for k, sample in enumerate(samples):
                quantise(sample.hq, "uint8", out=hq[k])
                quantise(sample.lq, "uint8", out=lq[k])

    def encode_all():
        for _ in range(rounds):
            for sample in samples:
                record_json(sample.record)

    def write_all():
        for shard in range(rounds):
            write_shard(folder, shard, 64, hq, lq, records)
    folder = tmp / "store-work.zarr"
    # like engine(): the last folder is deleted before the clock starts (its pages are reused)
    write_all.prepare = lambda: shutil.rmtree(folder, ignore_errors=True)
    count = rounds * 64
    cpu = time.process_time
    out = {name: best_time(fn, repeats, cpu) / count for name, fn in
           (("quantise", quantise_all), ("records", encode_all), ("write", write_all))}
    out["write_system"] = min(user_and_system(write_all)[1] for _ in range(repeats)) / count
    return out


def plain_threads(recipe, sources, num: int, threads: int):
    """The in-memory loop split over ``threads`` plain Python threads (sources decoded
    beforehand): what the machine and the GIL allow this recipe right now, without dask or a
    store. The engine's speed-up is judged against this ceiling."""
    import threading
    plan, _, decoded = planned(recipe, sources, num)

    def work(indices):
        for i in indices:
            image, meta = decoded[plan.sample_file[i]]
            recipe.run(image, seed=0, index=int(i), meta=dict(meta))

    def run():
        pool = [threading.Thread(target=work, args=(range(k, num, threads),)) for k in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
    return run


@contextlib.contextmanager
def local_cluster(malloc_trim: bool):
    """A distributed LocalCluster of 2 single-thread worker processes (their shutdown
    heartbeat errors silenced), as dask starts it
    (``malloc_trim``: its nannies export ``MALLOC_TRIM_THRESHOLD_=65536``) or without it
    (glibc's defaults, as in a plain process). This process's
    environment is restored afterwards: the nanny sets the variables here too, and the
    processes scheduler's workers, spawned later, would inherit them."""
    import dask
    from distributed import Client, LocalCluster
    saved = dict(os.environ)
    os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)        # (the shell's value would win)
    config = {} if malloc_trim else {
        "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}   # unset
    try:
        with dask.config.set(config), \
                LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None,
                             silence_logs=logging.CRITICAL) as cluster, \
                Client(cluster) as client:
            yield client
    finally:
        os.environ.clear()
        os.environ.update(saved)


def warm_up(recipe, sources) -> None:
    """Run two samples (imports, numba cache loads) in this process."""
    in_memory(recipe, sources, 2, 0)()


def engine(recipe, sources, out: Path, num: int, **options):
    """``degrade.generate`` into ``out``; the previous store is deleted by ``run.prepare``,
    which the timers call before they start the clock (a real run does not delete a store)."""
    import shutil
    from degrade.run import generate

    def run():
        summary = generate(recipe, sources, out, num=num, progress=False, **options)
        steady = summary["steady_samples_per_s"]
        if steady:
            run.steady = max(run.steady, steady)
    run.prepare = lambda: shutil.rmtree(out, ignore_errors=True)
    run.steady = 0.0          # best steady-state rate over the calls (samples/s, start-up left out)
    return run


def user_and_system(fn) -> tuple[float, float]:
    """User and system CPU seconds of one call (``os.times``: 10 ms ticks)."""
    getattr(fn, "prepare", lambda: None)()
    before = os.times()
    fn()
    after = os.times()
    return after.user - before.user, after.system - before.system


def _call_timed(fn, clock) -> float:
    getattr(fn, "prepare", lambda: None)()
    t0 = clock()
    fn()
    return clock() - t0


def sample_bytes(out: Path) -> int:
    import zarr
    g = zarr.open_group(str(out), mode="r")
    return sum(int(np.prod(g[n].shape[1:])) * g[n].dtype.itemsize for n in ("hq", "lq"))


def disk_bytes(out: Path) -> int:
    return sum(f.stat().st_size for n in ("hq", "lq") for f in (out / n).rglob("*") if f.is_file())


COMPILE_PROBE = textwrap.dedent("""\
    import sys, time
    import numpy as np
    import degrade
    from degrade.sources import load_sample
    recipe = degrade.load_recipe(sys.argv[1])
    image = load_sample("chart")
    t0 = time.perf_counter(); recipe.run(image, index=0); first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(1, 11):
        recipe.run(image, index=i)
    steady = (time.perf_counter() - t0) / 10
    print(first - steady)
""")


def compile_time(recipe_path: str, cache_dir: str) -> float:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    out = subprocess.run([sys.executable, "-c", COMPILE_PROBE, recipe_path], env=env,
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def report_throughput(label, recipe, sources, tmp, num, repeats, **options):
    out = tmp / f"{label}.zarr"
    seconds = best_time(engine(recipe, sources, out, num, **options), repeats)
    per_sample = sample_bytes(out)
    print(f"{label:<28} {num / seconds:8.1f} samples/s  {num * per_sample / seconds / 1e6:7.1f} MB/s"
          f"  ({per_sample / 1e3:.0f} kB per pair, {options.get('workers', 'all')} workers)")
    return seconds


class _Tee(io.StringIO):
    """What is printed, kept for ``--write``."""

    def write(self, text: str) -> int:
        sys.__stdout__.write(text)
        return super().write(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=512)
    add_run_options(parser, "engine", "16 samples, 1 repeat: the pipeline runs, numbers mean nothing")
    args = parser.parse_args()
    if args.smoke:
        args.samples, args.repeats = 16, 1
    begin(args, "engine")
    printed = _Tee()
    with contextlib.redirect_stdout(printed):
        measure(args)
    if args.write:
        write_section(args.write, "engine", f"```text\n{printed.getvalue().strip()}\n```")


def measure(args) -> None:
    import degrade

    num, rep = args.samples, args.repeats
    print(f"uptime: {os.getloadavg()[0]:.2f} load, {os.cpu_count()} cpus; {num} samples, best of {rep}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        src = str(make_sources(tmp / "src"))
        rgb = degrade.load_recipe(str(REPO / "recipes" / "simple_x2.yaml"))
        in_memory(rgb, src, 8, 0)()                       # compile outside the timings
        engine(rgb, src, tmp / "warm.zarr", 8, workers=1)()

        print("\n== overhead of the store (1 worker; CPU seconds of the process) ==")
        cpu = time.process_time
        # a run of 4 x --samples (~3 s), as for the scaling: a dataset is long, and the fixed
        # cost of a run (planning, the probe sample, store creation) is reported on its own
        fixed = (best_time(engine(rgb, src, tmp / "fixed.zarr", 8, workers=1), rep, cpu)
                 - best_time(in_memory(rgb, src, 8, rgb.seed), rep, cpu))
        print(f"fixed cost of a run (planning, probe sample, store creation, attributes, dask): "
              f"{fixed * 1e3:.0f} ms CPU")
        n_long = 4 * num
        times = interleaved_times({
            "recipe": in_memory(rgb, src, n_long, rgb.seed, decode=False),
            "memory": in_memory(rgb, src, n_long, rgb.seed),
            "sync": engine(rgb, src, tmp / "sync.zarr", n_long, scheduler="synchronous"),
            "one": engine(rgb, src, tmp / "one.zarr", n_long, workers=1)}, rep, cpu)
        best = {name: min(t) for name, t in times.items()}
        t_recipe, t_mem, t_sync, t_one_cpu = best["recipe"], best["memory"], best["sync"], best["one"]
        print(f"simple_x2 recipe only (sources decoded beforehand) {n_long / t_recipe:8.1f} samples/s")
        print(f"simple_x2 in memory (decode each source once)      {n_long / t_mem:8.1f} samples/s")
        print(f"simple_x2 generate, synchronous                    {n_long / t_sync:8.1f} samples/s")
        print(f"simple_x2 generate, 1 thread                       {n_long / t_one_cpu:8.1f} samples/s")
        print(f"overhead: generate (1 thread) / in memory = {t_one_cpu / t_mem:.3f}  (target <= 1.10); "
              f"synchronous / in memory = {t_sync / t_mem:.3f}; / recipe only = {t_one_cpu / t_recipe:.3f}")
        print(f"the same as the median of ratios within a round: generate / in memory = "
              f"{paired_median(times, 'one', 'memory'):.3f}, synchronous / in memory = "
              f"{paired_median(times, 'sync', 'memory'):.3f}")
        split = {name: user_and_system(fn) for name, fn in (
            ("in memory", in_memory(rgb, src, n_long, rgb.seed)),
            ("generate", engine(rgb, src, tmp / "one.zarr", n_long, workers=1)))}
        print("user + system CPU, ms a sample, one more call each: " + "; ".join(
            f"{name} {user * 1e3 / n_long:.3f} + {system * 1e3 / n_long:.3f}"
            for name, (user, system) in split.items()))
        work = store_work(rgb, src, tmp, n_long, rep)
        floor = work["quantise"] + work["records"] + work["write"]
        print(f"the store's own work, timed apart (ms a sample): quantise "
              f"{work['quantise'] * 1e3:.3f}, records {work['records'] * 1e3:.3f}, write "
              f"{work['write'] * 1e3:.3f} (system {work['write_system'] * 1e3:.3f}); sum "
              f"{floor * 1e3:.3f} = {floor / (t_mem / n_long):.1%} of the in-memory sample "
              f"({t_mem / n_long * 1e3:.3f} ms); generate adds "
              f"{(t_one_cpu - t_mem) / n_long * 1e3:.3f}")
        heavy = degrade.load_recipe(str(REPO / "recipes" / "realesrgan_x4plus.yaml"))
        warm_up(heavy, src)
        count = max(num // 8, 16)
        best = interleaved_best({
            "memory": in_memory(heavy, src, count, heavy.seed),
            "one": engine(heavy, src, tmp / "heavy.zarr", count, workers=1)}, rep, cpu)
        print(f"realesrgan_x4plus (256px), {count} samples: in memory {count / best['memory']:.1f} "
              f"samples/s, generate {count / best['one']:.1f}; overhead = "
              f"{best['one'] / best['memory']:.3f}  (target <= 1.10)")

        print("\n== scaling and schedulers (wall clock) ==")
        for label, recipe, count in (("simple_x2 (128px, light)", rgb, 4 * num),
                                     ("realesrgan_x4plus (256px)", heavy, max(num // 4, 32))):
            shard = max(count // 32, 1)                  # 32 tasks: 16 per worker
            start = best_time(engine(recipe, src, tmp / "s.zarr", 2, workers=2,
                                     scheduler="processes"), 1)
            # the local configurations in turn, best of the repeats: a change of machine load
            # (this VM's single-thread speed varies by +-20 % from minute to minute) hits them
            # alike; no cluster is alive meanwhile (its idle scheduler and workers take CPU)
            configs = {"threads-1": dict(workers=1), "threads-2": dict(workers=2),
                       "processes-2": dict(workers=2, scheduler="processes")}
            cases = {name: engine(recipe, src, tmp / "s.zarr", count, shard_size=shard, **opts)
                     for name, opts in configs.items()}
            cases.update({f"plain-{n}": plain_threads(recipe, src, count, n) for n in (1, 2)})
            times = interleaved_best(cases, rep)
            for name, malloc_trim in (("cluster-2", True), ("cluster-2-no-trim", False)):
                with local_cluster(malloc_trim) as client:
                    client.run(warm_up, recipe, src)      # import + compile once per worker
                    configs[name] = dict(scheduler=client)
                    cases[name] = engine(recipe, src, tmp / "s.zarr", count, shard_size=shard,
                                         scheduler=client)
                    times[name] = best_time(cases[name], rep)
            ceiling = times.pop("plain-1") / times.pop("plain-2")
            base = times["threads-1"]
            print(f"{label}, {count} samples in shards of {shard}: 1 thread {count / base:.1f} samples/s; speed-up vs 1 "
                  "thread, whole run: " + ", ".join(f"{k} {base / v:.2f}x" for k, v in times.items()
                                                     if k != "threads-1")
                  + f"; a 2-sample processes run takes {start:.1f} s; "
                  f"ceiling now: the bare recipe on 2 plain threads runs {ceiling:.2f}x of 1")
            steady = {name: cases[name].steady for name in configs}
            one = steady["threads-1"]
            print("  steady state (start-up left out: shards finished after each worker's first): "
                  + ", ".join(f"{k} {v:.0f} samples/s ({v / one:.2f}x)" for k, v in steady.items())
                  + "  (target 2 workers >= 1.7x)")

        print("\n== codecs (1 worker, CPU seconds) ==")
        codecs = {codec: engine(rgb, src, tmp / f"{codec}.zarr", num, workers=1, compression=codec)
                  for codec in ("none", "lz4", "zstd")}
        seconds = interleaved_best(codecs, rep, cpu)
        raw_bytes = disk_bytes(tmp / "none.zarr")
        for codec in ("lz4", "zstd"):
            print(f"{codec:<5} CPU time vs none {seconds[codec] / seconds['none']:.3f}, size ratio "
                  f"{raw_bytes / disk_bytes(tmp / f'{codec}.zarr'):.2f}")

        print("\n== throughput, all cores (threads) ==")
        report_throughput("rgb simple_x2 (128px, x2)", rgb, src, tmp, num, rep)
        eld = degrade.load_recipe(str(REPO / "recipes" / "eld2020.yaml"))
        report_throughput("raw eld2020 (sRGB->raw)", eld, src, tmp, num // 2, rep)
        dngs = SHARED_RAW / "dng"
        if dngs.is_dir():
            text = (REPO / "recipes" / "eld2020.yaml").read_text()
            text = text.replace("input: srgb", "input: raw").replace("  flips: true\n", "")
            text = text.replace("  stages:\n    - {op: unprocess_brooks2019, sampler: "
                                "{brooks2019_unprocess: {}}}\n", "")
            raw_in = degrade.load_recipe(text)
            report_throughput("raw eld2020 on DNG files", raw_in, str(dngs), tmp, num // 4, rep)
        else:
            print(f"(no {dngs}: real-RAW throughput skipped)")

        print("\n== first-run compile time (fresh process) ==")
        for name in ("simple_x2", "eld2020"):
            cache = str(tmp / f"numba-{name}")
            recipe_path = str(REPO / "recipes" / f"{name}.yaml")
            cold = compile_time(recipe_path, cache)
            warm = compile_time(recipe_path, cache)
            print(f"{name:<10} first sample minus steady state: empty numba cache {cold:.2f} s, "
                  f"cached {warm:.2f} s")


if __name__ == "__main__":
    main()
