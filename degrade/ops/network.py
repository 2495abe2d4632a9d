"""A network as a degradation stage: ``torch_model`` runs the user's PyTorch model on the
current image (a learned ISP rendering a noisy RAW, a restoration model whose artefacts are
the degradation). See docs/extending.md, "Putting a network in the chain".

The model is a TorchScript file (``torch.jit.save``), an importable ``module:factory``
returning an ``nn.Module``, or ``builtin:NAME`` (a file shipped in degrade/models, e.g. the
``standin_isp`` of the mialgo_track2 recipe). Only local files and installed modules: nothing
is downloaded. The stage's domains are parameters (``domain_in: raw``, ``domain_out: srgb``),
resolved when the recipe is loaded, so the domain chain is checked like any other; loading
also hashes the model and adds ``sha256`` to the stage, so every record names the exact
model (a replay with another file is refused).

torch is imported on first use (``pip install 'degrade[torch]'``). Each process loads a model
once (cache keyed by file, size and mtime) and runs it under a lock with ``threads`` torch
threads, so results do not depend on the scheduler: on CPU a sample is bit-identical across
runs, workers and replays. On CUDA, kernels (cuDNN convolution algorithms, atomics) may differ
from run to run in the last bits unless the caller sets ``torch.use_deterministic_algorithms``
and ``CUBLAS_WORKSPACE_CONFIG`` (and then only on the same GPU model and library versions).
"""
from __future__ import annotations

import hashlib
import importlib
import os
import re
import threading
import warnings
from fractions import Fraction
from pathlib import Path
from typing import Literal

import numpy as np

from .._errors import DegradeError, ParameterError
from .._registry import DOMAINS, register_op
from .._validate import as_image, check_choice, check_scalar
from .bayer import pack_raw, unpack_raw

OP = "torch_model"
PACKINGS = {"mosaic": 1, "packed": 4, "rgb": 3}     # network channels of each layout
MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
_FACTORY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_CACHE: dict = {}              # (kind, path or reference, size, mtime, device) -> loaded model
_LOAD_LOCK = threading.Lock()
_RUN_LOCK = threading.Lock()   # torch's thread count is per process: one model call at a time


def _torch():
    try:
        import torch
    except ImportError:
        raise ParameterError(f"{OP}: needs PyTorch, which is not installed: "
                             "pip install 'degrade[torch]'") from None
    return torch


def model_source(model: str) -> tuple[str, str]:
    """``(kind, location)`` of a model reference: ``("file", path)`` for a TorchScript file
    (``builtin:NAME`` is degrade/models/NAME.pt) or ``("factory", "module:function")``."""
    if not isinstance(model, str) or not model:
        raise ParameterError(f"{OP}: model = {model!r}: expected a TorchScript file, "
                             "module:factory or builtin:NAME")
    if model.startswith("builtin:"):
        name = model[len("builtin:"):]
        path = MODELS_DIR / f"{name}.pt"
        if not path.is_file():
            known = sorted(p.stem for p in MODELS_DIR.glob("*.pt"))
            raise ParameterError(f"{OP}: model = {model!r}: no built-in model {name!r}; "
                                 f"built-in: {', '.join(known) or 'none'}")
        return "file", str(path)
    if os.path.exists(model) or not _FACTORY.match(model):
        if not os.path.isfile(model):
            raise ParameterError(f"{OP}: model file {model!r} not found (a TorchScript file; or "
                                 "module:factory for an installed module)")
        return "file", model
    return "factory", model


def _file_key(path: str) -> tuple:
    st = os.stat(path)
    return os.path.realpath(path), st.st_size, st.st_mtime_ns


_SHA: dict = {}


def _sha256_file(path: str) -> str:
    key = _file_key(path)
    if key not in _SHA:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _SHA[key] = digest.hexdigest()
    return _SHA[key]


def _factory(location: str):
    module_name, function = location.split(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as e:
        raise ParameterError(f"{OP}: model = {location!r}: cannot import {module_name} "
                             f"({type(e).__name__}: {e})") from None
    if not callable(getattr(module, function, None)):
        raise ParameterError(f"{OP}: model = {location!r}: {module_name} has no function "
                             f"{function!r}")
    return module, getattr(module, function)


def model_sha256(model: str) -> str:
    """sha256 of the model's file: the TorchScript file, or the source file of a factory's
    module (weights that the factory loads itself are the factory's business)."""
    kind, location = model_source(model)
    if kind == "file":
        return _sha256_file(location)
    module, _ = _factory(location)
    source = getattr(module, "__file__", None)
    if not source:
        raise ParameterError(f"{OP}: model = {model!r}: its module has no file to hash")
    return _sha256_file(source)


def load_model(model: str, device: str = "cpu"):
    """The ``nn.Module`` (eval mode, on ``device``) for a model reference, loaded once per
    process and file version."""
    torch = _torch()
    kind, location = model_source(model)
    key = (kind, location, _file_key(location) if kind == "file" else None, device)
    with _LOAD_LOCK:
        if key in _CACHE:
            return _CACHE[key]
        if device == "cuda" and not torch.cuda.is_available():
            raise ParameterError(f"{OP}: device = 'cuda' but torch sees no CUDA device")
        if kind == "file":
            try:
                with warnings.catch_warnings():    # torch >= 2.10 marks TorchScript deprecated
                    warnings.simplefilter("ignore", DeprecationWarning)
                    net = torch.jit.load(location, map_location=device)
            except Exception as e:
                first = (str(e).strip().splitlines() or [""])[0]
                raise ParameterError(
                    f"{OP}: {location} is not a TorchScript file ({type(e).__name__}: {first}); "
                    "save a model with torch.jit.save(torch.jit.script(net), path), or give "
                    "module:factory") from None
        else:
            _, factory = _factory(location)
            try:
                net = factory()
            except Exception as e:
                raise ParameterError(f"{OP}: model = {model!r}: the factory failed "
                                     f"({type(e).__name__}: {e})") from None
            if not isinstance(net, torch.nn.Module):
                raise ParameterError(f"{OP}: model = {model!r}: the factory returned "
                                     f"{type(net).__name__}, expected a torch.nn.Module")
            net = net.to(device)
        net.eval()
        _CACHE[key] = net
        return net


def _default_packing(domain: str | None, packing: str | None, ndim: int | None = None) -> str:
    if packing is not None:
        return packing
    if domain is None:
        return "mosaic" if ndim == 2 else "rgb"
    return "mosaic" if domain == "raw" else "rgb"


def _check_packing(domain, packing, side):
    if domain is None or packing is None:
        return
    if (domain == "raw") != (packing in ("mosaic", "packed")):
        need = "mosaic or packed" if domain == "raw" else "rgb"
        raise ParameterError(f"{OP}: packing_{side} = {packing!r} disagrees with domain_{side} = "
                             f"{domain!r} (which needs {need})")


def resolve(constants: dict) -> dict:
    """At recipe load: the stage's domains from ``domain_in`` / ``domain_out``, and the
    model's sha256 added to its parameters (checked against a given ``sha256``)."""
    if "model" not in constants:
        raise ParameterError(f"{OP}: 'model' must be one constant reference (a TorchScript "
                             "file, module:factory or builtin:NAME); pick between models with "
                             "one_of")
    for side in ("in", "out"):
        _check_packing(constants.get(f"domain_{side}"), constants.get(f"packing_{side}"), side)
    _torch()
    digest = model_sha256(constants["model"])
    given = constants.get("sha256")
    if given is not None and given != digest:
        raise ParameterError(f"{OP}: model {constants['model']!r} has sha256 {digest}, but the "
                             f"recipe pins sha256 {given}")
    out = {"params": {"sha256": digest}}
    if constants.get("domain_in") is not None:
        out["domain_in"] = constants["domain_in"]
    if constants.get("domain_out") is not None:
        out["domain_out"] = constants["domain_out"]
    return out


def _to_network(img: np.ndarray, packing: str, pattern: str | None) -> np.ndarray:
    """Image layout -> (C, H, W) network layout."""
    if packing == "rgb":
        if img.ndim != 3:
            raise ParameterError(f"{OP}: packing_in 'rgb' needs an (H, W, 3) image, got shape "
                                 f"{img.shape}")
        return img.transpose(2, 0, 1)
    if img.ndim != 2:
        raise ParameterError(f"{OP}: packing_in {packing!r} needs a mosaic (H, W), got shape "
                             f"{img.shape}")
    if packing == "mosaic":
        return img[None]
    return pack_raw(img, pattern or "RGGB").transpose(2, 0, 1)


def _from_network(out: np.ndarray, packing: str, pattern: str | None) -> np.ndarray:
    """(C, h, w) network output -> image layout."""
    if packing == "rgb":
        return out.transpose(1, 2, 0)
    if packing == "mosaic":
        return out[0]
    return unpack_raw(np.ascontiguousarray(out.transpose(1, 2, 0)), pattern or "RGGB")


def _call(torch, net, x, channels: int, packing: str, model: str):
    """One network call on a (1, C, h, w) tensor, its output checked against the declaration."""
    y = net(x)
    if not isinstance(y, torch.Tensor) or y.ndim != 4 or y.shape[0] != 1 \
            or y.shape[1] != channels:
        got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ParameterError(f"{OP}: model {model!r} returned {got} for input "
                             f"{tuple(x.shape)}; packing_out {packing!r} needs "
                             f"(1, {channels}, h, w)")
    return y


def _scale(y_shape, x_shape, model) -> Fraction:
    sy = Fraction(y_shape[-2], x_shape[-2])
    sx = Fraction(y_shape[-1], x_shape[-1])
    if sy != sx:
        raise ParameterError(f"{OP}: model {model!r} maps {tuple(x_shape[-2:])} to "
                             f"{tuple(y_shape[-2:])}: different scales along y and x")
    return sy


def _run(torch, net, x, channels, packing, model, tile: int, overlap: int):
    """The network on (1, C, H, W), whole or in tiles of ``tile`` with ``overlap`` context
    on each side (only each tile's core is kept, so seams see the same context as inside)."""
    H, W = x.shape[-2:]
    if tile <= 0 or (H <= tile and W <= tile):
        y = _call(torch, net, x, channels, packing, model)
        _scale(y.shape, x.shape, model)
        return y
    out, scale = None, None
    for y0 in range(0, H, tile):
        for x0 in range(0, W, tile):
            y1, x1 = min(y0 + tile, H), min(x0 + tile, W)
            a0, b0 = max(y0 - overlap, 0), max(x0 - overlap, 0)
            a1, b1 = min(y1 + overlap, H), min(x1 + overlap, W)
            part = x[..., a0:a1, b0:b1]
            y = _call(torch, net, part, channels, packing, model)
            s = _scale(y.shape, part.shape, model)
            if scale is None:
                scale = s
                if (H * s).denominator != 1 or (W * s).denominator != 1:
                    raise ParameterError(f"{OP}: model {model!r} scales by {s}, which does not "
                                         f"map {H}x{W} to whole pixels")
                out = y.new_empty((1, channels, int(H * s), int(W * s)))
            elif s != scale:
                raise ParameterError(f"{OP}: model {model!r} scaled one tile by {s} and another "
                                     f"by {scale}")
            edges = [v * s for v in (y0, y1, x0, x1, y0 - a0, y1 - a0, x0 - b0, x1 - b0)]
            if any(e.denominator != 1 for e in edges):
                raise ParameterError(f"{OP}: tile {tile} / overlap {overlap} do not map to whole "
                                     f"output pixels at scale {s}; use multiples of "
                                     f"{s.denominator}")
            t0, t1, u0, u1, c0, c1, d0, d1 = (int(e) for e in edges)
            out[..., t0:t1, u0:u1] = y[..., c0:c1, d0:d1]
    return out


@register_op(OP, domain_in=DOMAINS, meta_in=("pattern",), resolve=resolve)
def torch_model(image: np.ndarray, model: str,
                domain_in: Literal["srgb", "linear", "camera", "raw"] | None = None,
                domain_out: Literal["srgb", "linear", "camera", "raw"] | None = None,
                packing_in: Literal["mosaic", "packed", "rgb"] | None = None,
                packing_out: Literal["mosaic", "packed", "rgb"] | None = None,
                value_scale: float = 1.0, tile: int = 0, overlap: int = 16,
                device: Literal["cpu", "cuda"] = "cpu", threads: int = 1, clip: bool = True,
                pattern: str | None = None, sha256: str | None = None, *,
                rng=None) -> np.ndarray:
    """Run a PyTorch network (TorchScript file, ``module:factory``, ``builtin:NAME``) on the image.

    Parameters
    ----------
    image : ndarray, float32, (H, W, 3), or (H, W) for a mosaic
    model : str
        A TorchScript file (a path, relative to the working directory), ``module:factory``
        (an installed module's function returning an ``nn.Module``) or ``builtin:NAME``.
    domain_in, domain_out : str or None
        What the network takes and returns (e.g. ``raw`` -> ``srgb``); None: any / the input's.
    packing_in, packing_out : ``mosaic`` | ``packed`` | ``rgb`` or None
        Tensor layout: a mosaic as (1, 1, H, W), packed as (1, 4, H/2, W/2) in the CFA
        cell's reading order (``pack_raw``), RGB as (1, 3, H, W). None: ``mosaic`` for raw
        data, ``rgb`` otherwise.
    value_scale : float > 0
        The network's white level: inputs are multiplied by it and outputs divided
        (1: [0, 1]; 255: 8-bit values; 1023: 10-bit).
    tile, overlap : int >= 0
        Run in tiles of ``tile`` network-input pixels, each with ``overlap`` pixels of context
        on every side (0: the whole image at once). Even values for a mosaic.
    device : ``cpu`` | ``cuda``
    threads : int >= 1
        torch threads of the call (fixed, so that the result does not depend on the machine).
    clip : bool
        Clip the output to [0, 1].
    pattern : str or None
        CFA pattern for ``packed`` (from the sample's metadata when not given).
    sha256 : str or None
        The model's sha256; set by the recipe loader (and so recorded in every record) and
        checked here when given.
    rng : unused

    Returns
    -------
    ndarray, float32: (h, w, 3) for ``rgb`` output, (h, w) for ``mosaic``/``packed``.

    Examples
    --------
    >>> mosaic = np.full((8, 8), 0.25, np.float32)
    >>> torch_model(mosaic, "builtin:standin_isp", domain_in="raw", domain_out="srgb").shape
    (8, 8, 3)
    """
    torch = _torch()
    raw_in = domain_in == "raw" or (domain_in is None and np.ndim(image) == 2)
    img = as_image(image, op=OP, channels=None if raw_in else (3,), allow_2d=raw_in)
    packing_in = _default_packing(domain_in, packing_in, img.ndim)
    packing_out = _default_packing(domain_out or domain_in, packing_out, img.ndim)
    for side, domain, packing in (("in", domain_in, packing_in), ("out", domain_out, packing_out)):
        check_choice(f"packing_{side}", packing, tuple(PACKINGS), op=OP)
        _check_packing(domain, packing, side)
    check_choice("device", device, ("cpu", "cuda"), op=OP)
    scale = check_scalar("value_scale", value_scale, op=OP, low=0, low_open=True)
    tile = int(check_scalar("tile", tile, op=OP, low=0, integer=True))
    overlap = int(check_scalar("overlap", overlap, op=OP, low=0, integer=True))
    threads = int(check_scalar("threads", threads, op=OP, low=1, integer=True))
    if packing_in == "mosaic" and (tile % 2 or overlap % 2):
        raise ParameterError(f"{OP}: tile = {tile}, overlap = {overlap}: a mosaic is cut at even "
                             "positions only (CFA phase); use even values")
    if sha256 is not None and sha256 != model_sha256(model):
        raise ParameterError(f"{OP}: model {model!r} has sha256 {model_sha256(model)}, not the "
                             f"recorded {sha256} (another file than the one the record was "
                             "made with)")
    net = load_model(model, device)
    x = np.ascontiguousarray(_to_network(img, packing_in, pattern), np.float32)
    if scale != 1:
        x = x * np.float32(scale)
    with _RUN_LOCK:
        saved = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            with torch.inference_mode():
                y = _run(torch, net, torch.from_numpy(x)[None].to(device), PACKINGS[packing_out],
                         packing_out, model, tile, overlap)
                y = y[0].to("cpu", torch.float32).numpy()
        except DegradeError:
            raise
        except Exception as e:        # the network itself failed on this input
            first = (str(e).strip().splitlines() or [""])[0]
            raise ParameterError(f"{OP}: model {model!r} failed on an input of shape "
                                 f"{tuple(x.shape)} ({type(e).__name__}: {first})") from None
        finally:
            torch.set_num_threads(saved)
    if scale != 1:
        y = y / np.float32(scale)
    out = _from_network(y, packing_out, pattern)
    if clip:
        out = np.clip(out, 0, 1)
    if not np.isfinite(out).all():
        raise ParameterError(f"{OP}: model {model!r} returned non-finite values")
    return np.ascontiguousarray(out, dtype=np.float32)


__all__ = ["torch_model", "load_model", "model_sha256", "model_source"]
