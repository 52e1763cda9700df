"""``python -m study``: the same as ``dofgen-study``."""

import sys

from study.cli import main

sys.exit(main())
