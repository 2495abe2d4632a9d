"""Shared fixtures: small deterministic test images and the path to ../shared/data."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def rgb():
    """A 48x40 float32 RGB image in [0, 1] with smooth content and texture."""
    yy, xx = np.mgrid[0:48, 0:40].astype(np.float32)
    img = np.stack([xx / 39, yy / 47, 0.5 + 0.45 * np.sin(xx / 2.0) * np.cos(yy / 3.0)], -1)
    return np.ascontiguousarray(img, dtype=np.float32)


@pytest.fixture
def shared_data():
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED_DATA}")
    return SHARED_DATA
