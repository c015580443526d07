"""``python -m deeplinear``: the command line (see deeplinear.cli)."""

import sys

from .cli import main

sys.exit(main())
