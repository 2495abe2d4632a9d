"""Contract example of dark_frame_noise: a small synthetic dark-frame bank (Gaussian read
noise and row noise around black 64, one hot pixel), written once to the temp folder."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np


def _bank() -> str:
    path = Path(tempfile.gettempdir()) / "degrade_contract_dark_bank_GBRG.npy"
    if not path.exists():
        rng = np.random.default_rng(0)
        frames = 64 + rng.normal(0, 2.0, (3, 40, 44)) + rng.normal(0, 0.5, (3, 40, 1))
        frames[:, 5, 7] += 200
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, np.round(frames).astype(np.uint16))
        tmp.replace(path)                  # atomic: parallel test workers see a whole file
    return str(path)


EXAMPLES = [
    {"op": "dark_frame_noise", "params": {"bank": _bank(), "gain": 0.8, "white_level": 1023,
                                          "black_level": 64, "clip": True},
     "input": "raw", "meta": {"pattern": "RGGB"}},
    {"op": "dark_frame_noise", "params": {"bank": _bank(), "gain": 2.0, "white_level": 1023},
     "input": "raw", "meta": {"pattern": "BGGR"}, "unclipped": True},
]
