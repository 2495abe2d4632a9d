"""Float -> integer conversion: the one helper, :func:`quantise`, and its two rounding rules.

Every site that turns [0, 1] floats into integer codes calls :func:`quantise` and names its
rule; each rule belongs to a purpose whose output is fixed (stores and op outputs stay
bit-identical), so the two are kept apart by name rather than merged:

* ``"half_up"`` — **store encoding** (``degrade generate``, ``OnTheFlyDataset``):
  ``floor(clip(x, 0, 1) * scale + 0.5)``, one numba pass (kernel
  ``degrade._nb.quantise._store_encode_kernel``) that can write into a shard's slot. The
  bits of every store depend on it. float16 stores ``x`` as it is.
* ``"half_even"`` — **codes for codecs and references**: ``rint(clip(x, 0, 1) * scale)``
  (round half to even, numpy's ``rint`` and torch's ``round``): the 8-bit image handed to
  libjpeg (``jpeg``), to OpenCV's edge detector, the 16-bit mosaic handed to OpenCV's
  demosaic, and Real-ESRGAN's 8-bit re-quantisation (``quantise_8bit``), each matching the
  reference it reproduces.

The rules differ only on exact ties, ``x * scale = k + 1/2``. The **sensor ADC** op
(``quantize``, degrade/ops/exposure.py) is not a conversion to a stored type: it rounds
``x (white - black) + black`` to DN per CFA black level and returns normalised floats; its
kernel is ``degrade._nb.isp._adc_kernel`` (round half to even).

Spelling: ``quantise`` in code. The op name ``quantize`` and the parameter values
``quantization`` (``noise_eld2020``) and ``base: quantized`` (``poisson_noise``) are recipe
API, named in YAML files, and keep theirs.
"""
from __future__ import annotations

import numpy as np

#: stored value = round(clip(x, 0, 1) * scale) for the integer dtypes; float16 stores x as is
DTYPE_SCALE = {"uint8": 255, "uint16": 65535, "float16": 1}
ROUNDING = ("half_up", "half_even")
_SCALES = {name: np.float32(scale) for name, scale in DTYPE_SCALE.items()}
_KERNEL = None


def quantise(image: np.ndarray, dtype: str, rounding: str,
             out: np.ndarray | None = None) -> np.ndarray:
    """float32 [0, 1] -> ``dtype`` ('uint8', 'uint16'; 'float16' for the store) codes.

    ``rounding``: ``"half_up"`` (the store encoding) or ``"half_even"`` (codes for codecs
    and references); see the module docstring. ``out``: a C-contiguous array of ``image``'s
    shape and ``dtype`` to write into (``"half_up"`` only) instead of a new array.
    """
    if rounding not in ROUNDING:
        raise ValueError(f"quantise: rounding = {rounding!r}: expected one of {ROUNDING}")
    if rounding == "half_even":
        if out is not None or dtype == "float16":
            raise ValueError("quantise: half_even makes new integer arrays only")
        return np.rint(np.clip(image, 0.0, 1.0) * float(DTYPE_SCALE[dtype])).astype(dtype)
    src = np.asarray(image) if dtype == "float16" else np.ascontiguousarray(image, np.float32)
    if out is None:
        out = np.empty(src.shape, dtype=dtype)
    elif out.shape != src.shape or out.dtype != np.dtype(dtype) or not out.flags.c_contiguous:
        raise ValueError(f"quantise: out is {out.dtype}{out.shape}, expected a C-contiguous "
                         f"{dtype}{src.shape}")
    if dtype == "float16":
        out[...] = src
        return out
    _store_kernel()(src.reshape(-1), _SCALES[dtype], out.reshape(-1))
    return out


def _store_kernel():
    """The numba kernel, imported on first use (readers of a store need no numba)."""
    global _KERNEL
    if _KERNEL is None:
        from ._nb.quantise import _store_encode_kernel
        _KERNEL = _store_encode_kernel
    return _KERNEL


def dequantise(stored: np.ndarray) -> np.ndarray:
    """Stored values back to float32 in [0, 1] (``stored / scale``; float16 widened)."""
    if stored.dtype == np.float16:
        return stored.astype(np.float32)
    return stored.astype(np.float32) / np.float32(DTYPE_SCALE[str(stored.dtype)])
