"""Train a tiny x2 super-resolution network on degrade pairs (CPU, a few seconds).

    python examples/train_loop.py                      # store made by degrade.generate
    python examples/train_loop.py --on-the-fly         # degradation inside the workers
    python examples/train_loop.py --store train.zarr   # an existing store (made if missing)

The pairs come from the built-in sample images and the built-in ``simple_x2`` recipe
(blur, x2 downsampling, noise, JPEG). The loop is the usual one: a map-style Dataset, a
DataLoader (``PairLoader`` for a store) with worker processes, ``set_epoch`` before each epoch (new random crops and
flips; new degradations on the fly), L1 loss, Adam. See docs/torch.md.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

import degrade
from degrade.torch import OnTheFlyDataset, PairDataset, PairLoader


class TinySR(nn.Module):
    """Bilinear x2 upsampling plus a learned residual (two convolutions and a pixel shuffle)."""

    def __init__(self, scale: int = 2, width: int = 16):
        super().__init__()
        self.scale = scale
        self.body = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU(inplace=True),
                                  nn.Conv2d(width, 3 * scale * scale, 3, padding=1),
                                  nn.PixelShuffle(scale))
        nn.init.zeros_(self.body[2].weight)    # start as plain bilinear upsampling
        nn.init.zeros_(self.body[2].bias)

    def forward(self, lq: torch.Tensor) -> torch.Tensor:
        base = nn.functional.interpolate(lq, scale_factor=self.scale, mode="bilinear",
                                         align_corners=False)
        return base + self.body(lq)


def make_dataset(args, folder: Path):
    augment = dict(crop=args.crop, hflip=True, vflip=True, rot90=True)
    if args.on_the_fly:
        return OnTheFlyDataset("simple_x2", None, num=args.num, **augment)
    store = Path(args.store) if args.store else folder / "train.zarr"
    if not store.exists():
        summary = degrade.generate("simple_x2", None, store, num=args.num, progress=False)
        print(f"generated {summary['num']} pairs into {store} "
              f"({summary['samples_per_s']:.0f} pairs/s)")
    return PairDataset(store, **augment)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1.0 / nn.functional.mse_loss(a.clamp(0, 1), b)))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="store path (default: a temporary one)")
    parser.add_argument("--on-the-fly", action="store_true", help="degrade in the workers")
    parser.add_argument("--num", type=int, default=32, help="pairs per epoch")
    parser.add_argument("--crop", type=int, default=64, help="HQ crop (LQ = crop / 2)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    torch.manual_seed(0)

    with tempfile.TemporaryDirectory() as tmp:
        dataset = make_dataset(args, Path(tmp))
        # PairLoader: a DataLoader whose workers send the store's uint8 and whose main process
        # converts to float32 (much less shared memory per batch); a plain DataLoader works too
        loader_class = PairLoader if isinstance(dataset, PairDataset) else DataLoader
        loader = loader_class(dataset, batch_size=args.batch_size, shuffle=True,
                              num_workers=args.workers, persistent_workers=args.workers > 0,
                              pin_memory=args.device.startswith("cuda"), drop_last=True)
        model = TinySR().to(args.device)
        optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
        start, step = time.perf_counter(), 0
        for epoch in range(args.epochs):
            dataset.set_epoch(epoch)          # new crops/flips (and degradations on the fly)
            for batch in loader:
                lq = batch["lq"].to(args.device, non_blocking=True)
                hq = batch["hq"].to(args.device, non_blocking=True)
                loss = nn.functional.l1_loss(model(lq), hq)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                step += 1
                print(f"epoch {epoch} step {step} L1 {loss.item():.4f}")
        with torch.no_grad():
            bilinear = nn.functional.interpolate(lq, scale_factor=2, mode="bilinear",
                                                 align_corners=False)
            print(f"last batch PSNR: model {psnr(model(lq), hq):.2f} dB, "
                  f"bilinear {psnr(bilinear, hq):.2f} dB")
        seconds = time.perf_counter() - start
        print(f"trained {step} steps on {step * args.batch_size} pairs in {seconds:.1f} s "
              f"({'on the fly' if args.on_the_fly else 'from the store'}, "
              f"{args.workers} workers, {args.device})")


if __name__ == "__main__":
    main()
