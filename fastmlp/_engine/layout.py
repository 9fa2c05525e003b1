"""The flat parameter vector: every layer's weights (row-major), then every bias.

One contiguous vector lets the optimizer run one fused loop over all parameters
and lets L-BFGS work on the same memory. `coefs_` / `intercepts_` are copies cut
from it when a fit publishes its result.
"""
import numpy as np


class ParameterLayout:
    """Where each layer's weights and biases live in the flat vector.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first, output last.
    """

    def __init__(self, sizes):
        self.sizes = np.asarray(sizes, dtype=np.intp)
        fan_in, fan_out = self.sizes[:-1], self.sizes[1:]
        weight_ends = np.cumsum(fan_in * fan_out)
        self.n_weights = int(weight_ends[-1])
        bias_ends = self.n_weights + np.cumsum(fan_out)
        self.n_params = int(bias_ends[-1])
        weight_starts = np.concatenate([[0], weight_ends[:-1]])
        bias_starts = np.concatenate([[self.n_weights], bias_ends[:-1]])
        self.coef_slices = [slice(int(a), int(b)) for a, b in zip(weight_starts, weight_ends)]
        self.intercept_slices = [slice(int(a), int(b)) for a, b in zip(bias_starts, bias_ends)]
        self.coef_shapes = [(int(a), int(b)) for a, b in zip(fan_in, fan_out)]

    @property
    def n_layers(self):
        return len(self.coef_shapes)

    def views(self, flat):
        """Per-layer views (coefs, intercepts) into `flat`; writing them writes `flat`."""
        coefs = [flat[s].reshape(shape) for s, shape in zip(self.coef_slices, self.coef_shapes)]
        intercepts = [flat[s] for s in self.intercept_slices]
        return coefs, intercepts

    def unpack(self, flat):
        """Independent C-contiguous, cache-line aligned copies (coefs, intercepts) of
        the parameters in `flat`."""
        coefs, intercepts = self.views(flat)
        return [aligned_copy(c) for c in coefs], [aligned_copy(b) for b in intercepts]

    def pack(self, coefs, intercepts, dtype):
        """A new flat vector of `dtype` holding the given per-layer arrays."""
        flat = np.empty(self.n_params, dtype=dtype)
        coef_views, intercept_views = self.views(flat)
        for view, value in zip(coef_views + intercept_views, list(coefs) + list(intercepts)):
            view[...] = value
        return flat


CACHE_LINE = 64
PAGE = 4096
# Bytes between the page offsets of arrays that one loop streams together.
STAGGER = 1024 + CACHE_LINE


def _placed_empty(shape, dtype, boundary, offset=0):
    """An uninitialised C-contiguous array whose data starts `offset` bytes past a
    multiple of `boundary` (NumPy itself aligns only to 16 bytes)."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    buffer = np.empty(nbytes + boundary + offset, dtype=np.uint8)
    start = -buffer.ctypes.data % boundary + offset
    return buffer[start:start + nbytes].view(dtype).reshape(shape)


def aligned_copy(array):
    """A C-contiguous copy of `array` whose data starts on a 64-byte cache line.

    The single-row predict kernel (_kernels/row_forward.h) streams weights with
    64-byte vector loads, which are faster when none straddles two cache lines.
    """
    array = np.asarray(array)
    copy = _placed_empty(array.shape, array.dtype, CACHE_LINE)
    copy[...] = array
    return copy


def aligned_empty(n, dtype):
    """An uninitialised (n,) array whose data starts on a 64-byte cache line."""
    return _placed_empty((n,), dtype, CACHE_LINE)


def staggered_empty(n, dtype, slot):
    """An uninitialised (n,) array whose data starts slot * STAGGER bytes (mod 4 KiB)
    past a page boundary.

    The optimizer loop reads and writes params, grads and its state arrays at the
    same index. Arrays at the same offset within a page make the CPU's store-to-load
    check see false dependencies (4K aliasing), which slowed Adam's loop by half
    with numpy's placement (benchmarks/README.md).
    """
    return _placed_empty((n,), dtype, PAGE, (slot * STAGGER) % PAGE)


def glorot_uniform(layout, activation, rng, dtype):
    """Glorot-uniform initial parameters, drawn exactly as scikit-learn's MLP draws them.

    For each layer in turn: W ~ U(-r, r) of shape (fan_in, fan_out), then b ~ U(-r, r),
    with r = sqrt(f / (fan_in + fan_out)), f = 2 for logistic units and 6 otherwise.
    The same seed therefore gives scikit-learn's initial weights.
    """
    factor = 2.0 if activation == "logistic" else 6.0
    flat = np.empty(layout.n_params, dtype=dtype)
    coefs, intercepts = layout.views(flat)
    for coef, intercept in zip(coefs, intercepts):
        fan_in, fan_out = coef.shape
        bound = np.sqrt(factor / (fan_in + fan_out))
        coef[...] = rng.uniform(-bound, bound, (fan_in, fan_out))
        intercept[...] = rng.uniform(-bound, bound, fan_out)
    return flat
