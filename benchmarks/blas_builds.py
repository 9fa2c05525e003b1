"""The same sgemm calls through scipy's OpenBLAS (fastmlp's, via cython_blas) and numpy's.

numpy and scipy each bundle their own OpenBLAS build. fastmlp and the gemm-only
bound call scipy's; scikit-learn's MLP multiplies with numpy's. This script times
one thread of each on the gemm shapes of a 784-256-128-10 training step (each
team thread's share at batch 128, then the whole-batch shapes of the bound), so a
difference between the two builds shows up apart from everything else.

    OPENBLAS_CORETYPE=Haswell python benchmarks/blas_builds.py
"""
import argparse
import ctypes
import json
import time

import numpy as np
import scipy.linalg  # noqa: F401  (loads scipy's OpenBLAS)
from threadpoolctl import threadpool_info, threadpool_limits

# (what, M, N, K, transa, transb) of column-major C (M x N) = op(A) op(B), as fastmlp
# calls them for row-major arrays (see fastmlp/_blas.pyx): Z = X W is (n_out, rows, n_in).
SHAPES = [
    ("layer 0 term, a thread's 392 inputs", 256, 128, 392, "N", "N"),
    ("dW_0 rows, a thread's 392 inputs", 256, 392, 128, "N", "T"),
    ("layer 1 term, 128 inputs", 128, 128, 128, "N", "N"),
    ("layer 0 forward, the whole batch", 256, 128, 784, "N", "N"),
    ("square 1024", 1024, 1024, 1024, "N", "N"),
]

CBLAS_COL_MAJOR, CBLAS_NO_TRANS, CBLAS_TRANS = 102, 111, 112


def openblas_builds():
    """{'scipy' | 'numpy': threadpoolctl's record} of the OpenBLAS each package loaded."""
    builds = {}
    for info in threadpool_info():
        if info.get("internal_api") != "openblas":
            continue
        path = info["filepath"].replace("\\", "/")
        for package in ("scipy", "numpy"):
            if f"/{package}.libs/" in path or f"/{package}/" in path:
                builds[package] = info
    return builds


def cblas_sgemm(path):
    """(function, integer type) of the library's cblas_sgemm, however it is prefixed."""
    library = ctypes.CDLL(path)
    for name, integer in (("scipy_cblas_sgemm64_", ctypes.c_int64),
                          ("scipy_cblas_sgemm", ctypes.c_int),
                          ("cblas_sgemm64_", ctypes.c_int64), ("cblas_sgemm", ctypes.c_int)):
        if hasattr(library, name):
            return getattr(library, name), integer
    raise LookupError(f"no cblas_sgemm in {path}")


def gflops(sgemm, integer, m, n, k, transa, transb, seconds):
    """Best-of-5 GFLOP/s of C = op(A) op(B), each repetition about `seconds` long."""
    rng = np.random.default_rng(0)
    a = rng.random(m * k, dtype=np.float32)
    b = rng.random(k * n, dtype=np.float32)
    c = np.zeros(m * n, dtype=np.float32)
    lda = k if transa == "T" else m
    ldb = n if transb == "T" else k
    pointer = ctypes.c_void_p
    args = [integer(CBLAS_COL_MAJOR),
            integer(CBLAS_TRANS if transa == "T" else CBLAS_NO_TRANS),
            integer(CBLAS_TRANS if transb == "T" else CBLAS_NO_TRANS),
            integer(m), integer(n), integer(k), ctypes.c_float(1),
            a.ctypes.data_as(pointer), integer(lda), b.ctypes.data_as(pointer), integer(ldb),
            ctypes.c_float(0), c.ctypes.data_as(pointer), integer(m)]
    sgemm(*args)
    flop = 2.0 * m * n * k
    calls = max(1, int(seconds * 100e9 / flop))
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            sgemm(*args)
        best = min(best, (time.perf_counter() - start) / calls)
    return flop / best / 1e9


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.1,
                        help="length of one timed repetition")
    parser.add_argument("--json", help="also write the GFLOP/s to this file")
    args = parser.parse_args(argv)
    builds = openblas_builds()
    missing = {"scipy", "numpy"} - set(builds)
    if missing:
        raise SystemExit(f"no OpenBLAS found for {sorted(missing)}: {threadpool_info()}")
    functions = {package: cblas_sgemm(info["filepath"]) for package, info in builds.items()}
    print("one thread each; GFLOP/s, best of 5")
    for package, info in sorted(builds.items()):
        print(f"  {package}: OpenBLAS {info['version']}, kernel {info['architecture']}, "
              f"{info['filepath']}")
    results = []
    with threadpool_limits(1):
        for what, m, n, k, transa, transb in SHAPES:
            speed = {package: gflops(*functions[package], m, n, k, transa, transb,
                                     args.seconds) for package in ("scipy", "numpy")}
            results.append({"what": what, "m": m, "n": n, "k": k, "transa": transa,
                            "transb": transb, **speed})
    print(f"\n  {'gemm (M x N x K, op)':52s} {'scipy':>7s} {'numpy':>7s}  numpy/scipy")
    for r in results:
        shape = f"{r['what']} ({r['m']}x{r['n']}x{r['k']}, {r['transa']}{r['transb']})"
        print(f"  {shape:52s} {r['scipy']:7.1f} {r['numpy']:7.1f}  "
              f"{r['numpy'] / r['scipy']:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"builds": {p: {key: builds[p][key] for key in
                                      ("version", "architecture", "filepath")}
                                  for p in builds},
                       "gflops": results}, f, indent=1)


if __name__ == "__main__":
    main()
