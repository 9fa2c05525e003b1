"""``python -m fastmlp``: the command line, as the ``fastmlp`` script runs it."""
import sys

from fastmlp.cli import main

sys.exit(main())
