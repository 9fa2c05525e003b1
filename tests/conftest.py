"""Hypothesis profiles for the property tests (tests/test_persistence_fuzz.py).

``fastmlp-quick``, the default, runs few derandomized examples: the same ones on every run,
in seconds. ``fastmlp-long`` runs ten times as many, new ones each run. Choose one with
``FASTMLP_HYPOTHESIS_PROFILE=fastmlp-long`` (or hypothesis' ``--hypothesis-profile``).
"""
import os

try:
    from hypothesis import settings
except ImportError:   # only the property tests need hypothesis
    settings = None

if settings is not None:
    settings.register_profile("fastmlp-quick", derandomize=True, max_examples=100,
                              deadline=None, database=None)
    settings.register_profile("fastmlp-long", max_examples=1000, deadline=None,
                              database=None)
    settings.load_profile(os.environ.get("FASTMLP_HYPOTHESIS_PROFILE", "fastmlp-quick"))
