"""degrade/_validate.py: the one home of argument and image checks."""
from __future__ import annotations

import numpy as np
import pytest

from degrade import ops
from degrade._errors import ParameterError
from degrade._validate import check_index, check_integer, check_vector, require_rng


@pytest.mark.parametrize("dtype, peak", [(np.uint8, 255), (np.uint16, 65535), (np.int32, 2**31 - 1)])
def test_integer_images_are_refused_with_how_to_convert(dtype, peak):
    """An integer image read as [0, 1] floats would be silently wrong (gaussian_blur on uint8
    returned values up to 200, jpeg a white image): every op refuses it, saying how to
    convert."""
    image = np.full((16, 16, 3), 100, dtype)
    for call in (lambda: ops.gaussian_blur(image, sigma_x=1.0),
                 lambda: ops.jpeg(image, quality=50),
                 lambda: ops.gaussian_noise(image, sigma=0.1, rng=np.random.default_rng(0))):
        with pytest.raises(ParameterError, match=rf"image has dtype {np.dtype(dtype)}: expected "
                           rf"float32 in \[0, 1\]; convert with image.astype\(np.float32\) / {peak}"):
            call()


def test_a_converted_integer_image_gives_the_float_result():
    image = np.random.default_rng(1).integers(0, 256, (16, 16, 3)).astype(np.uint8)
    blurred = ops.gaussian_blur(image.astype(np.float32) / 255, sigma_x=1.0)
    assert blurred.dtype == np.float32 and 0.0 <= blurred.min() and blurred.max() <= 1.0


def test_bool_images_are_refused():
    with pytest.raises(ParameterError, match="image has dtype bool: expected float32"):
        ops.gaussian_blur(np.ones((8, 8, 3), bool), sigma_x=1.0)


@pytest.mark.parametrize("value", [-1, 1.0, True, "3", None])
def test_check_integer_names_the_argument_value_and_bound(value):
    with pytest.raises(ParameterError, match=rf"^workers = {value!r}: expected an integer >= 0$"
                       .replace("(", r"\(").replace(")", r"\)")):
        check_integer("workers", value, 0)
    assert check_integer("workers", np.int64(3), 0) == 3


def test_check_index_and_rng_and_vector():
    with pytest.raises(IndexError, match="index 3 out of range for 3 samples"):
        check_index(3, 3)
    with pytest.raises(TypeError, match="index must be an integer, got float"):
        check_index(1.0, 3)
    with pytest.raises(ParameterError, match=r"op: needs rng=numpy.random.Generator \(got int\)"):
        require_rng(0, "op")
    assert check_vector("gain", 2, (3,), op="op").tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(ParameterError, match=r"op: parameter 'gain' = \[1, 2\]: expected a "
                       "number or a list of 3 numbers"):
        check_vector("gain", [1, 2], (3,), op="op")


def test_a_recipe_refuses_an_integer_input_image():
    import degrade
    with pytest.raises(ParameterError, match=r"input image has dtype uint8: expected float32 in "
                       r"\[0, 1\]; convert with image.astype\(np.float32\) / 255"):
        degrade.load_recipe("simple_x2").run(np.zeros((300, 300, 3), np.uint8), seed=0, index=0)
