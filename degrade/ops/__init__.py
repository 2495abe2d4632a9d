"""All registered operators, importable as ``degrade.ops.<name>``.

Each op is a plain function ``op(image, **params, rng=None)``; see ``degrade ops`` for the
table of names, parameters and domains. Every family module is imported here by name
(importing it registers its ops and samplers), so IDEs and type checkers see each op.

Adding a family module ``ops/new_family.py``: one import line below naming its ops, and the
names in ``__all__``; tests/test_architecture.py checks that every module of this package is
imported here and that ``__all__`` and the registry agree, and names what is missing. A
module is not named after one of its ops (``jpeg_codec.py`` holds ``jpeg``): the op would
hide the module.
"""
from __future__ import annotations

from . import psf, psf_samplers  # noqa: F401  (psf_blur's kernels and samplers; no ops)
from .bayer import demosaic, mosaic, pack_raw, unpack_raw
from .blur import gaussian_blur, psf_blur
from .color import apply_ccm, apply_wb_gains, remove_ccm, remove_wb_gains
from .dark_frame import dark_frame_noise
from .defects import bayer_defects
from .diffjpeg_codec import diffjpeg
from .edges import bilateral_filter, edge_masked_blur
from .exposure import (add_black_level, channel_scale, darken, digital_gain, quantize, saturate,
                       subtract_black_level)
from .geometry import crop, flip_rot
from .jpeg_codec import jpeg
from .noise import gaussian_noise
from .render import render_libraw_aahd
from .resampling import blur_decimate_zhang2021, resize
from .rgb_noise import correlated_noise, poisson_noise, speckle_noise
from .sensor import heteroscedastic_gaussian_noise, noise_eld2020, poisson_gaussian_noise
from .sharpen import usm_sharpen
from .network import torch_model
from .tone import gamma_compress, gamma_expand, inverse_smoothstep, smoothstep
from .unprocess import process_brooks2019, unprocess_brooks2019

__all__ = [
    "add_black_level", "apply_ccm", "apply_wb_gains", "bayer_defects", "bilateral_filter", "dark_frame_noise",
    "blur_decimate_zhang2021", "channel_scale", "correlated_noise", "crop", "darken", "demosaic",
    "diffjpeg", "digital_gain", "edge_masked_blur", "flip_rot", "gamma_compress", "gamma_expand",
    "gaussian_blur", "gaussian_noise", "heteroscedastic_gaussian_noise", "inverse_smoothstep",
    "jpeg", "mosaic", "noise_eld2020", "pack_raw", "poisson_gaussian_noise", "poisson_noise",
    "process_brooks2019", "psf_blur", "quantize", "remove_ccm", "remove_wb_gains",
    "render_libraw_aahd", "resize", "saturate", "smoothstep", "speckle_noise",
    "subtract_black_level", "torch_model", "unpack_raw", "unprocess_brooks2019", "usm_sharpen",
]
