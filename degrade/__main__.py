"""``python -m degrade``: the command line, the same as the ``degrade`` command."""
import sys

from .cli import main

sys.exit(main())
