"""The engine: what drives the kernels through a fit, in Python.

- ``registry``: every list (activations, losses, optimizers, team modes), read from
  the kernels that define it;
- ``config``: the one configuration of a training run;
- ``layout``: the flat parameter vector, and where arrays sit in memory;
- ``state``: what training mutates (parameters, optimizer state);
- ``engines``: the Cython engine and the NumPy reference behind one interface;
- ``threads``: who runs the threads, fastmlp's team or BLAS.
"""
