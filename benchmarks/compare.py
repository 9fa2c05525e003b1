"""The comparison script: ``python benchmarks/compare.py`` is ``fastmlp bench``.

See fastmlp/benchmark.py for what it measures and how; ``--help`` for options.
"""
import sys

from fastmlp.benchmark import main

if __name__ == "__main__":
    sys.exit(main())
