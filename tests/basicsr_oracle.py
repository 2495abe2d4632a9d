"""basicsr 1.4.2 as a test oracle, imported without its package ``__init__``.

basicsr's ``__init__`` imports every architecture and model, which needs torchvision and
tqdm (not dependencies; basicsr is installed with --no-deps). :func:`basicsr_modules` imports
the named submodules under an empty ``basicsr`` package shell with the few torchvision names
the data and utils modules touch stubbed (basicsr master imports
``torchvision.transforms.functional.rgb_to_grayscale`` there; 1.4.2 the ``functional_tensor``
one), then restores ``sys.modules``; the returned modules keep working.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
import types

import numpy as np

_STUBS = {"torchvision": {}, "torchvision.utils": {"make_grid": None},
          "torchvision.transforms": {},
          "torchvision.transforms.functional": {"normalize": None},
          "torchvision.transforms.functional_tensor": {
              "rgb_to_grayscale": lambda img, num_output_channels=1: (
                  0.2989 * img[:, 0:1] + 0.587 * img[:, 1:2] + 0.114 * img[:, 2:3])}}


def basicsr_modules(*names: str) -> list | None:
    """The modules ``basicsr.<name>`` for each name, or None when basicsr or torch cannot be
    imported (any import problem means: no oracle)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return None
    spec = importlib.util.find_spec("basicsr")
    if spec is None or not spec.submodule_search_locations:
        return None
    saved = {n: sys.modules.get(n) for n in ["basicsr", *_STUBS]}
    shell = types.ModuleType("basicsr")
    shell.__path__, shell.__spec__ = list(spec.submodule_search_locations), spec
    sys.modules["basicsr"] = shell
    for name, attrs in _STUBS.items():
        sys.modules[name] = types.SimpleNamespace(**attrs) if attrs else types.ModuleType(name)
    err = np.geterr()                      # basicsr sets np.seterr(divide/invalid='ignore')
    try:
        return [importlib.import_module(f"basicsr.{n}") for n in names]
    except Exception:
        return None
    finally:
        np.seterr(**err)
        for n in [n for n in sys.modules if n.startswith("basicsr.")]:
            sys.modules.pop(n)
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m
