"""Benchmarks that measure degrade against real data.

:mod:`degrade.noisebench.noise` (``degrade noisebench``): how close each noise model comes to
real camera noise (marginal KL, noise level function, spatial correlation) and how fast it
is. Submodules: ``inputs`` (pairs and their checks), ``fitting`` (noise level function fit),
``models`` (the compared models), ``metrics``, ``dark`` (dark-frame statistics), ``report``
(table, JSON, CSV) and ``figure`` (PNG). See docs/noisebench.md.
"""
