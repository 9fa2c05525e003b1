"""Declares the Cython extensions; everything else lives in pyproject.toml.

Kernels whose lists are tables (activations, losses) are Tempita templates,
`<name>.pyx.tp`, rendered here to `<name>.pyx` before Cython compiles them.
Set FASTMLP_DEBUG=1 when building to turn bounds and initialisation checks back on.
"""
import os
import sys
from pathlib import Path

from Cython import Tempita
from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("FASTMLP_DEBUG") == "1"
KERNELS = Path("fastmlp") / "_kernels"

# One module per concern, from BLAS up to the epoch (see fastmlp/_kernels/__init__.py).
MODULES = [
    "fastmlp._kernels.common", "fastmlp._kernels.blas", "fastmlp._kernels.dropout",
    "fastmlp._kernels.activations", "fastmlp._kernels.losses", "fastmlp._kernels.optimizers",
    "fastmlp._kernels.sparse", "fastmlp._kernels.layers", "fastmlp._kernels.step",
    "fastmlp._kernels.epoch", "fastmlp._kernels.gradient", "fastmlp._kernels.predict",
    "fastmlp._kernels.row_predict", "fastmlp.benchmark.gemm_bound",
]

# -O3 and nothing CPU-specific (the loops written in C dispatch at load time, see
# dispatch.h). -fno-math-errno lets gcc vectorize sqrt/exp loops (errno is never
# read here); -fno-trapping-math lets it turn the activations' branches (relu's
# z <= 0 ? 0 : z, its derivative's a > 0 ? 1 : 0) into vector selects: nothing here
# enables floating-point traps or reads the exception flags. Neither changes a
# result. -fopenmp-simd honours the `omp simd` pragmas of the C loops (no OpenMP
# runtime is linked for them).
COMPILE_ARGS = ([] if sys.platform == "win32" else
                ["-O3", "-fno-math-errno", "-fno-trapping-math", "-fopenmp-simd"])

DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": DEBUG,
    "nonecheck": False,
    "embedsignature": True,
}

# The training step and prediction run on a team of OpenMP threads (cython.parallel,
# and the training team's barrier).
OPENMP = {"fastmlp._kernels.step", "fastmlp._kernels.predict"}
OPENMP_FLAG = "/openmp" if sys.platform == "win32" else "-fopenmp"


def render_templates():
    """<name>.pyx from <name>.pyx.tp, when the template is newer."""
    for template in sorted(KERNELS.glob("*.pyx.tp")):
        target = template.with_suffix("")
        if not target.exists() or target.stat().st_mtime < template.stat().st_mtime:
            target.write_text(Tempita.sub(template.read_text()))


def extension(name):
    openmp = [OPENMP_FLAG] if name in OPENMP else []
    return Extension(name, [name.replace(".", "/") + ".pyx"],
                     extra_compile_args=COMPILE_ARGS + openmp,
                     extra_link_args=openmp if sys.platform != "win32" else [],
                     include_dirs=[str(KERNELS)])


render_templates()
# A debug build writes its C beside the release build's, not over it, and always anew:
# Cython alone would not notice that only the directives changed.
setup(ext_modules=cythonize([extension(name) for name in MODULES],
                            compiler_directives=DIRECTIVES, force=DEBUG,
                            build_dir="build/debug-c" if DEBUG else None))
