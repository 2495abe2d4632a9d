"""Every argument and image check of degrade, in one message style.

Messages read ``<where>: parameter 'sigma' = -1.0: expected a number > 0`` for an op or a
recipe parameter, and ``<name> = <value>: expected ...`` for a function argument
(``workers = 0: expected an integer >= 1``): the name, the value given and what was expected.

Images entering an op are float arrays in [0, 1] (the data contract, docs/recipes.md):
integer images are refused with a line that says how to convert them, never taken as
unscaled floats (a uint8 image read as [0, 1] floats is 255x too bright).
"""
from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Sequence
from numbers import Integral, Real

import numpy as np

from ._errors import ParameterError

IMAGE_LAYOUTS = ("HW", "HWC")


def _where(op: str | None) -> str:
    return f"{op}: " if op else ""


def suggest(name: str, candidates: Iterable[str]) -> str:
    """Return ' (did you mean 'x'?)' for the closest candidate, or ''."""
    match = difflib.get_close_matches(str(name), list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def as_image(image, *, name: str = "image", op: str | None = None,
             channels: Sequence[int] | None = (3,), allow_2d: bool = False,
             check_finite: bool = True) -> np.ndarray:
    """Check an image array and return it as C-contiguous float32 (no copy when possible).

    Parameters
    ----------
    image : array_like
        ``(H, W, C)`` or, with ``allow_2d``, ``(H, W)``; values in [0, 1].
    channels : sequence of int or None
        Allowed channel counts for 3-D input; None allows any.
    allow_2d : bool
        Whether a 2-D array (a mosaic or a gray plane) is accepted.
    check_finite : bool
        Reject NaN/inf values (a full pass over the image). Ops that only copy a part of
        the image check that part themselves with :func:`check_finite_values`.

    Raises
    ------
    ParameterError
        Wrong type, shape, channel count, an empty image or non-finite values.
    """
    if not isinstance(image, np.ndarray):
        raise ParameterError(f"{_where(op)}{name} must be a numpy array, got {type(image).__name__}")
    if image.ndim == 2 and not allow_2d:
        raise ParameterError(
            f"{_where(op)}{name} has shape {image.shape}: expected (H, W, 3); "
            "a 2-D array (mosaic or gray plane) is not accepted here")
    if image.ndim not in (2, 3):
        raise ParameterError(f"{_where(op)}{name} has shape {image.shape}: expected (H, W, C)"
                             + (" or (H, W)" if allow_2d else ""))
    if image.ndim == 3 and channels is not None and image.shape[2] not in channels:
        raise ParameterError(f"{_where(op)}{name} has {image.shape[2]} channels: expected "
                             + " or ".join(map(str, channels)))
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ParameterError(f"{_where(op)}{name} is empty (shape {image.shape})")
    if image.dtype.kind in "iu":
        raise ParameterError(
            f"{_where(op)}{name} has dtype {image.dtype}: expected float32 in [0, 1]; convert "
            f"with {name if name.isidentifier() else 'image'}.astype(np.float32) / "
            f"{np.iinfo(image.dtype).max} "
            "(or read files with degrade.sources.read_image)")
    if image.dtype.kind != "f":
        raise ParameterError(f"{_where(op)}{name} has dtype {image.dtype}: expected float32 in [0, 1]")
    out = np.ascontiguousarray(image, dtype=np.float32)
    if check_finite:
        check_finite_values(out, name=name, op=op)
    return out


def check_finite_values(image: np.ndarray, *, name: str = "image", op: str | None = None) -> None:
    """Raise ParameterError when ``image`` holds NaN or infinite values."""
    if not np.isfinite(image).all():
        raise ParameterError(f"{_where(op)}{name} contains NaN or infinite values")


def check_scalar(name: str, value, *, op: str | None = None, integer: bool = False,
                 low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False) -> float | int:
    """Check a real (or integer) scalar against optional bounds and return it as float/int."""
    if isinstance(value, bool) or not isinstance(value, (Integral, Real) if not integer else Integral):
        if integer and isinstance(value, float) and float(value).is_integer():
            value = int(value)
        else:
            kind = "an integer" if integer else "a number"
            raise ParameterError(f"{_where(op)}parameter '{name}' = {value!r}: expected {kind}")
    value = int(value) if integer else float(value)
    if not integer and not math.isfinite(value):
        raise ParameterError(f"{_where(op)}parameter '{name}' = {value!r}: expected a finite number")
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and (value >= high if high_open else value > high)
    if bad_low or bad_high:
        lo = "" if low is None else f"{low} {'<' if low_open else '<='} "
        hi = "" if high is None else f" {'<' if high_open else '<='} {high}"
        raise ParameterError(f"{_where(op)}parameter '{name}' = {value!r}: expected {lo}{name}{hi}")
    return value


def check_choice(name: str, value, choices: Sequence, *, op: str | None = None):
    """Check that ``value`` is one of ``choices`` (strings get a did-you-mean)."""
    if value not in choices:
        hint = suggest(value, [str(c) for c in choices]) if isinstance(value, str) else ""
        listed = ", ".join(repr(c) for c in choices)
        raise ParameterError(f"{_where(op)}parameter '{name}' = {value!r}: expected one of {listed}{hint}")
    return value


def check_size(name: str, value, *, op: str | None = None) -> tuple[int, int]:
    """Accept an int or a pair of ints (height, width), all >= 1; return ``(h, w)``."""
    if isinstance(value, (Integral,)) and not isinstance(value, bool):
        value = (value, value)
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, Integral) and not isinstance(v, bool) for v in value)):
        raise ParameterError(f"{_where(op)}parameter '{name}' = {value!r}: expected an integer "
                             "or a pair [height, width] of integers")
    h, w = int(value[0]), int(value[1])
    if h < 1 or w < 1:
        raise ParameterError(f"{_where(op)}parameter '{name}' = {value!r}: expected sizes >= 1")
    return h, w


def check_integer(name: str, value, low: int | None = None, *, where: str | None = None) -> int:
    """A function argument that must be an integer (not a bool, not a float) ``>= low``.

    The message names the argument as given: ``shard_size = 0: expected an integer >= 1``.
    """
    if (isinstance(value, bool) or not isinstance(value, Integral)
            or (low is not None and value < low)):
        bound = "" if low is None else f" >= {low}"
        raise ParameterError(f"{_where(where)}{name} = {value!r}: expected an integer{bound}")
    return int(value)


def check_flag(name: str, value, *, where: str | None = None) -> bool:
    """A function argument that must be True or False (numpy bools too)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ParameterError(f"{_where(where)}{name} = {value!r}: expected True or False")
    return bool(value)


def check_index(index, length: int) -> int:
    """A sequence index (Python's own errors: ``TypeError``/``IndexError``, as a list raises)."""
    if isinstance(index, bool) or not isinstance(index, Integral):
        raise TypeError(f"index must be an integer, got {type(index).__name__}")
    index = int(index)
    if not 0 <= index < length:
        raise IndexError(f"index {index} out of range for {length} samples")
    return index


def require_rng(rng, op: str) -> np.random.Generator:
    """Ops that draw need an explicit Generator: degrade never uses global random state."""
    if not isinstance(rng, np.random.Generator):
        raise ParameterError(f"{op}: needs rng=numpy.random.Generator (got {type(rng).__name__}); "
                             "e.g. rng=np.random.default_rng(0)")
    return rng


def check_vector(name: str, value, lengths: tuple[int, ...], *, op: str,
                 low: float | None = None, low_open: bool = False) -> np.ndarray:
    """A scalar (broadcast to ``lengths[0]``) or a list of one of ``lengths`` finite numbers."""
    if np.isscalar(value) and not isinstance(value, str):
        value = [check_scalar(name, value, op=op, low=low, low_open=low_open)] * lengths[0]
    arr = np.asarray(value, dtype=object)
    if arr.ndim != 1 or len(arr) not in lengths:
        raise ParameterError(f"{op}: parameter '{name}' = {value!r}: expected a number or a "
                             f"list of {' or '.join(map(str, lengths))} numbers")
    return np.array([check_scalar(name, v, op=op, low=low, low_open=low_open) for v in arr],
                    dtype=np.float64)
