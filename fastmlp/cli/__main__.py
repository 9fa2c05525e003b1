"""``python -m fastmlp.cli``: the same command line as ``python -m fastmlp``."""
import sys

from fastmlp.cli import main

sys.exit(main())
