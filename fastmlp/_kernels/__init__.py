"""The compiled kernels: small single-purpose Cython modules, from BLAS up to an epoch.

Read them bottom-up:

- ``blas``: the only door to BLAS (row-major gemm over scipy's cython_blas);
- ``activations``, ``losses``, ``dropout``, ``optimizers``: the elementwise pieces,
  each list (of activations, losses, optimizers) defined by a table in its kernel;
- ``sparse``: the first layer on CSR rows;
- ``layers`` (with ``team.pxd``): one layer forward or backward, for one part of a
  thread team;
- ``step``: one minibatch, forward, loss, backward and update, for one part;
- ``epoch``: the minibatch loop without the GIL, and the choice of team or one thread;
- ``gradient``: the full-batch loss and gradient (L-BFGS), through the same step;
- ``predict``, ``row_predict``: prediction in chunks of rows, and of a single row;
- ``common``: the status codes and team modes shared with Python; ``signals.pxd``: how
  the long loops without the GIL let Ctrl-C through.

docs/architecture.md draws how they fit together.
"""
