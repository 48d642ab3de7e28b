import sys

from fastdream.cli import main

sys.exit(main())
