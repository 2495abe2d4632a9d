"""Thread settings of worker processes, importable without numpy: the fork server
(:mod:`degrade._fork_server`) applies them to its own environment before numpy loads BLAS."""

#: BLAS libraries single-threaded: the engine runs one sample per worker, and a BLAS pool
#: beside it only spins (numpy's OpenBLAS starts its threads at import, so this must come first)
SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
