"""Recipes: estimator parameters that reach a known accuracy on a known data set.

``MLPClassifier(**RECIPES['fashion-mnist'])`` trains as ``fastmlp train --data
fashion-mnist --recipe fashion-mnist`` does. benchmarks/time_to_accuracy.py measures
each recipe against a PyTorch loop; benchmarks/README.md has the curves.

>>> from fastmlp.recipes import RECIPES
>>> sorted(RECIPES)
['fashion-mnist']
"""

__all__ = ["RECIPES"]

RECIPES = {
    # Fashion-MNIST (inputs in [0, 1]): the usual 784-256-128-10 network, Adam at twice
    # the usual rate with a one-epoch warm-up and a cosine decay to 0 over 30 epochs,
    # light dropout and label smoothing against overfitting late in the decay. It
    # passes 0.90 test accuracy around epoch 22 (benchmarks/README.md has the curve).
    "fashion-mnist": dict(
        hidden_layer_sizes=(256, 128), activation="relu", solver="adam",
        learning_rate_init=2e-3, lr_schedule="cosine", warmup_epochs=1, batch_size=128,
        max_iter=30, alpha=1e-4, dropout=0.1, label_smoothing=0.1, tol=0.0,
        n_iter_no_change=30),
}
