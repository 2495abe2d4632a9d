"""Shared numba kernels (no public API).

Every kernel is ``@numba.njit(cache=True, nogil=True)``, takes C-contiguous arrays, scalars,
a ``numpy.random.Generator`` when it draws, and a caller-allocated ``out``. Modules here are
imported lazily by the ops so that ``import degrade`` does not pay numba's import time.
"""
