"""DataLoader throughput: degrade stores vs paired PNG folders, and on-the-fly degradation.

    python benchmarks/torch_loader.py [--num 512] [--size 256] [--scale 2] [--repeats 3]
                                      [--otf-num 48] [--json FILE] [--quick]
                                      [--write docs/benchmarks.md]

Everything is measured in the same run (best of ``--repeats`` epochs after a warm-up epoch
that also fills the page cache, so both sides read from memory):

* **store vs PNG**: ``--num`` pairs of ``size``x``size`` HQ and ``size/scale`` LQ, uint8 RGB
  (natural crops of the built-in samples; the LQ is area-downsampled with sigma 3/255
  Gaussian noise, like a degraded input). The same pairs are written once as a degrade
  store (the engine's writer, shards of 64, no compression) and once as two PNG folders
  (``cv2.imwrite`` defaults), read by
  - ``PairDataset`` (direct shard reads; also ``backend='zarr'``, i.e. zarr ``z[i]``),
    through a plain ``DataLoader`` and through ``PairLoader`` (workers send uint8, the main
    process converts to float32),
  - a BasicSR-style paired-folder Dataset: ``cv2.imread`` x2, BGR->RGB, /255, CHW,
  both returning float32 CHW in [0, 1] (and both uint8 CHW, ``to_float=False``, the
  convert-on-GPU setup), through a ``DataLoader`` (batch 16, shuffled random access,
  persistent workers) with 0 (main process), 1 and 2 workers.
  Reported: pairs/s, MB/s (uint8 bytes of HQ + LQ per second) and the ratio store / PNG
  for the same output type. With workers, every batch crosses to the main process through
  shared memory (4 bytes per value for float32): that transport, the same for both readers,
  bounds the float32 rows; the ``transport_only`` rows (pre-made tensors, no reading) show
  that ceiling.
* **on the fly**: ``OnTheFlyDataset`` pairs/s with 1 and 2 workers, and per worker, for an
  RGB recipe (realesrgan_x4plus, 256 px HQ) and a RAW recipe (mialgo_raw: sRGB -> camera
  RGB HQ, noisy Bayer LQ), from the built-in samples.
* the main-process pitfall (ecosystem_notes.md section 6): ``num_workers=0`` with torch's
  default intra-op threads against one thread.

Run it on a quiet machine (``uptime`` load < 2): the machine has 2 cores, and 2 workers
share them with the main process.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from _report import machine_line, section_pattern, write_section

from degrade.run.store import create_store, write_shard
from degrade.sources import sample_paths, read_image
from degrade.torch import OnTheFlyDataset, PairDataset, PairLoader

warnings.filterwarnings("ignore", message="skipping .* smaller than the crop")

SHARD = 64
#: readers that go through another loader than torch's DataLoader
LOADER_CLASS = {"store_pairloader": PairLoader}
# one thread for cv2 everywhere: the numbers are per worker (and OpenCV's thread pool does not
# survive fork: a worker calling cv2 after the parent used the pool can hang)
cv2.setNumThreads(1)


def make_pairs(num: int, size: int, scale: int, seed: int = 0):
    """``num`` uint8 HQ crops (random position and zoom of the built-in samples) and LQs."""
    rng = np.random.default_rng(seed)
    images = [read_image(p) for p in sample_paths()]
    hq = np.empty((num, size, size, 3), np.uint8)
    lq = np.empty((num, size // scale, size // scale, 3), np.uint8)
    for i in range(num):
        img = images[i % len(images)]
        zoom = rng.uniform(size / min(img.shape[:2]) * 1.05, 2.0)
        big = cv2.resize(img, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
        y = rng.integers(0, big.shape[0] - size + 1)
        x = rng.integers(0, big.shape[1] - size + 1)
        crop = np.clip(big[y:y + size, x:x + size], 0, 1)
        small = cv2.resize(crop, (size // scale,) * 2, interpolation=cv2.INTER_AREA)
        small = small + rng.normal(0, 3 / 255, small.shape).astype(np.float32)
        hq[i] = np.floor(crop * 255 + 0.5)
        lq[i] = np.floor(np.clip(small, 0, 1) * 255 + 0.5)
    return hq, lq


def write_store(path: Path, hq: np.ndarray, lq: np.ndarray, scale: int) -> None:
    attrs = {"degrade": {"store_format": 1}, "scale": scale, "complete": True, "seed": 0,
             "stored_dtype": {"hq": "uint8", "lq": "uint8"},
             "dtype_scale": {"hq": 255, "lq": 255}}
    create_store(path, num=len(hq), shard_size=SHARD, hq_shape=hq.shape[1:],
                 lq_shape=lq.shape[1:], dtypes={"hq": "uint8", "lq": "uint8"},
                 compression="none", attrs=attrs)
    shard = min(SHARD, len(hq))
    for k in range(-(-len(hq) // shard)):
        part = slice(k * shard, (k + 1) * shard)
        records = [json.dumps({"index": i}) for i in range(len(hq))[part]]
        write_shard(path, k, shard, hq[part], lq[part], records)


def write_pngs(folder: Path, hq: np.ndarray, lq: np.ndarray) -> int:
    for name, arrays in (("hq", hq), ("lq", lq)):
        (folder / name).mkdir(parents=True)
        for i, array in enumerate(arrays):
            cv2.imwrite(str(folder / name / f"{i:05d}.png"), array[..., ::-1])
    return sum(f.stat().st_size for f in folder.rglob("*.png"))


class PairedPNGDataset(Dataset):
    """The usual paired-folder setup (as BasicSR's PairedImageDataset with the disk backend)."""

    def __init__(self, folder: Path, num: int, to_float: bool = True):
        self.hq = [str(folder / "hq" / f"{i:05d}.png") for i in range(num)]
        self.lq = [str(folder / "lq" / f"{i:05d}.png") for i in range(num)]
        self.to_float = to_float

    def __len__(self):
        return len(self.hq)

    def _load(self, path: str) -> torch.Tensor:
        bgr = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        chw = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).transpose(2, 0, 1))
        return torch.from_numpy(chw.astype(np.float32) / np.float32(255) if self.to_float
                                else chw)

    def __getitem__(self, index):
        return {"lq": self._load(self.lq[index]), "hq": self._load(self.hq[index]),
                "index": index}


class TransportOnly(Dataset):
    """Pre-made tensors of a pair's shapes: what the DataLoader itself costs (collate, queue)."""

    def __init__(self, num: int, hq_shape, lq_shape, dtype: torch.dtype):
        self.num = num
        self.hq = torch.zeros((hq_shape[2],) + tuple(hq_shape[:2]), dtype=dtype)
        self.lq = torch.zeros((lq_shape[2],) + tuple(lq_shape[:2]), dtype=dtype)

    def __len__(self):
        return self.num

    def __getitem__(self, index):
        return {"lq": self.lq, "hq": self.hq, "index": index}


def epoch_times(dataset, workers: int, repeats: int, batch: int = 16,
                loader_class=DataLoader) -> list[float]:
    """Seconds per epoch (shuffled) after one warm-up epoch; persistent workers."""
    loader = loader_class(dataset, batch_size=batch, shuffle=True, num_workers=workers,
                          persistent_workers=workers > 0,
                          generator=torch.Generator().manual_seed(0))
    times = []
    for r in range(repeats + 1):
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(r)
        start = time.perf_counter()
        count = sum(len(b["index"]) for b in loader)
        times.append(time.perf_counter() - start)
        assert count == len(dataset)
    del loader
    return times[1:]


def bench_readers(args, tmp: Path) -> list[dict]:
    hq, lq = make_pairs(args.num, args.size, args.scale)
    write_store(tmp / "pairs.zarr", hq, lq, args.scale)
    png_bytes = write_pngs(tmp / "png", hq, lq)
    pair_bytes = hq[0].nbytes + lq[0].nbytes
    print(f"{args.num} pairs: HQ {args.size}x{args.size}x3 + LQ {lq.shape[1]}x{lq.shape[2]}x3 "
          f"uint8 = {pair_bytes / 1e3:.0f} kB per pair; store "
          f"{sum(f.stat().st_size for f in (tmp / 'pairs.zarr').rglob('*')) / 1e6:.1f} MB, "
          f"PNG {png_bytes / 1e6:.1f} MB")
    store, png = tmp / "pairs.zarr", tmp / "png"
    readers = {  # (name, output): dataset; each store row is compared with PNG of its output
        ("store", "float32"): lambda: PairDataset(store),
        ("store_pairloader", "float32"): lambda: PairDataset(store),
        ("store_zarr", "float32"): lambda: PairDataset(store, backend="zarr"),
        ("png_cv2", "float32"): lambda: PairedPNGDataset(png, args.num),
        ("store", "uint8"): lambda: PairDataset(store, to_float=False),
        ("png_cv2", "uint8"): lambda: PairedPNGDataset(png, args.num, to_float=False),
        ("transport_only", "float32"): lambda: TransportOnly(args.num, hq.shape[1:],
                                                             lq.shape[1:], torch.float32),
        ("transport_only", "uint8"): lambda: TransportOnly(args.num, hq.shape[1:],
                                                           lq.shape[1:], torch.uint8)}
    rows = []
    for workers in args.workers:
        best = {key: min(epoch_times(make(), workers, args.repeats,
                                     loader_class=LOADER_CLASS.get(key[0], DataLoader)))
                for key, make in readers.items()}
        for (name, output), seconds in best.items():
            rate = args.num / seconds
            rows.append({"reader": name, "output": output, "workers": workers,
                         "pairs_per_s": rate, "mb_per_s": rate * pair_bytes / 1e6,
                         "pairs_per_s_per_worker": rate / max(workers, 1),
                         "ratio_vs_png": best[("png_cv2", output)] / seconds})
    return rows


def bench_main_thread_pitfall(args, tmp: Path) -> dict:
    default = torch.get_num_threads()
    ds = PairDataset(tmp / "pairs.zarr")
    t_default = min(epoch_times(ds, 0, args.repeats))
    torch.set_num_threads(1)
    t_one = min(epoch_times(ds, 0, args.repeats))
    torch.set_num_threads(default)
    return {"threads_default": default, "pairs_per_s_default_threads": args.num / t_default,
            "pairs_per_s_one_thread": args.num / t_one}


def bench_on_the_fly(args) -> list[dict]:
    rows = []
    for label, recipe in (("RGB", "realesrgan_x4plus"), ("RAW", "mialgo_raw")):
        ds = OnTheFlyDataset(recipe, None, num=args.otf_num)
        ds[0]                                 # compile/load numba kernels before forking
        for workers in [w for w in args.workers if w > 0]:
            best = min(epoch_times(ds, workers, args.repeats, batch=4))
            rate = args.otf_num / best
            rows.append({"recipe": f"{recipe} ({label})", "workers": workers,
                         "pairs_per_s": rate, "pairs_per_s_per_worker": rate / workers})
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=512)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--scale", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--otf-num", type=int, default=48)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test)")
    parser.add_argument("--json", help="also write the results as JSON")
    parser.add_argument("--write", type=Path, metavar="FILE",
                        help="also put the tables between <!-- loader:begin/end --> in FILE")
    args = parser.parse_args(argv)
    if args.write:
        section_pattern(args.write, "loader")         # fail now, not after the run
    if args.quick:
        args.num, args.size, args.repeats, args.otf_num, args.workers = 32, 64, 1, 4, [0, 1]
    print(f"{machine_line()}, torch {torch.__version__}, cv2 {cv2.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        readers = bench_readers(args, Path(tmp))
        pitfall = bench_main_thread_pitfall(args, Path(tmp))
    on_the_fly = bench_on_the_fly(args)

    lines = ["| reader | output | workers | pairs/s | MB/s | pairs/s per worker | x PNG |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['reader']} | {r['output']} | {r['workers'] or 'main'} | "
              f"{r['pairs_per_s']:.0f} | {r['mb_per_s']:.0f} | "
              f"{r['pairs_per_s_per_worker']:.0f} | {r['ratio_vs_png']:.2f} |" for r in readers]
    lines += ["", f"num_workers=0, store: {pitfall['pairs_per_s_default_threads']:.0f} pairs/s "
              f"with torch's {pitfall['threads_default']} threads, "
              f"{pitfall['pairs_per_s_one_thread']:.0f} with 1 thread", "",
              "| on the fly | workers | pairs/s | pairs/s per worker |", "|---|---|---|---|"]
    lines += [f"| {r['recipe']} | {r['workers']} | {r['pairs_per_s']:.1f} | "
              f"{r['pairs_per_s_per_worker']:.1f} |" for r in on_the_fly]
    text = "\n".join(lines)
    print("\n" + text)
    if args.write:
        write_section(args.write, "loader", text)
    if args.json:
        Path(args.json).write_text(json.dumps({"readers": readers, "main_threads": pitfall,
                                               "on_the_fly": on_the_fly,
                                               "args": vars(args)}, indent=2, default=str))


if __name__ == "__main__":
    sys.exit(main())
