"""The noise-model benchmark (``degrade noisebench``): which noise model comes closest to a
camera's real noise, with intervals and a verdict, and which one trains the better denoiser.

Submodules: ``noise`` (:func:`~degrade.noisebench.noise.benchmark_noise`, the entry point),
``inputs`` (sRGB / RAW pairs and their checks), ``rawformats`` (SIDD .MAT, SID/ELD
short-long exposure pairs), ``fitting`` (noise level function fit), ``models`` (the compared
models), ``metrics``, ``stats`` (patch statistics, bootstrap, verdict), ``identify``
(identifiability study), ``dark`` (dark-frame statistics), ``darkfit`` (read / row /
fixed-pattern fit), ``denoiser`` (the downstream denoiser test, torch), ``report`` (table,
JSON, CSV) and ``figure`` (PNG). See docs/noisebench.md.
"""
