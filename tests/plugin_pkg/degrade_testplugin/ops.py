"""The entry point of the test plugin: imports the op module (``tint``). Environment switches
make it misbehave for tests/test_plugins.py: DEGRADE_TESTPLUGIN_FAIL (the import fails),
DEGRADE_TESTPLUGIN_CLASH (it claims a built-in op's name). DEGRADE_TESTPLUGIN_LOG names a
file that every importing process appends its pid to (shows the plugin loads in workers)."""
import os

import numpy as np

from degrade import register_op

if os.environ.get("DEGRADE_TESTPLUGIN_FAIL"):
    raise ImportError("libtint.so: cannot open shared object file")

if os.environ.get("DEGRADE_TESTPLUGIN_LOG"):
    with open(os.environ["DEGRADE_TESTPLUGIN_LOG"], "a") as log:
        log.write(f"{os.getpid()}\n")

from . import tint  # noqa: E402,F401  (registers plugin_tint)

if os.environ.get("DEGRADE_TESTPLUGIN_CLASH"):
    @register_op("gaussian_blur")
    def not_a_blur(image: np.ndarray, *, rng=None) -> np.ndarray:
        """Claims a built-in name."""
        return image
