"""``python -m flagstone``: runs the command line in ``flagstone.cli``."""

import sys

from .cli import main

sys.exit(main())
