"""Imported once by the fork server of the ``processes`` scheduler (see :mod:`.pool`).

Everything a worker needs before its first sample, done once in the server so that every
worker forked from it starts warm: the engine's modules, OpenCV, numba, and numba's typing
and lowering registries. numba loads those registries (~250 modules' worth of
``load_additional_registries``, 0.3-0.4 s here) on the first cached kernel a process loads;
after it, loading a kernel from the cache takes milliseconds. Nothing here starts a thread,
so forking the server stays safe.
"""
import cv2  # noqa: F401
import numba  # noqa: F401

import degrade.ops  # noqa: F401
import degrade.run.tasks  # noqa: F401

try:
    from numba.core.registry import cpu_target

    cpu_target.typing_context.refresh()
    cpu_target.target_context.refresh()
except Exception:        # an internal numba API; without it, workers load them on first use
    pass
