"""Minibatch training over an np.memmap X that need not fit in memory.

fit and partial_fit hand a large np.memmap X (see `reads_by_chunks`) to this module
instead of reading it whole. Every pass over X goes by chunks, blocks of consecutive
rows of about ``fastmlp.get_config()["memmap_chunk_bytes"]`` bytes in the training
dtype, each copied (and converted) into one reusable in-memory buffer:

- the input check (the dtype, the width, no NaN or infinity) reads the file once;
- each epoch visits the chunks in a random order and trains on each with its rows
  shuffled (`MemmapRows.train_epoch`), through the engine's ``train_epoch`` on the
  buffer: the engine, its optimizer state and its probe memory carry over from one
  chunk to the next, and the epoch's loss is the sum over the chunks;
- early stopping holds out the rows the in-memory split would (`split`) and reads
  them into memory: the validation set is held in memory.

y, the encoded targets, sample_weight and the order of the training rows (8 bytes a
row) stay in memory, as for an in-memory X.
"""
import mmap
import warnings

import numpy as np

from fastmlp._estimators.validation import FLOAT_DTYPES, all_finite
from fastmlp.config import get_config

# A chunk is copied into its buffer by pieces of this many bytes, and each piece's pages
# are dropped from the mapping before the next is read: the file's pages resident in
# this process stay within a piece, not a chunk.
PIECE_BYTES = 4 * 2**20
# Reading a page maps its neighbours that are already cached too (the kernel's
# fault-around, 64 KiB by default): the pages dropped reach this far past each piece.
DROP_MARGIN_BYTES = 2**20
# Rows of a scattered read (the statistics sample, the validation rows) gathered at a
# time, their pages dropped after each group.
GATHER_ROWS = 512


def training_dtype(X, dtype=None):
    """The dtype fit trains an X of X.dtype in: `dtype` when given (a warm start),
    else float32 and float64 as they are and anything else as float64 (check_X's)."""
    if dtype is not None:
        return np.dtype(dtype)
    return X.dtype if X.dtype in FLOAT_DTYPES else np.dtype(np.float64)


def reads_by_chunks(X, solver, dtype=None):
    """True when a minibatch fit reads X by chunks: a 2-D np.memmap of real numbers
    laid out row after row, larger in the training dtype than one chunk.

    A smaller memmap is one chunk anyway: it takes the in-memory path, as any array.
    lbfgs computes its full-batch gradient over the whole X at every iteration: it
    keeps the in-memory path too. A memmap whose rows are not stored one after the
    other (Fortran order) cannot be read by blocks of rows: it is read into memory,
    with a warning.
    """
    if not (isinstance(X, np.memmap) and X.ndim == 2 and X.dtype.kind in "biuf"
            and solver != "lbfgs"):
        return False
    size = X.shape[0] * X.shape[1] * training_dtype(X, dtype).itemsize
    if size <= get_config()["memmap_chunk_bytes"]:
        return False
    if not _rows_are_blocks(X):
        warnings.warn(f"X is an np.memmap of {size / 2**20:.0f} MiB whose rows are not "
                      "stored one after the other (strides "
                      f"{X.strides}): fit reads it into memory. Store X in C order to "
                      "train over it by chunks.", UserWarning, stacklevel=5)
        return False
    return True


def _rows_are_blocks(X):
    """True when a block of consecutive rows of X is one span of its file (each row's
    items adjacent, rows in increasing order), as for a C-order file or a slice of it."""
    return X.strides[0] >= X.itemsize * X.shape[1] and (X.shape[1] == 1
                                                         or X.strides[1] == X.itemsize)


def check_X(X, dtype=None, n_features=None, estimator_name="the model"):
    """An np.memmap X checked as validation.check_X checks an array, chunk by chunk:
    a `MemmapRows` in the training dtype.

    The width first, then no NaN or infinity and no value too large for `dtype`
    (one pass over the file, which integer data skips: it converts to finite floats).
    """
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"X has {X.shape[1]} features, but {estimator_name} is expecting "
                         f"{n_features} features as input.")
    rows = MemmapRows(X, training_dtype(X, dtype))
    if X.dtype.kind == "f":
        rows.check_finite()
    return rows


class MemmapRows:
    """An np.memmap X as fit holds it: read one chunk of rows at a time.

    It stands in for X inside the estimator's fit, which reads its ``shape``,
    ``ndim`` and ``dtype`` (the training dtype) and takes its statistics sample by
    ``X[::step]``; the epochs run through `train_epoch`.

    Parameters
    ----------
    memmap : np.memmap of shape (n_file_rows, n_features)
        Its rows laid out one after the other (see `reads_by_chunks`).
    dtype : numpy dtype
        The training dtype, float32 or float64, that each chunk is converted to.
    rows : ndarray of intp, sorted, or None
        The rows fit trains on (early stopping holds out the others); None: all.
    """

    ndim = 2

    def __init__(self, memmap, dtype, rows=None):
        self.memmap = memmap
        self.dtype = np.dtype(dtype)
        self.rows = rows
        self.shape = (memmap.shape[0] if rows is None else len(rows), memmap.shape[1])
        self._pages = _MappedPages(memmap)
        self._buffer = None

    # --- reading ----------------------------------------------------------------------

    def block_rows(self):
        """The rows of one chunk by its size in bytes alone (the input check's)."""
        row_bytes = self.shape[1] * self.dtype.itemsize
        return max(1, get_config()["memmap_chunk_bytes"] // row_bytes)

    def chunk_rows(self, batch_size):
        """The rows of one training chunk: whole minibatches, at least one. Without
        shuffling, the minibatches are then those of the same X in memory."""
        rows = self.block_rows()
        return max(batch_size, rows - rows % batch_size)

    def buffer(self, n_rows):
        """The chunk buffer, of at least n_rows rows (allocated once, grown if needed)."""
        n_rows = min(n_rows, self.memmap.shape[0])
        if self._buffer is None or self._buffer.shape[0] < n_rows:
            self._buffer = None   # first let the old one go: one buffer at a time
            self._buffer = np.empty((n_rows, self.shape[1]), dtype=self.dtype)
        return self._buffer

    def read(self, start, stop, out):
        """Rows start:stop of the file, converted into out[:stop - start] (returned).

        By pieces, each piece's pages dropped from this process once copied.
        """
        piece = max(1, PIECE_BYTES // max(self.memmap.strides[0], 1))
        for first in range(start, stop, piece):
            last = min(stop, first + piece)
            with np.errstate(over="ignore", invalid="ignore"):   # check_finite reports
                np.copyto(out[first - start:last - start], self.memmap[first:last],
                          casting="unsafe")
            self._pages.drop(first, last)
        return out[:stop - start]

    def gather(self, file_rows):
        """The given rows of the file, in that order, converted into a new array."""
        file_rows = np.asarray(file_rows, dtype=np.intp)
        out = np.empty((len(file_rows), self.shape[1]), dtype=self.dtype)
        order = np.argsort(file_rows, kind="stable")   # read the file forwards
        for start in range(0, len(order), GATHER_ROWS):
            group = order[start:start + GATHER_ROWS]
            picked = file_rows[group]
            with np.errstate(over="ignore", invalid="ignore"):
                out[group] = self.memmap[picked]
            self._pages.drop(int(picked[0]), int(picked[-1]) + 1)
        return out

    def __getitem__(self, key):
        """Rows by a slice with a positive step (fit's statistics sample), in memory."""
        if not isinstance(key, slice) or (key.step or 1) < 1:
            raise TypeError("an out-of-core X is read by slices of rows with a positive "
                            f"step only; got {key!r}")
        positions = range(self.shape[0])[key]
        if self.rows is None:
            file_rows = np.arange(positions.start, positions.stop, positions.step,
                                  dtype=np.intp)
        else:
            file_rows = self.rows[key]
        return self.gather(file_rows)

    def subset(self, rows):
        """The same X restricted to the file rows `rows` (sorted), sharing the buffer."""
        other = MemmapRows(self.memmap, self.dtype, rows)
        other._buffer = self._buffer
        return other

    # --- the input check ---------------------------------------------------------------

    def check_finite(self):
        """ValueError, in check_X's words, unless every value of X is finite in the
        training dtype. The first chunk holding one decides which message."""
        n_rows = self.block_rows()
        buffer = self.buffer(n_rows)
        for start in range(0, self.memmap.shape[0], n_rows):
            stop = min(start + n_rows, self.memmap.shape[0])
            if all_finite(self.read(start, stop, buffer)):
                continue
            if self.memmap.dtype.itemsize > self.dtype.itemsize and \
                    self._file_rows_finite(start, stop):
                raise ValueError(f"X holds values too large for {self.dtype} "
                                 f"(|value| > {np.finfo(self.dtype).max:.3g}), the dtype "
                                 "the model was fitted in; scale the data")
            raise ValueError("Input X contains NaN or infinity.")

    def _file_rows_finite(self, start, stop):
        """Whether rows start:stop hold only finite values in the file's own dtype."""
        piece = max(1, PIECE_BYTES // max(self.memmap.strides[0], 1))
        for first in range(start, stop, piece):
            last = min(stop, first + piece)
            finite = all_finite(self.memmap[first:last])
            self._pages.drop(first, last)
            if not finite:
                return False
        return True

    # --- training ----------------------------------------------------------------------

    def train_epoch(self, training, Y, sample_weight):
        """One epoch by chunks, in place on training.state: (loss_sum, diverged).

        Y and sample_weight hold a row per row of the file. training.order lists the
        training rows (as positions in `rows`); each chunk's rows are one segment of
        it, shuffled in place epoch after epoch as the in-memory path shuffles the
        whole order, so that with one chunk the two draw the same random numbers.
        The chunks are visited in a random order when training shuffles.
        """
        n_file_rows = self.memmap.shape[0]
        chunk = self.chunk_rows(training.config.batch_size)
        starts = np.arange(0, n_file_rows, chunk)
        if self.rows is None:
            bounds = np.append(starts, n_file_rows)
        else:
            bounds = np.searchsorted(self.rows, np.append(starts, n_file_rows))
        visits = range(len(starts))
        if training.shuffle and len(starts) > 1:
            visits = training.rng.permutation(len(starts))
        buffer = self.buffer(chunk)
        local = np.empty(min(chunk, n_file_rows), dtype=np.intp)
        loss_sum = 0.0
        for c in visits:
            start, stop = int(starts[c]), min(int(starts[c]) + chunk, n_file_rows)
            segment = training.order[bounds[c]:bounds[c + 1]]
            if not len(segment):
                continue   # every row of this chunk is held out for validation
            if training.shuffle:
                training.rng.shuffle(segment)   # in place
            order = local[:len(segment)]
            np.subtract(segment if self.rows is None else self.rows[segment], start,
                        out=order)
            X = self.read(start, stop, buffer)
            chunk_loss, diverged = training.engine.train_epoch(
                training.state, X, Y[start:stop],
                None if sample_weight is None else sample_weight[start:stop], order,
                training.config)
            loss_sum += chunk_loss
            if diverged:
                return loss_sum, True
        return loss_sum, False


def split(split_rows, X, Y, sample_weight, rng, target_attributes):
    """The early-stopping split of a `MemmapRows` X: ((X, Y, w) train, (X, Y, w) val).

    `split_rows` (the estimator's _split) splits the row numbers, so the rows held out
    are those an in-memory X would lose to validation with the same random state;
    they are read into memory (validation predicts on them every epoch). The training
    part is X restricted to the other rows, with Y and sample_weight whole: the
    chunks index them by file row.
    """
    # float64 holds every row number exactly (up to 2**53), and the split checks its
    # X part as it checks a float X
    numbers = np.arange(X.shape[0], dtype=np.float64).reshape(-1, 1)
    (train, _, _), (val, Y_val, weights_val) = split_rows(numbers, Y, sample_weight, rng,
                                                          target_attributes)
    del numbers
    train_rows = np.sort(train[:, 0].astype(np.intp))
    val_rows = val[:, 0].astype(np.intp)
    return ((X.subset(train_rows), Y, sample_weight),
            (X.gather(val_rows), Y_val, weights_val))


class _MappedPages:
    """Drops pages of a memmap's file mapping from this process once they were read.

    The pages of a file mapping that a copy touched stay mapped, counted in the
    process's resident set, until the kernel needs the memory: an epoch over a file
    larger than memory would look like a process as large as its file, and push out
    other memory first. madvise(MADV_DONTNEED) unmaps them at once; on a shared mapping
    (modes 'r', 'r+', 'w+') that loses nothing: written pages are dirty in the page
    cache, the file's, and a later read maps them again. Not so for mode 'c'
    (copy-on-write): MADV_DONTNEED would throw away the writes made through X, so its
    pages are never dropped.

    Reading the file with os.pread instead would map nothing, but it reads the file,
    not what X shows (mode 'c' writes, a view's offset to work out by hand); the
    mapping is what X is, so it is read, then dropped.
    """

    def __init__(self, memmap):
        self._mmap = getattr(memmap, "_mmap", None)
        if (self._mmap is None or memmap.mode == "c" or not hasattr(self._mmap, "madvise")
                or not hasattr(mmap, "MADV_DONTNEED")):
            self._mmap = None   # nothing to drop, or no way to
            return
        view = np.frombuffer(self._mmap, dtype=np.uint8)   # to learn where it starts
        self._data = memmap.ctypes.data - view.ctypes.data  # X[0, 0] from the start
        del view
        self._length = len(self._mmap)
        self._row_stride = memmap.strides[0]
        self._row_bytes = memmap.shape[1] * memmap.itemsize

    def drop(self, start, stop):
        """Drop the pages holding rows start:stop (and DROP_MARGIN_BYTES around)."""
        if self._mmap is None or stop <= start:
            return
        first = self._data + start * self._row_stride - DROP_MARGIN_BYTES
        last = self._data + (stop - 1) * self._row_stride + self._row_bytes \
            + DROP_MARGIN_BYTES
        first = max(0, first - first % mmap.PAGESIZE)
        last = min(self._length, last)
        if last > first:
            self._mmap.madvise(mmap.MADV_DONTNEED, first, last - first)
