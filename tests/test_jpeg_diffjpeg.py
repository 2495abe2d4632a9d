"""diffjpeg against a plain-numpy transcription of reference R6 (basicsr DiffJPEG)."""
from __future__ import annotations


import cv2
import numpy as np
import pytest

from degrade import ops
from degrade._errors import ParameterError
from naive import reference_diffjpeg


@pytest.fixture
def photo():
    rng = np.random.default_rng(11)
    img = cv2.GaussianBlur(rng.random((45, 70, 3), dtype=np.float32), (0, 0), 1.2)
    return np.ascontiguousarray(np.clip((img - 0.5) * 3 + 0.5, 0, 1))


@pytest.mark.parametrize("q", [30.0, 49.9, 50.0, 73.31, 95.0])
def test_diffjpeg_equals_reference(photo, q):
    got = ops.diffjpeg(photo, q)
    assert got.dtype == np.float32 and got.shape == photo.shape
    assert np.abs(got - reference_diffjpeg(photo, q)).max() < 1e-6


def test_diffjpeg_clamps_input_and_output(photo):
    wild = photo * 1.6 - 0.3
    got = ops.diffjpeg(wild, 60.0)
    assert got.min() >= 0 and got.max() <= 1
    assert np.abs(got - reference_diffjpeg(np.clip(wild, 0, 1), 60.0)).max() < 1e-6


def test_diffjpeg_float_quality_changes_output(photo):
    assert not np.array_equal(ops.diffjpeg(photo, 40.0), ops.diffjpeg(photo, 40.5))


def test_diffjpeg_quality_monotone_in_error(photo):
    err = [np.abs(ops.diffjpeg(photo, q) - photo).mean() for q in (30.0, 60.0, 95.0)]
    assert err[0] > err[1] > err[2]


def test_diffjpeg_is_close_to_libjpeg_in_kind(photo):
    # Same artefact family: PSNR(DiffJPEG, cv2) well above either's PSNR to the input.
    a, b = ops.diffjpeg(photo, 75.0), ops.jpeg(photo, 75)
    psnr = lambda u, v: 10 * np.log10(1 / np.mean((u - v) ** 2))
    assert psnr(a, b) > psnr(a, photo) - 3


def test_luma_table_is_transposed():
    from degrade.ops.diffjpeg_codec import diffjpeg_tables
    y, c = diffjpeg_tables(50.0)
    assert y[0, 1] == 12 and y[1, 0] == 11 and np.array_equal(c, c.T)


@pytest.mark.parametrize("q, message", [(0.0, "parameter 'quality' = 0.0"),
                                        (101.0, "parameter 'quality' = 101.0"),
                                        ("high", "parameter 'quality' = 'high'")])
def test_diffjpeg_errors(photo, q, message):
    with pytest.raises(ParameterError, match="diffjpeg") as err:
        ops.diffjpeg(photo, q)
    assert message in str(err.value)
