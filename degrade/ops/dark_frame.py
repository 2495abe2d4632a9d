"""Dark-frame sensor noise (Zhang et al. 2021): Poisson shot noise plus signal-independent
noise sampled from a bank of real dark frames.

Zhang, Qin, Wang, Li, "Rethinking Noise Synthesis and Modeling in Raw Denoising", ICCV 2021:
read, row, fixed-pattern and defect noise are not modelled but *copied* from dark frames of
the target camera (same gain), so their joint structure is kept; only the shot noise, which
depends on the signal, is synthesised.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from .._cfa import PATTERNS, check_pattern
from .._errors import InputError, ParameterError
from .._registry import register_op
from .._validate import as_image, check_scalar
from .noise import require_rng


@functools.lru_cache(maxsize=8)
def _load_bank(path: str, mtime: float) -> tuple[np.ndarray, str | None]:
    from ..noisebench.dark import DARK_EXTENSIONS, read_dark_frame

    p = Path(path)
    if p.suffix.lower() == ".npy" and p.is_file():
        try:
            arr = np.load(p, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise InputError(f"{p}: not a readable .npy dark-frame bank ({exc})") from None
        arr = arr[None] if arr.ndim == 2 else arr
        if arr.ndim != 3:
            raise InputError(f"{p}: dark-frame bank has shape {arr.shape}: expected (N, H, W) "
                             "or (H, W)")
        pattern = next((c for c in PATTERNS if c in p.name.upper()), None)
        return np.ascontiguousarray(arr, np.float32), pattern
    if not p.is_dir():
        raise InputError(f"{p}: dark-frame bank not found (expected a folder of dark frames or "
                         "an (N, H, W) .npy stack)")
    files = sorted(f for f in p.iterdir() if f.suffix.lower() in DARK_EXTENSIONS
                   and not f.name.startswith("."))
    if not files:
        raise InputError(f"{p}: no dark frames in the bank folder (expected "
                         f"{', '.join(DARK_EXTENSIONS)} files)")
    frames, pattern = [], None
    for f in files:
        arr, info = read_dark_frame(f)
        frames.append(arr)
        pattern = pattern or info["pattern"]
    # frames of slightly different sizes (sensor modes, crops) are cut to the common size
    # from the top-left corner, which keeps their CFA phase
    h = min(a.shape[0] for a in frames)
    w = min(a.shape[1] for a in frames)
    return np.ascontiguousarray(np.stack([a[:h, :w] for a in frames]), np.float32), pattern


def load_dark_bank(path) -> tuple[np.ndarray, str | None]:
    """``(frames float32 (N, H, W) in DN, pattern or None)`` of a bank: a folder of dark
    frames (any format :func:`degrade.noisebench.dark.read_dark_frame` reads) or an
    ``(N, H, W)`` ``.npy`` stack; the CFA pattern from the file names, if they say it.
    Frames of different sizes are cut to the smallest, from the top-left corner.
    Cached per path and modification time."""
    p = Path(path)
    try:
        mtime = p.stat().st_mtime
    except OSError:
        raise InputError(f"{p}: dark-frame bank not found (expected a folder of dark frames or "
                         "an (N, H, W) .npy stack)") from None
    return _load_bank(str(p.resolve()), mtime)


def cfa_offset(pattern: str, bank_pattern: str) -> tuple[int, int]:
    """``(dy, dx)`` parity of a bank crop whose CFA phase equals ``pattern``: the 2x2 cell
    of ``bank_pattern`` read from row ``dy``, column ``dx`` (mod 2) spells ``pattern``."""
    for dy in (0, 1):
        for dx in (0, 1):
            cell = [bank_pattern[2 * ((dy + a) % 2) + (dx + b) % 2] for a in (0, 1) for b in (0, 1)]
            if "".join(cell) == pattern:
                return dy, dx
    raise ParameterError(f"dark_frame_noise: CFA {pattern} cannot be cut from a {bank_pattern} "
                         "bank (not a shift of it)")


@register_op("dark_frame_noise", domain_in=("raw",), meta_in=("pattern",), random=True)
def dark_frame_noise(image: np.ndarray, bank: str, gain: float, white_level: float,
                     black_level: float | None = None, bank_pattern: str | None = None,
                     clip: bool = False, pattern: str = "RGGB", *, rng=None) -> np.ndarray:
    """Poisson shot noise plus a crop of a real dark frame (Zhang et al. 2021 ICCV).

    Parameters
    ----------
    image : ndarray, float32, (H, W) Bayer mosaic in [0, 1] (``(dn - black) / S``)
    bank : str
        Folder of dark frames of the target camera at the target gain, or an ``(N, H, W)``
        ``.npy`` stack (DN). Frames at least as large as the image.
    gain : float > 0
        System gain K in DN per electron.
    white_level : float
        White level in DN of the bank's sensor; ``S = white_level - black``.
    black_level : float or None
        Black level in DN subtracted from the dark frames; None: the median of each frame.
    bank_pattern : str or None
        CFA of the dark frames; None: from their file names, else the image's pattern.
    clip : bool
        Clip the result to [0, 1].
    pattern : str
        CFA of the image (sample metadata).
    rng : numpy.random.Generator
        Required.

    Returns
    -------
    ndarray, float32, (H, W).

    Raises
    ------
    ParameterError
        Bad gain / levels / pattern, missing rng.
    InputError
        Bank missing or empty, frames of mixed sizes, or smaller than the image.

    Notes
    -----
    With ``y = x S`` (DN): ``out = (K Poisson(y / K) + (D[f, dy:dy+H, dx:dx+W] - b)) / S``,
    where ``f = rng.integers(N)``, then ``dy, dx`` uniform among the offsets whose CFA phase
    matches ``pattern`` (:func:`cfa_offset`), then the Poisson draws in C order; ``b`` is
    ``black_level`` or the median of frame ``f``. The dark crop carries read, row, column,
    fixed-pattern and defect noise of the real sensor together.

    Examples
    --------
    >>> bank = "../shared/data/noise/flea3_dark_frames"                 # doctest: +SKIP
    >>> x = np.full((64, 64), 0.2, np.float32)                          # doctest: +SKIP
    >>> dark_frame_noise(x, bank, gain=0.5, white_level=255,
    ...                  rng=np.random.default_rng(0)).shape            # doctest: +SKIP
    (64, 64)
    """
    op = "dark_frame_noise"
    img = as_image(image, op=op, channels=None, allow_2d=True)
    if img.ndim != 2:
        raise ParameterError(f"{op}: image has shape {img.shape}: expected an (H, W) Bayer "
                             "mosaic")
    gain = check_scalar("gain", gain, op=op, low=0, low_open=True)
    white = check_scalar("white_level", white_level, op=op, low=0, low_open=True)
    pattern = check_pattern(pattern, op=op)
    rng = require_rng(rng, op)
    if not isinstance(bank, (str, Path)):
        raise ParameterError(f"{op}: parameter 'bank' = {bank!r}: expected a folder or .npy path")
    frames, named = load_dark_bank(bank)
    bpat = check_pattern(bank_pattern or named or pattern, op=op)
    n, fh, fw = frames.shape
    h, w = img.shape
    dy0, dx0 = cfa_offset(pattern, bpat)
    if fh - dy0 < h or fw - dx0 < w:
        raise InputError(f"{bank}: dark frames are {fw}x{fh}; the image ({w}x{h}) needs frames "
                         "at least as large (crop the image or use larger dark frames)")
    f = int(rng.integers(n))
    black = float(np.median(frames[f])) if black_level is None else \
        check_scalar("black_level", black_level, op=op)
    if not white > black:
        raise ParameterError(f"{op}: parameter 'white_level' = {white}: expected above the "
                             f"black level {black}")
    s = white - black
    dy = dy0 + 2 * int(rng.integers((fh - dy0 - h) // 2 + 1))
    dx = dx0 + 2 * int(rng.integers((fw - dx0 - w) // 2 + 1))
    lam = np.maximum(img.astype(np.float64), 0.0) * (s / gain)
    if lam.size and not float(lam.max()) < 1e15:          # numpy's Poisson limit is ~9e18
        raise ParameterError(f"{op}: parameter 'gain' = {gain!r}: too small for the image (the "
                             f"Poisson mean {float(lam.max()):.3g} electrons overflows)")
    shot = rng.poisson(lam) * gain
    out = (shot + (frames[f, dy:dy + h, dx:dx + w] - black)) / s
    if clip:
        out = np.clip(out, 0.0, 1.0)
    return np.ascontiguousarray(out, np.float32)
