"""Entry point of ``python -m dofgen``."""

import sys

from dofgen.cli import main

sys.exit(main())
