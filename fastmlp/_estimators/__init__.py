"""The scikit-learn estimators: MLPClassifier and MLPRegressor, and what they share.

- ``base``: the fit loops (minibatch solvers and L-BFGS) and the forward pass;
- ``classifier``, ``regressor``: the two estimators and their targets;
- ``validation``: every input check, before any kernel runs;
- ``params``, ``sklearn_compat``: scikit-learn's conventions, with or without it;
- ``persistence``: ``save`` and ``load``, the documented file format.
"""
