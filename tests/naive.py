"""Slow, obvious reference implementations the tests compare degrade's fast code with.

Each function is written for clarity, not speed (plain loops, float64, the formula as
published). Gathered here from the test files (as stumpy's tests/naive.py) so a maintainer
finds every reference in one place; the sections are named after the test module that uses
them (tests/test_<section>.py), which says which op or kernel each one checks.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import j1

from degrade._cfa import cell_channels, rgbg_sites
from degrade._nb.sensor import _poisson_pd_tail
from degrade.noise_models import tukey_lambda_quantile


# ---------------------------------------------------------------------- bayer
CHANNEL = {"R": 0, "G": 1, "B": 2}


def numpy_mosaic(x, pattern):
    out = np.empty(x.shape[:2], x.dtype)
    for k, letter in enumerate(pattern):
        a, b = divmod(k, 2)
        out[a::2, b::2] = x[a::2, b::2, CHANNEL[letter]]
    return out


# ---------------------------------------------------------------------- color
def numpy_safe_gains(x, gains):
    """Brooks' safe_invert_gains, written out in numpy (float64)."""
    x = x.astype(np.float64)
    gray = x.mean(axis=-1, keepdims=True)
    mask = (np.maximum(gray - 0.9, 0) / 0.1) ** 2
    return x * np.maximum(mask + (1 - mask) * gains, gains)


# ---------------------------------------------------------------------- defects
DIAG = [(-1, -1), (-1, 1), (1, -1), (1, 1)]


AXIAL = [(-2, 0), (2, 0), (0, -2), (0, 2)]


def _hits(n, p, rng):
    """Indices of a Bernoulli(p) process on range(n), walked with geometric gaps."""
    log_q = math.log1p(-p) if p < 1 else -math.inf
    step = (lambda: 1) if p >= 1 else (lambda: 1 + int(math.floor(math.log1p(-rng.random()) / log_q)))
    pos = step() - 1
    while pos < n:
        yield pos
        pos += step()


def reference_defects(x, rates, hot_min, hot_max, cluster, col_rate, row_rate, mode, lo, hi,
                      channels, pattern, rng):
    out = x.astype(np.float32).copy()
    h, w = out.shape
    cell = cell_channels(pattern)
    ok = lambda i, j: "RGB"[cell[i % 2, j % 2]] in channels   # noqa: E731
    total = sum(rates)

    def put(i, j, kind, amp):
        out[i, j] = min(float(out[i, j]) + amp, 1.0) if kind == 0 else (0.0 if kind == 1 else 1.0)

    if total > 0:
        for pos in _hits(h * w, total, rng):
            i, j = divmod(pos, w)
            if not ok(i, j):
                continue
            t = rng.random() * total
            kind = 0 if t < rates[0] else (1 if t < rates[0] + rates[1] else 2)
            amp = math.exp(math.log(hot_min) + (math.log(hot_max) - math.log(hot_min))
                           * rng.random()) if kind == 0 else 0.0
            put(i, j, kind, amp)
            if rng.random() < cluster:
                di, dj = (DIAG if cell[i % 2, j % 2] == 1 else AXIAL)[int(rng.random() * 4)]
                if 0 <= i + di < h and 0 <= j + dj < w:
                    put(i + di, j + dj, kind, amp)
    for columns, rate in ((True, col_rate), (False, row_rate)):
        if rate <= 0:
            continue
        n_lines, length = (w, h) if columns else (h, w)
        for line in _hits(n_lines, rate, rng):
            level = lo + (hi - lo) * rng.random()
            for t in range(length):
                i, j = (t, line) if columns else (line, t)
                if not ok(i, j):
                    continue
                if mode == "stuck":
                    out[i, j] = level
                elif mode == "offset":
                    out[i, j] = min(max(float(out[i, j]) + level, 0.0), 1.0)
                else:
                    out[i, j] = lo + (hi - lo) * rng.random()
    return out


# ---------------------------------------------------------------------- edges_masked
def bilateral_reference(img, d, sigma_color, sigma_space):
    """Tomasi-Manduchi with OpenCV's conventions: disc of radius d//2, L1 colour distance,
    reflect-101 border, float64."""
    r = d // 2
    pad = np.pad(img.astype(np.float64), ((r, r), (r, r), (0, 0)), mode="reflect")
    num = np.zeros(img.shape)
    den = np.zeros(img.shape[:2] + (1,))
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if dy * dy + dx * dx > r * r:
                continue
            nb = pad[r + dy:r + dy + img.shape[0], r + dx:r + dx + img.shape[1]]
            dist = np.abs(nb - img).sum(-1, keepdims=True)
            w = math.exp(-(dy * dy + dx * dx) / (2 * sigma_space ** 2)) * \
                np.exp(-dist ** 2 / (2 * sigma_color ** 2))
            num += w * nb
            den += w
    return num / den


# ---------------------------------------------------------------------- jpeg_diffjpeg
ANNEX_K_LUMA = [[16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55],
                [14, 13, 16, 24, 40, 57, 69, 56], [14, 17, 22, 29, 51, 87, 80, 62],
                [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
                [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99]]


ANNEX_K_CHROMA = [[17, 18, 24, 47, 99, 99, 99, 99], [18, 21, 26, 66, 99, 99, 99, 99],
                  [24, 26, 56, 99, 99, 99, 99, 99], [47, 66, 99, 99, 99, 99, 99, 99]] + \
                 [[99] * 8] * 4


def blocks(plane):
    h, w = plane.shape
    return plane.reshape(h // 8, 8, w // 8, 8).transpose(0, 2, 1, 3)


def unblocks(b):
    n, m = b.shape[:2]
    return b.transpose(0, 2, 1, 3).reshape(n * 8, m * 8)


def reference_diffjpeg(img, q):
    """R6 step by step, vectorised numpy, float64."""
    f = (5000 / q if q < 50 else 200 - 2 * q) / 100
    # R6.6: coefficient [u, v] is quantised with Tstd[v][u]·f for luma
    tables = {"y": np.array(ANNEX_K_LUMA, float).T * f, "c": np.array(ANNEX_K_CHROMA, float) * f}
    h, w, _ = img.shape
    ph, pw = (16 - h % 16) % 16, (16 - w % 16) % 16
    x = np.pad(img.astype(np.float64) * 255, ((0, ph), (0, pw), (0, 0)))
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = .299 * r + .587 * g + .114 * b
    cb = -.168736 * r - .331264 * g + .5 * b + 128
    cr = .5 * r - .418688 * g - .081312 * b + 128
    pool = lambda p: p.reshape(p.shape[0] // 2, 2, p.shape[1] // 2, 2).mean(axis=(1, 3))
    n = np.arange(8)
    alpha = np.where(n == 0, 1 / math.sqrt(2), 1.0)
    # D[u, x] = α(u)/2 · cos((2x+1)uπ/16): orthonormal DCT-II
    dct = alpha[:, None] / 2 * np.cos((2 * n[None, :] + 1) * n[:, None] * np.pi / 16)

    def roundtrip(plane, table):
        bl = blocks(plane) - 128
        coef = np.einsum("ux,nmxy,vy->nmuv", dct, bl, dct)
        coef = np.round(coef / table) * table
        return unblocks(np.einsum("ux,nmuv,vy->nmxy", dct, coef, dct)) + 128

    y = roundtrip(y, tables["y"])
    up = lambda p: np.repeat(np.repeat(p, 2, 0), 2, 1)
    cb = up(roundtrip(pool(cb), tables["c"])) - 128
    cr = up(roundtrip(pool(cr), tables["c"])) - 128
    rgb = np.stack([y + 1.402 * cr, y - .344136 * cb - .714136 * cr, y + 1.772 * cb], -1)
    return (np.clip(rgb, 0, 255) / 255)[:h, :w]


# ---------------------------------------------------------------------- ops_core
# -- PSF and Gaussian blur ----------------------------------------------------------------------
def reference_gaussian_psf(sx, sy, theta, k):
    """The Real-ESRGAN formula written out pixel by pixel."""
    c, s = math.cos(theta), math.sin(theta)
    a = c * c / sx**2 + s * s / sy**2          # Σ⁻¹ of R diag(sx², sy²) Rᵀ
    b = c * s * (1 / sx**2 - 1 / sy**2)
    d = s * s / sx**2 + c * c / sy**2
    out = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            x, y = j - (k - 1) / 2, i - (k - 1) / 2
            out[i, j] = math.exp(-0.5 * (a * x * x + 2 * b * x * y + d * y * y))
    return out / out.sum()


# ---------------------------------------------------------------------- psf_kinds
def reference_kernel(kind, k, sx=None, sy=None, theta=0.0, beta=None, omega=None):
    """Per-pixel loops over the formulas of reference/rgb_pipelines.md R1."""
    out = np.zeros((k, k))
    c = (k - 1) / 2
    if kind.endswith("iso") and not kind.endswith("aniso"):
        sy, theta = sx, 0.0
    ct, st = math.cos(theta), math.sin(theta)
    # Σ⁻¹ = R diag(1/σx², 1/σy²) Rᵀ
    a = ct * ct / sx ** 2 + st * st / sy ** 2 if sx else 0
    b = ct * st / sx ** 2 - ct * st / sy ** 2 if sx else 0
    d = st * st / sx ** 2 + ct * ct / sy ** 2 if sx else 0
    for i in range(k):
        for j in range(k):
            x, y = j - c, i - c
            if kind == "sinc":
                r = math.hypot(x, y)
                out[i, j] = omega ** 2 / (4 * math.pi) if r == 0 else \
                    omega * j1(omega * r) / (2 * math.pi * r)
                continue
            q = a * x * x + 2 * b * x * y + d * y * y
            if kind in ("iso", "aniso"):
                out[i, j] = math.exp(-0.5 * q)
            elif kind.startswith("generalized"):
                out[i, j] = math.exp(-0.5 * q ** beta)
            else:
                out[i, j] = 1 / (q ** beta + 1)
    return out / out.sum()


def correlate_reference(img, kernel):
    """Plain numpy correlation with a reflect-101 border (np.pad 'reflect')."""
    r = kernel.shape[0] // 2
    pad = np.pad(img.astype(np.float64), ((r, r), (r, r), (0, 0)), mode="reflect")
    out = np.zeros(img.shape)
    for i in range(kernel.shape[0]):
        for j in range(kernel.shape[1]):
            out += kernel[i, j] * pad[i:i + img.shape[0], j:j + img.shape[1]]
    return out


# ---------------------------------------------------------------------- resize_conventions
def apply_axis_weights(img, rows_h, rows_w):
    tmp = np.stack([sum(wt * img[i].astype(np.float64) for i, wt in r.items()) for r in rows_h])
    return np.stack([sum(wt * tmp[:, j] for j, wt in r.items()) for r in rows_w], axis=1)


def matlab_reference(img, scale):
    """imresize bicubic (B4) with loops: a = -0.5, antialias width 4/scale, symmetric pad."""
    def cubic(x):
        x = abs(x)
        return (1.5 * x ** 3 - 2.5 * x ** 2 + 1) if x <= 1 else \
            (-0.5 * x ** 3 + 2.5 * x ** 2 - 4 * x + 2) if x <= 2 else 0.0

    def axis(n_in):
        n_out = math.ceil(n_in * scale)
        width = 4 / scale if scale < 1 else 4
        rows = []
        for x in range(1, n_out + 1):
            u = x / scale + 0.5 * (1 - 1 / scale)
            left = math.floor(u - width / 2)
            w = {}
            for j in range(left, left + math.ceil(width) + 2):
                wt = scale * cubic(scale * (u - j)) if scale < 1 else cubic(u - j)
                i = j - 1
                i = -i - 1 if i < 0 else (2 * n_in - i - 1 if i >= n_in else i)
                w[i] = w.get(i, 0) + wt
            total = sum(w.values())
            rows.append({i: v / total for i, v in w.items()})
        return rows
    return apply_axis_weights(img, axis(img.shape[0]), axis(img.shape[1]))


# ---------------------------------------------------------------------- run_store
def quantise_reference(x: np.ndarray, scale: int, dtype) -> np.ndarray:
    """Plain numpy: floor(clip(x, 0, 1) * scale + 0.5), float32 arithmetic, NaN -> 0."""
    clipped = np.clip(np.nan_to_num(x, nan=0.0), 0.0, 1.0).astype(np.float32)
    return np.floor(clipped * np.float32(scale) + np.float32(0.5)).astype(dtype)


# ---------------------------------------------------------------------- sensor
# -- references: the same Generator calls, in the same order, in plain Python -----------------
#: (mu, g) of every element the references sent through the PD tail (tests check it is hit)
TAILS_SEEN = []


def reference_poisson_row(mus, rng):
    """Inversion below 10, else Ahrens-Dieter PD: normal candidate, one uniform, immediate
    acceptance or cubic squeeze, in element order; then the rare rest, in element order,
    through the (Python-run) tail of the kernel."""
    counts, tails = [], []
    for j, mu in enumerate(mus):
        if mu <= 0:
            counts.append(0.0)
        elif mu < 10:
            u, p, k = rng.random(), math.exp(-mu), 0.0
            cdf = p
            while u > cdf and p > 0:
                k += 1.0
                p *= mu / k
                cdf += p
            counts.append(k)
        else:
            g = mu + math.sqrt(mu) * rng.standard_normal()
            u = rng.random()
            k = math.floor(g)
            counts.append(float(k))
            if not (g >= 0 and (k >= math.floor(mu - 1.1484) or 6 * mu * mu * u >= (mu - k) ** 3)):
                tails.append((j, g, u))
    for j, g, u in tails:
        mu = mus[j]
        TAILS_SEEN.append((mu, g))
        counts[j] = float(_poisson_pd_tail.py_func(mu, math.sqrt(mu), g, u, rng))
    return counts


def reference_poisson_gaussian(x, shot, read, rng):
    """Row by row (a row = the W*C elements of one image row): Poisson counts, then reads."""
    rows = x.reshape(x.shape[0], -1).astype(np.float64)
    out = np.empty(rows.shape, np.float64)
    for i, row in enumerate(rows):
        if shot > 0:
            row = shot * np.array(reference_poisson_row([max(v, 0.0) / shot for v in row], rng))
        for j, v in enumerate(row):
            out[i, j] = v + (read * rng.standard_normal() if read > 0 else 0.0)
    return out.reshape(x.shape).astype(np.float32)


def reference_eld(x, gain, read_sigma, lam, row_sigma, bias, white, black, ratio, quant,
                  pattern, rng):
    """Mosaic only: row noise (H, 2) first, then per pixel poisson, read, quantisation."""
    dpu = (white - black) / ratio
    row = row_sigma * rng.standard_normal((x.shape[0], 2))
    sites = rgbg_sites(pattern)
    out = np.empty(x.shape, np.float64)
    counts = {}
    for i, j in np.ndindex(x.shape):
        if j == 0:
            dn = x[i].astype(np.float64) * dpu
            counts = reference_poisson_row([max(y, 0.0) / gain for y in dn], rng)
        z = gain * counts[j]
        if lam is None:
            z += read_sigma * rng.standard_normal()
        else:
            z += read_sigma * float(tukey_lambda_quantile(rng.random(), lam))
        z += bias[sites[i % 2, j % 2]] + row[i, j % 2]
        if quant == "uniform":
            z += rng.random() - 0.5
        elif quant == "round":
            z = np.rint(z)
        out[i, j] = z / dpu
    return out.astype(np.float32)
