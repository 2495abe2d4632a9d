"""Imported once by the fork server of the ``processes`` scheduler (see :mod:`degrade.run.pool`);
never imported elsewhere (it sets the environment of the process that imports it).

First it makes the server's BLAS libraries single-threaded (:data:`degrade._threads.SINGLE_THREADED`,
set in the server's own environment before numpy loads; the forked workers inherit it, the
calling process keeps its settings). Then everything a worker needs before its first sample is
done once here, so that every worker forked from the server starts warm: the engine's modules,
OpenCV, numba, and numba's typing and lowering registries. numba loads those registries
(~250 modules' worth of ``load_additional_registries``, 0.3-0.4 s here) on the first cached
kernel a process loads; after it, loading a kernel from the cache takes milliseconds. Nothing
here starts a thread, so forking the server stays safe.

This module sits at the package's top level: ``degrade/__init__.py`` imports no numpy, while
``degrade.run`` does, which would load BLAS before the setting.
"""
import os

from ._threads import SINGLE_THREADED

os.environ.update(SINGLE_THREADED)

from .run.pool import die_with_parent  # noqa: E402

die_with_parent()        # a killed run takes its server (and so its workers) with it

import cv2  # noqa: E402,F401
import numba  # noqa: E402,F401

import degrade.ops  # noqa: E402,F401
import degrade.run.tasks  # noqa: E402,F401

try:
    from numba.core.registry import cpu_target

    cpu_target.typing_context.refresh()
    cpu_target.target_context.refresh()
except Exception:        # an internal numba API; without it, workers load them on first use
    pass
