"""``python -m fastdream`` (and ``torchrun -m fastdream``): the command line."""

import sys

from fastdream.cli import main

sys.exit(main())
