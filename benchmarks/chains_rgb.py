"""Whole-chain throughput of the RGB recipes against straightforward ports of the originals.

Usage::

    python benchmarks/chains_rgb.py [--size 512] [--n 24] [--repeats 3] [--only NAME ...]
                                    [--smoke] [--write docs/benchmarks.md]

For each chain, N sample plans are drawn once from degrade's recipe (the recipe's target
size set to ``--size``, so the whole size x size image is degraded, as the originals do);
then, interleaved and single-threaded:

* **degrade**: ``recipe.replay(image, record)`` for each plan;
* **numpy port**: a faithful, straightforward numpy/scipy/OpenCV port of the published
  steps applied to the *same parameters* (dense 51x51 USM twice-blurred, every Real-ESRGAN
  kernel zero-padded to 21x21 and run by ``cv2.filter2D``, the 21x21 "pulse" when no final
  sinc is drawn, DiffJPEG as basicsr's 8x8x8x8 tensordot, ``np.unique`` level counting,
  BSRGAN's ``scipy.ndimage.convolve`` blurs and per-row MATLAB ``imresize``);
* **basicsr** (when torch and basicsr 1.4.2 import): the official torch code path
  (``USMSharp``, ``filter2D``, ``F.interpolate``, ``add_*_noise_pt``, ``DiffJPEG``) on CPU.

Reported: images per second and milliseconds per image (minimum over repeats), and the
ratio baseline time / degrade time. The originals also draw their parameters; that cost
(microseconds) is left out of the baselines and included in degrade's replay-only loop
neither, so the ratio compares image work only.
"""
from __future__ import annotations

import _common  # noqa: F401  (pins thread pools to one thread before numpy is imported)

import argparse
import math
import re
import time
from pathlib import Path

import cv2
import numpy as np
from _common import bench_image
from _report import add_run_options, begin, format_table, write_section

import degrade

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
R101 = cv2.BORDER_REFLECT_101


# ------------------------------------------------------------------ numpy ports (baselines)
def dense(img, kernel):
    return cv2.filter2D(img, cv2.CV_32F, kernel.astype(np.float32), borderType=R101)


def port_usm(img, weight=0.5, threshold=10, radius=51):
    g = cv2.getGaussianKernel(radius, 0)
    k = g @ g.T                                             # dense 51x51, as basicsr
    blur = dense(img, k)
    res = img - blur
    mask = (np.abs(res) * 255 > threshold).astype(np.float32)
    soft = dense(mask, k)
    return soft * np.clip(img + weight * res, 0, 1) + (1 - soft) * img


def port_kernel(p):
    from degrade.ops.psf import build_psf            # the kernel formula itself is not timed
    k = build_psf(p["kind"], p["ksize"], p.get("sigma_x"), p.get("sigma_y"), p.get("theta", 0.0),
                  p.get("beta"), p.get("omega_c"))
    return np.pad(k, (21 - p["ksize"]) // 2)               # basicsr pads every kernel to 21


def port_resize(img, p, target):
    if p.get("relative_to") == "target":
        h, w = int(target[0] * p["scale"]), int(target[1] * p["scale"])
    else:
        h, w = int(img.shape[0] * p["scale"]), int(img.shape[1] * p["scale"])
    flag = {"area": cv2.INTER_AREA, "bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC,
            "matlab_bicubic": None}[p["mode"]]
    if flag is None:
        return port_imresize(img, p["scale"])
    out = cv2.resize(img, (w, h), interpolation=flag)
    return np.clip(out, 0, 1) if p.get("clip") else out


def port_gaussian_noise(img, p, rng):
    s = p["sigma"] / (255.0 if p.get("sigma_units") == "8bit" else 1.0)
    if p.get("gray"):
        n = np.repeat(rng.standard_normal(img.shape[:2])[..., None], 3, 2) * s
    else:
        n = rng.standard_normal(img.shape) * s
    return np.clip(img + n, 0, 1).astype(np.float32)


def port_poisson_noise(img, p, rng):
    if p.get("base") == "quantized":
        img = np.clip(np.round(img * 255), 0, 255) / 255
    w = [0.299, 0.587, 0.114] if p.get("luma") == "bt601" else [0.2989, 0.587, 0.114]
    src = np.dot(img, w)[..., None] if p.get("gray") else img
    q = np.clip(np.round(src * 255), 0, 255) / 255
    vals = p.get("levels") or 2 ** np.ceil(np.log2(len(np.unique(q))))
    noise = rng.poisson(q * vals) / vals - q
    return np.clip(img + p.get("scale", 1.0) * noise, 0, 1).astype(np.float32)


def _dct_tensor():
    t = np.zeros((8, 8, 8, 8))
    for x in range(8):
        for y in range(8):
            for u in range(8):
                for v in range(8):
                    t[x, y, u, v] = (math.cos((2 * x + 1) * u * math.pi / 16)
                                     * math.cos((2 * y + 1) * v * math.pi / 16))
    a = np.array([1 / math.sqrt(2)] + [1] * 7)
    return t, np.outer(a, a) * 0.25


DCT_T, DCT_SCALE = _dct_tensor()


def port_diffjpeg(img, quality):
    """basicsr DiffJPEG(differentiable=False), step by step in numpy."""
    from degrade.ops.diffjpeg_codec import CHROMA_TABLE, LUMA_TABLE
    f = (5000 / quality if quality < 50 else 200 - 2 * quality) / 100
    h, w = img.shape[:2]
    x = np.pad(np.clip(img, 0, 1), ((0, (16 - h % 16) % 16), (0, (16 - w % 16) % 16), (0, 0))) * 255
    m = np.array([[.299, .587, .114], [-.168736, -.331264, .5], [.5, -.418688, -.081312]])
    ycc = x @ m.T + [0, 128, 128]
    planes = [ycc[..., 0]] + [ycc[..., c].reshape(ycc.shape[0] // 2, 2, ycc.shape[1] // 2, 2)
                              .mean((1, 3)) for c in (1, 2)]
    out = []
    for plane, table in zip(planes, (LUMA_TABLE.T, CHROMA_TABLE, CHROMA_TABLE)):
        ph, pw = plane.shape
        b = plane.reshape(ph // 8, 8, pw // 8, 8).transpose(0, 2, 1, 3).reshape(-1, 8, 8) - 128
        coef = DCT_SCALE * np.tensordot(b, DCT_T, axes=2)
        coef = np.round(coef / (table * f)) * (table * f)
        b = np.tensordot(coef * DCT_SCALE, DCT_T, axes=([1, 2], [2, 3])) + 128
        out.append(b.reshape(ph // 8, pw // 8, 8, 8).transpose(0, 2, 1, 3).reshape(ph, pw))
    y, cb, cr = out[0], *(np.repeat(np.repeat(c, 2, 0), 2, 1) for c in out[1:])
    rgb = np.stack([y + 1.402 * (cr - 128), y - .344136 * (cb - 128) - .714136 * (cr - 128),
                    y + 1.772 * (cb - 128)], -1)
    return (np.clip(rgb, 0, 255) / 255)[:h, :w].astype(np.float32)


def port_realesrgan(img, record, rng):
    """Real-ESRGAN feed_data with the record's parameters (numpy port)."""
    target = img.shape[:2]
    hq = img
    for st in record["target_steps"]:                      # realesrnet: USM makes the HQ
        hq = port_usm(hq)
    for extra in record.get("extra_steps", {}).values():   # x4plus's hq_usm: feed_data's
        for st in extra:                                   # gt_usm, USM of the GT again
            port_usm(hq)
    steps = record["steps"]
    out = hq
    sinc_seen = False
    for k, st in enumerate(steps):
        op, p = st["op"], st["params"]
        if op == "usm_sharpen":
            out = port_usm(out)
        elif op == "psf_blur":
            out = dense(out, port_kernel(p))
            sinc_seen |= p["kind"] == "sinc" and k > len(steps) - 5
        elif op == "resize":
            out = port_resize(out, p, target)
        elif op == "gaussian_noise":
            out = port_gaussian_noise(out, p, rng)
        elif op == "poisson_noise":
            out = port_poisson_noise(out, p, rng)
        elif op == "diffjpeg":
            out = port_diffjpeg(out, p["quality"])
        elif op == "quantize":
            if not sinc_seen:                                # basicsr convolves the pulse
                pulse = np.zeros((21, 21))
                pulse[10, 10] = 1
                out = dense(out, pulse)
            out = np.clip(np.round(out * 255), 0, 255) / 255
    return out


def port_imresize(img, scale):
    """BSRGAN's imresize_np: MATLAB bicubic, per output row / column in Python."""
    from degrade.ops.resampling import matlab_taps
    out = img
    for axis in (0, 1):
        n_in = out.shape[axis]
        idx, wts = matlab_taps(n_in, math.ceil(n_in * scale), scale)
        moved = np.moveaxis(out, axis, 0)
        res = np.empty((idx.shape[0],) + moved.shape[1:], np.float32)
        for i in range(idx.shape[0]):                         # the original loops like this
            res[i] = np.tensordot(wts[i], moved[idx[i]], axes=1)
        out = np.moveaxis(res, 0, axis)
    return np.ascontiguousarray(out)


def port_bsrgan(img, record, rng):
    """BSRGAN / BSRGAN+ steps with the record's parameters (scipy/cv2 as the original)."""
    from scipy import ndimage

    from degrade.ops.psf import build_psf
    from degrade.ops.resampling import shift_kernel
    target = img.shape[:2]
    out = img
    for st in record["target_steps"] + record["steps"]:
        op, p = st["op"], st["params"]
        if op == "usm_sharpen":                            # add_sharpening: cv2.GaussianBlur
            blur = cv2.GaussianBlur(out, (51, 51), 0)
            res = out - blur
            soft = cv2.GaussianBlur((np.abs(res) * 255 > 10).astype(np.float32), (51, 51), 0)
            out = soft * np.clip(out + 0.5 * res, 0, 1) + (1 - soft) * out
        elif op == "psf_blur":                             # add_blur: true convolution
            k = build_psf(p["kind"], p["ksize"], p.get("sigma_x"), p.get("sigma_y"),
                          p.get("theta", 0.0))
            out = ndimage.convolve(out, k[..., None], mode="mirror")
        elif op == "blur_decimate_zhang2021":
            k = shift_kernel(build_psf("iso", 25, p["sigma"]), (p["factor"] - 1) / 2)
            out = ndimage.convolve(out, k[..., None], mode="mirror")[::p["factor"], ::p["factor"]]
        elif op == "resize":
            out = np.clip(port_resize(out, p, target), 0, 1)
        elif op == "gaussian_noise":
            out = port_gaussian_noise(out, p, rng)
        elif op == "correlated_noise":
            n = rng.multivariate_normal([0, 0, 0], np.array(p["cov"]), out.shape[:2]).astype(np.float32)
            out = np.clip(out + (out * n if p.get("multiplicative") else n), 0, 1)
        elif op == "speckle_noise":
            s = p["sigma"] / 255.0
            shape = out.shape[:2] + (1,) if p.get("gray") else out.shape
            out = np.clip(out + out * rng.normal(0, s, shape).astype(np.float32), 0, 1)
        elif op == "poisson_noise":
            out = port_poisson_noise(out, p, rng)
        elif op == "jpeg":
            u8 = cv2.cvtColor(np.uint8((np.clip(out, 0, 1) * 255).round()), cv2.COLOR_RGB2BGR)
            _, buf = cv2.imencode(".jpg", u8, [cv2.IMWRITE_JPEG_QUALITY, p["quality"]])
            out = cv2.cvtColor(cv2.imdecode(buf, 1), cv2.COLOR_BGR2RGB).astype(np.float32) / 255
    return out


# ------------------------------------------------------------------ basicsr (torch) path
def basicsr_chain():
    """A function running Real-ESRGAN's feed_data through basicsr for a record, or None."""
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    try:
        from test_realesrgan_fidelity import load_basicsr
    except Exception:
        return None
    mods = load_basicsr()
    if mods is None:
        return None
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(1)
    usm, jpeger = mods.util.USMSharp(), mods.jpeg.DiffJPEG(differentiable=False)

    def run(img, record, rng):
        with torch.no_grad():
            x = torch.from_numpy(img.transpose(2, 0, 1).copy())[None]
            h0, w0 = img.shape[:2]
            sinc = torch.zeros(1, 21, 21)
            sinc[0, 10, 10] = 1
            for st in record["steps"]:
                op, p = st["op"], st["params"]
                if op == "usm_sharpen":
                    x = usm(x)
                elif op == "psf_blur":
                    k = torch.from_numpy(port_kernel(p)).float()[None]
                    x = mods.util.filter2D(x, k)
                elif op == "resize":
                    if p.get("relative_to") == "target":
                        x = F.interpolate(x, size=(int(h0 * p["scale"]), int(w0 * p["scale"])),
                                          mode=p["mode"])
                    else:
                        x = F.interpolate(x, scale_factor=p["scale"], mode=p["mode"])
                elif op == "gaussian_noise":
                    x = mods.deg.add_gaussian_noise_pt(x, sigma=torch.tensor([p["sigma"]]),
                                                       gray_noise=torch.tensor([float(p["gray"])]),
                                                       clip=True, rounds=False)
                elif op == "poisson_noise":
                    x = mods.deg.add_poisson_noise_pt(x, scale=torch.tensor([p["scale"]]),
                                                      gray_noise=torch.tensor([float(p["gray"])]),
                                                      clip=True, rounds=False)
                elif op == "diffjpeg":
                    x = jpeger(torch.clamp(x, 0, 1), quality=torch.tensor([p["quality"]]))
                elif op == "quantize":
                    x = torch.clamp((x * 255.0).round(), 0, 255) / 255.
            gt = torch.from_numpy(img.transpose(2, 0, 1).copy())[None]
            for extra in record.get("extra_steps", {}).values():
                for st in extra:                           # feed_data's gt_usm = USM(gt)
                    usm(gt)
            return x
    return run


# ------------------------------------------------------------------ driver
CHAINS = {
    "realesrgan_x4plus": port_realesrgan,
    "realesrnet_x4plus": port_realesrgan,
    "bsrgan_x4": port_bsrgan,
    "bsrgan_plus_x4": port_bsrgan,
}


def sized_recipe(name, size):
    text = (RECIPES / f"{name}.yaml").read_text()
    text = re.sub(r"(?m)^  size: \d+", f"  size: {size}", text, count=1)
    text = re.sub(r"(?m)^  region: .*\n", "", text)       # degrade exactly the size x size image
    return degrade.load_recipe(text)


def best_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--only", nargs="*")
    add_run_options(ap, "chains", "2 plans of 64 px, 1 repeat: seconds")
    args = ap.parse_args(argv)
    if args.smoke:
        args.size, args.n, args.repeats = 64, 2, 1
    begin(args, "chains")
    img = bench_image(args.size)
    torch_run = basicsr_chain()
    rows = []
    for name, port in CHAINS.items():
        if args.only and name not in args.only:
            continue
        recipe = sized_recipe(name, args.size)
        records = [recipe.sample(0, i) for i in range(args.n)]
        recipe.replay(img, records[0])                     # warm numba caches
        funcs = {"degrade": lambda: [recipe.replay(img, r) for r in records],
                 "numpy/scipy/cv2 port": lambda: [port(img, r, np.random.default_rng(i))
                                            for i, r in enumerate(records)]}
        if torch_run is not None and port is port_realesrgan and name == "realesrgan_x4plus":
            funcs["basicsr 1.4.2 (torch, CPU)"] = lambda: [torch_run(img, r, None)
                                                           for r in records]
        for f in funcs.values():                           # warm-up
            f()
        best = {k: math.inf for k in funcs}
        for _ in range(args.repeats):                      # interleaved repeats
            for k, f in funcs.items():
                best[k] = min(best[k], best_time(f, 1) / args.n)
        for k in list(funcs)[1:]:
            rows.append([f"`{name}`", f"{best['degrade'] * 1e3:.2f} ms", k,
                         f"{best[k] * 1e3:.2f} ms", f"{best[k] / best['degrade']:.1f}x"])
    text = (f"{args.n} sampled plans, {args.size}x{args.size} RGB, 1 thread, minimum over "
            f"{args.repeats} interleaved repeats:\n\n"
            + format_table(["chain", "degrade / image", "baseline", "baseline / image", "ratio"],
                           rows))
    print(text)
    if args.write:
        write_section(args.write, "chains", text)


if __name__ == "__main__":
    main()
