"""``python -m symdl``: the ``symdl`` command (see :mod:`symdl.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
