"""Build degrade/models/standin_isp.pt: a STAND-IN for a learned RAW-to-sRGB network.

The ``mialgo_track2`` recipe renders its noisy RAW to sRGB with the team's own restoration
network; degrade cannot ship that, so the recipe's default is this small TorchScript module
written with plain torch ops and no learned weights: bilinear demosaicking of an RGGB mosaic,
fixed white-balance gains, a fixed camera-to-sRGB colour matrix, the sRGB transfer curve and
a smoothstep tone curve (the forward ISP of Brooks et al. 2019 with fixed parameters). It
keeps the noise and has the input/output convention of a real one (mosaic (N, 1, H, W) in
[0, 1] -> sRGB (N, 3, H, W) in [0, 1]), so the stage runs end to end; it is not a model of
any camera or team. Replace it with your network (``model:`` in the recipe).

    python tools/make_standin_isp.py [--out degrade/models/standin_isp.pt]

The file is deterministic for a given torch version (a test builds it twice and compares).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

OUT = Path(__file__).resolve().parents[1] / "degrade" / "models" / "standin_isp.pt"
WB_GAINS = [2.0, 1.0, 1.6]                       # R, G, B: a daylight-like camera balance
CCM = [[1.60, -0.45, -0.15],                     # camera RGB -> linear sRGB, rows sum to 1
       [-0.25, 1.50, -0.25],
       [0.00, -0.50, 1.50]]


class StandinISP(torch.nn.Module):
    """RGGB mosaic (N, 1, H, W), H and W even, linear in [0, 1] -> sRGB (N, 3, H, W)."""

    def __init__(self):
        super().__init__()
        green = torch.tensor([[0.0, 1.0, 0.0], [1.0, 4.0, 1.0], [0.0, 1.0, 0.0]]) / 4.0
        red_blue = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 4.0
        self.register_buffer("kernels", torch.stack([red_blue, green, red_blue])[:, None])
        self.register_buffer("gains", torch.tensor(WB_GAINS).view(1, 3, 1, 1))
        self.register_buffer("ccm", torch.tensor(CCM))

    def forward(self, mosaic: torch.Tensor) -> torch.Tensor:
        n, _, h, w = mosaic.shape
        rows = torch.arange(h, device=mosaic.device).view(h, 1) % 2
        cols = torch.arange(w, device=mosaic.device).view(1, w) % 2
        masks = torch.stack([(rows == 0) & (cols == 0), rows != cols,
                             (rows == 1) & (cols == 1)]).to(mosaic.dtype)
        sparse = mosaic * masks[None]                      # (N, 3, H, W), zeros elsewhere
        # reflect padding keeps the CFA phase at the borders (row -1 mirrors row 1)
        rgb = F.conv2d(F.pad(sparse, (1, 1, 1, 1), mode="reflect"), self.kernels, groups=3)
        rgb = (rgb * self.gains).clamp(0.0, 1.0)
        rgb = torch.einsum("ij,njhw->nihw", self.ccm, rgb).clamp(0.0, 1.0)
        srgb = torch.where(rgb <= 0.0031308, 12.92 * rgb,
                           1.055 * rgb.clamp(min=0.0031308) ** (1.0 / 2.4) - 0.055)
        return (srgb * srgb * (3.0 - 2.0 * srgb)).clamp(0.0, 1.0)   # smoothstep tone curve


def build(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.jit.save(torch.jit.script(StandinISP().eval()), str(out))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    print(build(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
