"""``python -m eventwriter``: the same as the ``eventwriter`` command."""

import sys

from eventwriter.cli import main

sys.exit(main())
