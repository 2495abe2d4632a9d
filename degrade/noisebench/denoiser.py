"""The downstream test of the noise benchmark: train one small denoiser per noise model and
score it on the real noisy pairs (as ELD 2020, PMN and Zhang et al. 2021 rank noise models).

For every model the *same* network (:class:`TinyDenoiser`, same initial weights) is trained
for the same number of steps on the same clean crops (same positions, same order); only the
noise differs: each crop gets noise synthesised by the model with the parameters it was
fitted to on one of the real pairs (crop ``i`` uses pair ``i mod n``), through the
benchmark's route (:func:`degrade.noisebench.noise.synthesize_noisy`). The trained network
then denoises the real noisy images; PSNR and SSIM against the clean references, with
bootstrap intervals over pairs and patches (:mod:`degrade.noisebench.stats`).

torch is an optional dependency (``pip install degrade[torch]``), imported only here.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .._errors import InputError, ParameterError
from .._rng import OP, stream
from .stats import BOOTSTRAP, interval, name_key, patch_ids

SSIM_C1, SSIM_C2 = 0.01 ** 2, 0.03 ** 2


@dataclass(frozen=True)
class DenoiserConfig:
    """Training budget. The default trains 6 models and scores 8 real 512x512 pairs in a few
    minutes on 2 CPU cores. ``threads``: torch CPU threads while it runs (1 by default:
    on a busy machine several OpenMP threads per process slow small convolutions ~10x)."""
    steps: int = 600
    batch: int = 16
    crop: int = 40
    crops: int = 384
    features: int = 24
    depth: int = 4
    lr: float = 3e-3
    seed: int = 0
    device: str = "cpu"
    threads: int = 1


def _torch():
    try:
        import torch
    except ImportError:
        raise ParameterError("noisebench --denoiser needs torch: pip install 'degrade[torch]' "
                             "(or pip install torch)") from None
    return torch


def _network(torch, channels: int, cfg: DenoiserConfig, scale: float):
    nn = torch.nn
    layers = [nn.Conv2d(channels, cfg.features, 3, padding=1), nn.ReLU()]
    for _ in range(cfg.depth - 2):
        layers += [nn.Conv2d(cfg.features, cfg.features, 3, padding=1), nn.ReLU()]
    layers.append(nn.Conv2d(cfg.features, channels, 3, padding=1))
    body = nn.Sequential(*layers)

    class TinyDenoiser(nn.Module):
        """DnCNN-style: a plain conv stack that predicts the noise (residual learning), in
        units of ``scale`` (the real pairs' noise std), so that weak noise is learnt as
        fast as strong noise."""

        def __init__(self):
            super().__init__()
            self.body = body

        def forward(self, x):
            return x - scale * self.body(x)

    return TinyDenoiser()


def _as_net_input(img: np.ndarray, domain: str) -> np.ndarray:
    """(C, H, W) float32: RGB channels, or the 4 packed CFA planes of a mosaic."""
    if domain == "raw":
        from .._cfa import pack_planes

        h, w = img.shape[0] // 2 * 2, img.shape[1] // 2 * 2
        img = pack_planes(np.ascontiguousarray(img[:h, :w]))
    return np.ascontiguousarray(np.transpose(img, (2, 0, 1)), np.float32)


def training_cleans(folder, domain: str) -> list[np.ndarray]:
    """Clean training images: sRGB images of ``folder`` (default: the built-in samples), or
    for RAW pairs Bayer mosaics (camera RAW files / ``.npy``; default: the built-in DNGs)."""
    root = Path(__file__).resolve().parents[1] / "samples"
    if domain == "raw":
        from ..sources.raw import read_raw

        folder = Path(folder) if folder else root / "raw"
        files = sorted(p for p in Path(folder).iterdir() if p.is_file()) \
            if Path(folder).is_dir() else []
        out = [np.load(p).astype(np.float32) if p.suffix == ".npy" else read_raw(p).mosaic
               for p in files if p.suffix.lower() in (".npy", ".dng", ".nef", ".cr2", ".arw")]
    else:
        from ..sources import list_images, read_image

        out = [read_image(p) for p in list_images(folder or root, recursive=False)]
        out = [o[:, :, :3] if o.ndim == 3 else np.repeat(o[:, :, None], 3, 2) for o in out]
    if not out:
        raise InputError(f"{folder}: no clean training images found")
    return out


def _crops(cleans, cfg: DenoiserConfig, domain: str) -> list[np.ndarray]:
    """``cfg.crops`` crops (positions fixed by the seed; even offsets for mosaics)."""
    rng = stream(cfg.seed, name_key("denoiser/crops"), 0, OP)
    size = cfg.crop * (2 if domain == "raw" else 1)
    ok = [c for c in cleans if min(c.shape[:2]) >= size]
    if not ok:
        raise InputError(f"denoiser: every clean training image is smaller than the crop "
                         f"({size} px)")
    out = []
    for _ in range(cfg.crops):
        img = ok[int(rng.integers(len(ok)))]
        y = int(rng.integers(img.shape[0] - size + 1)) // 2 * 2
        x = int(rng.integers(img.shape[1] - size + 1)) // 2 * 2
        out.append(np.ascontiguousarray(img[y:y + size, x:x + size]))
    return out


def _train(torch, noisy: np.ndarray, clean: np.ndarray, cfg: DenoiserConfig, scale: float):
    torch.manual_seed(cfg.seed)
    net = _network(torch, noisy.shape[1], cfg, scale).to(cfg.device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    order = stream(cfg.seed, name_key("denoiser/order"), 0, OP)
    xs, ys = torch.from_numpy(noisy), torch.from_numpy(clean)
    for step in range(cfg.steps):
        idx = torch.from_numpy(order.integers(0, len(noisy), cfg.batch))
        x, y = xs[idx].to(cfg.device), ys[idx].to(cfg.device)
        loss = torch.mean(((net(x) - y) / scale) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


def _denoise(torch, net, img: np.ndarray, domain: str, device: str) -> np.ndarray:
    x = torch.from_numpy(_as_net_input(img, domain))[None].to(device)
    with torch.no_grad():
        y = net(x)[0].cpu().numpy()
    return np.transpose(y, (1, 2, 0))


def _ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SSIM per pixel (Wang et al. 2004: Gaussian window sigma 1.5, K1 0.01, K2 0.03, data
    range 1), averaged over channels."""
    import cv2

    def blur(z):
        return cv2.GaussianBlur(z, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    a, b = a.astype(np.float64), b.astype(np.float64)
    ma, mb = blur(a), blur(b)
    va, vb, cov = blur(a * a) - ma * ma, blur(b * b) - mb * mb, blur(a * b) - ma * mb
    s = ((2 * ma * mb + SSIM_C1) * (2 * cov + SSIM_C2)) / \
        ((ma * ma + mb * mb + SSIM_C1) * (va + vb + SSIM_C2))
    return s.mean(axis=2) if s.ndim == 3 else s


def _patch_sums(out: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """(P, 3): per patch pixel count, summed squared error (all channels), summed SSIM."""
    pid = patch_ids(clean.shape[:2])
    p = int(pid.max()) + 1
    err = np.clip(out, 0, 1) - clean
    se = (err * err).reshape(clean.shape[0], clean.shape[1], -1).mean(axis=2)
    ssim = _ssim_map(np.clip(out, 0, 1).astype(np.float32), clean.astype(np.float32))
    f = pid.ravel()
    return np.stack([np.bincount(f, minlength=p).astype(np.float64),
                     np.bincount(f, se.ravel(), minlength=p),
                     np.bincount(f, ssim.ravel(), minlength=p)], 1)


def _scores(sums: list[np.ndarray], replicates: int, seed: int) -> dict:
    """PSNR (from the mean squared error of the pair) and SSIM (mean), averaged over pairs,
    with bootstrap replicates over pairs and patches (same draws for every model)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, name_key("denoiser/boot")]))
    n = len(sums)
    mult = np.stack([np.bincount(r, minlength=n) for r in rng.integers(0, n, (replicates, n))])
    out = {}
    for key, w in (("point", None), ("samples", True)):
        psnr, ssim = [], []
        for s in sums:
            wt = np.ones((1, len(s))) if w is None else rng.multinomial(
                len(s), np.full(len(s), 1 / len(s)), replicates).astype(np.float64)
            agg = wt @ s
            psnr.append(10 * np.log10(1.0 / np.maximum(agg[:, 1] / agg[:, 0], 1e-12)))
            ssim.append(agg[:, 2] / agg[:, 0])
        psnr, ssim = np.stack(psnr, 1), np.stack(ssim, 1)
        m = np.ones((1, n)) if w is None else mult
        out[key] = ((psnr * m).sum(1) / m.sum(1), (ssim * m).sum(1) / m.sum(1))
    return out


def denoiser_benchmark(result, pairs, *, train_clean=None, config: DenoiserConfig | None = None,
                       replicates: int = BOOTSTRAP, progress=None) -> dict:
    """Train one :class:`TinyDenoiser` per model of ``result`` (a :class:`NoiseBenchResult`
    of ``pairs``) and score each on the real pairs.

    Returns
    -------
    dict
        ``settings`` (the config, clean source), ``rows``: per model (and ``noisy input``,
        no denoising) ``psnr``, ``psnr_ci``, ``ssim``, ``ssim_ci``; sorted by PSNR, best
        first; ``best``: the best model and those whose 95 % interval of the PSNR
        difference to it contains 0 (paired bootstrap).
    """
    torch = _torch()
    cfg = config or DenoiserConfig()
    threads = torch.get_num_threads()
    torch.set_num_threads(max(int(cfg.threads), 1))
    try:
        return _run(torch, result, pairs, train_clean, cfg, replicates, progress)
    finally:
        torch.set_num_threads(threads)


def _run(torch, result, pairs, train_clean, cfg, replicates, progress) -> dict:
    from .noise import synthesize_noisy

    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise ParameterError(f"noisebench: --device {cfg.device}: torch sees no CUDA device")
    domain = result.settings["domain"]
    isp = result.settings.get("isp")
    crops = _crops(training_cleans(train_clean, domain), cfg, domain)
    clean_in = np.stack([_as_net_input(c, domain) for c in crops])
    n_pairs = len(result.pairs)
    names = [r["model"] for r in result.summary]
    # one output scale for every model: the median noise std of the real pairs
    scale = float(np.median([p["real"]["std"] for p in result.pairs])) or 1e-2
    sums = {"noisy input": [_patch_sums(p.noisy if domain == "srgb" else _packed_img(p.noisy),
                                        p.clean if domain == "srgb" else _packed_img(p.clean))
                            for p in pairs]}
    for name in names:
        noisy = []
        for i, c in enumerate(crops):
            pr = result.pairs[i % n_pairs]
            params = pr["models"][name]["params"]
            rng = stream(cfg.seed, name_key(f"denoiser/{i}"), name_key(name), OP)
            levels = pairs[i % n_pairs].levels
            noisy.append(_as_net_input(synthesize_noisy(
                c, domain, name, params, rng, isp=isp, levels=levels,
                pattern=pairs[i % n_pairs].pattern or "RGGB"), domain))
        net = _train(torch, np.stack(noisy), clean_in, cfg, scale)
        sums[name] = []
        for p in pairs:
            out = _denoise(torch, net, p.noisy, domain, cfg.device)
            ref = p.clean if domain == "srgb" else _packed_img(p.clean)
            sums[name].append(_patch_sums(out, ref))
        if progress:
            progress(name)
    rows, samples = [], {}
    for name, s in sums.items():
        sc = _scores(s, replicates, cfg.seed)
        samples[name] = sc["samples"]
        rows.append({"model": name, "psnr": float(sc["point"][0][0]),
                     "psnr_ci": interval(sc["samples"][0], float(sc["point"][0][0])),
                     "ssim": float(sc["point"][1][0]),
                     "ssim_ci": interval(sc["samples"][1], float(sc["point"][1][0]),
                                         floor=-1.0)})
    rows.sort(key=lambda r: -r["psnr"])
    ranked = [r for r in rows if r["model"] != "noisy input"]
    top = ranked[0]
    best = [top["model"]] + [r["model"] for r in ranked[1:] if interval(
        samples[top["model"]][0] - samples[r["model"]][0], top["psnr"] - r["psnr"])[0] <= 0]
    return {"settings": {**asdict(cfg), "train_clean": str(train_clean or "built-in samples"),
                         "replicates": replicates},
            "rows": rows, "best": best}


def _packed_img(mosaic: np.ndarray) -> np.ndarray:
    return np.transpose(_as_net_input(mosaic, "raw"), (1, 2, 0))


def format_denoiser(den: dict) -> str:
    """The denoiser table as text."""
    s = den["settings"]
    lines = [f"denoiser test: {s['depth']}-layer CNN, {s['features']} features, {s['steps']} "
             f"steps x batch {s['batch']} of {s['crop']}px crops from {s['train_clean']}, "
             f"device {s['device']}; scored on the real pairs (95% bootstrap intervals)",
             f"{'model':<28}{'PSNR dB [95% CI]':>26}{'SSIM [95% CI]':>28}"]
    for r in den["rows"]:
        lines.append(f"{r['model']:<28}{r['psnr']:>8.2f} [{r['psnr_ci'][0]:.2f}, "
                     f"{r['psnr_ci'][1]:.2f}]".ljust(54)
                     + f"{r['ssim']:>8.4f} [{r['ssim_ci'][0]:.4f}, {r['ssim_ci'][1]:.4f}]")
    lines.append(f"best by PSNR (not distinguishable at 95%): {', '.join(den['best'])}")
    return "\n".join(lines)
