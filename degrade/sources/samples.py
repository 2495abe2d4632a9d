"""The built-in sample images shipped in ``degrade/samples/`` (see its README.md).

Three photos rendered from real camera sensor data (``colorchecker``, ``indoor``,
``rose``) and a synthetic test chart (``chart``): small 8-bit sRGB PNGs, with their
licenses in ``degrade/samples/LICENSES``. They make every example, test and benchmark
runnable without downloading data. Two small Bayer DNGs in ``degrade/samples/raw``
(:func:`raw_sample_paths`) do the same for recipes that start from RAW (``input: raw``).
"""
from __future__ import annotations

from numbers import Integral
from pathlib import Path

import numpy as np

from .._errors import ParameterError
from .._validate import suggest
from .images import read_image

#: Folder holding the sample PNGs (installed as package data).
SAMPLES_DIR = Path(__file__).resolve().parents[1] / "samples"
#: The sample :func:`default_image` returns: the chart shows blur, aliasing, colour noise
#: and compression on purpose-made edges, zone plate, patches and text.
DEFAULT_SAMPLE = "chart"


def sample_paths() -> list[Path]:
    """Paths of the built-in sample PNGs, sorted by file name.

    Examples
    --------
    >>> [p.stem for p in sample_paths()]
    ['chart', 'colorchecker', 'indoor', 'rose']
    """
    return sorted(SAMPLES_DIR.glob("*.png"), key=lambda p: p.name)


def raw_sample_paths() -> list[Path]:
    """Paths of the built-in RAW samples (Bayer DNGs of real sensor data), sorted by name.

    The default source of raw-input recipes (``input: raw``) in ``degrade generate``,
    ``degrade preview`` and ``degrade validate``; read them with
    :func:`degrade.sources.raw.read_raw`.

    Examples
    --------
    >>> [p.name for p in raw_sample_paths()]
    ['nikon_d750_rose_768x512_rggb.dng', 'nokia_n900_halide_bayer_small_344x256_grbg.dng']
    """
    return sorted((SAMPLES_DIR / "raw").glob("*.dng"), key=lambda p: p.name)


def sample_names() -> list[str]:
    """Names (file stems) of the samples, in :func:`sample_paths` order."""
    return [p.stem for p in sample_paths()]


def load_sample(name_or_index: str | int) -> np.ndarray:
    """Load a built-in sample as float32 RGB in [0, 1].

    Parameters
    ----------
    name_or_index : str or int
        A sample name (``'rose'``; ``'rose.png'`` also works) or an index into
        :func:`sample_paths` (negative indices count from the end).

    Returns
    -------
    ndarray, float32, (H, W, 3), C-contiguous, values in [0, 1] (multiples of 1/255).

    Raises
    ------
    ParameterError
        Unknown name (with a did-you-mean suggestion) or index out of range.

    Examples
    --------
    >>> load_sample("rose").shape
    (320, 480, 3)
    """
    paths = sample_paths()
    names = [p.stem for p in paths]
    if isinstance(name_or_index, Integral) and not isinstance(name_or_index, bool):
        if not -len(paths) <= name_or_index < len(paths):
            raise ParameterError(f"load_sample: index {name_or_index} out of range; there are "
                                 f"{len(paths)} samples (0..{len(paths) - 1})")
        return read_image(paths[name_or_index])
    if not isinstance(name_or_index, str):
        raise ParameterError(f"load_sample: expected a sample name or an index, got "
                             f"{type(name_or_index).__name__}")
    name = name_or_index[:-4] if name_or_index.lower().endswith(".png") else name_or_index
    if name not in names:
        raise ParameterError(f"load_sample: unknown sample {name_or_index!r}{suggest(name, names)}; "
                             f"known: {', '.join(names)}")
    return read_image(paths[names.index(name)])


def default_image() -> np.ndarray:
    """The default clean image (the synthetic ``chart``, 512 x 512), float32 RGB [0, 1]."""
    return load_sample(DEFAULT_SAMPLE)
