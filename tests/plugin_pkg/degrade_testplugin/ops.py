"""Registers ``plugin_tint`` (a random per-channel gain). Environment switches make it
misbehave for the error tests: DEGRADE_TESTPLUGIN_FAIL (the import fails),
DEGRADE_TESTPLUGIN_CLASH (it claims a built-in op's name). DEGRADE_TESTPLUGIN_LOG names a
file that every importing process appends its pid to (shows the plugin loads in workers)."""
import os

import numpy as np

from degrade import ParameterError, register_op

if os.environ.get("DEGRADE_TESTPLUGIN_FAIL"):
    raise ImportError("libtint.so: cannot open shared object file")

if os.environ.get("DEGRADE_TESTPLUGIN_LOG"):
    with open(os.environ["DEGRADE_TESTPLUGIN_LOG"], "a") as log:
        log.write(f"{os.getpid()}\n")


@register_op("plugin_tint", domain_in=("srgb", "linear"), random=True)
def plugin_tint(image: np.ndarray, strength: float = 0.1, *, rng=None) -> np.ndarray:
    """Multiply each channel by a gain drawn from U(1 - strength, 1 + strength), clip."""
    if not 0 <= strength <= 1:
        raise ParameterError(f"plugin_tint: strength = {strength!r}: expected a value in [0, 1]")
    gains = rng.uniform(1 - strength, 1 + strength, size=3).astype(np.float32)
    return np.clip(image * gains, 0, 1).astype(np.float32)


if os.environ.get("DEGRADE_TESTPLUGIN_CLASH"):
    @register_op("gaussian_blur")
    def not_a_blur(image: np.ndarray, *, rng=None) -> np.ndarray:
        """Claims a built-in name."""
        return image
