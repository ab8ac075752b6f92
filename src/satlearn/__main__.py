"""``python -m satlearn``: the ``satlearn`` command, where its script is not on PATH."""

import sys

from satlearn.cli import main

sys.exit(main())
