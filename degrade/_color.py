"""Colour constants shared by the colour ops (:mod:`degrade.ops.color`) and the RAW reader
(:mod:`degrade.sources.raw`); here, below both, so neither imports the other."""
from __future__ import annotations

import numpy as np

#: sRGB (D65) linear RGB -> XYZ, as in Brooks 2019 ``unprocess.random_ccm``.
RGB2XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                    [0.2126729, 0.7151522, 0.0721750],
                    [0.0193339, 0.1191920, 0.9503041]])
