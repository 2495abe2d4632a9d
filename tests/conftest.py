"""Shared fixtures: small deterministic test images, the path to ../shared/data, and a fresh
interpreter for import-side-effect checks."""
from __future__ import annotations

import subprocess
import sys
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


def _python_stdout(code: str, *args: str, timeout: float = 120) -> str:
    """Run ``python -c code args...`` in a fresh interpreter; its stdout (it must exit 0)."""
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         timeout=timeout)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture
def fresh_python():
    """``fresh_python(code, *args)``: stdout of ``code`` run in a new interpreter (checks what
    an import pulls in, without the modules this test process has loaded)."""
    return _python_stdout
