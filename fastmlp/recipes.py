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
    # Fashion-MNIST (inputs in [0, 1]): a wider net than the usual 256-128, Adam at
    # a higher rate with a short warm-up and a cosine decay to 0, dropout and label
    # smoothing against the overfitting that the width invites.
    "fashion-mnist": dict(
        hidden_layer_sizes=(512, 256), activation="relu", solver="adam",
        learning_rate_init=2e-3, lr_schedule="cosine", warmup_epochs=1, batch_size=128,
        max_iter=30, alpha=1e-4, dropout=0.2, label_smoothing=0.1, tol=0.0,
        n_iter_no_change=30),
}
