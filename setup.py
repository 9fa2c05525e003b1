"""Declares the Cython extensions; everything else lives in pyproject.toml.

Set FASTMLP_DEBUG=1 when building to turn bounds and initialisation checks back on.
"""
import os
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("FASTMLP_DEBUG") == "1"

# One file per concern; the list reads like the architecture (see README).
MODULES = ["_blas", "_dropout", "_activations", "_losses", "_optimizers", "_sparse", "_network", "_training", "_gemm_bound", "_inference"]

# -O3 and nothing CPU-specific. -fno-math-errno lets gcc vectorize sqrt/exp loops
# (errno is never read here) and changes no result; -fopenmp-simd honours the
# `omp simd` pragmas of _simd.h (no OpenMP runtime is linked).
COMPILE_ARGS = [] if sys.platform == "win32" else ["-O3", "-fno-math-errno", "-fopenmp-simd"]

DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": DEBUG,
    "nonecheck": False,
    "embedsignature": True,
}

# The training step runs on a team of OpenMP threads (cython.parallel, and the
# team barrier in _network).
OPENMP = {"_network", "_training"}
OPENMP_FLAG = "/openmp" if sys.platform == "win32" else "-fopenmp"

extensions = [
    Extension(f"fastmlp.{name}", [f"fastmlp/{name}.pyx"],
              extra_compile_args=COMPILE_ARGS + ([OPENMP_FLAG] if name in OPENMP else []),
              extra_link_args=[OPENMP_FLAG] if name in OPENMP and sys.platform != "win32" else [],
              include_dirs=["fastmlp"])
    for name in MODULES
]

setup(ext_modules=cythonize(extensions, compiler_directives=DIRECTIVES))
