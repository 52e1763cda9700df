"""``python -m study.codes CODE``: the same as ``dofgen-study codes CODE``."""

import sys

from study.cli import codes

sys.exit(codes())
