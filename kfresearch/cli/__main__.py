"""``python -m kfresearch.cli``: the ``kfresearch`` command without the console script."""

import sys

from kfresearch.cli import main

sys.exit(main())
