"""``python -m symdl``: the ``symdl`` command (see :mod:`symdl.cli.main`)."""

import sys

from .cli.main import main

if __name__ == "__main__":
    sys.exit(main())
